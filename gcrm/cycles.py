"""Call cycles: visit plans over 1-8 weeks for a team of reps.

Each rep's accounts (those of the territories the rep owns; accounts without a
territory go by their owner) get visit days over the horizon, and every
working day gets a route, chosen together by :func:`gcrm.periodic.solve_periodic`
on the road network's drive times (:mod:`gcrm.matrix`).

Rules (one place for each, all in this module):

- **Working days**: the rep's weekdays (Monday-Friday by default), minus the
  country's public holidays (the ``holidays`` package) and the rep's absences.
- **Allowed days of an account**: working days on which its OSM
  ``opening_hours`` (read by :func:`gcrm.routing.open_intervals`) leave the
  whole visit inside one open interval within the rep's shift. No or
  unreadable opening hours: every working day.
- **Frequency** ``N = visit_every_days``: the first visit is due at
  ``last_visit + N`` (at the start for an overdue or never-visited account).
  The number of visits ``k`` is ``1 + (end - first) // N`` counted from
  ``first = max(start, due - s)``; the first visit falls within one period of
  ``first``, later ones ``N - s`` to ``N + s`` days after the previous one,
  with the tolerance ``s = max(1, N // 7)`` (a day for weekly visits, four for
  four-weekly ones). Accounts with no visit due in the horizon are not planned.
- **Day length**: the rep's shift minus the lunch break (and at most
  ``max_work_minutes``): drive plus visit time of each day stays within it.
- **Overload**: when the accounts due need more time than the working days
  hold, the least urgent (latest due, then lowest potential value) are left
  out and reported; if the plan then leaves time over, the next most urgent
  are added back (:data:`TOP_UPS` rounds).
- **Balance** (optional): days first capped at a multiple of the average day.

Times inside a day (arrival at each account, opening-hour windows within the
day, lunch) are left to the day planner (:mod:`gcrm.routing`, My day).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gcrm._errors import InputError
from gcrm.auth import Actor
from gcrm.campaign_tasks import cycle_frame
from gcrm.cycle_options import CycleOptions
from gcrm.matrix import travel_matrix
from gcrm.network import load_network
from gcrm.periodic import PeriodicProblem, solve_periodic
from gcrm.routing import Rep, open_intervals, plannable_users, rep_from_user
from gcrm.store import AccountFilter, accounts_frame, audit, territories_frame

#: Weekdays worked by default (Monday = 0).
WORKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: Most visit patterns kept per account (the most regular ones).
MAX_PATTERNS = 48
#: Share of the working time that the accounts admitted may fill (drive time estimated).
LOAD_FACTOR = 0.9
#: Rounds of adding accounts left out when a plan leaves time over.
TOP_UPS = 2
#: Longest horizon, in weeks.
MAX_WEEKS = 8

_NO_TIME = "no time left in the horizon (less urgent accounts first)"


@dataclass(frozen=True)
class CycleAccount:
    """An account to visit repeatedly.

    Attributes
    ----------
    id
        Account id.
    name
        Display name.
    lat, lon
        Location.
    every_days
        Target days between visits.
    minutes
        Visit duration.
    last_visit
        Date of the last visit, if any.
    opening_hours
        OSM ``opening_hours`` value, if known.
    value
        Potential value (breaks ties when the horizon is overloaded).
    """

    id: int
    name: str
    lat: float
    lon: float
    every_days: int
    minutes: float = 30.0
    last_visit: dt.date | None = None
    opening_hours: str | None = None
    value: float = 0.0


@dataclass
class RepCycle:
    """One rep's cycle plan.

    Attributes
    ----------
    rep
        Username.
    dates
        Working dates of the horizon.
    days
        Per working date, the account ids in visiting order.
    drive_seconds, work_seconds
        Per working date: driving, and driving plus visits.
    limit_seconds
        Longest allowed working day.
    required
        Visits each planned account needs in the horizon.
    skipped
        Accounts left out, with the reason.
    feasible
        Whether the solver met every rule.
    """

    rep: str
    dates: list[dt.date]
    days: list[list[int]]
    drive_seconds: list[float]
    work_seconds: list[float]
    limit_seconds: float
    required: dict[int, int]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    feasible: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary (dates ISO, times in minutes)."""
        visits = dict.fromkeys(self.required, 0)
        for day in self.days:
            for a in day:
                visits[a] = visits.get(a, 0) + 1
        met = sum(1 for a, k in self.required.items() if visits.get(a, 0) == k)
        work = [w / 60 for w in self.work_seconds]
        return {
            "rep": self.rep,
            "days": [
                {
                    "date": d.isoformat(),
                    "accounts": acc,
                    "drive_minutes": round(dr / 60, 1),
                    "work_minutes": round(w / 60, 1),
                }
                for d, acc, dr, w in zip(
                    self.dates, self.days, self.drive_seconds, self.work_seconds, strict=True
                )
            ],
            "required_visits": {str(a): k for a, k in self.required.items()},
            "compliance": round(met / len(self.required), 4) if self.required else 1.0,
            "drive_minutes": round(sum(self.drive_seconds) / 60, 1),
            "work_minutes_min_max": [
                round(min(work, default=0), 1),
                round(max(work, default=0), 1),
            ],
            "limit_minutes": round(self.limit_seconds / 60, 1),
            "skipped": self.skipped,
            "feasible": self.feasible,
        }


