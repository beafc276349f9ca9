"""Tests of gcrm.routing: the planning model, the solver's plans, re-plan and exports.

Every plan is verified by :func:`check_plan`, an independent feasibility
checker written here from the raw inputs (the problem's visits, reps and
dates, opening hours parsed with opening-hours-py, true travel times from an
unrounded travel matrix) and the returned schedule, not from the solver's own
report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import random
from collections import Counter
from urllib.parse import parse_qs, urlparse

import networkx as nx
import numpy as np
import pytest

from gcrm import day_actions, itinerary_export, routing
from gcrm._errors import InputError, NotFoundError
from gcrm.matrix import travel_matrix
from gcrm.network import build_network
from gcrm.routing import (
    LunchBreak,
    Plan,
    PlanningError,
    PlanningProblem,
    PlanOptions,
    Rep,
    Visit,
)

DAY1 = dt.date(2026, 12, 1)  # a Tuesday
DAY2 = dt.date(2026, 12, 2)
SATURDAY = dt.date(2026, 12, 5)
HOURS = (
    "Mo-Fr 09:00-17:00",
    "Mo-Sa 10:00-18:00; Su 12:00-16:00",
    "Mo-Fr 08:00-11:00,13:00-17:00",
    "Tu-Sa 11:00-20:00",
    "24/7",
    None,
    "Mo-Fr 10:00-14:00",
)
FAST = PlanOptions(iterations=1500, seed=1)  # work only: the same plan on a busy machine


# --------------------------------------------------------------------------- the checker


def _secs(t: dt.time) -> dt.timedelta:
    return dt.timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def _inside_open(v: Visit, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether [start, end] lies in one open interval of the visit's place."""
    import opening_hours

    if v.windows:
        return any(a <= start and end <= b for a, b in v.windows)
    if not v.opening_hours:
        return True
    try:
        oh = opening_hours.OpeningHours(v.opening_hours)
    except Exception:
        return True
    if not oh.is_open(start):
        return False
    change = oh.next_change(start)
    return change is None or change >= end


def check_plan(problem: PlanningProblem, plan: Plan, G: nx.MultiDiGraph) -> None:
    """Independent feasibility check of a plan against its raw inputs.

    Travel: each leg lasts at least the true (unrounded) travel time. Visits:
    inside an open interval (or exactly at the appointment), by an allowed
    rep on an allowed day, within the shift, at most once, never
    do-not-contact. Breaks: one per working day that can hold it, of the
    right length, inside its window and the shift, in a gap between drives
    and visits. Working time: at most the maximum, the break excluded.
    Every visit is either planned or dropped with a reason.
    """
    visits = {v.id: v for v in problem.visits}
    reps = {r.id: r for r in problem.reps}
    points: set[tuple[float, float]] = set()
    for r in problem.reps:
        points.update({tuple(r.start), tuple(r.end_point)})
    for v in problem.visits:
        points.add((v.lat, v.lon))
    for route in plan.routes:
        points.add((route.start_lat, route.start_lon))
        points.add((route.end_lat, route.end_lon))
        if route.resume is not None:
            points.add((route.resume.lat, route.resume.lon))
    pts = sorted(points)
    ix = {p: i for i, p in enumerate(pts)}
    tm = travel_matrix(G, [p[0] for p in pts], [p[1] for p in pts])

    def travel(a: tuple[float, float], b: tuple[float, float]) -> float:
        return float(tm.durations[ix[a], ix[b]])

    seen: set[str] = set()
    for route in plan.routes:
        rep = reps[route.rep]
        day = route.date
        assert day in problem.dates
        assert not rep.days or day in rep.days
        midnight = dt.datetime.combine(day, dt.time())
        shift_start = midnight + _secs(rep.shift_start)
        shift_end = midnight + _secs(rep.shift_end)
        for s in route.stops:
            v = visits[s.visit_id]
            assert not v.do_not_contact, s.visit_id
            assert s.visit_id not in seen, f"{s.visit_id} planned twice"
            seen.add(s.visit_id)
            assert not v.reps or route.rep in v.reps
            assert v.earliest is None or day >= v.earliest
            assert v.latest is None or day <= v.latest
            if s.status == "done":
                continue
            assert s.start.date() == day
            assert s.arrival <= s.start
            assert (s.start - s.arrival).total_seconds() == s.wait_s
            assert s.end - s.start == dt.timedelta(minutes=v.minutes)
            assert s.departure >= s.end
            if v.fixed_start is not None:
                assert s.start == v.fixed_start, f"appointment {v.id} moved"
            else:
                assert _inside_open(v, s.start, s.end), f"{v.id} outside opening hours"
            assert shift_start <= s.start and s.end <= shift_end
        planned = [s for s in route.stops if s.status != "done"]
        # Legs: at least the true travel time each.
        if route.resume is not None:
            prev, t_prev = (route.resume.lat, route.resume.lon), route.resume.departure
            assert route.resume.departure >= route.resume.at
        else:
            prev, t_prev = (route.start_lat, route.start_lon), route.departure
            assert route.departure >= shift_start
        for s in planned:
            here = (s.lat, s.lon)
            need = travel(prev, here)
            assert (s.arrival - t_prev).total_seconds() >= need - 1e-6, f"leg to {s.visit_id}"
            assert s.leg_duration_s >= need - 1e-6
            prev, t_prev = here, s.departure
        end = (route.end_lat, route.end_lon)
        assert (route.arrival - t_prev).total_seconds() >= travel(prev, end) - 1e-6
        assert route.arrival <= shift_end
        # The break.
        lunch = route.lunch
        if rep.lunch is not None and planned:
            lo = max(shift_start, midnight + _secs(rep.lunch.earliest))
            hi = min(shift_end, midnight + _secs(rep.lunch.latest))
            if (hi - lo) >= dt.timedelta(minutes=rep.lunch.minutes):
                assert lunch is not None, f"{route.rep} {day}: no break"
        lunch_at = None
        if lunch is not None:
            assert rep.lunch is not None
            assert lunch.end - lunch.start == dt.timedelta(minutes=rep.lunch.minutes)
            assert lunch.start >= midnight + _secs(rep.lunch.earliest)
            assert lunch.end <= midnight + _secs(rep.lunch.latest)
            assert shift_start <= lunch.start and lunch.end <= shift_end
            if lunch.place == "start":
                assert lunch.end <= route.departure
            elif lunch.place == "stop":
                s = route.stops[lunch.stop_index]
                assert s.status != "done"
                assert s.end <= lunch.start and lunch.end <= s.departure
                lunch_at = s.visit_id
            elif lunch.place == "end":
                assert lunch.start >= route.arrival
            elif lunch.place == "resume":
                assert route.resume is not None
                assert route.resume.at <= lunch.start and lunch.end <= route.resume.departure
            else:
                assert lunch.place == "taken"
                assert route.resume is not None and lunch.end <= route.resume.at
        for s in planned:
            if s.visit_id != lunch_at:
                assert s.departure == s.end, f"{s.visit_id}: idle after the visit"
        # Working time.
        if rep.max_work_minutes is not None and route.resume is None:
            day_start = route.departure
            if lunch is not None and lunch.place == "start":
                day_start = lunch.start
            work = route.arrival - day_start
            if lunch is not None and lunch.place in ("start", "stop"):
                work -= lunch.end - lunch.start
            assert work <= dt.timedelta(minutes=rep.max_work_minutes), f"{route.rep} overworked"
    # Every visit: planned or dropped with a reason, never both.
    dropped = Counter(d.visit_id for d in plan.dropped)
    assert all(n == 1 for n in dropped.values()), "a visit is dropped twice"
    assert not set(dropped) & seen
    assert set(dropped) | seen == set(visits)
    assert all(d.reason for d in plan.dropped)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def G() -> nx.MultiDiGraph:
    """The bundled Helsinki extract's drive network (built once, no cache)."""
    return build_network(None, profile="drive")


