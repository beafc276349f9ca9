"""Plans check themselves (issue 17): ``Plan.is_feasible()``, ``violations()``,
``cost()`` and ``summary()``, like PyVRP's ``Result``.

Problems and travel matrices are built by hand on tiny data (no road graph):
four places on a line, 300 s and 3 km apart, the rep's home at one end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from gcrm.matrix import TravelMatrix
from gcrm.routing import (
    REASON_CLOSED,
    REASON_DNC,
    DroppedVisit,
    Plan,
    PlanningError,
    PlanningProblem,
    PlanOptions,
    Rep,
    Visit,
    check_plan_rules,
    model_points,
    plan_routes,
)

DAY = dt.date(2026, 12, 1)  # a Tuesday
LEG_S, LEG_M = 300, 3000
OPTIONS = PlanOptions(iterations=300, seed=0, geometry=False)


def _problem(*extra: Visit) -> PlanningProblem:
    rep = Rep("rep1", (60.0, 24.0), lunch=None, name="Rep One")
    visits = tuple(
        Visit(f"v{k}", 60.0, 24.0 + 0.01 * k, minutes=20, account_id=k, value=k) for k in (1, 2, 3)
    )
    return PlanningProblem(visits + extra, (rep,), (DAY,))


def _line_matrix(problem: PlanningProblem) -> TravelMatrix:
    """Travel on a line: point ``k`` (in model order) lies ``k`` legs from the home."""
    _lats, lons, ids = model_points(problem)
    pos = np.array([round((lon - 24.0) / 0.01) for lon in lons], dtype=float)
    gap = np.abs(pos[:, None] - pos[None, :])
    return TravelMatrix(tuple(ids), gap * LEG_S, gap * LEG_M, (), "time", {})


def _plan(problem: PlanningProblem, options: PlanOptions = OPTIONS) -> Plan:
    return plan_routes(problem, matrix=_line_matrix(problem), options=options)


def test_solved_plan_is_feasible_and_costs_its_travel() -> None:
    plan = _plan(_problem())
    assert plan.violations() == []
    assert plan.is_feasible()
    assert plan.planned_visit_ids() and len(plan.planned_visit_ids()) == 3
    # Out to the third place and back: six legs, whatever the order found.
    assert plan.cost() == 6 * LEG_S == sum(r.drive_s for r in plan.routes)
    by_distance = _plan(_problem(), dataclasses.replace(OPTIONS, objective="distance"))
    assert by_distance.cost() == 6 * LEG_M


def test_summary_names_routes_totals_and_drops() -> None:
    closed = Visit("v4", 60.0, 24.04, minutes=20, account_id=4, opening_hours="Sa 10:00-12:00")
    plan = _plan(_problem(closed))
    text = plan.summary()
    lines = text.splitlines()
    assert lines[0].startswith("3 visits in 1 routes, 1 dropped; drive 30 min, 18.0 km")
    assert lines[0].endswith("feasible: True")
    assert any(line.strip().startswith(f"rep1 {DAY}: 3 stops") for line in lines)
    assert f"dropped ({REASON_CLOSED}): 1" in text


def test_broken_plans_say_what_is_wrong() -> None:
    good = _plan(_problem())
    route = good.routes[0]

    twice = dataclasses.replace(route, stops=[*route.stops, route.stops[0]])
    plan = dataclasses.replace(good, routes=[twice])
    assert not plan.is_feasible()
    assert "a visit appears twice in the plan" in plan.violations()
    assert math.isinf(plan.cost())
    with pytest.raises(PlanningError, match="twice"):
        check_plan_rules(plan)

    first = route.stops[0]
    early_end = dataclasses.replace(first, end=first.start - dt.timedelta(minutes=1))
    plan = dataclasses.replace(
        good, routes=[dataclasses.replace(route, stops=[early_end, *route.stops[1:]])]
    )
    assert plan.violations() == [f"rep1 on {DAY}: the times of {first.visit_id!r} are out of order"]
    check_plan_rules(plan)  # not one of the rules no plan may break: no exception

    dropped_too = DroppedVisit(first.visit_id, first.account_id, first.name, REASON_CLOSED)
    plan = dataclasses.replace(good, dropped=[dropped_too])
    assert plan.violations() == [f"visit(s) both planned and dropped: {first.visit_id}"]

    dnc_visits = tuple(
        dataclasses.replace(v, do_not_contact=True) if v.id == first.visit_id else v
        for v in good.problem.visits
    )
    plan = dataclasses.replace(good, problem=dataclasses.replace(good.problem, visits=dnc_visits))
    assert plan.violations() == [f"do-not-contact visit(s) in the plan: {first.visit_id}"]
    with pytest.raises(PlanningError, match="do-not-contact"):
        check_plan_rules(plan)

    unsolved = dataclasses.replace(good, stats={**good.stats, "feasible": False})
    assert unsolved.violations() == ["the solver found no feasible plan"]


def test_do_not_contact_visits_are_dropped_and_the_plan_stays_feasible() -> None:
    dnc = Visit("v4", 60.0, 24.04, account_id=4, do_not_contact=True)
    plan = _plan(_problem(dnc))
    assert "v4" not in plan.planned_visit_ids()
    assert [d.reason for d in plan.dropped if d.visit_id == "v4"] == [REASON_DNC]
    assert plan.is_feasible()


def test_self_check_survives_json() -> None:
    plan = _plan(_problem())
    again = Plan.from_json(plan.to_json())
    assert again.is_feasible() and again.cost() == plan.cost()
    assert again.summary() == plan.summary()


def test_benchmark_code_is_off_the_planning_path() -> None:
    """Planning loads neither the benchmark readers nor the 2-opt tour search."""
    import subprocess
    import sys

    code = (
        "import sys, gcrm.routing, gcrm.routing.from_store, gcrm.plan_cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('gcrm.bench')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
