"""What a rep does to a planned day by hand: reorder, pin, skip, done, check in.

Every action returns a *new* :class:`gcrm.routing.Plan` (the old one is not
changed), with the times of the route recomputed over the road network: a
rep's own order is kept as given, the waits before openings are added, and
the lunch break is placed at the first point of the day that reaches its
window. Nothing is refused: a stop that misses its opening hours or
appointment, a break outside its window, or a return after the shift is
reported by :func:`route_problems`.

Check-ins (:func:`check_in`) store the device position, its accuracy, the
distance to the account and the time; a check-in farther than
:data:`FAR_CHECKIN_M` (or the position's own accuracy, if larger) is flagged,
never refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from gcrm._errors import InputError, NotFoundError
from gcrm.auth import sees_personal_data
from gcrm.geometry import haversine_m
from gcrm.matrix import route_coords, travel_matrix
from gcrm.routing import (
    REASON_SKIPPED,
    DroppedVisit,
    LunchSlot,
    Plan,
    PlannedStop,
    Rep,
    RoutePlan,
    Visit,
    check_plan_rules,
    visit_windows,
)
from gcrm.settings import get_settings
from gcrm.store import (
    AccountFilter,
    audit,
    get_account,
    list_accounts,
    log_interaction,
    record_checkin,
)

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor

__all__ = [
    "FAR_CHECKIN_M",
    "CheckIn",
    "audit_download",
    "check_in",
    "local_now",
    "mark_done",
    "move_stop",
    "pin_stop",
    "reorder",
    "route_problems",
    "skip_stop",
    "stop_phones",
]

#: A check-in farther than this from the account (m) is flagged.
FAR_CHECKIN_M = 300.0


# --------------------------------------------------------------------------- retiming


def _secs(t: dt.datetime, day: dt.date) -> int:
    return int((t - dt.datetime.combine(day, dt.time())).total_seconds())


def _at(day: dt.date, seconds: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=int(seconds))


def _rep(plan: Plan, rep: str) -> Rep:
    for r in plan.problem.reps:
        if r.id == rep:
            return r
    msg = f"rep {rep!r} is not in this plan"
    raise NotFoundError(msg)


def _route(plan: Plan, rep: str, day: dt.date) -> RoutePlan:
    route = plan.route(rep, day)
    if route is None:
        msg = f"{rep!r} has no route on {day.isoformat()}"
        raise NotFoundError(msg)
    return route


def _stop(route: RoutePlan, visit_id: str) -> PlannedStop:
    stop = next((s for s in route.stops if s.visit_id == visit_id), None)
    if stop is None:
        msg = f"{visit_id!r} is not a stop of this route"
        raise InputError(msg)
    return stop


def _visits(plan: Plan) -> dict[str, Visit]:
    return {v.id: v for v in plan.problem.visits}


def _retimed(
    route: RoutePlan, order: Sequence[PlannedStop], rep: Rep, visits: dict[str, Visit], G: Any
) -> RoutePlan:
    """Return the route with the stops in ``order`` and every time recomputed."""
    day = route.date
    done = [s for s in order if s.status == "done"]
    todo = [s for s in order if s.status != "done"]
    if route.resume is not None:
        origin = (route.resume.lat, route.resume.lon)
        depart = _secs(route.resume.departure, day)
    else:
        origin = (route.start_lat, route.start_lon)
        depart = _secs(route.departure, day)
    end = (route.end_lat, route.end_lon)
    pts = [origin, *[(s.lat, s.lon) for s in todo], end]
    tm = travel_matrix(G, [p[0] for p in pts], [p[1] for p in pts], weight="time")
    dur = np.where(np.isfinite(tm.durations), np.ceil(tm.durations), 0).astype(int)
    dist = np.where(np.isfinite(tm.distances), np.round(tm.distances), 0).astype(int)
    lunch_taken = route.lunch is not None and route.lunch.place == "taken"
    lunch = None if lunch_taken or rep.lunch is None else rep.lunch
    l_early = lunch.earliest.hour * 3600 + lunch.earliest.minute * 60 if lunch else 0
    l_len = lunch.minutes * 60 if lunch else 0
    slot: LunchSlot | None = route.lunch if lunch_taken else None
    t = depart
    if lunch is not None and t >= l_early:  # the break before leaving
        where = "resume" if route.resume is not None else "start"
        slot = LunchSlot(_at(day, t), _at(day, t + l_len), where)
        t += l_len
        lunch = None
    new_stops: list[PlannedStop] = list(done)
    for k, s in enumerate(todo, start=1):
        arrive = t + int(dur[k - 1, k])
        v = visits.get(s.visit_id)
        length = int((s.end - s.start).total_seconds())
        start = arrive
        if v is not None:
            length = v.duration_s
            for lo, hi in visit_windows(v, day):
                if hi >= arrive:
                    start = max(arrive, lo)
                    break
        finish = start + length
        leave = finish
        if lunch is not None and finish >= l_early:
            slot = LunchSlot(_at(day, finish), _at(day, finish + l_len), "stop", len(new_stops))
            leave = finish + l_len
            lunch = None
        new_stops.append(
            dataclasses.replace(
                s,
                arrival=_at(day, arrive),
                wait_s=start - arrive,
                start=_at(day, start),
                end=_at(day, finish),
                departure=_at(day, leave),
                leg_duration_s=int(dur[k - 1, k]),
                leg_distance_m=int(dist[k - 1, k]),
            )
        )
        t = leave
    back = t + int(dur[len(todo), len(todo) + 1])
    if lunch is not None:  # the break at the end location
        slot = LunchSlot(_at(day, back), _at(day, back + l_len), "end")
    coords = route_coords(G, [p[0] for p in pts], [p[1] for p in pts], weight="time")
    return dataclasses.replace(
        route,
        departure=route.departure if route.resume is not None else _at(day, depart),
        arrival=_at(day, back),
        stops=new_stops,
        lunch=slot,
        return_leg_duration_s=int(dur[len(todo), len(todo) + 1]),
        return_leg_distance_m=int(dist[len(todo), len(todo) + 1]),
        geometry=[[round(a, 7), round(b, 7)] for a, b in coords],
    )


def _with_route(plan: Plan, old: RoutePlan, new: RoutePlan, **changes: Any) -> Plan:
    routes = [new if r is old else r for r in plan.routes]
    out = dataclasses.replace(plan, routes=routes, **changes)
    check_plan_rules(out)
    return out


def reorder(
    plan: Plan, *, rep: str, day: dt.date, order: Sequence[str], G: nx.MultiDiGraph
) -> Plan:
    """Put a route's stops in the rep's own order and recompute the times.

    Parameters
    ----------
    plan
        The current plan.
    rep, day
        Which route.
    order
        Every visit id of the route, in the new order. Stops already done
        stay first whatever their place here.
    G
        The road graph the plan was made on.

    Returns
    -------
    Plan
        A new plan; the order is kept as given (see :func:`route_problems`
        for windows it breaks).

    Raises
    ------
    InputError
        If ``order`` is not a permutation of the route's stops.
    """
    route = _route(plan, rep, day)
    by_id = {s.visit_id: s for s in route.stops}
    if sorted(order) != sorted(by_id) or len(set(order)) != len(order):
        msg = "order: must list every stop of the route exactly once"
        raise InputError(msg)
    stops = [by_id[i] for i in order]
    stops = [s for s in stops if s.status == "done"] + [s for s in stops if s.status != "done"]
    new = _retimed(route, stops, _rep(plan, rep), _visits(plan), G)
    return _with_route(plan, route, new)


def move_stop(
    plan: Plan, *, rep: str, day: dt.date, visit_id: str, by: int, G: nx.MultiDiGraph
) -> Plan:
    """Move one stop earlier (``by < 0``) or later (``by > 0``) and recompute.

    Parameters
    ----------
    plan
        The current plan.
    rep, day
        Which route.
    visit_id
        The stop.
    by
        Places to move; clipped to the route.
    G
        The road graph.

    Returns
    -------
    Plan
        A new plan (see :func:`reorder`).
    """
    route = _route(plan, rep, day)
    ids = [s.visit_id for s in route.stops]
    if visit_id not in ids:
        msg = f"{visit_id!r} is not a stop of this route"
        raise InputError(msg)
    i = ids.index(visit_id)
    j = max(0, min(len(ids) - 1, i + by))
    ids.insert(j, ids.pop(i))
    return reorder(plan, rep=rep, day=day, order=ids, G=G)


def pin_stop(plan: Plan, *, rep: str, day: dt.date, visit_id: str, pinned: bool = True) -> Plan:
    """Pin a stop at its planned start time (or unpin it).

    A pinned stop becomes a fixed appointment of the problem: a later
    Optimise or re-plan keeps it at that time.

    Parameters
    ----------
    plan
        The current plan.
    rep, day
        Which route.
    visit_id
        The stop.
    pinned
        ``False`` removes the pin.

    Returns
    -------
    Plan
        A new plan.
    """
    route = _route(plan, rep, day)
    stop = _stop(route, visit_id)
    visits = [
        dataclasses.replace(
            v, fixed_start=stop.start if pinned else None, reps=(rep,) if pinned else v.reps
        )
        if v.id == visit_id
        else v
        for v in plan.problem.visits
    ]
    problem = dataclasses.replace(plan.problem, visits=tuple(visits))
    stops = [dataclasses.replace(s, fixed=pinned) if s is stop else s for s in route.stops]
    new = dataclasses.replace(route, stops=stops)
    return _with_route(plan, route, new, problem=problem)


def skip_stop(plan: Plan, *, rep: str, day: dt.date, visit_id: str, G: nx.MultiDiGraph) -> Plan:
    """Leave a stop out of today's route ("skipped by the rep") and recompute.

    Parameters
    ----------
    plan
        The current plan.
    rep, day
        Which route.
    visit_id
        The stop.
    G
        The road graph.

    Returns
    -------
    Plan
        A new plan; the stop is among the dropped visits.
    """
    route = _route(plan, rep, day)
    stop = _stop(route, visit_id)
    rest = [s for s in route.stops if s is not stop]
    new = _retimed(route, rest, _rep(plan, rep), _visits(plan), G)
    dropped = [d for d in plan.dropped if d.visit_id != visit_id]
    dropped.append(
        DroppedVisit(stop.visit_id, stop.account_id, stop.name, REASON_SKIPPED, stop.required)
    )
    return _with_route(plan, route, new, dropped=dropped)


def mark_done(
    plan: Plan,
    *,
    rep: str,
    day: dt.date,
    visit_id: str,
    session: Session | None = None,
    actor: Actor | None = None,
    outcome: str | None = None,
    notes: str | None = None,
) -> Plan:
    """Mark a stop done; with a session and actor, log the visit too.

    Parameters
    ----------
    plan
        The current plan.
    rep, day
        Which route.
    visit_id
        The stop.
    session, actor
        Where to log the visit (an interaction of kind ``visit``).
    outcome, notes
        Of the logged visit.

    Returns
    -------
    Plan
        A new plan with the stop's status ``"done"``.
    """
    route = _route(plan, rep, day)
    stop = _stop(route, visit_id)
    if session is not None and actor is not None and stop.account_id is not None:
        log_interaction(
            session, actor, int(stop.account_id), kind="visit", outcome=outcome, notes=notes
        )
    stops = [dataclasses.replace(s, status="done") if s is stop else s for s in route.stops]
    return _with_route(plan, route, dataclasses.replace(route, stops=stops))


# --------------------------------------------------------------------------- checks


def route_problems(plan: Plan, route: RoutePlan) -> dict[str, str]:
    """Return what a route breaks: opening hours, appointments, the break, the shift.

    Parameters
    ----------
    plan
        The plan holding the route (its problem has the visits and reps).
    route
        The route.

    Returns
    -------
    dict
        ``{visit_id: message}`` for stops not done whose start misses their
        windows, plus ``"lunch"`` and ``"shift"`` keys when the break lies
        outside its window or the rep is back after the shift. Empty: fine.
    """
    visits = _visits(plan)
    out: dict[str, str] = {}
    day = route.date
    for s in route.stops:
        v = visits.get(s.visit_id)
        if s.status == "done" or v is None:
            continue
        start = _secs(s.start, day)
        windows = visit_windows(v, day)
        if any(lo <= start <= hi for lo, hi in windows):
            continue
        if v.fixed_start is not None:
            out[s.visit_id] = f"pinned at {v.fixed_start:%H:%M}, starts {s.start:%H:%M}"
        elif not windows:
            out[s.visit_id] = "closed (or too short a slot) that day"
        else:
            spans = ", ".join(
                f"{_at(day, lo):%H:%M}–{_at(day, hi + v.duration_s):%H:%M}" for lo, hi in windows
            )
            out[s.visit_id] = f"starts {s.start:%H:%M}, open {spans}"
    rep = next((r for r in plan.problem.reps if r.id == route.rep), None)
    if rep is not None:
        lunch = route.lunch
        if rep.lunch is not None and lunch is not None and lunch.place != "taken":
            lo = dt.datetime.combine(day, rep.lunch.earliest)
            hi = dt.datetime.combine(day, rep.lunch.latest)
            if lunch.start < lo or lunch.end > hi:
                out["lunch"] = (
                    f"lunch {lunch.start:%H:%M}–{lunch.end:%H:%M} is outside "
                    f"{rep.lunch.earliest:%H:%M}–{rep.lunch.latest:%H:%M}"
                )
        shift_end = dt.datetime.combine(day, rep.shift_end)
        if route.arrival > shift_end:
            out["shift"] = f"back {route.arrival:%H:%M}, after the shift ends {shift_end:%H:%M}"
    return out


# --------------------------------------------------------------------------- check-in


@dataclasses.dataclass(frozen=True)
class CheckIn:
    """A stored check-in or check-out.

    Attributes
    ----------
    id
        Its row id.
    account_id
        The account.
    kind
        ``"in"`` or ``"out"``.
    at
        When (UTC, naive).
    lat, lon, accuracy_m
        The device position and its accuracy, if the device gave one.
    distance_m
        From the position to the account (``None`` without a position).
    far
        Farther than :data:`FAR_CHECKIN_M` (or the accuracy, if larger).
    """

    id: int
    account_id: int
    kind: str
    at: dt.datetime
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    distance_m: float | None
    far: bool

    def message(self, name: str) -> str:
        """Return a one-line result for the rep."""
        verb = "Checked in at" if self.kind == "in" else "Checked out of"
        if self.distance_m is None:
            return f"{verb} {name} at {self.at:%H:%M} UTC (no position from the device)."
        far = " — far from the account, flagged" if self.far else ""
        acc = f" ±{self.accuracy_m:.0f} m" if self.accuracy_m is not None else ""
        return f"{verb} {name}: {self.distance_m:.0f} m from the account{acc}{far}."


def check_in(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    kind: str = "in",
    position: tuple[float, float] | None = None,
    accuracy_m: float | None = None,
    at: dt.datetime | None = None,
    visit_day: dt.date | None = None,
) -> CheckIn:
    """Record a check-in (or check-out) at an account with the device position.

    Parameters
    ----------
    session, actor
        Open session and the acting user (needs ``edit``; the account must be
        in scope).
    account_id
        The account.
    kind
        ``"in"`` or ``"out"``.
    position
        ``(lat, lon)`` from the device; ``None`` if it gave none (stored
        without a distance).
    accuracy_m
        The position's accuracy radius.
    at
        When (default now, UTC).
    visit_day
        The planned day of the visit.

    Returns
    -------
    CheckIn
        What was stored; ``far`` when farther than :data:`FAR_CHECKIN_M` (or
        the accuracy) from the account: flagged, never refused.
    """
    if kind not in ("in", "out"):
        msg = f"kind: {kind!r} is not 'in' or 'out'"
        raise InputError(msg)
    account = get_account(session, actor, account_id)
    when = at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    distance = None
    far = False
    lat = lon = None
    if position is not None:
        lat, lon = float(position[0]), float(position[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not math.isfinite(lat + lon):
            msg = f"position: invalid ({lat}, {lon})"
            raise InputError(msg)
        if account.lat is not None and account.lon is not None:
            distance = float(
                haversine_m(lat, lon, np.array([float(account.lat)]), np.array([account.lon]))[0]
            )
            far = distance > max(FAR_CHECKIN_M, float(accuracy_m or 0.0))
    row = record_checkin(
        session,
        actor,
        int(account.id),
        kind=kind,
        at=when,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        distance_m=distance,
        far=far,
        visit_day=visit_day,
    )
    return CheckIn(int(row.id), int(account.id), kind, when, lat, lon, accuracy_m, distance, far)


def stops_left(route: RoutePlan) -> list[PlannedStop]:
    """Return the stops of a route not done yet, in order."""
    return [s for s in route.stops if s.status != "done"]


def visit_ids(stops: Iterable[PlannedStop]) -> list[str]:
    """Visit ids of stops, in order."""
    return [s.visit_id for s in stops]


# --------------------------------------------------------------------------- page helpers


def local_now() -> dt.datetime:
    """Return the current local time of the region (``GCRM_TIMEZONE``), naive like plan times.

    ``GCRM_CLOCK_TIME`` (``HH:MM``) fixes the time of day (today's date is kept),
    so demos and browser tests behave the same at any hour.
    """
    settings = get_settings()
    now = dt.datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None, microsecond=0)
    if settings.clock_time:
        return dt.datetime.combine(now.date(), dt.time.fromisoformat(settings.clock_time))
    return now


def stop_phones(session: Session, actor: Actor, account_ids: Iterable[int]) -> dict[int, str]:
    """Phone numbers of the accounts of a route (none for pseudonymised roles).

    Parameters
    ----------
    session, actor
        Open session and the acting user (their scope applies).
    account_ids
        The accounts.

    Returns
    -------
    dict
        ``{account_id: phone}`` for the accounts that have one.
    """
    ids = sorted({int(a) for a in account_ids})
    if not ids or not sees_personal_data(actor):
        return {}
    rows = list_accounts(session, actor, AccountFilter(ids=ids, include_do_not_contact=True))
    return {int(a.id): str(a.phone) for a in rows if a.phone}


def audit_download(
    session: Session, actor: Actor, plan: Plan, *, filename: str, data: bytes | str
) -> str:
    """Record a download of a plan (GPX, calendar, itinerary) in the audit log.

    Parameters
    ----------
    session, actor
        Open session and the acting user.
    plan
        The plan downloaded.
    filename
        The file's name (its extension names the format).
    data
        The file's content.

    Returns
    -------
    str
        The SHA-256 of the content (as recorded).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    digest = hashlib.sha256(raw).hexdigest()
    audit(
        session,
        actor,
        "export",
        filename,
        {
            "kind": "itinerary",
            "format": filename.rsplit(".", 1)[-1],
            "routes": [f"{r.rep} {r.date.isoformat()}" for r in plan.routes],
            "rows": sum(len(r.stops) for r in plan.routes),
            "sha256": digest,
        },
    )
    return digest
