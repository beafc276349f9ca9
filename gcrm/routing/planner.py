"""Planning and re-planning: matrix, model, solve, schedule, geometry.

:func:`plan_routes` computes travel times along the streets
(:mod:`gcrm.matrix`), turns the problem into PyVRP data
(:func:`gcrm.routing.build_model`), solves it
(:func:`gcrm.routing.solve_model`), schedules every route and returns a
:class:`gcrm.routing.Plan`. :func:`replan` plans the rest of a rep's day from
where they are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from gcrm._errors import InputError, NotFoundError
from gcrm.matrix import route_coords, travel_matrix
from gcrm.network import load_network
from gcrm.routing._model import build_model, dropped_visit, lunch_fits, model_points
from gcrm.routing._schedule import schedule_solution
from gcrm.routing._solve import solve_model
from gcrm.routing._times import clock, secs
from gcrm.routing.plan import (
    DroppedVisit,
    LunchSlot,
    Plan,
    PlannedStop,
    ResumePoint,
    RoutePlan,
    check_plan_rules,
)
from gcrm.routing.problem import (
    REASON_FULL,
    REASON_SKIPPED,
    PlanningProblem,
    PlanOptions,
    Rep,
    Visit,
)

if TYPE_CHECKING:
    import networkx as nx

    from gcrm.matrix import TravelMatrix

_DEFAULT_OPTIONS = PlanOptions()  # the default options (immutable)


def plan_routes(
    problem: PlanningProblem,
    *,
    G: nx.MultiDiGraph | None = None,
    matrix: TravelMatrix | None = None,
    options: PlanOptions = _DEFAULT_OPTIONS,
) -> Plan:
    """Plan the visits of a problem: matrix, model, solve, schedule, geometry.

    Parameters
    ----------
    problem
        What to plan.
    G
        Road graph of ``problem.profile`` (default: loaded with
        :func:`gcrm.network.load_network`).
    matrix
        Precomputed travel matrix over :func:`model_points` (default: computed
        on ``G``).
    options
        Solver options.

    Returns
    -------
    Plan
        Routes per rep and day, dropped visits with reasons, solver figures.

    Raises
    ------
    InputError
        For a malformed problem.
    PlanningError
        If the result broke a rule it must keep (a do-not-contact visit in a
        route): never expected.
    """
    problem.validate()
    t0 = time.perf_counter()
    if G is None and (matrix is None or options.geometry):
        G = load_network(profile=problem.profile)
    if matrix is None:
        assert G is not None
        lats, lons, ids = model_points(problem)
        matrix = travel_matrix(G, lats, lons, ids=ids, weight="time")
    t_matrix = time.perf_counter() - t0
    model = build_model(problem, matrix, objective=options.objective)
    solution = solve_model(model, options)
    routes, dropped = schedule_solution(model, solution)
    t1 = time.perf_counter()
    if options.geometry and G is not None:
        add_geometry(routes, G)
    plan = Plan(
        routes=routes,
        dropped=dropped,
        problem=problem,
        profile=problem.profile,
        stats={
            "seed": options.seed,
            "objective": options.objective,
            "time_limit_s": options.time_limit(len(model.visits)),
            "iteration_budget": options.iteration_budget(len(model.clients)),
            "searches": options.searches(len(model.clients)),
            "iterations": solution.iterations,
            "solver_s": round(solution.seconds, 3),
            "matrix_s": round(t_matrix, 3),
            "geometry_s": round(time.perf_counter() - t1, 3),
            "cost": solution.cost if math.isfinite(solution.cost) else None,
            "feasible": solution.feasible,
            "fallback": solution.fallback,
            "clients": len(model.clients),
            "visits": len(model.visits),
        },
    )
    check_plan_rules(plan)
    return plan


def add_geometry(routes: Iterable[RoutePlan], G: nx.MultiDiGraph) -> None:
    """Fill each route's geometry along the streets of ``G`` (in place).

    Parameters
    ----------
    routes
        Routes to draw.
    G
        The road graph the plan was made on.
    """
    for r in routes:
        pts = r.points()
        coords = route_coords(G, [p[0] for p in pts], [p[1] for p in pts], weight="time")
        r.geometry = [[round(a, 7), round(b, 7)] for a, b in coords]


def replan(
    plan: Plan,
    *,
    rep: str,
    now: dt.datetime,
    position: tuple[float, float],
    done: Iterable[str] = (),
    skipped: Iterable[str] = (),
    lunch_taken: bool | None = None,
    include_dropped: bool = False,
    G: nx.MultiDiGraph | None = None,
    options: PlanOptions = _DEFAULT_OPTIONS,
) -> Plan:
    """Plan the rest of a rep's day from where they are.

    Parameters
    ----------
    plan
        The current plan.
    rep
        Whose day.
    now
        The current time (its date picks the route).
    position
        ``(lat, lon)`` of the rep now.
    done
        Visit ids already made: kept in the route, marked ``"done"``.
    skipped
        Visit ids the rep will not make today: reported as dropped.
    lunch_taken
        Whether the break is over; default: the plan's break ended by ``now``.
    include_dropped
        Also try the visits the plan had dropped for lack of time.
    G
        Road graph (default: loaded for the plan's profile).
    options
        Solver options.

    Returns
    -------
    Plan
        A new plan: this route re-planned (done stops first, then the rest from
        ``position`` at ``now``), the other routes unchanged.

    Raises
    ------
    NotFoundError
        If the rep has no route that day.
    InputError
        If a done or skipped id is not a stop of that route.
    """
    day = now.date()
    done_ids, skip_ids = set(done), set(skipped)
    route = _route_to_replan(plan, rep, day, done_ids | skip_ids)
    rep_obj = next(r for r in plan.problem.reps if r.id == rep)
    by_id = {v.id: v for v in plan.problem.visits}
    kept = [  # done now or in an earlier re-plan
        dataclasses.replace(s, status="done")
        for s in route.stops
        if s.visit_id in done_ids or s.status == "done"
    ]
    remaining_ids = [
        s.visit_id
        for s in route.stops
        if s.visit_id not in done_ids and s.visit_id not in skip_ids and s.status != "done"
    ]
    extra: list[str] = []
    if include_dropped:
        extra = [d.visit_id for d in plan.dropped if d.reason == REASON_FULL]
    if lunch_taken is None:
        lunch_taken = route.lunch is not None and route.lunch.end <= now
    sub_rep = _rest_of_day_rep(rep_obj, route, now, position, lunch_taken=lunch_taken)
    sub_visits = tuple(
        dataclasses.replace(by_id[i], reps=(rep,), earliest=None, latest=None)
        for i in [*remaining_ids, *extra]
        if i in by_id
    )
    sub = PlanningProblem(sub_visits, (sub_rep,), (day,), profile=plan.problem.profile)
    if G is None:
        G = load_network(profile=plan.problem.profile)
    sub_plan = plan_routes(sub, G=G, options=options)
    sub_route = sub_plan.route(rep, day)
    if sub_route is None:  # nothing left to visit: head to the end point
        sub_route = _empty_route(sub_rep, day, now, position, G)
    new_route = _joined_route(route, kept, sub_route, now, position, lunch_taken=lunch_taken)
    routes = [new_route if r is route else r for r in plan.routes]
    dropped = _joined_dropped(plan, sub_plan, new_route, skip_ids, by_id)
    stats = dict(plan.stats)
    stats["replanned"] = {
        "rep": rep,
        "at": now.replace(microsecond=0).isoformat(),
        "position": [float(position[0]), float(position[1])],
        "done": sorted(done_ids),
        "skipped": sorted(skip_ids),
        "solver_s": sub_plan.stats.get("solver_s"),
    }
    out = Plan(routes, dropped, plan.problem, plan.profile, stats)
    check_plan_rules(out)
    return out


def _route_to_replan(plan: Plan, rep: str, day: dt.date, named: set[str]) -> RoutePlan:
    """Return the rep's route of the day; every id in ``named`` must be one of its stops."""
    route = plan.route(rep, day)
    if route is None:
        msg = f"{rep!r} has no route on {day.isoformat()}"
        raise NotFoundError(msg)
    unknown = named - {s.visit_id for s in route.stops}
    if unknown:
        msg = f"not stops of this route: {', '.join(sorted(unknown))}"
        raise InputError(msg)
    return route


def _rest_of_day_rep(
    rep_obj: Rep,
    route: RoutePlan,
    now: dt.datetime,
    position: tuple[float, float],
    *,
    lunch_taken: bool,
) -> Rep:
    """Return the rep for the rest of the day: from ``position`` at ``now``, time left."""
    day = now.date()
    now_s = int((now - dt.datetime.combine(day, dt.time())).total_seconds())
    shift_start = max(secs(rep_obj.shift_start), now_s)
    if shift_start >= secs(rep_obj.shift_end):
        shift_start = secs(rep_obj.shift_end) - 1
    lunch = None if lunch_taken else rep_obj.lunch
    max_work = rep_obj.max_work_minutes
    if max_work is not None:
        worked = (now - route.day_start).total_seconds() / 60
        if lunch_taken and route.lunch is not None and route.lunch.place != "end":
            worked -= (route.lunch.end - route.lunch.start).total_seconds() / 60
        max_work = max(1.0, max_work - max(0.0, worked))
    sub_rep = dataclasses.replace(
        rep_obj,
        start=(float(position[0]), float(position[1])),
        end=rep_obj.end_point,
        shift_start=clock(shift_start),
        max_work_minutes=max_work,
        lunch=lunch,
        days=(),
    )
    if sub_rep.lunch is not None and not lunch_fits(sub_rep):
        sub_rep = dataclasses.replace(sub_rep, lunch=None)
    return sub_rep


def _joined_route(
    route: RoutePlan,
    kept: list[PlannedStop],
    sub_route: RoutePlan,
    now: dt.datetime,
    position: tuple[float, float],
    *,
    lunch_taken: bool,
) -> RoutePlan:
    """Return the day's route: the stops done, then the re-planned rest."""
    lunch_slot = sub_route.lunch
    if lunch_taken and route.lunch is not None:
        lunch_slot = LunchSlot(route.lunch.start, route.lunch.end, "taken")
    elif lunch_slot is not None and lunch_slot.place == "start":
        lunch_slot.place = "resume"
    elif lunch_slot is not None and lunch_slot.stop_index is not None:
        lunch_slot.stop_index += len(kept)
    return RoutePlan(
        rep=route.rep,
        rep_name=route.rep_name,
        date=route.date,
        start_lat=route.start_lat,
        start_lon=route.start_lon,
        end_lat=sub_route.end_lat,
        end_lon=sub_route.end_lon,
        departure=route.departure,
        arrival=sub_route.arrival,
        stops=kept + sub_route.stops,
        lunch=lunch_slot,
        return_leg_duration_s=sub_route.return_leg_duration_s,
        return_leg_distance_m=sub_route.return_leg_distance_m,
        geometry=sub_route.geometry,
        resume=ResumePoint(
            float(position[0]), float(position[1]), now.replace(microsecond=0), sub_route.departure
        ),
    )


def _joined_dropped(
    plan: Plan,
    sub_plan: Plan,
    new_route: RoutePlan,
    skip_ids: set[str],
    by_id: dict[str, Visit],
) -> list[DroppedVisit]:
    """Return the visits left out after a re-plan: old drops, new drops, skipped."""
    planned_now = {s.visit_id for s in new_route.stops}
    dropped = [
        d for d in plan.dropped if d.visit_id not in planned_now and d.visit_id not in skip_ids
    ]
    known = {d.visit_id for d in dropped}
    for d in sub_plan.dropped:
        if d.visit_id not in known:
            dropped.append(d)
            known.add(d.visit_id)
    for i in sorted(skip_ids):
        v = by_id.get(i)
        if v is not None:
            dropped = [d for d in dropped if d.visit_id != i]
            dropped.append(dropped_visit(v, REASON_SKIPPED))
    return dropped


def _empty_route(
    rep: Rep, day: dt.date, now: dt.datetime, position: tuple[float, float], G: Any
) -> RoutePlan:
    end = rep.end_point
    tm = travel_matrix(G, [position[0], end[0]], [position[1], end[1]])
    d = math.ceil(float(tm.durations[0, 1])) if np.isfinite(tm.durations[0, 1]) else 0
    m = round(float(tm.distances[0, 1])) if np.isfinite(tm.distances[0, 1]) else 0
    coords = route_coords(G, [position[0], end[0]], [position[1], end[1]])
    return RoutePlan(
        rep=rep.id,
        rep_name=rep.name,
        date=day,
        start_lat=position[0],
        start_lon=position[1],
        end_lat=end[0],
        end_lon=end[1],
        departure=now.replace(microsecond=0),
        arrival=now.replace(microsecond=0) + dt.timedelta(seconds=d),
        stops=[],
        lunch=None,
        return_leg_duration_s=d,
        return_leg_distance_m=m,
        geometry=[[a, b] for a, b in coords],
    )
