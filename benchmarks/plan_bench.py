"""End-to-end visit planning benchmark on the Helsinki demo: from account ids to
routes with their street geometry.

Usage::

    python benchmarks/plan_bench.py                  # the three scenarios, drive network
    python benchmarks/plan_bench.py --profile walk   # on the walking network
    python benchmarks/plan_bench.py --only 25        # one scenario

Scenarios (targets from the issue):

- ``25``: one rep, one day, 25 selected accounts of 10-minute visits (all fit):
  target 3 s.
- ``200``: three reps, one day, 200 selected accounts of 5-minute drop-ins:
  target 15 s.
- ``3x5x300``: a manager plans three reps over five days, 300 selected accounts
  with their own visit lengths and opening hours: target 60 s.

Each run covers: reading the accounts (:func:`gcrm.routing.build_problem`),
the travel matrix, PyVRP (default time limit: one second per 25 visits), the
schedules with the lunch break, and the route geometry. The road network is
loaded before timing starts (the app keeps it cached; the cold load time is
printed too). The demo database is built in a temporary folder
(``GCRM_DATA_DIR``) unless ``--data-dir`` names one that has it.

The machine has two cores shared with others: wall and CPU times are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = dt.date(2026, 12, 1)  # a Tuesday


def _demo(data_dir: Path) -> None:
    os.environ["GCRM_DATA_DIR"] = str(data_dir)
    from gcrm.settings import get_settings

    get_settings.cache_clear()
    from gcrm.db.session import session_scope, upgrade_database
    from gcrm.demo import build_demo

    upgrade_database(get_settings().resolved_database_url)
    with session_scope() as s:
        build_demo(s)


def scenario(
    label: str,
    *,
    actor: str,
    reps: list[str],
    days: int,
    n: int,
    minutes: float | None,
    profile: str,
    G: object,
    seconds: float | None,
    target: float,
) -> dict:
    """Plan one scenario and print its figures."""
    from gcrm import routing
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame

    w0, c0 = time.perf_counter(), time.process_time()
    with session_scope() as s:
        who = actor_for(s, actor)
        frame = accounts_frame(s, who, AccountFilter(include_do_not_contact=False))
        frame = frame[frame["owner"].isin(reps)].dropna(subset=["lat", "lon"])
        # A spread of accounts: every k-th by name.
        k = max(1, len(frame) // n)
        ids = frame["id"].astype(int).tolist()[::k][:n]
        problem, pre = routing.build_problem(
            s, who, reps, START, days=days, due=False, selected=ids, profile=profile
        )
    if minutes is not None:
        problem = dataclasses.replace(
            problem,
            visits=tuple(dataclasses.replace(v, minutes=minutes) for v in problem.visits),
        )
    w1 = time.perf_counter()
    plan = routing.plan_routes(problem, G=G, options=routing.PlanOptions(seconds=seconds, seed=0))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    st = plan.stats
    planned = len(plan.planned_visit_ids())
    print(
        f"{label:<8} visits={len(problem.visits):<4} routes={len(plan.routes):<3}"
        f" planned={planned:<4} dropped={len(plan.dropped) + len(pre):<4}"
        f" drive={sum(r.drive_s for r in plan.routes) / 60:6.1f} min"
        f" | wall {wall:5.2f} s (target {target:g} s: {'ok' if wall <= target else 'MISSED'})"
        f" cpu {cpu:5.2f} s | accounts {w1 - w0:4.2f} s, matrix {st['matrix_s']:4.2f} s,"
        f" solver {st['solver_s']:5.2f} s (limit {st['time_limit_s']:g} s,"
        f" {st['iterations']} it, {st['clients']} clients), geometry {st['geometry_s']:4.2f} s",
        flush=True,
    )
    reasons = Counter(d.reason for d in [*pre, *plan.dropped])
    if reasons:
        print("         dropped: " + "; ".join(f"{n} {r}" for r, n in reasons.most_common()))
    return {"label": label, "wall": wall, "cpu": cpu, "planned": planned, **st}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="drive", choices=["drive", "walk", "bike"])
    ap.add_argument("--data-dir", type=Path, help="a GCRM_DATA_DIR holding the demo")
    ap.add_argument("--only", choices=["25", "200", "3x5x300"])
    ap.add_argument("--seconds", type=float, help="solver time limit (default: automatic)")
    a = ap.parse_args(argv)
    tmp = None
    if a.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gcrm-plan-bench-")
        t = time.perf_counter()
        _demo(Path(tmp.name))
        print(f"demo database built in {time.perf_counter() - t:.1f} s")
    else:
        os.environ["GCRM_DATA_DIR"] = str(a.data_dir)
    from gcrm.network import load_network
    from gcrm.settings import get_settings

    get_settings.cache_clear()
    t = time.perf_counter()
    G = load_network(profile=a.profile)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    G = load_network(profile=a.profile)
    print(
        f"{a.profile} network: {len(G)} nodes; first load {cold:.2f} s,"
        f" cached load {time.perf_counter() - t:.2f} s (not counted below)"
    )
    runs = {
        "25": {"actor": "rep1", "reps": ["rep1"], "days": 1, "n": 25, "minutes": 10, "target": 3},
        "200": {
            "actor": "manager",
            "reps": ["rep1", "rep2", "rep3"],
            "days": 1,
            "n": 200,
            "minutes": 5,
            "target": 15,
        },
        "3x5x300": {
            "actor": "manager",
            "reps": ["rep1", "rep2", "rep3"],
            "days": 5,
            "n": 300,
            "minutes": None,
            "target": 60,
        },
    }
    for label, kw in runs.items():
        if a.only and a.only != label:
            continue
        scenario(label, profile=a.profile, G=G, seconds=a.seconds, **kw)  # type: ignore[arg-type]
    if tmp is not None:
        from gcrm.db.session import dispose_engines

        dispose_engines()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
