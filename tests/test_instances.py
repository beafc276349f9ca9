"""Tests of gcrm.bench.instances (TSPLIB, Solomon and VRPLIB readers and costs) and of
the ``solve`` command's function, :func:`gcrm.bench.solve.solve_instance_file`."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from gcrm.bench.instances import (
    check_solution,
    euclidean,
    read_instance,
    read_solution,
    route_cost,
    solution_cost_stated,
)
from gcrm.bench.solve import solve_instance, solve_instance_file

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"

TSP = """NAME : tiny7
COMMENT : seven cities
TYPE : TSP
DIMENSION : 7
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 10 0
3 20 0.5
4 20 10
5 10 10.5
6 0 10
7 1.0e+01 5
EOF
"""

SOLOMON = """TINY1

VEHICLE
NUMBER     CAPACITY
  3          20

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      40         50          0          0       240          0
    1      45         68         10          0        60         10
    2      45         70         10         60       120         10
    3      42         66          5          0       200         10
    4      25         85         10        100       180         10
    5      20         80          5          0       240         10
"""

VRPLIB = """NAME : tinyvrptw
TYPE : VRPTW
DIMENSION : 5
VEHICLES : 2
CAPACITY : 10
SERVICE_TIME : 5
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 -3 -4
5 0 7
DEMAND_SECTION
1 0
2 4
3 4
4 5
5 2
TIME_WINDOW_SECTION
1 0 100
2 0 50
3 0 60
4 10 80
5 0 90
DEPOT_SECTION
1
-1
EOF
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Tiny instances in each format."""
    out = {}
    for name, text in (("tiny7.tsp", TSP), ("tiny1.txt", SOLOMON), ("tiny.vrp", VRPLIB)):
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        out[name] = p
    return out


def _brute_force_tour(d: np.ndarray) -> float:
    n = len(d)
    best = math.inf
    for perm in itertools.permutations(range(1, n)):
        seq = (0, *perm, 0)
        best = min(best, sum(d[a, b] for a, b in itertools.pairwise(seq)))
    return best


def test_tsplib_reader_and_nint(files: dict[str, Path]) -> None:
    """TSPLIB EUC_2D: coordinates (scientific notation too) and nint distances."""
    inst = read_instance(files["tiny7.tsp"])
    assert (inst.name, inst.kind, inst.fmt, inst.rounding) == ("tiny7", "tsp", "tsplib", "nint")
    assert inst.node_ids == (1, 2, 3, 4, 5, 6, 7)
    d = inst.distances()
    assert d[0, 1] == 10 and d[1, 2] == 10  # sqrt(100.25) = 10.01 -> 10
    assert d[0, 6] == 11  # sqrt(125) = 11.18 -> 11
    assert route_cost(inst, [[1, 2, 3, 4, 5, 6, 7]]) == float(
        sum(d[a, b] for a, b in itertools.pairwise([0, 1, 2, 3, 4, 5, 6, 0]))
    )


def test_euclidean_conventions() -> None:
    """nint rounds half up, dimacs truncates to one decimal, exact keeps floats."""
    xy = np.array([[0, 0], [3, 4.05], [0.25, 0]])
    assert euclidean(xy, "nint")[0, 2] == 0  # 0.25
    assert euclidean(xy, "nint")[0, 1] == 5
    assert euclidean(xy, "dimacs")[0, 1] == pytest.approx(5.0)  # 5.0400 -> 5.0
    assert euclidean(xy, "exact")[0, 1] == pytest.approx(math.hypot(3, 4.05))
    with pytest.raises(ValueError, match="unknown rounding"):
        euclidean(xy, "floor")


def test_solomon_reader(files: dict[str, Path]) -> None:
    """Solomon: fleet, capacity, demands, windows, service times; exact distances."""
    inst = read_instance(files["tiny1.txt"])
    assert (inst.name, inst.kind, inst.rounding) == ("TINY1", "vrptw", "exact")
    assert inst.num_vehicles == 3 and inst.capacity == 20
    assert inst.node_ids == (0, 1, 2, 3, 4, 5)
    assert list(inst.demands) == [0, 10, 10, 5, 10, 5]
    assert inst.due[2] == 120 and inst.service[1] == 10
    assert check_solution(inst, [[1, 2], [3, 5, 4]]) == []
    assert check_solution(inst, [[1, 2, 3]])  # 25 > capacity 20, nodes missing
    late = check_solution(inst, [[2, 1], [3, 5, 4]])
    assert any("due" in v for v in late)


def test_vrplib_reader(files: dict[str, Path]) -> None:
    """VRPLIB VRPTW: sections by node number, depot section, SERVICE_TIME header."""
    inst = read_instance(files["tiny.vrp"])
    assert (inst.kind, inst.fmt, inst.rounding) == ("vrptw", "vrplib", "dimacs")
    assert inst.node_ids[0] == 1 and inst.capacity == 10 and inst.num_vehicles == 2
    assert list(inst.service) == [0, 5, 5, 5, 5]
    assert inst.distances()[0, 1] == pytest.approx(5.0)
    assert route_cost(inst, [[2, 3], [4, 5]]) == pytest.approx(
        5 + 5 + 10 + 5 + 11.4 + 7
    )  # sqrt(130) = 11.40


def test_bad_files(tmp_path: Path) -> None:
    """Unreadable or unsupported instances raise InputError with the reason."""
    with pytest.raises(ValueError, match="not found"):
        read_instance(tmp_path / "missing.tsp")
    geo = tmp_path / "geo.tsp"
    geo.write_text(TSP.replace("EUC_2D", "GEO"), encoding="utf-8")
    with pytest.raises(ValueError, match="EDGE_WEIGHT_TYPE"):
        read_instance(geo)
    short = tmp_path / "short.txt"
    short.write_text(SOLOMON.replace("    5      20         80          5", "    5  20"))
    with pytest.raises(ValueError, match="7 numbers"):
        read_instance(short)
    atsp = tmp_path / "x.tsp"
    atsp.write_text(TSP.replace("TYPE : TSP", "TYPE : ATSP"), encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported TYPE"):
        read_instance(atsp)


def test_solve_tsp_round_trip(files: dict[str, Path], tmp_path: Path) -> None:
    """The solve command lists every city once and reports the optimal cost,
    recomputed from the instance."""
    out = tmp_path / "sol.json"
    res = solve_instance_file(files["tiny7.tsp"], seconds=0.3, output=out)
    data = json.loads(out.read_text())
    assert data == res and set(data) == {"routes", "cost"}
    (tour,) = data["routes"]
    assert sorted(tour) == [1, 2, 3, 4, 5, 6, 7] and tour[0] == 1
    inst = read_instance(files["tiny7.tsp"])
    assert data["cost"] == route_cost(inst, data["routes"]) == _brute_force_tour(inst.distances())
    assert isinstance(data["cost"], int)


def test_solve_vrptw_round_trip(files: dict[str, Path], tmp_path: Path) -> None:
    """Solomon and VRPLIB solutions are feasible, in the file's node numbers
    (depot excluded), with the cost recomputed under the file's convention."""
    for name in ("tiny1.txt", "tiny.vrp"):
        out = tmp_path / f"{name}.json"
        data = solve_instance_file(files[name], seconds=0.3, output=out)
        assert json.loads(out.read_text()) == data
        inst = read_instance(files[name])
        assert check_solution(inst, data["routes"]) == []
        assert inst.node_ids[0] not in {c for r in data["routes"] for c in r}
        assert data["cost"] == pytest.approx(route_cost(inst, data["routes"]))