@pytest.fixture(scope="module")
def G_walk() -> nx.MultiDiGraph:
    """The bundled Helsinki extract's walking network."""
    return build_network(None, profile="walk")


def _points(G: nx.MultiDiGraph, n: int, seed: int) -> list[tuple[float, float]]:
    """Points near random graph nodes (a few metres off the road)."""
    rng = random.Random(seed)
    nodes = sorted(G.nodes)
    out = []
    for _ in range(n):
        d = G.nodes[rng.choice(nodes)]
        out.append((d["y"] + rng.uniform(-2e-4, 2e-4), d["x"] + rng.uniform(-3e-4, 3e-4)))
    return out


def _visits(G: nx.MultiDiGraph, n: int, seed: int = 0, **kw) -> list[Visit]:
    rng = random.Random(seed)
    return [
        Visit(
            id=f"v{i}",
            lat=lat,
            lon=lon,
            minutes=rng.choice([20, 30, 45, 60]),
            name=f"Shop {i}",
            opening_hours=rng.choice(HOURS),
            value=rng.uniform(0, 1000),
            address=f"Street {i}",
            **kw,
        )
        for i, (lat, lon) in enumerate(_points(G, n, seed))
    ]


def _rep(G: nx.MultiDiGraph, rid: str, seed: int, **kw) -> Rep:
    (a, b), (c, d) = _points(G, 2, seed)
    kw.setdefault("lunch", LunchBreak(dt.time(11, 0), dt.time(13, 0), 30))
    return Rep(id=rid, start=(a, b), end=(c, d), name=rid.title(), **kw)


# --------------------------------------------------------------------------- windows


def test_visit_windows_follow_opening_hours() -> None:
    """Windows hold the whole visit, follow the day's hours, and close on closed days."""
    v = Visit("a", 60.17, 24.94, minutes=30, opening_hours="Mo-Fr 08:00-11:00,13:00-17:00")
    assert routing.visit_windows(v, DAY1) == [(8 * 3600, 10.5 * 3600), (13 * 3600, 16.5 * 3600)]
    assert routing.visit_windows(v, dt.date(2026, 12, 6)) == []  # Sunday
    open_all = Visit("b", 60.17, 24.94, minutes=20)
    assert routing.visit_windows(open_all, DAY1) == [(0, 86400 - 1200)]
    bad = Visit("c", 60.17, 24.94, opening_hours="not hours at all")
    assert routing.visit_windows(bad, DAY1) == [(0, 86400 - 1800)]
    explicit = Visit(
        "d",
        60.17,
        24.94,
        minutes=30,
        opening_hours="Mo-Fr 09:00-17:00",
        windows=((dt.datetime(2026, 12, 1, 14), dt.datetime(2026, 12, 1, 15)),),
    )
    assert routing.visit_windows(explicit, DAY1) == [(14 * 3600, 14.5 * 3600)]
    assert routing.visit_windows(explicit, DAY2) == []
    fixed = Visit("e", 60.17, 24.94, fixed_start=dt.datetime(2026, 12, 1, 10, 15))
    assert routing.visit_windows(fixed, DAY1) == [(36900, 36900)]
    assert routing.visit_windows(fixed, DAY2) == []


def test_due_date() -> None:
    """Due: last visit plus the target; never visited: due now; no target: never."""
    assert routing.due_date(dt.date(2026, 11, 1), 30) == dt.date(2026, 12, 1)
    assert routing.due_date(None, 30) == dt.date.min
    assert routing.due_date(dt.date(2026, 11, 1), None) is None


def test_problem_validation() -> None:
    """The builder rejects empty or inconsistent problems with clear messages."""
    rep = Rep("r", (60.17, 24.94))
    with pytest.raises(ValueError, match="at least one rep"):
        PlanningProblem((), (), (DAY1,)).validate()
    with pytest.raises(ValueError, match="shift must end"):
        PlanningProblem((), (dataclasses.replace(rep, shift_end=dt.time(7)),), (DAY1,)).validate()
    with pytest.raises(ValueError, match="lunch window"):
        bad = dataclasses.replace(rep, lunch=LunchBreak(dt.time(12), dt.time(12, 10), 30))
        PlanningProblem((), (bad,), (DAY1,)).validate()
    with pytest.raises(ValueError, match="unique"):
        PlanningProblem((), (rep, rep), (DAY1,)).validate()


# --------------------------------------------------------------------------- plans


