"""Re-plan a call cycle around an absence, keeping every other day as it was.

The visits of the days a rep cannot work move to other days of the plan: each
goes to the day where it adds the least driving, among the days on which the
account is open, that still have time for it, and on which the account's
visits keep the frequency rules of :mod:`gcrm.cycles`. It is inserted into
that day's route at the cheapest place, the order of the other visits kept.
Days that neither lose nor gain a visit are not touched. Visits that fit
nowhere are reported.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gcrm.cycles import CycleAccount, RepCycle, fits_opening_hours, visits_keep_rules
from gcrm.routing import Rep


def replan_absence(
    plan: RepCycle,
    rep: Rep,
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    absent: Iterable[dt.date],
    *,
    start: dt.date,
    end: dt.date,
) -> RepCycle:
    """Move the visits of absent days to other days; leave the rest alone.

    Parameters
    ----------
    plan
        The cycle plan (from :func:`gcrm.cycles.plan_rep_cycle`).
    rep
        The rep (shift, for opening hours).
    accounts, durations
        As given to :func:`gcrm.cycles.plan_rep_cycle`.
    absent
        Dates the rep will not work.
    start, end
        The horizon (inclusive).

    Returns
    -------
    RepCycle
        The new plan without the absent dates; visits that could not move are
        in ``skipped`` with the reason (the account's other visits stay).
    """
    off = set(absent)
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    by_id = {a.id: a for a in accounts}
    keep = [k for k, d in enumerate(plan.dates) if d not in off]
    days = {plan.dates[k]: list(plan.days[k]) for k in keep}
    work = {plan.dates[k]: plan.work_seconds[k] for k in keep}
    visits: dict[int, list[dt.date]] = {}
    for d, ids in days.items():
        for a in ids:
            visits.setdefault(a, []).append(d)
    moved = [a for k, d in enumerate(plan.dates) if d in off for a in plan.days[k]]
    skipped = list(plan.skipped)
    shift = (rep.shift_start, rep.shift_end)
    for a in moved:
        got = place_visit(by_id[a], days, work, visits, durations, pos,
                          limit=plan.limit_seconds, shift=shift, start=start, end=end)  # fmt: skip
        if got is None:
            reason = "absence: no other day can take this visit"
            skipped.append({"account_id": a, "name": by_id[a].name, "reason": reason})
    dates = [plan.dates[k] for k in keep]
    return rebuild(plan, dates, days, accounts, durations, skipped)


def rebuild(
    plan: RepCycle,
    dates: Sequence[dt.date],
    days: dict[dt.date, list[int]],
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    skipped: list[dict[str, Any]],
) -> RepCycle:
    """Return a plan with new days, its drive and work times computed from ``durations``.

    Parameters
    ----------
    plan
        The plan it replaces (rep, limit, required visits, feasibility).
    dates
        The working dates, in order.
    days
        Per date, account ids in visiting order.
    accounts, durations
        As given to :func:`gcrm.cycles.plan_rep_cycle` (row ``k + 1`` is ``accounts[k]``).
    skipped
        Accounts left out, with the reason.

    Returns
    -------
    RepCycle
        The new plan.
    """
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    by_id = {a.id: a for a in accounts}
    drive = []
    for d in dates:
        seq = [0, *(pos[x] for x in days[d]), 0]
        drive.append(float(sum(durations[u, v] for u, v in itertools.pairwise(seq))))
    return RepCycle(
        plan.rep,
        list(dates),
        [days[d] for d in dates],
        drive,
        [drive[k] + sum(by_id[a].minutes * 60 for a in days[d]) for k, d in enumerate(dates)],
        plan.limit_seconds,
        dict(plan.required),
        skipped,
        plan.feasible,
    )


def place_visit(
    acc: CycleAccount,
    days: dict[dt.date, list[int]],
    work: dict[dt.date, float],
    visits: dict[int, list[dt.date]],
    durations: np.ndarray,
    pos: dict[int, int],
    *,
    limit: float,
    shift: tuple[dt.time, dt.time],
    start: dt.date,
    end: dt.date,
    exclude: Iterable[dt.date] = (),
) -> dt.date | None:
    """Put one visit on the day where it adds the least driving, under the rules.

    The day must be open for the account, have time left, and keep the
    account's visits within the frequency rules; the visit goes to that
    day's cheapest place, the other visits keeping their order. ``days``,
    ``work`` and ``visits`` are updated in place.

    Parameters
    ----------
    acc
        The account.
    days, work
        Per date: account ids in order, and working seconds.
    visits
        Per account id: its visit dates.
    durations, pos
        Drive times, and each account id's row in them.
    limit
        Longest working day (s).
    shift
        The rep's working hours.
    start, end
        The horizon.
    exclude
        Dates not to use.

    Returns
    -------
    datetime.date or None
        The day chosen, or ``None`` if none can take it.
    """
    skip = set(exclude)
    best: tuple[float, dt.date, int] | None = None
    for d, ids in days.items():
        if d in skip or acc.id in ids:
            continue
        if not fits_opening_hours(acc.opening_hours, d, shift, acc.minutes):
            continue
        if not visits_keep_rules(acc, [*visits.get(acc.id, []), d], start, end):
            continue
        seq = [0, *(pos[x] for x in ids), 0]
        p = pos[acc.id]
        deltas = [durations[u, p] + durations[p, v] - durations[u, v]
                  for u, v in itertools.pairwise(seq)]  # fmt: skip
        i = int(np.argmin(deltas))
        if work[d] + deltas[i] + acc.minutes * 60 > limit:
            continue
        if best is None or deltas[i] < best[0]:
            best = (float(deltas[i]), d, i)
    if best is None:
        return None
    delta, d, i = best
    days[d].insert(i, acc.id)
    work[d] += delta + acc.minutes * 60
    visits.setdefault(acc.id, []).append(d)
    return d
