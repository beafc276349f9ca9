"""An independent checker for Cordeau PVRP solutions.

It reads the instance file itself (not through :mod:`gcrm.bench.pvrp_io`) and knows
nothing of the solver: the tests and ``benchmarks/cycle_bench.py`` use it to
recompute a plan's cost and to list every broken rule.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any


def parse(path: str | Path) -> dict[str, Any]:
    """Read a type-1 Cordeau file into plain Python values."""
    nums = [float(t) for t in Path(path).read_text().split()]
    _, m, n, t = (int(v) for v in nums[:4])
    pos = 4
    days = []
    for _ in range(t):
        days.append((nums[pos], nums[pos + 1]))
        pos += 2
    nodes = {}
    for _ in range(n + 1):
        nid, x, y, d, q, _f, a = nums[pos : pos + 7]
        pats = [int(v) for v in nums[pos + 7 : pos + 7 + int(a)]]
        pos += 7 + int(a)
        allowed = [{k for k in range(1, t + 1) if code & (1 << (t - k))} for code in pats]
        nodes[int(nid)] = {"x": x, "y": y, "service": d, "demand": q, "allowed": allowed}
    return {"m": m, "n": n, "t": t, "days": days, "nodes": nodes}


def check(path: str | Path, plan: list[list[list[int]]]) -> tuple[float, list[str]]:
    """Return ``(cost, problems)`` of ``plan`` (``plan[d]`` = routes of day ``d + 1``)."""
    inst = parse(path)
    nodes = inst["nodes"]
    problems: list[str] = []

    def dist(a: int, b: int) -> float:
        return math.hypot(nodes[a]["x"] - nodes[b]["x"], nodes[a]["y"] - nodes[b]["y"])

    if len(plan) != inst["t"]:
        problems.append(f"{len(plan)} days in the plan, {inst['t']} in the instance")
    visits: dict[int, list[int]] = {c: [] for c in nodes if c != 0}
    cost = 0.0
    for day, routes in enumerate(plan, start=1):
        limit, cap = inst["days"][min(day, inst["t"]) - 1]
        if len(routes) > inst["m"]:
            problems.append(f"day {day}: {len(routes)} routes > {inst['m']} vehicles")
        for route in routes:
            if not route:
                problems.append(f"day {day}: empty route")
                continue
            if any(c not in visits for c in route):
                problems.append(f"day {day}: unknown customer or depot inside {route}")
                continue
            path_ = [0, *route, 0]
            length = sum(dist(a, b) for a, b in itertools.pairwise(path_))
            cost += length
            load = sum(nodes[c]["demand"] for c in route)
            if load > cap + 1e-9:
                problems.append(f"day {day}: load {load} > {cap}")
            duration = length + sum(nodes[c]["service"] for c in route)
            if limit > 0 and duration > limit + 1e-6:
                problems.append(f"day {day}: duration {duration:.4f} > {limit}")
            for c in route:
                visits[c].append(day)
    for c, got in visits.items():
        if len(got) != len(set(got)):
            problems.append(f"customer {c}: twice on one day {got}")
        if set(got) not in nodes[c]["allowed"]:
            problems.append(f"customer {c}: days {sorted(got)} match none of its patterns")
    return cost, problems