def test_plan_is_feasible(G: nx.MultiDiGraph) -> None:
    """Two reps over two days with opening hours, a lunch break, a maximum
    working time, appointments and a day restriction: the independent checker
    accepts every route."""
    visits = _visits(G, 45, seed=3)
    visits[0] = dataclasses.replace(
        visits[0], fixed_start=dt.datetime(2026, 12, 1, 9, 30), reps=("ann",), opening_hours=None
    )
    visits[1] = dataclasses.replace(
        visits[1], fixed_start=dt.datetime(2026, 12, 2, 14, 0), reps=("bob",)
    )
    visits[2] = dataclasses.replace(visits[2], earliest=DAY2, required=True)
    visits[3] = dataclasses.replace(visits[3], reps=("bob",), required=True)
    reps = (
        _rep(G, "ann", 1, max_work_minutes=7 * 60),
        _rep(G, "bob", 2, shift_start=dt.time(9), shift_end=dt.time(17, 30)),
    )
    problem = PlanningProblem(tuple(visits), reps, (DAY1, DAY2))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    planned = set(plan.planned_visit_ids())
    assert {"v0", "v1", "v2", "v3"} <= planned
    assert plan.route("ann", DAY1) is not None and plan.route("bob", DAY2) is not None
    assert next(s for s in plan.route("bob", DAY2).stops if s.visit_id == "v1").fixed
    assert all(r.lunch is not None for r in plan.routes)
    assert plan.dropped  # 45 visits do not fit in four days of two reps... of 30-60 min
    for r in plan.routes:
        assert r.geometry and r.geometry[0] == pytest.approx([r.start_lat, r.start_lon], abs=1e-6)
        assert r.drive_s == sum(s.leg_duration_s for s in r.stops) + r.return_leg_duration_s


def test_saturday_hours_and_walking(G_walk: nx.MultiDiGraph) -> None:
    """On the walking network, visits follow Saturday's hours (different from
    weekdays) over a weekday and a Saturday; the checker accepts the plan."""
    visits = _visits(G_walk, 25, seed=5)
    rep = _rep(G_walk, "walker", 7, lunch=LunchBreak(dt.time(11, 30), dt.time(13), 45))
    problem = PlanningProblem(tuple(visits), (rep,), (dt.date(2026, 12, 4), SATURDAY), "walk")
    plan = routing.plan_routes(problem, G=G_walk, options=FAST)
    check_plan(problem, plan, G_walk)
    sat = plan.route("walker", SATURDAY)
    assert sat is not None
    closed = {v.id for v in visits if v.opening_hours in (HOURS[0], HOURS[2], HOURS[6])}
    assert not closed & {s.visit_id for s in sat.stops}


