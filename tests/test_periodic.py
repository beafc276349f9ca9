"""Tests of the periodic VRP solver (:mod:`gcrm.periodic`) and the Cordeau reader
(:mod:`gcrm.bench.pvrp_io`).

Plans are judged by the independent checker in ``tests/pvrp_checker.py``, which
reads the instance file itself, not by the solver's own report.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gcrm._errors import InputError
from gcrm.bench.pvrp_io import is_pvrp_file, pattern_days, read_pvrp, read_pvrp_solution
from gcrm.cli import app
from gcrm.periodic import PeriodicProblem, solve_periodic, violations
from tests.pvrp_checker import check

PVRP = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "pvrp"


def _instance(name: str) -> Path:
    path = PVRP / name
    if not path.is_file():
        pytest.skip(f"PVRP benchmark file {path} is absent (../shared not mounted)")
    return path


def _write(tmp_path: Path, text: str, name: str = "tiny") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# Two days, one vehicle a day; customers 1-2 sit east, 3-4 west, each may come
# on either day (patterns 2 = day 1, 1 = day 2); customer 5 comes on both days.
TINY = """1 1 5 2
0 100
0 100
0 0 0 0 0 0 0
1 10 1 0 5 1 2 2 1
2 11 -1 0 5 1 2 2 1
3 -10 1 0 5 1 2 2 1
4 -11 -1 0 5 1 2 2 1
5 0 3 0 5 2 1 3
"""


def _brute_force(path: Path) -> float:
    """Optimal cost of a tiny instance: every pattern choice, every route order."""
    from tests.pvrp_checker import parse

    inst = parse(path)
    nodes = inst["nodes"]
    customers = [c for c in nodes if c]

    def tour(stops: list[int]) -> float:
        best = math.inf
        for perm in itertools.permutations(stops):
            seq = [0, *perm, 0]
            best = min(
                best,
                sum(
                    math.hypot(nodes[a]["x"] - nodes[b]["x"], nodes[a]["y"] - nodes[b]["y"])
                    for a, b in itertools.pairwise(seq)
                ),
            )
        return best if stops else 0.0

    best = math.inf
    for choice in itertools.product(*(nodes[c]["allowed"] for c in customers)):
        days = [[c for c, pat in zip(customers, choice, strict=True) if d in pat] for d in (1, 2)]
        best = min(best, sum(tour(s) for s in days))
    return best


# --------------------------------------------------------------------- reader


def test_pattern_days_reads_bits_left_to_right() -> None:
    """Pattern 20 over 5 days is 10100: days 1 and 3; 31 is every day."""
    assert pattern_days(20, 5) == (0, 2)
    assert pattern_days(31, 5) == (0, 1, 2, 3, 4)
    assert pattern_days(2, 2) == (0,)


def test_read_p02_matches_the_file() -> None:
    """p02: 3 vehicles, 50 customers, 5 days, capacity 160, no duration limit."""
    prob = read_pvrp(_instance("p02"))
    assert prob.horizon == 5 and prob.num_nodes == 51
    assert prob.num_vehicles == (3,) * 5 and prob.capacity == (160,) * 5
    assert prob.max_duration == (None,) * 5
    assert prob.node_ids == tuple(range(51))
    assert all(prob.patterns[c] for c in range(1, 51))
    assert {prob.frequency(c) for c in range(1, 51)} == {1, 2, 5}
    assert is_pvrp_file(_instance("p02"))


def test_read_pr01_has_duration_limits_and_service() -> None:
    """pr01: routes limited to 500 and positive service times."""
    prob = read_pvrp(_instance("pr01"))
    assert prob.max_duration == (500.0,) * 4
    assert (prob.service[1:] > 0).all()


def test_reader_rejects_other_types_and_bad_patterns(tmp_path: Path) -> None:
    """A multi-depot file, a pattern outside the horizon or a truncated file name the file."""
    with pytest.raises(InputError, match="type 8"):
        read_pvrp(_write(tmp_path, "8 1 1 1 1\n0 10\n", "md"))
    bad = TINY.replace("5 0 3 0 5 2 1 3", "5 0 3 0 5 2 1 7")
    with pytest.raises(InputError, match=r"bad.*node 5: pattern 7"):
        read_pvrp(_write(tmp_path, bad, "bad"))
    with pytest.raises(InputError, match="ends before node 3"):
        read_pvrp(_write(tmp_path, "\n".join(TINY.splitlines()[:6]), "cut"))
    assert not is_pvrp_file(_write(tmp_path, "NAME : x\nTYPE : CVRP\n", "v.vrp"))


def test_cordeau_solution_passes_both_checkers() -> None:
    """The 1997 solution of p02 is feasible for the independent checker and for
    :func:`violations`, at its stated cost (checks the checkers, not the solver)."""
    stated, days = read_pvrp_solution(_instance("cordeau1997_solutions/p02.res"))
    cost, problems = check(_instance("p02"), days)
    assert problems == []
    assert cost == pytest.approx(stated, abs=0.01)
    prob = read_pvrp(_instance("p02"))
    assert violations(prob, days) == []
    broken = [list(map(list, day)) for day in days]
    broken[0][0].append(broken[0][1].pop())
    assert check(_instance("p02"), broken)[1] or violations(prob, broken)


# --------------------------------------------------------------------- solver


def test_tiny_instance_reaches_the_brute_force_optimum(tmp_path: Path) -> None:
    """Patterns and routes chosen jointly: east on one day, west on the other."""
    path = _write(tmp_path, TINY)
    sol = solve_periodic(read_pvrp(path), iterations=200, seed=3)
    cost, problems = check(path, sol.to_dict(read_pvrp(path))["days"])
    assert problems == []
    assert cost == pytest.approx(_brute_force(path), abs=1e-6)
    assert sol.cost == pytest.approx(cost, abs=1e-6)


def test_capacity_and_duration_force_more_routes(tmp_path: Path) -> None:
    """Capacity 10 with demand 5 per customer, and a duration limit of 30, both hold."""
    text = TINY.replace("1 1 5 2\n0 100\n0 100", "1 3 5 2\n30 10\n30 10")
    path = _write(tmp_path, text)
    sol = solve_periodic(read_pvrp(path), iterations=100, seed=0)
    _cost, problems = check(path, sol.to_dict(read_pvrp(path))["days"])
    assert problems == [] and sol.feasible
    assert sum(len(routes) for routes in sol.days) >= 3  # 30 units of demand, 10 per route


def test_one_customer_and_no_customer(tmp_path: Path) -> None:
    """Degenerate plans: a single customer visited on its only day; no customers at all."""
    one = "1 1 1 2\n0 10\n0 10\n0 0 0 0 0 0 0\n1 3 4 0 1 1 1 2\n"
    path = _write(tmp_path, one, "one")
    sol = solve_periodic(read_pvrp(path), iterations=5, seed=0)
    assert sol.to_dict(read_pvrp(path))["days"] == [[[1]], []]
    assert sol.cost == pytest.approx(10.0)
    empty = _write(tmp_path, "1 1 0 2\n0 10\n0 10\n0 0 0 0 0 0 0\n", "empty")
    sol = solve_periodic(read_pvrp(empty), iterations=5, seed=0)
    assert sol.feasible and sol.cost == 0.0 and sol.days == ((), ())


def test_infeasible_instance_is_reported_not_hidden(tmp_path: Path) -> None:
    """A customer heavier than any vehicle cannot be served: ``feasible`` is False."""
    text = TINY.replace("5 0 3 0 5 2 1 3", "5 0 3 0 500 2 1 3")
    path = _write(tmp_path, text)
    sol = solve_periodic(read_pvrp(path), iterations=20, seed=0)
    assert not sol.feasible
    assert check(path, sol.to_dict(read_pvrp(path))["days"])[1]


@pytest.mark.parametrize("name", ["p01", "p02", "pr01"])
def test_real_instances_give_feasible_plans_near_best_known(name: str) -> None:
    """Small real instances: feasible by the independent checker, cost as reported,
    within 8 % of the best-known cost after a short deterministic run."""
    path = _instance(name)
    bks = json.loads((PVRP / "BKS.json").read_text())[name]
    prob = read_pvrp(path)
    sol = solve_periodic(prob, iterations=400, seed=1)
    cost, problems = check(path, sol.to_dict(prob)["days"])
    assert problems == []
    assert cost == pytest.approx(sol.cost, rel=1e-9)
    assert cost <= 1.08 * bks


def test_same_seed_same_plan() -> None:
    """An iteration budget makes the plan a function of the seed."""
    prob = read_pvrp(_instance("p02"))
    a = solve_periodic(prob, iterations=150, seed=7)
    b = solve_periodic(prob, iterations=150, seed=7)
    assert a.days == b.days and a.patterns == b.patterns and a.cost == b.cost


def test_budget_is_required_and_positive() -> None:
    """No budget, or a negative one, is a clear error."""
    prob = read_pvrp(_instance("p01"))
    with pytest.raises(InputError, match="budget"):
        solve_periodic(prob)
    with pytest.raises(InputError, match="positive"):
        solve_periodic(prob, seconds=0)


def test_problem_rejects_inconsistent_patterns() -> None:
    """Patterns of different lengths for one customer name that customer."""
    dist = np.zeros((2, 2))
    with pytest.raises(InputError, match="customer 7"):
        PeriodicProblem(
            name="x",
            distance=dist,
            duration=dist,
            demand=np.zeros(2),
            service=np.zeros(2),
            patterns=((), ((0,), (0, 1))),
            num_vehicles=(1, 1),
            capacity=(1, 1),
            max_duration=(None, None),
            node_ids=(0, 7),
        )


# ------------------------------------------------------------------------ CLI


def test_cli_solve_reads_pvrp_files(tmp_path: Path) -> None:
    """``python -m gcrm solve p01`` writes days of routes of file numbers and the cost."""
    path = _instance("p01")
    out = tmp_path / "sol.json"
    res = CliRunner().invoke(app, ["solve", str(path), "--seconds", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    sol = json.loads(out.read_text())
    assert set(sol) == {"days", "cost"}
    cost, problems = check(path, sol["days"])
    assert problems == []
    assert sol["cost"] == pytest.approx(cost, abs=1e-5)