# --------------------------------------------------------------------------- rules


def working_dates(
    start: dt.date,
    weeks: int,
    *,
    workdays: Iterable[int] = WORKDAYS,
    country: str | None = None,
    subdivision: str | None = None,
    absences: Iterable[dt.date] = (),
) -> list[dt.date]:
    """Dates a rep works within ``weeks`` weeks from ``start``.

    Parameters
    ----------
    start
        First date of the horizon.
    weeks
        Horizon length, 1 to :data:`MAX_WEEKS`.
    workdays
        Weekdays worked (Monday = 0).
    country, subdivision
        Public holidays of this country (ISO code, e.g. ``"FI"``) are off.
    absences
        Dates off (leave, training).

    Returns
    -------
    list of datetime.date
        The working dates, in order.

    Raises
    ------
    InputError
        For a horizon outside 1-8 weeks or an unknown country.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        msg = f"weeks must be between 1 and {MAX_WEEKS}, got {weeks}"
        raise InputError(msg)
    dates = [start + dt.timedelta(days=k) for k in range(7 * weeks)]
    off = set(absences)
    if country:
        import holidays  # a few MB of calendars: loaded only when planning cycles

        try:
            cal = holidays.country_holidays(
                country.upper(), subdiv=subdivision, years={d.year for d in dates}
            )
        except NotImplementedError as exc:
            msg = f"no public holiday calendar for country {country!r}"
            raise InputError(msg) from exc
        off |= {d for d in dates if d in cal}
    wd = set(workdays)
    return [d for d in dates if d.weekday() in wd and d not in off]


def fits_opening_hours(
    opening_hours: str | None, day: dt.date, shift: tuple[dt.time, dt.time], minutes: float
) -> bool:
    """Whether a visit of ``minutes`` fits in one open interval within the shift.

    Parameters
    ----------
    opening_hours
        OSM value (``None`` or unreadable: always fits).
    day
        The date.
    shift
        The rep's working hours.
    minutes
        Visit duration.

    Returns
    -------
    bool
        ``True`` if the account can be visited that day.
    """
    intervals = open_intervals(opening_hours, day)
    if intervals is None:
        return True
    lo = shift[0].hour * 3600 + shift[0].minute * 60
    hi = shift[1].hour * 3600 + shift[1].minute * 60
    need = minutes * 60
    return any(min(b, hi) - max(a, lo) >= need for a, b in intervals)


def tolerance(every_days: int) -> int:
    """Days a visit may move from its ideal date: ``max(1, every_days // 7)``."""
    return max(1, every_days // 7)


def visit_count(every_days: int, last_visit: dt.date | None, start: dt.date, end: dt.date) -> int:
    """Visits an account needs between ``start`` and ``end`` (inclusive)."""
    first = _first_day(every_days, last_visit, start)
    return 0 if first > end else 1 + (end - first).days // every_days


def _first_day(every_days: int, last_visit: dt.date | None, start: dt.date) -> dt.date:
    if last_visit is None:
        return start
    return max(start, last_visit + dt.timedelta(days=every_days - tolerance(every_days)))


def visits_keep_rules(
    account: CycleAccount, days: Sequence[dt.date], start: dt.date, end: dt.date
) -> bool:
    """Whether visit dates meet the frequency rules of :mod:`gcrm.cycles`.

    Parameters
    ----------
    account
        The account.
    days
        Its visit dates.
    start, end
        The horizon (inclusive).

    Returns
    -------
    bool
        Right count, first visit within one period of its due date, gaps of
        ``N ± max(1, N // 7)`` days, one visit a day.
    """
    n, s = account.every_days, tolerance(account.every_days)
    got = sorted(days)
    if len(set(got)) != len(got) or len(got) != visit_count(n, account.last_visit, start, end):
        return False
    if not got:
        return True
    first = _first_day(n, account.last_visit, start)
    if not first <= got[0] < first + dt.timedelta(days=n):
        return False
    return all(n - s <= (b - a).days <= n + s for a, b in itertools.pairwise(got))


def visit_patterns(
    account: CycleAccount, start: dt.date, end: dt.date, allowed: Sequence[dt.date]
) -> list[tuple[dt.date, ...]]:
    """All visit-day sets of an account that meet the frequency rules.

    Parameters
    ----------
    account
        The account.
    start, end
        The horizon (inclusive).
    allowed
        Dates the account may be visited (working and open).

    Returns
    -------
    list of tuple of datetime.date
        At most :data:`MAX_PATTERNS` patterns, the most regular first; empty
        when none exists (or no visit is due).
    """
    n = account.every_days
    k = visit_count(n, account.last_visit, start, end)
    if k == 0:
        return []
    s = tolerance(n)
    first = _first_day(n, account.last_visit, start)
    ok = sorted(set(allowed))
    found: list[tuple[int, tuple[dt.date, ...]]] = []

    def extend(seq: list[dt.date], irregularity: int) -> None:
        if len(found) >= 50 * MAX_PATTERNS:
            return
        if len(seq) == k:
            found.append((irregularity, tuple(seq)))
            return
        last = seq[-1]
        for d in ok:
            gap = (d - last).days
            if n - s <= gap <= n + s:
                extend([*seq, d], irregularity + abs(gap - n))

    for d in ok:
        if first <= d < first + dt.timedelta(days=n):
            extend([d], 0)
    found.sort(key=lambda x: (x[0], x[1]))
    return [p for _, p in found[:MAX_PATTERNS]]


# --------------------------------------------------------------------------- solving


def plan_rep_cycle(
    rep: Rep,
    accounts: Sequence[CycleAccount],
    dates: Sequence[dt.date],
    durations: np.ndarray,
    *,
    start: dt.date,
    end: dt.date,
    iterations: int = 200,
    seconds: float | None = None,
    seed: int = 0,
    balance: float | None = None,
) -> RepCycle:
    """Plan one rep's cycle from prepared inputs (no database).

    Parameters
    ----------
    rep
        The rep (home base, shift, lunch, longest day).
    accounts
        The rep's accounts with a frequency.
    dates
        The rep's working dates.
    durations
        ``(1 + len(accounts))²`` drive seconds; row/column 0 is the home base.
    start, end
        The horizon (inclusive), for the frequency rules.
    iterations, seconds, seed
        Solver budget and seed (see :func:`gcrm.periodic.solve_periodic`).
    balance
        Balance working days: first cap every day at ``balance`` times the
        average estimated day (e.g. 1.25), loosening the cap by a fifth until
        a plan fits. Balanced days cost driving. ``None``: least driving.

    Returns
    -------
    RepCycle
        The plan.
    """
    limit = _day_limit(rep)
    skipped: list[dict[str, Any]] = []
    cand = _candidates(rep, accounts, dates, durations, start, end, limit, skipped)
    kept, work, rest = _admit(accounts, cand, durations, len(dates) * limit)
    solve = functools.partial(_solve, rep, accounts, dates=dates, durations=durations,
                              iterations=iterations, seconds=seconds, seed=seed)  # fmt: skip
    plan = None
    if balance is not None:  # first try days capped near the average load
        longest = max((durations[0, p] + durations[p, 0] + accounts[p - 1].minutes * 60
                       for p, _ in kept), default=0.0)  # fmt: skip
        cap = max(balance * work / max(len(dates), 1), float(longest))
        while cap < limit and (plan is None or not plan.feasible):
            plan = solve(kept, limits=(limit, cap))
            cap *= 1.2  # loosen until a plan fits
    if plan is None or not plan.feasible:
        plan = solve(kept, limits=(limit, limit))
    while not plan.feasible and kept:
        # the estimate was too hopeful: leave out the least urgent and solve again
        cut = max(1, len(kept) // 8)
        rest = [(c, 0.0) for c in kept[-cut:]] + rest
        kept = kept[:-cut]
        plan = solve(kept, limits=(limit, limit))
    for _ in range(TOP_UPS):
        # time left over (a light day, an empty one): add the next most urgent accounts
        slack = len(dates) * limit - sum(plan.work_seconds)
        add, need = [], 0.0
        for c, est in rest:
            if need + est > LOAD_FACTOR * slack:
                break
            add.append(c)
            need += est
        if not add:
            break
        trial = solve(kept + add, limits=(limit, limit))
        if not trial.feasible:
            break
        plan, kept, rest = trial, kept + add, rest[len(add) :]
    skipped.extend(_skip(accounts[c[0] - 1], _NO_TIME) for c, _ in rest)
    plan.skipped = skipped
    return plan


def _candidates(
    rep: Rep,
    accounts: Sequence[CycleAccount],
    dates: Sequence[dt.date],
    durations: np.ndarray,
    start: dt.date,
    end: dt.date,
    limit: float,
    skipped: list[dict[str, Any]],
) -> list[tuple[int, list[tuple[int, ...]]]]:
    """Accounts due in the horizon with their visit patterns (day indices)."""
    cand: list[tuple[int, list[tuple[int, ...]]]] = []
    index = {d: i for i, d in enumerate(dates)}
    for pos, acc in enumerate(accounts, start=1):
        reach = durations[0, pos] + durations[pos, 0]
        if not np.isfinite(reach) or reach + acc.minutes * 60 > limit:
            skipped.append(_skip(acc, "cannot be reached and visited within a working day"))
            continue
        shift = (rep.shift_start, rep.shift_end)
        allowed = [d for d in dates if fits_opening_hours(acc.opening_hours, d, shift, acc.minutes)]
        pats = visit_patterns(acc, start, end, allowed)
        if not pats:
            if visit_count(acc.every_days, acc.last_visit, start, end):
                skipped.append(_skip(acc, "no working days on which it is open fit its frequency"))
            continue
        cand.append((pos, [tuple(index[d] for d in p) for p in pats]))
    return cand


def _solve(
    rep: Rep,
    accounts: Sequence[CycleAccount],
    cand: list[tuple[int, list[tuple[int, ...]]]],
    *,
    dates: Sequence[dt.date],
    durations: np.ndarray,
    limits: tuple[float, float],
    iterations: int,
    seconds: float | None,
    seed: int,
) -> RepCycle:
    limit, cap = limits
    required = {accounts[pos - 1].id: len(pats[0]) for pos, pats in cand}
    days: list[list[int]] = [[] for _ in dates]
    drive = [0.0] * len(dates)
    work = [0.0] * len(dates)
    if not cand or not dates:
        return RepCycle(rep.id, list(dates), days, drive, work, limit, required)
    nodes = [0, *(pos for pos, _ in cand)]
    sub = durations[np.ix_(nodes, nodes)]
    minutes = np.array([0.0, *(accounts[pos - 1].minutes for pos, _ in cand)])
    problem = PeriodicProblem(
        name=f"cycle:{rep.id}",
        distance=sub,
        duration=sub,
        demand=np.zeros(len(nodes), dtype=np.int64),
        service=minutes * 60,
        patterns=((), *(tuple(p) for _, p in cand)),
        num_vehicles=(1,) * len(dates),
        capacity=(1,) * len(dates),
        max_duration=(cap,) * len(dates),
        node_ids=(0, *(accounts[pos - 1].id for pos, _ in cand)),
    )
    sol = solve_periodic(problem, seed=seed, iterations=iterations, seconds=seconds)
    for d, routes in enumerate(sol.days):
        for r in routes:
            seq = [0, *r, 0]
            drive[d] += float(sub[seq[:-1], seq[1:]].sum())
            work[d] += float(minutes[list(r)].sum() * 60)
            days[d].extend(problem.node_ids[c] for c in r)
        work[d] += drive[d]
    return RepCycle(rep.id, list(dates), days, drive, work, limit, required, [], sol.feasible)


def _day_limit(rep: Rep) -> float:
    start = rep.shift_start.hour * 3600 + rep.shift_start.minute * 60
    stop = rep.shift_end.hour * 3600 + rep.shift_end.minute * 60
    limit = float(stop - start)
    if rep.lunch is not None:
        limit -= rep.lunch.minutes * 60
    if rep.max_work_minutes is not None:
        limit = min(limit, rep.max_work_minutes * 60)
    if limit <= 0:
        msg = f"rep {rep.id!r}: the shift leaves no working time"
        raise InputError(msg)
    return limit


def _skip(acc: CycleAccount, reason: str) -> dict[str, Any]:
    return {"account_id": acc.id, "name": acc.name, "reason": reason}


def _admit(
    accounts: Sequence[CycleAccount],
    cand: list[tuple[int, list[tuple[int, ...]]]],
    durations: np.ndarray,
    capacity: float,
) -> tuple[list[Any], float, list[tuple[Any, float]]]:
    """Keep the most urgent accounts whose estimated work fits the horizon.

    Returns the accounts kept (most urgent first), their estimated work (s),
    and the others with their estimated work, most urgent first.
    """
    if not cand:
        return cand, 0.0, []
    pos = np.array([p for p, _ in cand])
    sub = durations[np.ix_(pos, pos)].astype(float)
    np.fill_diagonal(sub, np.inf)
    nearest = np.sort(sub, axis=1)[:, :2]
    travel = np.where(np.isfinite(nearest), nearest, 0.0).mean(axis=1)
    if len(pos) == 1:
        travel = durations[0, pos] * 2

    def urgency(j: int) -> tuple[dt.date, float]:
        acc = accounts[cand[j][0] - 1]
        due = acc.last_visit + dt.timedelta(days=acc.every_days) if acc.last_visit else dt.date.min
        return due, -acc.value

    kept: list[Any] = []
    rest: list[tuple[Any, float]] = []
    used = 0.0
    for j in sorted(range(len(cand)), key=urgency):
        acc = accounts[cand[j][0] - 1]
        need = len(cand[j][1][0]) * (acc.minutes * 60 + float(travel[j]))
        if not rest and used + need <= LOAD_FACTOR * capacity:
            kept.append(cand[j])
            used += need
        else:
            rest.append((cand[j], need))
    return kept, used, rest


# --------------------------------------------------------------------------- store


def accounts_for_cycle(frame: pd.DataFrame) -> list[CycleAccount]:
    """Turn account rows (:data:`gcrm.store.ACCOUNT_COLUMNS`) into cycle accounts.

    Rows without a location, without ``visit_every_days`` or marked do-not-contact
    are left out.

    Parameters
    ----------
    frame
        Account rows.

    Returns
    -------
    list of CycleAccount
        In the frame's order.
    """
    out = []
    for row in frame.itertuples(index=False):
        every = pd.to_numeric(row.visit_every_days, errors="coerce")
        lat, lon = pd.to_numeric(row.lat, errors="coerce"), pd.to_numeric(row.lon, errors="coerce")
        if pd.isna(every) or int(every) <= 0 or pd.isna(lat) or pd.isna(lon):
            continue
        if bool(row.do_not_contact):
            continue
        lv = pd.to_datetime(row.last_visit, errors="coerce")
        minutes = pd.to_numeric(row.visit_minutes, errors="coerce")
        value = pd.to_numeric(row.potential_value, errors="coerce")
        out.append(
            CycleAccount(
                id=int(row.id),
                name=str(row.name or ""),
                lat=float(lat),
                lon=float(lon),
                every_days=int(every),
                minutes=30.0 if pd.isna(minutes) else float(minutes),
                last_visit=None if pd.isna(lv) else lv.date(),
                opening_hours=row.opening_hours if isinstance(row.opening_hours, str) else None,
                value=0.0 if pd.isna(value) else float(value),
            )
        )
    return out


def rep_accounts(session: Any, user: Any, *, horizon_days: int = 28) -> list[CycleAccount]:
    """Return a rep's accounts for cycles.

    Those in territories the rep owns, and their own accounts outside any
    territory; and the visits campaigns ask of the rep
    (:mod:`gcrm.campaign_tasks`), each once in the horizon.

    Parameters
    ----------
    session
        An open session.
    user
        The rep (a :class:`gcrm.db.models.User`).
    horizon_days
        Length of the cycle (a campaign visit's frequency, when the account
        has none of its own).

    Returns
    -------
    list of CycleAccount
        Accounts with a location and a visit frequency, not do-not-contact.
    """
    rep_actor = Actor.from_user(user)
    owned = territories_frame(session, rep_actor)
    names = set(owned.loc[owned["owner"] == user.username, "name"])
    frame = accounts_frame(session, rep_actor, AccountFilter(include_do_not_contact=False))
    mine = frame["territory"].isin(names) | (
        frame["territory"].isna() & (frame["owner"] == user.username)
    )
    own = accounts_for_cycle(frame[mine])
    known = {a.id for a in own}
    asked = accounts_for_cycle(cycle_frame(session, rep_actor, horizon_days=horizon_days))
    return own + [a for a in asked if a.id not in known]


def rep_inputs(
    session: Any,
    user: Any,
    graph: Any,
    extra: Sequence[CycleAccount] = (),
    *,
    horizon_days: int = 28,
) -> tuple[Rep, list[CycleAccount], np.ndarray]:
    """Return a rep, their cycle accounts and the drive times between them.

    Parameters
    ----------
    session
        An open session.
    user
        The rep (a :class:`gcrm.db.models.User`).
    graph
        Road graph.
    extra
        Accounts to add (e.g. an appointment's account outside the cycle).
    horizon_days
        As for :func:`rep_accounts`.

    Returns
    -------
    tuple
        ``(rep, accounts, durations)``; row 0 of ``durations`` is the rep's
        start, row ``k + 1`` is ``accounts[k]``.
    """
    accounts = rep_accounts(session, user, horizon_days=horizon_days)
    known = {a.id for a in accounts}
    accounts += [a for a in extra if a.id not in known]
    rep = rep_from_user(user)
    lats = [rep.start[0], *(a.lat for a in accounts)]
    lons = [rep.start[1], *(a.lon for a in accounts)]
    return rep, accounts, travel_matrix(graph, lats, lons).durations


@dataclass(frozen=True)
class PlannedRep:
    """One rep's cycle plan with what it was planned from (:func:`plan_each_rep`)."""

    user: Any
    rep: Rep
    accounts: list[CycleAccount]
    durations: np.ndarray
    plan: RepCycle


def plan_each_rep(
    session: Any,
    actor: Any,
    reps: Sequence[str],
    start: dt.date,
    options: CycleOptions,
    *,
    G: Any = None,
) -> Iterator[PlannedRep]:
    """Plan each rep's cycle in turn (all reps are checked first, then the graph loads).

    Parameters
    ----------
    session, actor, reps
        As :func:`plan_cycles`.
    start, options
        First date and the run's options.
    G
        Road graph (default: loaded for ``options.profile``).

    Yields
    ------
    PlannedRep
        Per rep, in the order of ``reps``.
    """
    start_date, end = options.horizon(start)
    absences = options.absences or {}
    users = plannable_users(session, actor, reps)
    graph = G if G is not None else load_network(profile=options.profile)
    for user in users:
        rep, accounts, durations = rep_inputs(session, user, graph, horizon_days=7 * options.weeks)
        dates = working_dates(
            start_date, options.weeks, country=options.country,
            absences=absences.get(user.username, ()),
        )  # fmt: skip
        plan = plan_rep_cycle(rep, accounts, dates, durations, start=start_date, end=end,
                              iterations=options.iterations, seconds=options.seconds,
                              seed=options.seed, balance=options.balance)  # fmt: skip
        yield PlannedRep(user, rep, accounts, durations, plan)


def plan_cycles(
    session: Any,
    actor: Any,
    reps: Sequence[str],
    start: dt.date | str,
    *,
    options: CycleOptions | None = None,
    G: Any = None,
    **changes: Any,
) -> dict[str, Any]:
    """Plan call cycles for reps from the store (the ``cycle`` command).

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans: a rep for themselves, a manager for their region's reps.
    reps
        Usernames.
    start
        First date.
    options
        The options (:class:`gcrm.cycle_options.CycleOptions`; default: its defaults).
    G
        Road graph (default: loaded for the options' profile).
    **changes
        Options by name, over ``options`` (``weeks=2, iterations=50`` ...).

    Returns
    -------
    dict
        ``{"start", "end", "weeks", "reps": [RepCycle.to_dict(), ...]}``.

    Raises
    ------
    PermissionDeniedError, NotFoundError, InputError
        As for :func:`gcrm.routing.build_problem`.
    """
    opts = CycleOptions.of(options, **changes)
    start_date, end = opts.horizon(start)
    out = [p.plan.to_dict() for p in plan_each_rep(session, actor, reps, start_date, opts, G=G)]
    first, weeks = start_date.isoformat(), opts.weeks
    audit(session, actor, "cycle", ",".join(reps), {"start": first, "weeks": weeks})
    return {"start": first, "end": end.isoformat(), "weeks": weeks, "reps": out}
