"""Scheduling solver routes exactly: times, the lunch break, repairs.

PyVRP has no breaks. After solving, each route is scheduled exactly: the
break is placed in the best gap of the route (the one the solver chose is
always among them: after a visit, at the start, at the end, or during a
wait), the departure is delayed as far as waiting allows (the shortest
working day), and every window, appointment, shift end and the maximum
working time (which excludes the break) are checked. A route with no valid
place for the break loses visits, the least valuable optional ones first,
each reported with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcrm.routing._model import (
    RoutingModel,
    VehicleInfo,
    dropped_visit,
    lunch_fits,
)
from gcrm.routing._solve import ModelSolution
from gcrm.routing._times import at_secs, secs
from gcrm.routing.plan import DroppedVisit, LunchSlot, PlannedStop, RoutePlan
from gcrm.routing.problem import REASON_FULL, REASON_LUNCH, REASON_REQUIRED_FULL


@dataclass
class _Item:
    """A stop of the simulated day (a visit or the break)."""

    loc: int
    early: int
    late: int
    service: int
    visit: int  # -1: the break


@dataclass
class _Timed:
    depart: int
    arrivals: list[int]
    starts: list[int]
    back: int
    lunch_gap: int | None  # items before the break; None: no break; -1: at the end
    lunch_start: int | None
    work: int
    items: list[_Item]


def _simulate(
    start_loc: int,
    end_loc: int,
    items: list[_Item],
    dur: np.ndarray,
    shift_start: int,
    shift_end: int,
) -> tuple[int, list[int], list[int], int] | None:
    """Earliest schedule with the shortest working day, or ``None`` if infeasible.

    Returns the departure, arrivals, service starts and the return time.
    """

    def forward(depart: int) -> tuple[list[int], list[int], int] | None:
        t, prev = depart, start_loc
        arr, sta = [], []
        for it in items:
            a = t + int(dur[prev, it.loc])
            s = max(a, it.early)
            if s > it.late:
                return None
            arr.append(a)
            sta.append(s)
            t, prev = s + it.service, it.loc
        back = t + int(dur[prev, end_loc])
        if back > shift_end:
            return None
        return arr, sta, back

    first = forward(shift_start)
    if first is None:
        return None
    arr, sta, back = first
    # Leave later when waits allow: the day gets shorter, no window is missed.
    cum, delay = 0, None
    for it, a, s in zip(items, arr, sta, strict=True):
        cum += s - a
        slack = cum + it.late - s
        delay = slack if delay is None else min(delay, slack)
    delay = min(cum, delay) if delay is not None else 0
    if delay > 0:
        later = forward(shift_start + delay)
        if later is not None:
            return shift_start + delay, later[0], later[1], later[2]
    return shift_start, arr, sta, back


def _schedule(
    model: RoutingModel,
    rep_k: int,
    visits: list[tuple[int, int, int]],
) -> _Timed | None:
    """Schedule visits ``(visit, early, late)`` in order for a rep, with the break.

    Every place for the break is tried (before leaving, after each visit, after
    returning); the one giving the earliest end of the day wins.
    """
    rep = model.reps[rep_k]
    s_dep, e_dep = model.depot_of_rep[rep_k]
    ss, se = secs(rep.shift_start), secs(rep.shift_end)
    dur = model.durations
    base = [
        _Item(model.visit_location(v), e, lt, model.visits[v].duration_s, v) for v, e, lt in visits
    ]
    max_work = None if rep.max_work_minutes is None else int(rep.max_work_minutes * 60)
    lunch = rep.lunch if (rep.lunch is not None and lunch_fits(rep)) else None
    if lunch is None or not base:
        sim = _simulate(s_dep, e_dep, base, dur, ss, se)
        if sim is None:
            return None
        depart, arr, sta, back = sim
        work = back - depart
        if max_work is not None and work > max_work:
            return None
        return _Timed(depart, arr, sta, back, None, None, work, base)
    ws, we, length = secs(lunch.earliest), secs(lunch.latest), lunch.minutes * 60
    best: _Timed | None = None
    best_key: tuple[int, int, int] | None = None
    for gap in range(len(base) + 2):
        if gap <= len(base):
            loc = s_dep if gap == 0 else base[gap - 1].loc
            items = [*base[:gap], _Item(loc, ws, we - length, length, -1), *base[gap:]]
            sim = _simulate(s_dep, e_dep, items, dur, ss, se)
            if sim is None:
                continue
            depart, arr, sta, back = sim
            lunch_start = sta[gap]
            work = back - depart - length
            day_end = back
            timed = _Timed(depart, arr, sta, back, gap, lunch_start, work, items)
        else:  # after returning
            sim = _simulate(s_dep, e_dep, base, dur, ss, se)
            if sim is None:
                continue
            depart, arr, sta, back = sim
            lunch_start = max(back, ws)
            if lunch_start + length > min(we, se):
                continue
            work = back - depart
            day_end = lunch_start + length
            timed = _Timed(depart, arr, sta, back, -1, lunch_start, work, base)
        if max_work is not None and work > max_work:
            continue
        key = (day_end, work, gap)
        if best_key is None or key < best_key:
            best, best_key = timed, key
    return best


def _schedule_with_repair(
    model: RoutingModel, rep_k: int, visits: list[tuple[int, int, int]]
) -> tuple[_Timed | None, list[tuple[int, str]]]:
    """Schedule a route; drop visits (least valuable optional first) until it fits."""
    removed: list[tuple[int, str]] = []
    current = list(visits)
    while True:
        timed = _schedule(model, rep_k, current)
        if timed is not None:
            return timed, removed
        if not current:
            return None, removed
        # Prefer a single removal that makes the route feasible, cheapest first.
        order = sorted(
            range(len(current)),
            key=lambda i: (
                model.visits[current[i][0]].is_required,
                model.prizes[current[i][0]],
            ),
        )
        pick = None
        for i in order:
            trial = current[:i] + current[i + 1 :]
            if _schedule(model, rep_k, trial) is not None:
                pick = i
                break
        if pick is None:
            pick = order[0]
        v = current.pop(pick)[0]
        removed.append((v, REASON_LUNCH))


def _route_from_timed(
    model: RoutingModel,
    vehicle: VehicleInfo,
    timed: _Timed,
) -> RoutePlan:
    rep = model.reps[vehicle.rep]
    day = model.dates[vehicle.day]
    s_dep, e_dep = model.depot_of_rep[vehicle.rep]
    dur, dist = model.durations, model.distances
    stops: list[PlannedStop] = []
    lunch: LunchSlot | None = None
    prev = s_dep
    depart = timed.depart
    for pos, it in enumerate(timed.items):
        if it.visit < 0:  # the break
            start = timed.starts[pos]
            place = "start" if not stops else "stop"
            lunch = LunchSlot(
                at_secs(day, start),
                at_secs(day, start + it.service),
                place,
                None if place == "start" else len(stops) - 1,
            )
            if stops:
                stops[-1].departure = at_secs(day, start + it.service)
            else:
                depart = start + it.service
            continue
        v = model.visits[it.visit]
        a, s = timed.arrivals[pos], timed.starts[pos]
        loc = it.loc
        stops.append(
            PlannedStop(
                visit_id=v.id,
                account_id=v.account_id,
                name=v.name,
                address=v.address,
                lat=v.lat,
                lon=v.lon,
                arrival=at_secs(day, a),
                wait_s=s - a,
                start=at_secs(day, s),
                end=at_secs(day, s + it.service),
                departure=at_secs(day, s + it.service),
                leg_duration_s=int(dur[prev, loc]),
                leg_distance_m=int(dist[prev, loc]),
                required=v.is_required,
                fixed=v.fixed_start is not None,
                value=v.value,
            )
        )
        prev = loc
    if timed.lunch_gap == -1 and timed.lunch_start is not None and rep.lunch is not None:
        lunch = LunchSlot(
            at_secs(day, timed.lunch_start),
            at_secs(day, timed.lunch_start + rep.lunch.minutes * 60),
            "end",
        )
    sp, ep = rep.start, rep.end_point
    return RoutePlan(
        rep=rep.id,
        rep_name=rep.name,
        date=day,
        start_lat=sp[0],
        start_lon=sp[1],
        end_lat=ep[0],
        end_lon=ep[1],
        departure=at_secs(day, depart),
        arrival=at_secs(day, timed.back),
        stops=stops,
        lunch=lunch,
        return_leg_duration_s=int(dur[prev, e_dep]),
        return_leg_distance_m=int(dist[prev, e_dep]),
    )


def schedule_solution(
    model: RoutingModel, solution: ModelSolution
) -> tuple[list[RoutePlan], list[DroppedVisit]]:
    """Turn solver routes into timed itineraries; report every visit left out.

    Parameters
    ----------
    model
        The model.
    solution
        From :func:`solve_model`.

    Returns
    -------
    routes, dropped
        Routes ordered by date then rep (no geometry yet), and the visits not
        planned (the model's own drops included).
    """
    routes: list[RoutePlan] = []
    dropped = list(model.dropped)
    planned: set[int] = set()
    built_dropped = {d.visit_id for d in dropped}
    for vt, clients in solution.routes:
        vehicle = model.vehicles[vt]
        seq = [
            (model.clients[c].visit, model.clients[c].early, model.clients[c].late) for c in clients
        ]
        timed, removed = _schedule_with_repair(model, vehicle.rep, seq)
        for vi, reason in removed:
            dropped.append(dropped_visit(model.visits[vi], reason))
            built_dropped.add(model.visits[vi].id)
        if timed is None or not any(it.visit >= 0 for it in timed.items):
            continue
        route = _route_from_timed(model, vehicle, timed)
        routes.append(route)
        planned.update(it.visit for it in timed.items if it.visit >= 0)
    for vi, v in enumerate(model.visits):
        if vi in planned or v.id in built_dropped:
            continue
        reason = REASON_REQUIRED_FULL if v.is_required else REASON_FULL
        dropped.append(dropped_visit(v, reason))
    routes.sort(key=lambda r: (r.date, r.rep))
    return routes, dropped