def test_read_solution_offset(tmp_path: Path) -> None:
    """VRPLIB .sol numbers (depot 0) become the file's node numbers."""
    p = tmp_path / "a.sol"
    p.write_text("Route #1: 1 3\nRoute #2: 2\nCost 12.5\n")
    assert read_solution(p) == [[2, 4], [3]]
    assert read_solution(p, offset=0) == [[1, 3], [2]]
    assert solution_cost_stated(p) == 12.5


# --------------------------------------------------------------------------- shared


def _shared(path: str) -> Path:
    p = SHARED / path
    if not p.is_file():
        pytest.skip(f"{p} is absent: these tests need ../shared/benchmarks beside the project")
    return p


@pytest.mark.shared
def test_shared_tsplib_berlin52(tmp_path: Path) -> None:
    """berlin52 in 1 s: a valid tour within 1% of the optimum (7542)."""
    p = _shared("tsplib/berlin52.tsp")
    data = solve_instance_file(p, seconds=1.0, output=tmp_path / "s.json")
    inst = read_instance(p)
    assert sorted(data["routes"][0]) == list(inst.node_ids)
    assert data["cost"] == route_cost(inst, data["routes"])
    assert data["cost"] <= 7542 * 1.01


@pytest.mark.shared
def test_shared_solomon_c101() -> None:
    """C101 in 1 s: feasible under exact arithmetic, near the distance best-known."""
    p = _shared("solomon/C101.txt")
    bks = json.loads((p.parent / "BKS_vroom-scripts.json").read_text())["C101_distance"]
    inst = read_instance(p)
    sol = solve_instance(inst, seconds=1.0)
    assert sol.feasible and check_solution(inst, sol.routes) == []
    assert sol.cost <= bks["best_known_cost"] * 1.02


@pytest.mark.shared
def test_shared_vrplib_best_known_costs() -> None:
    """The stated costs of the bundled VRPLIB best-known solutions are recomputed
    exactly (DIMACS convention for Gehring-Homberger, nint or CEIL_2D for TSPs),
    and the solutions check out."""
    for name in ("gh1000_vrptw/C1_10_1", "tsp_large_vrplib/pr1002", "tsp_large_vrplib/dsj1000"):
        vrp, sol = _shared(f"{name}.vrp"), _shared(f"{name}.sol")
        inst = read_instance(vrp)
        routes = read_solution(sol)
        assert check_solution(inst, routes) == []
        assert route_cost(inst, routes) == pytest.approx(solution_cost_stated(sol), abs=1e-6)


@pytest.mark.shared
@pytest.mark.slow
def test_shared_gh1000_solve(tmp_path: Path) -> None:
    """A 1000-customer VRPTW in 10 s: feasible, within 15% of the best-known."""
    vrp = _shared("gh1000_vrptw/R1_10_1.vrp")
    out = tmp_path / "s.json"
    data = solve_instance_file(vrp, seconds=10, output=out)
    inst = read_instance(vrp)
    assert check_solution(inst, data["routes"]) == []
    assert data["cost"] <= solution_cost_stated(vrp.with_suffix(".sol")) * 1.15
