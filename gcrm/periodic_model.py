"""The periodic vehicle routing problem: a plan's data, result and rules.

A :class:`PeriodicProblem` asks for a plan over a horizon of ``D`` days: every
customer has a list of allowed *patterns* (sets of days on which it is visited,
once on each day of the chosen pattern), a demand per visit and a service
duration; every day has a fleet of identical vehicles with a capacity and an
optional limit on route duration, all starting and ending at one depot. The
cost is the total travel distance over all days. Visit frequencies, spacing
rules and allowed weekdays of a sales call cycle all reduce to the pattern
lists. :func:`violations` lists every broken rule of a plan; the solver lives
in :mod:`gcrm.periodic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gcrm._errors import InputError

_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class PeriodicProblem:
    """A periodic vehicle routing problem with one depot (node 0).

    Attributes
    ----------
    name
        A label (the file name for benchmark instances).
    distance
        ``(N, N)`` travel cost between nodes; node 0 is the depot.
    duration
        ``(N, N)`` travel time between nodes (same units as ``service``
        and ``max_duration``).
    demand
        ``(N,)`` demand per visit (depot 0).
    service
        ``(N,)`` service duration per visit (depot 0).
    patterns
        Per node, the allowed visit patterns, each a sorted tuple of 0-based
        days; the depot has none. All patterns of a customer have the same
        number of days (its frequency).
    num_vehicles, capacity, max_duration
        Per day: vehicles available, capacity of each, longest allowed route
        duration (travel plus service; ``None`` for no limit).
    node_ids
        Node labels for output (e.g. the numbers in a benchmark file).
    coords
        Optional ``(N, 2)`` coordinates (used only for display).
    """

    name: str
    distance: np.ndarray = field(repr=False)
    duration: np.ndarray = field(repr=False)
    demand: np.ndarray = field(repr=False)
    service: np.ndarray = field(repr=False)
    patterns: tuple[tuple[tuple[int, ...], ...], ...] = field(repr=False)
    num_vehicles: tuple[int, ...]
    capacity: tuple[int, ...]
    max_duration: tuple[float | None, ...]
    node_ids: tuple[int, ...] = field(repr=False)
    coords: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Check the sizes and values of every field."""
        n = len(self.node_ids)
        horizon = len(self.num_vehicles)
        if horizon == 0 or len(self.capacity) != horizon or len(self.max_duration) != horizon:
            msg = f"{self.name}: vehicles, capacity and max_duration need one entry per day"
            raise InputError(msg)
        for label, arr, shape in (
            ("distance", self.distance, (n, n)),
            ("duration", self.duration, (n, n)),
            ("demand", self.demand, (n,)),
            ("service", self.service, (n,)),
        ):
            if np.shape(arr) != shape:
                msg = f"{self.name}: {label} has shape {np.shape(arr)}, expected {shape}"
                raise InputError(msg)
        if len(self.patterns) != n:
            msg = f"{self.name}: patterns given for {len(self.patterns)} nodes, expected {n}"
            raise InputError(msg)
        for c in range(1, n):
            pats = self.patterns[c]
            if not pats:
                msg = f"{self.name}: customer {self.node_ids[c]} has no allowed visit pattern"
                raise InputError(msg)
            if len({len(p) for p in pats}) != 1:
                msg = f"{self.name}: customer {self.node_ids[c]}: patterns differ in visit count"
                raise InputError(msg)
            for p in pats:
                if not p or any(not 0 <= d < horizon for d in p) or len(set(p)) != len(p):
                    who = f"{self.name}: customer {self.node_ids[c]}"
                    msg = f"{who}: bad pattern {p} for {horizon} days"
                    raise InputError(msg)

    @property
    def horizon(self) -> int:
        """Number of days."""
        return len(self.num_vehicles)

    @property
    def num_nodes(self) -> int:
        """Number of nodes, depot included."""
        return len(self.node_ids)

    def frequency(self, customer: int) -> int:
        """Return how many visits ``customer`` (a node index ≥ 1) needs."""
        return len(self.patterns[customer][0])

    def plan_cost(self, days: Sequence[Sequence[Sequence[int]]]) -> float:
        """Return the total travel cost of ``days`` (routes of node indices)."""
        dist = self.distance
        total = 0.0
        for routes in days:
            for r in routes:
                if r:
                    seq = [0, *r, 0]
                    total += float(dist[seq[:-1], seq[1:]].sum())
        return total


@dataclass(frozen=True)
class PeriodicSolution:
    """A solved plan.

    Attributes
    ----------
    days
        Per day, its routes; a route is a tuple of node indices (depot not
        listed).
    patterns
        Per node, the chosen pattern (a tuple of days; the depot's is ``()``).
    cost
        Total travel cost, from the exact distances.
    feasible
        Whether the plan passes :func:`violations`.
    iterations
        Search iterations run.
    seconds, cpu_seconds
        Wall and CPU time used.
    """

    days: tuple[tuple[tuple[int, ...], ...], ...]
    patterns: tuple[tuple[int, ...], ...]
    cost: float
    feasible: bool
    iterations: int
    seconds: float
    cpu_seconds: float

    def to_dict(self, problem: PeriodicProblem) -> dict[str, Any]:
        """Return ``{"days": [[[node ids]...]...], "cost": float}`` in the problem's labels."""
        ids = problem.node_ids
        return {
            "days": [[[ids[c] for c in r] for r in routes] for routes in self.days],
            "cost": round(self.cost, 6),
        }


def violations(problem: PeriodicProblem, days: Sequence[Sequence[Sequence[int]]]) -> list[str]:
    """List what is wrong with a plan (empty when feasible).

    Checks that each customer is visited exactly on the days of one of its
    patterns, at most once a day, and that each day's routes respect the
    fleet size, capacity and route duration.

    Parameters
    ----------
    problem
        The problem.
    days
        Per day, routes of node indices.

    Returns
    -------
    list of str
        One message per violation.
    """
    out: list[str] = []
    if len(days) != problem.horizon:
        return [f"plan has {len(days)} days, expected {problem.horizon}"]
    seen: dict[int, list[int]] = {}
    for d, routes in enumerate(days):
        real = [r for r in routes if r]
        if len(real) > problem.num_vehicles[d]:
            out.append(f"day {d + 1}: {len(real)} routes, {problem.num_vehicles[d]} vehicles")
        for k, r in enumerate(real):
            if any(not 1 <= c < problem.num_nodes for c in r):
                out.append(f"day {d + 1} route {k + 1}: unknown node")
                continue
            for c in r:
                seen.setdefault(c, []).append(d)
            load = int(problem.demand[list(r)].sum())
            if load > problem.capacity[d]:
                out.append(f"day {d + 1} route {k + 1}: load {load} > {problem.capacity[d]}")
            limit = problem.max_duration[d]
            if limit is not None:
                dur = _route_duration(problem, r)
                if dur > limit + _EPS:
                    out.append(f"day {d + 1} route {k + 1}: duration {dur:.3f} > {limit}")
    for c in range(1, problem.num_nodes):
        got = tuple(sorted(seen.get(c, [])))
        if got not in problem.patterns[c]:
            out.append(f"customer {problem.node_ids[c]}: visited on days {[d + 1 for d in got]}")
    return out


def _route_duration(problem: PeriodicProblem, route: Sequence[int]) -> float:
    seq = [0, *route, 0]
    return float(problem.duration[seq[:-1], seq[1:]].sum() + problem.service[list(route)].sum())
