"""Route optimizer benchmark: TSPLIB and Solomon instances against best-known
solutions and against OR-Tools' guided local search on the same budget.

Usage::

    python benchmarks/solver_bench.py                      # TSPLIB <= 300 cities at 2 s,
                                                           # all 56 Solomon at 5 s, OR-Tools too
    python benchmarks/solver_bench.py --quick              # 8 TSPLIB + 6 Solomon
    python benchmarks/solver_bench.py --solomon R101,C201 --no-ortools
    python benchmarks/solver_bench.py --tsplib-max 0 --solomon none --vrplib  # GH 1000 + large TSP

For each instance the solution of :func:`gcrm.bench.solve.solve_instance` (PyVRP,
plus 2-opt/Or-opt for single tours) is checked with
:func:`gcrm.bench.instances.check_solution` and its cost recomputed from the instance
with the instance's convention (TSPLIB: nint; Solomon: exact Euclidean, as in
the distance-only best-known ``X_distance`` of ``BKS_vroom-scripts.json``;
Gehring-Homberger in VRPLIB form: DIMACS one-decimal truncation). Solomon
runs minimise distance with the file's 25 vehicles, free of charge, which is
how the distance-only best-known solutions are defined (they use at most 25).

OR-Tools gets the same integer matrices (durations rounded up), the same fleet
and the same wall-clock budget: first solution ``PATH_CHEAPEST_ARC`` for
tours and ``PARALLEL_CHEAPEST_INSERTION`` with time windows (the former finds
no feasible start on the tight Solomon instances), then
``GUIDED_LOCAL_SEARCH``; its routes are recomputed the same way. Published
reference: VROOM's 1.63% mean gap on Solomon in about 0.4 s.

The machine has two cores shared with others: wall and CPU times are printed
for every run, and figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gcrm._errors import InputError  # noqa: E402
from gcrm.bench.instances import (  # noqa: E402
    Instance,
    check_solution,
    read_instance,
    read_solution,
    route_cost,
    scale_of,
    scaled,
    solution_cost_stated,
)
from gcrm.bench.solve import solve_instance  # noqa: E402

QUICK_TSP = ("eil51", "berlin52", "kroA100", "lin105", "ch150", "d198", "pr226", "a280")
QUICK_SOLOMON = ("C101", "C201", "R101", "R201", "RC101", "RC201")


def ortools_solve(inst: Instance, seconds: float) -> list[list[int]] | None:
    """Solve with OR-Tools GLS on the instance's integer data; routes in file numbers."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    s = scale_of(inst)
    d = inst.distances()
    dist = scaled(d, s)
    n = inst.dimension
    fleet = 1 if inst.kind == "tsp" else (inst.num_vehicles or n - 1)
    manager = pywrapcp.RoutingIndexManager(n, fleet, 0)
    model = pywrapcp.RoutingModel(manager)
    cost = model.RegisterTransitMatrix(dist.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(cost)
    if inst.demands is not None and inst.capacity:
        dem = model.RegisterUnaryTransitVector([int(x) for x in inst.demands])
        model.AddDimensionWithVehicleCapacity(dem, 0, [int(inst.capacity)] * fleet, True, "load")
    if inst.has_time_windows:
        assert inst.ready is not None and inst.due is not None and inst.service is not None
        dur = scaled(d, s, up=True)
        serv = scaled(inst.service, s, up=True)
        ready, due = scaled(inst.ready, s), scaled(inst.due, s)
        transit = (dur + serv[:, None]).tolist()
        tcb = model.RegisterTransitMatrix(transit)
        horizon = int(due[0])
        model.AddDimension(tcb, horizon, horizon, False, "time")
        tdim = model.GetDimensionOrDie("time")
        for node in range(1, n):
            tdim.CumulVar(manager.NodeToIndex(node)).SetRange(int(ready[node]), int(due[node]))
        for v in range(fleet):
            tdim.CumulVar(model.Start(v)).SetRange(int(ready[0]), int(due[0]))
            tdim.CumulVar(model.End(v)).SetRange(int(ready[0]), int(due[0]))
    params = pywrapcp.DefaultRoutingSearchParameters()
    first = routing_enums_pb2.FirstSolutionStrategy
    # PATH_CHEAPEST_ARC (the documented default) finds no feasible start on tight
    # Solomon windows (R101, RC101...); parallel cheapest insertion does.
    params.first_solution_strategy = (
        first.PARALLEL_CHEAPEST_INSERTION if inst.has_time_windows else first.PATH_CHEAPEST_ARC
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    sol = model.SolveWithParameters(params)
    if sol is None:
        return None
    routes = []
    for v in range(fleet):
        idx = model.Start(v)
        r = []
        while not model.IsEnd(idx):
            node = manager.IndexToNode(idx)
            if node != 0 or inst.kind == "tsp":
                r.append(node)
            idx = sol.Value(model.NextVar(idx))
        if inst.kind == "tsp":
            return [[inst.node_ids[c] for c in r]]
        if r:
            routes.append([inst.node_ids[c] for c in r])
    return routes


def _timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - w, time.process_time() - c


def run_family(
    label: str,
    items: list[tuple[str, Path, float | None]],
    seconds: float,
    *,
    ortools: bool,
    seed: int,
) -> list[dict]:
    """Solve each instance with ours (and OR-Tools); print a line per instance."""
    rows = []
    for k, (name, path, bks) in enumerate(items, start=1):
        try:
            inst = read_instance(path)
        except InputError as exc:
            print(f"[{label} {k}/{len(items)}] {name}: skipped ({exc})", flush=True)
            continue
        sol, wall, cpu = _timed(solve_instance, inst, seconds=seconds, seed=seed)
        viol = check_solution(inst, sol.routes)
        row = {
            "family": label,
            "name": name,
            "n": inst.dimension,
            "ours": sol.cost,
            "ours_feasible": not viol,
            "ours_routes": len(sol.routes),
            "bks": bks,
            "gap": (sol.cost / bks - 1) if bks else None,
            "wall": wall,
            "cpu": cpu,
        }
        line = (
            f"[{label} {k}/{len(items)}] {name:<10} n={inst.dimension:<5} ours={sol.cost:<12.2f}"
            f" gap={100 * row['gap']:6.2f}%"
            if bks
            else f"[{label} {k}/{len(items)}] {name}"
        )
        line += f" feas={'yes' if not viol else 'NO'} wall={wall:4.1f}s cpu={cpu:4.1f}s"
        if ortools:
            routes, owall, ocpu = _timed(ortools_solve, inst, seconds)
            if routes is None:
                row.update(ortools=None, ratio=None)
                line += " | OR-Tools: no solution"
            else:
                oviol = check_solution(inst, routes)
                ocost = route_cost(inst, routes)
                row.update(ortools=ocost, ortools_feasible=not oviol, ratio=sol.cost / ocost)
                line += (
                    f" | OR-Tools={ocost:<12.2f} feas={'yes' if not oviol else 'NO'}"
                    f" ratio={sol.cost / ocost:.4f} wall={owall:4.1f}s cpu={ocpu:4.1f}s"
                )
        print(line, flush=True)
        rows.append(row)
    return rows


def summary(label: str, rows: list[dict]) -> dict:
    """Mean gap and mean ratio of a family."""
    gaps = [r["gap"] for r in rows if r["gap"] is not None]
    ratios = [r["ratio"] for r in rows if r.get("ratio") is not None and r.get("ortools_feasible")]
    out = {
        "family": label,
        "instances": len(rows),
        "feasible": sum(r["ours_feasible"] for r in rows),
        "mean_gap_pct": 100 * statistics.fmean(gaps) if gaps else None,
        "max_gap_pct": 100 * max(gaps) if gaps else None,
        "ortools_compared": len(ratios),
        "mean_ratio_vs_ortools": statistics.fmean(ratios) if ratios else None,
        "geomean_ratio_vs_ortools": float(np.exp(np.mean(np.log(ratios)))) if ratios else None,
        "ortools_without_solution": sum(1 for r in rows if "ortools" in r and r["ortools"] is None),
    }
    txt = f"{label}: {out['instances']} instances, {out['feasible']} feasible"
    if gaps:
        txt += f", mean gap {out['mean_gap_pct']:.3f}% (max {out['max_gap_pct']:.2f}%)"
    if ratios:
        txt += (
            f", ours/OR-Tools mean {out['mean_ratio_vs_ortools']:.4f}"
            f" (geomean {out['geomean_ratio_vs_ortools']:.4f}, {len(ratios)} compared)"
        )
    if out["ortools_without_solution"]:
        txt += f", OR-Tools found nothing on {out['ortools_without_solution']}"
    print(txt)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    ap.add_argument("--tsplib-max", type=int, default=300, help="largest TSPLIB size (0: none)")
    ap.add_argument("--tsplib-seconds", type=float, default=2.0)
    ap.add_argument("--solomon", default="all", help="all, none or names (R101,C201,...)")
    ap.add_argument("--solomon-seconds", type=float, default=5.0)
    ap.add_argument("--vrplib", action="store_true", help="also GH 1000 and large TSPs")
    ap.add_argument("--vrplib-seconds", type=float, default=30.0)
    ap.add_argument(
        "--quick", action="store_true", help=f"TSPLIB {QUICK_TSP}, Solomon {QUICK_SOLOMON}"
    )
    ap.add_argument("--no-ortools", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write every row and the summaries here")
    a = ap.parse_args(argv)
    if not a.shared.is_dir():
        print(f"skipped: {a.shared} is absent (the benchmarks need ../shared/benchmarks)")
        return 0
    ortools = not a.no_ortools
    all_rows: list[dict] = []
    summaries = []
    if a.tsplib_max > 0:
        bks = json.loads((a.shared / "tsplib" / "BKS_vroom-scripts.json").read_text())
        items = []
        for name, b in sorted(bks.items(), key=lambda kv: (kv[1]["jobs"], kv[0])):
            path = a.shared / "tsplib" / f"{name}.tsp"
            if b["jobs"] + 1 <= a.tsplib_max and path.is_file():
                if not a.quick or name in QUICK_TSP:
                    items.append((name, path, float(b["best_known_cost"])))
        print(f"TSPLIB: {len(items)} instances up to {a.tsplib_max} cities, {a.tsplib_seconds} s")
        rows = run_family("tsplib", items, a.tsplib_seconds, ortools=ortools, seed=a.seed)
        all_rows += rows
        summaries.append(summary("TSPLIB", rows))
    if a.solomon != "none":
        bks = json.loads((a.shared / "solomon" / "BKS_vroom-scripts.json").read_text())
        names = sorted(p.stem for p in (a.shared / "solomon").glob("*.txt"))
        if a.quick:
            names = [n for n in names if n in QUICK_SOLOMON]
        elif a.solomon != "all":
            wanted = {x.strip().upper() for x in a.solomon.split(",")}
            names = [n for n in names if n.upper() in wanted]
        items = [
            (n, a.shared / "solomon" / f"{n}.txt", float(bks[f"{n}_distance"]["best_known_cost"]))
            for n in names
        ]
        print(f"Solomon: {len(items)} instances, {a.solomon_seconds} s, vs X_distance")
        rows = run_family("solomon", items, a.solomon_seconds, ortools=ortools, seed=a.seed)
        all_rows += rows
        summaries.append(summary("Solomon (distance)", rows))
    if a.vrplib:
        items = []
        for sub in ("gh1000_vrptw", "tsp_large_vrplib"):
            for vrp in sorted((a.shared / sub).glob("*.vrp")):
                sol = vrp.with_suffix(".sol")
                b = solution_cost_stated(sol) if sol.is_file() else None
                if b is not None:
                    try:
                        inst = read_instance(vrp)
                    except InputError:
                        b = None  # reported when the run reaches it
                    else:
                        b = route_cost(inst, read_solution(sol))  # same convention
                items.append((vrp.stem, vrp, b))
        print(f"VRPLIB: {len(items)} instances, {a.vrplib_seconds} s")
        rows = run_family("vrplib", items, a.vrplib_seconds, ortools=ortools, seed=a.seed)
        all_rows += rows
        summaries.append(summary("VRPLIB", rows))
    if a.json:
        a.json.write_text(json.dumps({"rows": all_rows, "summaries": summaries}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