def test_optional_dropped_before_required_and_by_value(G: nx.MultiDiGraph) -> None:
    """An over-full day keeps every required visit and, among optional visits
    of the same length at the same place, the most valuable ones."""
    lat, lon = _points(G, 1, 11)[0]
    optional = [
        Visit(f"o{i}", lat, lon + i * 1e-5, minutes=45, value=float(i), name=f"O{i}")
        for i in range(16)
    ]
    required = [
        Visit(f"r{i}", lat, lon - i * 1e-5, minutes=45, value=0.0, required=True) for i in range(4)
    ]
    rep = _rep(G, "ann", 12)
    problem = PlanningProblem((*optional, *required), (rep,), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    planned = set(plan.planned_visit_ids())
    assert {v.id for v in required} <= planned
    kept = sorted(int(i[1:]) for i in planned if i.startswith("o"))
    dropped = sorted(int(d.visit_id[1:]) for d in plan.dropped)
    assert dropped and kept
    assert min(kept) > max(dropped), (kept, dropped)
    assert {d.reason for d in plan.dropped} == {routing.REASON_FULL}


def test_required_that_cannot_fit_are_reported(G: nx.MultiDiGraph) -> None:
    """More required work than a day holds: the plan still comes back, keeps
    as many required visits as fit, plans no optional visit, and reports the
    rest."""
    pts = _points(G, 14, 21)
    visits = [
        Visit(f"r{i}", a, b, minutes=60, required=True, value=i) for i, (a, b) in enumerate(pts)
    ]
    visits.append(Visit("opt", *pts[0], minutes=60, value=1e6))  # as long as each required
    problem = PlanningProblem(tuple(visits), (_rep(G, "ann", 22),), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    assert plan.stats["fallback"] is True
    reasons = Counter(d.reason for d in plan.dropped)
    assert reasons[routing.REASON_REQUIRED_FULL] >= 1
    assert "opt" not in plan.planned_visit_ids()
    assert len(plan.planned_visit_ids()) >= 6


def test_do_not_contact_never_planned(G: nx.MultiDiGraph) -> None:
    """A do-not-contact visit is dropped by the model builder even if required,
    and a plan holding one is refused."""
    visits = _visits(G, 6, seed=31)
    visits[0] = dataclasses.replace(visits[0], do_not_contact=True, required=True)
    problem = PlanningProblem(tuple(visits), (_rep(G, "ann", 32),), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    assert "v0" not in plan.planned_visit_ids()
    assert next(d for d in plan.dropped if d.visit_id == "v0").reason == routing.REASON_DNC
    # Smuggle the visit into a route: the result check refuses it.
    bad = Plan.from_dict(plan.to_dict())
    stop = dataclasses.replace(bad.routes[0].stops[0], visit_id="v0")
    bad.routes[0].stops.append(stop)
    with pytest.raises(PlanningError, match="do-not-contact"):
        routing.check_plan_rules(bad)


def test_lunch_at_start_or_end_when_visits_cluster(G: nx.MultiDiGraph) -> None:
    """Visits only in the afternoon or only early: the break still lands in its
    window, in a gap (checked independently)."""
    pts = _points(G, 6, 41)
    afternoon = ((dt.datetime(2026, 12, 1, 12, 30), dt.datetime(2026, 12, 1, 16)),)
    morning = ((dt.datetime(2026, 12, 1, 8), dt.datetime(2026, 12, 1, 10, 30)),)
    late = [Visit(f"p{i}", a, b, minutes=30, windows=afternoon) for i, (a, b) in enumerate(pts[:3])]
    early = [Visit(f"e{i}", a, b, minutes=30, windows=morning) for i, (a, b) in enumerate(pts[3:])]
    rep = _rep(G, "ann", 42, lunch=LunchBreak(dt.time(11), dt.time(13, 30), 45))
    for visits in (late, early):
        problem = PlanningProblem(tuple(visits), (rep,), (DAY1,))
        plan = routing.plan_routes(problem, G=G, options=FAST)
        check_plan(problem, plan, G)
        assert len(plan.planned_visit_ids()) == 3
        assert plan.routes[0].lunch is not None


def test_same_seed_same_plan(G: nx.MultiDiGraph) -> None:
    """The same seed and iteration budget give the same plan."""
    problem = PlanningProblem(tuple(_visits(G, 30, seed=51)), (_rep(G, "ann", 52),), (DAY1,))
    opts = PlanOptions(seconds=30, iterations=800, seed=7, geometry=False)
    a = routing.plan_routes(problem, G=G, options=opts).to_dict()
    b = routing.plan_routes(problem, G=G, options=opts).to_dict()
    for d in (a, b):
        d.pop("created")
        d.pop("stats")
    assert a == b


def test_plan_json_round_trip(G: nx.MultiDiGraph) -> None:
    """A plan survives to_dict/from_dict and JSON unchanged."""
    problem = PlanningProblem(tuple(_visits(G, 12, seed=61)), (_rep(G, "ann", 62),), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    d = plan.to_dict()
    again = Plan.from_json(json.dumps(d))
    assert again.to_dict() == d
    assert again.problem == problem


# --------------------------------------------------------------------------- re-plan


def test_replan_keeps_done_stops(G: nx.MultiDiGraph) -> None:
    """After two visits done and one skipped, the rest is planned from the
    current position and time; done stops stay in the route as done."""
    problem = PlanningProblem(tuple(_visits(G, 14, seed=71)), (_rep(G, "ann", 72),), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    route = plan.route("ann", DAY1)
    assert route is not None and len(route.stops) >= 5
    done = [route.stops[0].visit_id, route.stops[1].visit_id]
    skipped = route.stops[2].visit_id
    now = route.stops[1].end + dt.timedelta(minutes=10)
    pos = (route.stops[1].lat, route.stops[1].lon)
    new = routing.replan(
        plan, rep="ann", now=now, position=pos, done=done, skipped=[skipped], G=G, options=FAST
    )
    check_plan(problem, new, G)
    r = new.route("ann", DAY1)
    assert r is not None and r.resume is not None
    assert [s.visit_id for s in r.stops[:2]] == done
    assert [s.status for s in r.stops[:2]] == ["done", "done"]
    assert r.stops[0].start == route.stops[0].start  # as it happened
    rest = r.stops[2:]
    assert rest and all(s.status == "planned" and s.arrival >= now for s in rest)
    assert skipped not in {s.visit_id for s in r.stops}
    assert next(d for d in new.dropped if d.visit_id == skipped).reason == routing.REASON_SKIPPED
    remaining = {s.visit_id for s in route.stops[3:]}
    assert remaining <= set(new.planned_visit_ids()) | {d.visit_id for d in new.dropped}
    # Re-plan again later: earlier done stops stay, the next one joins them.
    nxt = rest[0]
    later = routing.replan(
        new,
        rep="ann",
        now=nxt.end + dt.timedelta(minutes=5),
        position=(nxt.lat, nxt.lon),
        done=[nxt.visit_id],
        G=G,
        options=FAST,
    )
    check_plan(problem, later, G)
    r2 = later.route("ann", DAY1)
    assert [s.visit_id for s in r2.stops[:3]] == [*done, nxt.visit_id]
    assert all(s.status == "done" for s in r2.stops[:3])
    with pytest.raises(ValueError, match="not stops"):
        routing.replan(plan, rep="ann", now=now, position=pos, done=["nope"], G=G)


# --------------------------------------------------------------------------- exports


@pytest.fixture(scope="module")
def long_plan(G: nx.MultiDiGraph) -> Plan:
    """A plan whose route has more than ten stops (several direction links)."""
    lat, lon = _points(G, 1, 81)[0]
    pts = _points(G, 24, 82)
    visits = [
        Visit(f"x{i}", a, b, minutes=15, name=f"Café <{i}> & Co", address=f"Mannerheimintie {i} A")
        for i, (a, b) in enumerate(pts)
    ]
    problem = PlanningProblem(tuple(visits), (Rep("ann", (lat, lon), name="Ann"),), (DAY1,))
    return routing.plan_routes(problem, G=G, options=FAST)


def test_gpx_times_are_utc_and_equal_the_local_times(long_plan: Plan) -> None:
    """The GPX holds a waypoint per visit and a track per route (gpxpy reads it); each
    waypoint's time is UTC and equals the visit's local (Helsinki) start."""
    from zoneinfo import ZoneInfo

    import gpxpy

    text = itinerary_export.to_gpx(long_plan, timezone="Europe/Helsinki")
    gpx = gpxpy.parse(text)
    stops = [s for r in long_plan.routes for s in r.stops]
    assert len(gpx.waypoints) == len(stops) > 10
    assert gpx.waypoints[0].latitude == pytest.approx(stops[0].lat)
    hel = ZoneInfo("Europe/Helsinki")
    for w, s in zip(gpx.waypoints, stops, strict=True):
        assert w.time.utcoffset() == dt.timedelta(0)
        assert w.time == s.start.replace(tzinfo=hel)
        assert w.time.astimezone(hel).replace(tzinfo=None) == s.start
    assert "Z</time>" in text  # written as UTC, as GPX 1.1 requires
    assert len(gpx.tracks) == len(long_plan.routes)
    assert len(gpx.tracks[0].segments[0].points) == len(long_plan.routes[0].geometry)


def test_ics_has_a_vtimezone_for_its_tzid(long_plan: Plan) -> None:
    """One event per visit at the visit's local times, with TZID and a matching
    VTIMEZONE (RFC 5545); icalendar reads it back."""
    from zoneinfo import ZoneInfo

    from icalendar import Calendar

    text = itinerary_export.to_ics(long_plan, timezone="Europe/Helsinki")
    cal = Calendar.from_ical(text)
    events = list(cal.walk("VEVENT"))
    stops = [s for r in long_plan.routes for s in r.stops]
    assert len(events) == len(stops)
    start = events[0].decoded("dtstart")
    assert start.tzinfo is not None
    assert start == stops[0].start.replace(tzinfo=ZoneInfo("Europe/Helsinki"))
    assert events[0].decoded("dtend").replace(tzinfo=None) == stops[0].end
    tzids = {str(events[0]["dtstart"].params["TZID"])}
    zones = {str(z["TZID"]) for z in cal.walk("VTIMEZONE")}
    assert tzids == zones == {"Europe/Helsinki"}
    assert str(events[0]["summary"]).startswith("Visit:")
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_google_links_hold_at_most_nine_waypoints(long_plan: Plan) -> None:
    """Links have at most nine waypoints; each starts where the previous ended,
    and together they pass every point in order."""
    route = long_plan.routes[0]
    links = itinerary_export.google_maps_links(route)
    assert len(links) >= 3
    path: list[str] = []
    for k, url in enumerate(links):
        q = parse_qs(urlparse(url).query)
        wps = q["waypoints"][0].split("|") if "waypoints" in q else []
        assert len(wps) <= 9
        if k:
            assert q["origin"][0] == path[-1]
            path += [*wps, q["destination"][0]]
        else:
            path += [q["origin"][0], *wps, q["destination"][0]]
        assert q["travelmode"] == ["driving"]
    expected = [f"{a:.6f},{b:.6f}" for a, b in route.points()]
    assert path == expected


def test_itinerary_html_and_pdf(long_plan: Plan, G: nx.MultiDiGraph) -> None:
    """The printable itinerary has the map (offline, credited) and every stop, escaped;
    the PDF is as complete as the HTML: addresses, lunch, return and the not-planned list."""
    from pypdf import PdfReader

    plan = dataclasses.replace(
        long_plan,
        dropped=[routing.DroppedVisit("gone", None, "Kiosk Gone", routing.REASON_CLOSED)],
    )
    page = itinerary_export.itinerary_html(plan)
    assert "© OpenStreetMap contributors" in page
    assert "data:image/png;base64," in page
    assert "Café &lt;0&gt; &amp; Co" in page and "<0>" not in page
    assert "Lunch break" in page and "Back at the end location" in page
    assert "Not planned" in page and "Kiosk Gone" in page
    pdf = itinerary_export.itinerary_pdf(plan, G=G)
    assert pdf.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = " ".join(text.split())
    assert "OpenStreetMap contributors" in flat and "Café <0> & Co" in flat
    for s in plan.routes[0].stops[:3]:
        assert s.address and s.address in flat
    assert "Lunch break" in flat and "Back at the end location" in flat
    assert "Not planned" in flat and "Kiosk Gone" in flat and routing.REASON_CLOSED in flat
    png = itinerary_export.route_map_png(plan.routes[0])
    assert png.startswith(b"\x89PNG")


def test_itinerary_rows_place_lunch_and_return(long_plan: Plan) -> None:
    """Rows come in time order: the lunch row between the stops it falls between, the
    return last (or just before an end-of-day lunch)."""
    route = long_plan.routes[0]
    rows = itinerary_export.itinerary_rows(route)
    kinds = [r["kind"] for r in rows]
    assert kinds.count("stop") == len(route.stops) and kinds.count("back") == 1
    if route.lunch is not None:
        i = kinds.index("lunch")
        before = [r for r in rows[:i] if r["kind"] == "stop"]
        after = [r for r in rows[i:] if r["kind"] == "stop"]
        assert all(s.end <= route.lunch.start for s in route.stops[: len(before)])
        assert all(s.start >= route.lunch.end for s in route.stops[len(before) :][: len(after)])


def test_links_for_the_phone() -> None:
    """Navigate opens directions to the stop; Call dials the number as typed."""
    url = itinerary_export.navigate_link(60.1699, 24.9384)
    q = parse_qs(urlparse(url).query)
    assert q["destination"] == ["60.169900,24.938400"] and "origin" not in q
    assert itinerary_export.tel_link("+358 40 123 4567") == "tel:+358401234567"
    assert itinerary_export.tel_link("(09) 123-456") == "tel:09123456"
    assert itinerary_export.tel_link("00358 9 1234") == "tel:+35891234"
    assert itinerary_export.tel_link("n/a") is None and itinerary_export.tel_link(None) is None
    assert itinerary_export.geo_link(60.1, 24.9, "A").startswith("geo:60.100000,24.900000?q=")


# --------------------------------------------------------------------------- store


def test_build_problem_from_the_store(demo_copy: str) -> None:
    """Due accounts of the rep's scope plus a selection; no do-not-contact
    account; permissions: a rep plans only themselves, a manager their region."""
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame

    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        problem, _ = routing.build_problem(s, rep1, ["rep1"], DAY1, days=2)
        frame = accounts_frame(s, rep1, AccountFilter())
        dnc = set(frame.loc[frame["do_not_contact"], "id"].astype(int))
        ids = {v.account_id for v in problem.visits}
        assert ids and not ids & dnc
        assert not any(v.do_not_contact for v in problem.visits)
        assert problem.reps[0].id == "rep1" and problem.dates == (DAY1, DAY2)
        # A selected do-not-contact account is reported, never planned.
        chosen = sorted(dnc)[:1]
        if chosen:
            p2, pre2 = routing.build_problem(s, rep1, ["rep1"], DAY1, due=False, selected=chosen)
            assert not p2.visits
            assert [d.reason for d in pre2] == [routing.REASON_DNC] or not pre2
        with pytest.raises(PermissionError):
            routing.build_problem(s, rep1, ["rep2"], DAY1)
        manager = actor_for(s, "manager")
        p3, _ = routing.build_problem(s, manager, ["rep2", "rep3"], DAY1)
        assert {r.id for r in p3.reps} == {"rep2", "rep3"}
        assert all(len(v.reps) <= 1 for v in p3.visits)
        with pytest.raises(PermissionError):
            routing.build_problem(s, actor_for(s, "analyst"), ["rep1"], DAY1)


def test_a_chosen_selection_reads_the_store_once(demo_copy: str, monkeypatch) -> None:
    """Without ``due`` only the chosen accounts are read (one query, as the actor): the
    visits are the chosen ones the actor may see, and another rep's account is left out."""
    from gcrm import store
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame

    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        own = accounts_frame(s, rep1, AccountFilter(include_do_not_contact=False))
        own = own.dropna(subset=["lat", "lon"])["id"].astype(int).tolist()[:6]
        every = accounts_frame(s, actor_for(s, "admin"), AccountFilter())
        foreign = int(every.loc[every["owner"] == "rep2", "id"].iloc[0])
        reads: list[object] = []
        real = store.accounts_frame

        def counted(*args, **kw):  # type: ignore[no-untyped-def]
            reads.append(args[2] if len(args) > 2 else kw.get("flt"))
            return real(*args, **kw)

        monkeypatch.setattr(store, "accounts_frame", counted)
        problem, _ = routing.build_problem(
            s, rep1, ["rep1"], DAY1, due=False, selected=[*own, foreign]
        )
        assert len(reads) == 1
        assert sorted(v.account_id for v in problem.visits) == sorted(own)
        reads.clear()
        routing.build_problem(s, rep1, ["rep1"], DAY1, due=True, selected=own)
        assert len(reads) == 3  # the rep's book, the selection, the visibility check


def test_plan_for_reps_writes_json(demo_copy: str, G: nx.MultiDiGraph, tmp_path) -> None:
    """The plan command's function plans a rep's selection and writes the JSON."""
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame

    out = tmp_path / "plan.json"
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        frame = accounts_frame(s, rep1, AccountFilter(include_do_not_contact=False))
        chosen = frame.dropna(subset=["lat"])["id"].astype(int).tolist()[:12]
        plan = routing.plan_for_reps(
            s,
            rep1,
            ["rep1"],
            "2026-12-01",
            due=False,
            selected=chosen,
            seconds=1,
            iterations=1500,
            output=out,
            G=G,
        )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["routes"] and data["routes"][0]["rep"] == "rep1"
    again = Plan.from_dict(data)
    check_plan(again.problem, again, G)
    assert len(plan.planned_visit_ids()) + len(plan.dropped) == len(chosen)


# --------------------------------------------------------------------------- tours


def test_improve_tour_reaches_the_optimum_of_a_circle() -> None:
    """On points on a circle the optimal tour is the circle; 2-opt/Or-opt finds it."""
    n = 40
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.c_[np.cos(ang), np.sin(ang)]
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    start = list(np.random.default_rng(0).permutation(n))
    tour = routing.improve_tour(d, start, seconds=2, seed=0, max_iterations=300)
    assert sorted(tour) == list(range(n))
    length = sum(d[tour[k - 1], tour[k]] for k in range(n))
    assert length == pytest.approx(n * 2 * np.sin(np.pi / n))


def test_checker_catches_broken_schedules(G: nx.MultiDiGraph) -> None:
    """The independent checker is not vacuous: small breaks of the rules fail it."""
    visits = _visits(G, 10, seed=91)
    visits[0] = dataclasses.replace(
        visits[0], fixed_start=dt.datetime(2026, 12, 1, 10), opening_hours=None
    )
    problem = PlanningProblem(tuple(visits), (_rep(G, "ann", 92),), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    route = plan.routes[0]
    k = next(i for i, s in enumerate(route.stops) if s.leg_duration_s > 0)
    one = dt.timedelta(seconds=1)

    def broken(change) -> Plan:
        p = Plan.from_dict(plan.to_dict())
        change(p.routes[0])
        return p

    def faster(r) -> None:  # arrive before the drive can be over
        s = r.stops[k]
        gap = (s.arrival - (r.stops[k - 1].departure if k else r.departure)).total_seconds()
        shift = dt.timedelta(seconds=gap - s.leg_duration_s + 1)
        s.arrival -= shift
        s.start -= shift
        s.end -= shift
        s.departure -= shift
        s.wait_s = 0

    def moved_appointment(r) -> None:
        s = next(s for s in r.stops if s.visit_id == "v0")
        s.start += one
        s.end += one
        s.departure += one

    def short_lunch(r) -> None:
        r.lunch.end -= one

    def no_lunch(r) -> None:
        r.lunch = None

    def late_back(r) -> None:
        r.arrival = dt.datetime.combine(DAY1, dt.time(16, 0, 1))

    for change in (faster, moved_appointment, short_lunch, no_lunch, late_back):
        with pytest.raises(AssertionError):
            check_plan(problem, broken(change), G)


def test_rep_days_lunch_configs_and_date_limits(G: nx.MultiDiGraph) -> None:
    """Reps with different breaks and working days, and visits limited to dates:
    every rule holds in the plan."""
    visits = _visits(G, 30, seed=101)
    visits[0] = dataclasses.replace(visits[0], latest=DAY1, required=True, opening_hours=None)
    visits[1] = dataclasses.replace(visits[1], earliest=DAY2, required=True, opening_hours=None)
    reps = (
        _rep(G, "ann", 102, days=(DAY2,), lunch=LunchBreak(dt.time(12), dt.time(13), 20)),
        _rep(G, "bob", 103, lunch=LunchBreak(dt.time(11), dt.time(14), 60)),
        _rep(G, "cid", 104, lunch=None, shift_start=dt.time(10), shift_end=dt.time(14)),
    )
    problem = PlanningProblem(tuple(visits), reps, (DAY1, DAY2))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    assert plan.route("ann", DAY1) is None
    where = {s.visit_id: r.date for r in plan.routes for s in r.stops}
    assert where["v0"] == DAY1 and where["v1"] == DAY2
    assert all(r.lunch is None for r in plan.routes if r.rep == "cid")


@pytest.mark.parametrize("seed", [201, 202, 203])
def test_random_problems_are_feasible(G: nx.MultiDiGraph, seed: int) -> None:
    """Random mixes of shifts, breaks, working-time limits, appointments,
    required visits and explicit windows: the checker accepts every plan."""
    rng = random.Random(seed)
    days = (DAY1, DAY2)
    visits = _visits(G, rng.randint(15, 40), seed=seed)
    for i in rng.sample(range(len(visits)), 6):
        v = visits[i]
        kind = rng.choice(["required", "window", "fixed", "late"])
        if kind == "required":
            visits[i] = dataclasses.replace(v, required=True)
        elif kind == "window":
            day = rng.choice(days)
            a = dt.datetime.combine(day, dt.time(rng.randint(8, 14), rng.choice([0, 30])))
            visits[i] = dataclasses.replace(v, windows=((a, a + dt.timedelta(hours=2)),))
        elif kind == "fixed":
            day = rng.choice(days)
            start = dt.datetime.combine(day, dt.time(rng.randint(9, 14), rng.choice([0, 15, 45])))
            visits[i] = dataclasses.replace(v, fixed_start=start, reps=("r0",))
        else:
            visits[i] = dataclasses.replace(v, latest=DAY1)
    reps = tuple(
        _rep(
            G,
            f"r{k}",
            seed * 10 + k,
            shift_start=dt.time(rng.choice([7, 8, 9])),
            shift_end=dt.time(rng.choice([15, 16, 17])),
            max_work_minutes=rng.choice([None, 6 * 60, 7 * 60]),
            lunch=rng.choice(
                [None, LunchBreak(), LunchBreak(dt.time(11, 30), dt.time(12, 45), 45)]
            ),
        )
        for k in range(rng.randint(1, 3))
    )
    problem = PlanningProblem(tuple(visits), reps, days)
    plan = routing.plan_routes(problem, G=G, options=FAST)
    check_plan(problem, plan, G)
    # Optional visits never push out required ones that were left out.
    left_required = [d for d in plan.dropped if d.required and d.reason == routing.REASON_FULL]
    assert not left_required


def test_visits_from_accounts_due_selection_and_dnc() -> None:
    """Due accounts and the selection become visits; do-not-contact and
    unlocated ones are reported, never visits."""
    import pandas as pd

    from gcrm.store import ACCOUNT_COLUMNS

    base = dict.fromkeys(ACCOUNT_COLUMNS)
    rows = [
        {
            **base,
            "id": 1,
            "name": "due",
            "lat": 60.17,
            "lon": 24.94,
            "visit_every_days": 30,
            "last_visit": dt.date(2026, 11, 1),
            "do_not_contact": False,
            "potential_value": 5.0,
        },
        {
            **base,
            "id": 2,
            "name": "not due",
            "lat": 60.17,
            "lon": 24.94,
            "visit_every_days": 60,
            "last_visit": dt.date(2026, 11, 1),
            "do_not_contact": False,
        },
        {
            **base,
            "id": 3,
            "name": "dnc",
            "lat": 60.17,
            "lon": 24.94,
            "visit_every_days": 30,
            "last_visit": None,
            "do_not_contact": True,
        },
        {
            **base,
            "id": 4,
            "name": "never visited",
            "lat": 60.17,
            "lon": 24.94,
            "visit_every_days": 90,
            "last_visit": None,
            "do_not_contact": False,
            "visit_minutes": 45,
            "owner": "rep1",
            "opening_hours": "Mo-Fr 09:00-17:00",
        },
        {**base, "id": 5, "name": "selected", "lat": 60.17, "lon": 24.94, "do_not_contact": False},
        {**base, "id": 6, "name": "no place", "lat": None, "lon": None, "do_not_contact": False},
    ]
    frame = pd.DataFrame(rows, columns=list(ACCOUNT_COLUMNS))
    visits, dropped = routing.visits_from_accounts(
        frame, start=DAY1, days=1, selected=[5, 6, 3], required=[5], owner_only=True
    )
    assert [v.account_id for v in visits] == [1, 4, 5]
    assert visits[0].value == 5.0 and visits[1].minutes == 45 and visits[1].reps == ("rep1",)
    assert visits[2].required and not visits[0].required
    assert {d.account_id: d.reason for d in dropped} == {
        3: routing.REASON_DNC,
        6: routing.REASON_NO_LOCATION,
    }


def test_large_prizes_keep_restrictions_on_foot(G_walk: nx.MultiDiGraph) -> None:
    """On the walking network trips are long, so prizes (scaled to the longest
    trip) exceed PyVRP's default penalty cap: the plan must still keep every
    rep restriction and break rule, and plan plenty of visits."""
    visits = _visits(G_walk, 80, seed=111)
    visits = [dataclasses.replace(v, reps=(f"r{i % 3}",), minutes=10) for i, v in enumerate(visits)]
    reps = tuple(_rep(G_walk, f"r{k}", 112 + k) for k in range(3))
    problem = PlanningProblem(tuple(visits), reps, (DAY1,), "walk")
    opts = PlanOptions(seconds=10, iterations=1500, seed=1, geometry=False)
    plan = routing.plan_routes(problem, G=G_walk, options=opts)
    assert plan.stats["feasible"]
    assert (
        max(
            c.prize
            for c in routing.build_model(
                problem, travel_matrix(G_walk, *routing.model_points(problem)[:2])
            ).data.clients()
        )
        > 1e5
    )
    check_plan(problem, plan, G_walk)
    assert len(plan.planned_visit_ids()) >= 40


def test_nothing_to_plan(G: nx.MultiDiGraph) -> None:
    """No visits, or no rep working on the dates: an empty plan with reasons."""
    rep = _rep(G, "ann", 121)
    empty = routing.plan_routes(PlanningProblem((), (rep,), (DAY1,)), G=G, options=FAST)
    assert empty.routes == [] and empty.dropped == []
    away = dataclasses.replace(rep, days=(DAY2,))
    problem = PlanningProblem(tuple(_visits(G, 3, seed=122)), (away,), (DAY1,))
    plan = routing.plan_routes(problem, G=G, options=FAST)
    assert plan.routes == []
    assert {d.reason for d in plan.dropped} == {routing.REASON_NO_DAY}


# --------------------------------------------------------------------------- budget


def test_quantiles_match_average_ranks() -> None:
    """numpy's argsort ranks equal scipy's average ranks, ties included."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(3)
    for n in (2, 3, 10, 57):
        v = rng.integers(0, 6, size=n).astype(float)
        want = (rankdata(v, method="average") - 1) / (n - 1)
        assert np.allclose(routing._quantiles(v), want)
    assert routing._quantiles([5.0]).tolist() == [1.0]


def test_small_problem_stops_early_and_repeats(G: nx.MultiDiGraph) -> None:
    """With the default budget a 20-visit day stops long before its iteration budget
    (no improvement), and the same seed gives the same plan (no wall-time limit hit)."""
    problem = PlanningProblem(tuple(_visits(G, 20, seed=61)), (_rep(G, "ann", 62),), (DAY1,))
    opts = PlanOptions(seed=3, geometry=False)
    a = routing.plan_routes(problem, G=G, options=opts)
    assert a.stats["iterations"] < a.stats["iteration_budget"]
    assert a.stats["solver_s"] < opts.time_limit(20)
    b = routing.plan_routes(problem, G=G, options=opts)
    assert [[s.visit_id for s in r.stops] for r in a.routes] == [
        [s.visit_id for s in r.stops] for r in b.routes
    ]
    check_plan(problem, a, G)


def test_two_searches_keep_the_better_plan(G: nx.MultiDiGraph) -> None:
    """Two searches (two processes) repeat for a seed and are never worse than one."""
    problem = PlanningProblem(
        tuple(_visits(G, 40, seed=71)), (_rep(G, "ann", 72), _rep(G, "bob", 73)), (DAY1,)
    )
    lats, lons, ids = routing.model_points(problem)
    model = routing.build_model(problem, travel_matrix(G, lats, lons, ids=ids))
    one = routing.solve_model(model, PlanOptions(seed=5, iterations=600, workers=1))
    two = routing.solve_model(model, PlanOptions(seed=5, iterations=600, workers=2))
    again = routing.solve_model(model, PlanOptions(seed=5, iterations=600, workers=2))
    assert two.cost <= one.cost
    assert (two.routes, two.cost) == (again.routes, again.cost)
    assert PlanOptions().searches(routing.PARALLEL_MIN_CLIENTS - 1) == 1


# --------------------------------------------------------------------------- by hand


@pytest.fixture(scope="module")
def day_plan(G: nx.MultiDiGraph) -> Plan:
    """A one-rep day of eight visits open all day."""
    visits = [
        dataclasses.replace(v, opening_hours=None, minutes=20) for v in _visits(G, 8, seed=91)
    ]
    problem = PlanningProblem(tuple(visits), (_rep(G, "ann", 92),), (DAY1,))
    return routing.plan_routes(problem, G=G, options=FAST)


def test_reorder_recomputes_times_over_the_roads(day_plan: Plan, G: nx.MultiDiGraph) -> None:
    """Reversing the stops keeps the rep's order and times every leg by the matrix."""
    route = day_plan.routes[0]
    order = [s.visit_id for s in reversed(route.stops)]
    new = day_actions.reorder(day_plan, rep="ann", day=DAY1, order=order, G=G)
    r = new.routes[0]
    assert [s.visit_id for s in r.stops] == order
    pts = [(r.start_lat, r.start_lon), *[(s.lat, s.lon) for s in r.stops], (r.end_lat, r.end_lon)]
    tm = travel_matrix(G, [p[0] for p in pts], [p[1] for p in pts])
    t = r.departure
    for k, s in enumerate(r.stops, start=1):
        assert s.leg_duration_s == math.ceil(tm.durations[k - 1, k])
        assert s.arrival == t + dt.timedelta(seconds=s.leg_duration_s)
        assert s.start == s.arrival + dt.timedelta(seconds=s.wait_s)
        assert s.end - s.start == dt.timedelta(minutes=20)
        t = s.departure
    assert r.arrival == t + dt.timedelta(seconds=r.return_leg_duration_s)
    assert day_plan.routes[0].stops[0].visit_id == route.stops[0].visit_id  # old plan intact
    with pytest.raises(InputError, match="every stop"):
        day_actions.reorder(day_plan, rep="ann", day=DAY1, order=order[:-1], G=G)


def test_broken_windows_are_shown_not_refused(day_plan: Plan, G: nx.MultiDiGraph) -> None:
    """Moving a stop that closes early to the end of the day keeps the order and reports
    the broken opening hours."""
    route = day_plan.routes[0]
    first = route.stops[0]
    closes = (first.end + dt.timedelta(minutes=5)).strftime("%H:%M")
    visits = tuple(
        dataclasses.replace(v, opening_hours=f"Mo-Su 07:00-{closes}")
        if v.id == first.visit_id
        else v
        for v in day_plan.problem.visits
    )
    plan = dataclasses.replace(
        day_plan, problem=dataclasses.replace(day_plan.problem, visits=visits)
    )
    assert first.visit_id not in day_actions.route_problems(plan, route)
    moved = day_actions.move_stop(plan, rep="ann", day=DAY1, visit_id=first.visit_id, by=99, G=G)
    assert moved.routes[0].stops[-1].visit_id == first.visit_id
    problems = day_actions.route_problems(moved, moved.routes[0])
    assert "open 07:00" in problems[first.visit_id]


def test_pin_skip_and_done(day_plan: Plan, G: nx.MultiDiGraph) -> None:
    """A pin becomes a fixed appointment that a re-plan keeps; skip drops the stop with
    the reason; done marks it."""
    route = day_plan.routes[0]
    third = route.stops[2]
    pinned = day_actions.pin_stop(day_plan, rep="ann", day=DAY1, visit_id=third.visit_id)
    v = next(x for x in pinned.problem.visits if x.id == third.visit_id)
    assert v.fixed_start == third.start and pinned.routes[0].stops[2].fixed
    again = routing.plan_routes(pinned.problem, G=G, options=FAST)
    kept = next(s for s in again.routes[0].stops if s.visit_id == third.visit_id)
    assert kept.start == third.start
    skipped = day_actions.skip_stop(day_plan, rep="ann", day=DAY1, visit_id=third.visit_id, G=G)
    assert third.visit_id not in skipped.planned_visit_ids()
    assert [d.reason for d in skipped.dropped if d.visit_id == third.visit_id] == [
        routing.REASON_SKIPPED
    ]
    done = day_actions.mark_done(day_plan, rep="ann", day=DAY1, visit_id=third.visit_id)
    assert done.routes[0].stops[2].status == "done"


def test_check_in_stores_position_distance_and_flags_far(demo_copy: str) -> None:
    """A check-in keeps the position, accuracy, distance and time; one 2 km away is
    flagged, not refused; an account outside the rep's scope is not found."""
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame, checkins_frame

    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        acc = accounts_frame(s, rep1, AccountFilter(owners=["rep1"])).dropna(subset=["lat"])
        row = acc.iloc[0]
        near = day_actions.check_in(
            s, rep1, int(row.id), position=(row.lat + 0.0002, row.lon), accuracy_m=15.0
        )
        far = day_actions.check_in(
            s, rep1, int(row.id), kind="out", position=(row.lat + 0.018, row.lon)
        )
        blind = day_actions.check_in(s, rep1, int(row.id))
        other = accounts_frame(s, actor_for(s, "rep2"), AccountFilter(owners=["rep2"]))
        with pytest.raises(NotFoundError):
            day_actions.check_in(s, rep1, int(other.iloc[0].id), position=(60.0, 24.0))
        stored = checkins_frame(s, rep1, account_id=int(row.id)).set_index("id")
    assert 15 < near.distance_m < 30 and not near.far
    assert 1900 < far.distance_m < 2100 and far.far
    assert blind.distance_m is None and not blind.far
    assert stored.loc[near.id, "accuracy_m"] == 15.0
    assert stored.loc[far.id, "kind"] == "out" and bool(stored.loc[far.id, "far"])
    assert stored.loc[near.id, "distance_m"] == pytest.approx(near.distance_m)
    assert "flagged" in far.message("X") and "m from the account" in near.message("X")


def test_plan_command_writes_gpx_and_ics(demo_copy: str, tmp_path) -> None:
    """``python -m gcrm plan --gpx FILE --ics FILE`` writes files gpxpy and icalendar read,
    with as many waypoints and events as the plan has stops."""
    import gpxpy
    from icalendar import Calendar
    from typer.testing import CliRunner

    from gcrm.cli import app

    out, gpx, ics = tmp_path / "plan.json", tmp_path / "day.gpx", tmp_path / "day.ics"
    result = CliRunner().invoke(
        app,
        ["plan", "--rep", "rep1", "--date", "2026-12-01", "--output", str(out),
         "--gpx", str(gpx), "--ics", str(ics)],
        env={"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"},
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["gpx"] == str(gpx) and summary["ics"] == str(ics)
    plan = Plan.from_json(out)
    stops = [s for r in plan.routes for s in r.stops]
    assert stops
    waypoints = gpxpy.parse(gpx.read_text("utf-8")).waypoints
    assert len(waypoints) == len(stops)
    assert all(w.time.utcoffset() == dt.timedelta(0) for w in waypoints)
    cal = Calendar.from_ical(ics.read_bytes())
    assert len(list(cal.walk("VEVENT"))) == len(stops) and list(cal.walk("VTIMEZONE"))
