"""Periodic VRP benchmark: Cordeau's PVRP instances against best-known costs.

Usage::

    python benchmarks/cycle_bench.py                       # p02-p10, p12, pr01-pr06 at 60 s
    python benchmarks/cycle_bench.py --seconds 10 --clock cpu
    python benchmarks/cycle_bench.py --instances p02,pr01 --iterations 2000

Each instance is solved by :func:`gcrm.periodic.solve_periodic`; the plan is
then checked and its cost recomputed from the instance file by the
independent checker in ``tests/pvrp_checker.py`` (unrounded Euclidean
distances), and compared with ``BKS.json``. Target: mean gap ≤ 3 % at 60 s.

The machine is shared: wall and CPU seconds are printed for every run;
``--clock cpu`` bounds CPU time instead of wall time (repeatable under load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gcrm.periodic import solve_periodic  # noqa: E402
from gcrm.pvrp_io import read_pvrp  # noqa: E402
from tests.pvrp_checker import check  # noqa: E402

DATA = ROOT.parent / "shared" / "benchmarks" / "pvrp"
DEFAULT = "p02,p03,p04,p05,p06,p07,p08,p09,p10,p12,pr01,pr02,pr03,pr04,pr05,pr06"


def main() -> int:
    """Run the benchmark; exit 1 if the target is missed or a plan is infeasible."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--instances", default=DEFAULT, help="comma-separated names")
    ap.add_argument("--seconds", type=float, default=60.0, help="budget per instance")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--iterations", type=int, default=None, help="iteration budget (deterministic)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=3.0, help="mean gap target in percent")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    bks = json.loads((args.data / "BKS.json").read_text())
    seconds = None if args.iterations and args.seconds <= 0 else args.seconds
    gaps, ok = [], True
    print(
        f"{'inst':6} {'cost':>10} {'BKS':>10} {'gap%':>6} {'iters':>7} {'wall s':>7} {'cpu s':>7}"
    )
    for name in args.instances.split(","):
        path = args.data / name
        sol = solve_periodic(
            read_pvrp(path),
            seed=args.seed,
            iterations=args.iterations,
            seconds=seconds,
            clock=args.clock,
        )
        plan = sol.to_dict(read_pvrp(path))["days"]
        cost, problems = check(path, plan)
        gap = 100.0 * (cost / bks[name] - 1.0)
        gaps.append(gap)
        flag = "" if not problems else f"  INFEASIBLE: {problems[:3]}"
        ok &= not problems
        print(
            f"{name:6} {cost:10.2f} {bks[name]:10.2f} {gap:6.2f} {sol.iterations:7d} "
            f"{sol.seconds:7.1f} {sol.cpu_seconds:7.1f}{flag}",
            flush=True,
        )
    mean = statistics.fmean(gaps)
    print(f"mean gap {mean:.2f}% over {len(gaps)} instances (target <= {args.target}%)")
    return 0 if ok and mean <= args.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
