"""PyVRP models of a whole periodic plan (used by :mod:`gcrm.periodic`).

Every day of the horizon is a PyVRP vehicle type with its own routing profile;
in day ``d``'s profile, clients that may not be visited on ``d`` lie
prohibitively far away, so PyVRP's moves keep every visit on an allowed day
while moving visits between days as freely as between routes.

Customers whose patterns are all single days (one visit, on any of several
days) are one client allowed on each of those days. Customers visited more
than once are one client per (customer, day):

- :class:`JointModel` holds a copy for every day of any of their patterns,
  all optional; the caller decides which copies are visited (the patterns)
  and PyVRP's local search, run without insert/remove operators, reorders
  and relocates visits without changing that set;
- :meth:`JointModel.iterated_search` pins them to their current pattern's
  days (required copies only) and runs PyVRP's iterated local search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pyvrp import (
    Activity,
    ActivityType,
    Client,
    CostEvaluator,
    Depot,
    Location,
    ProblemData,
    RandomNumberGenerator,
    Route,
    Solution,
    VehicleType,
)
from pyvrp.IteratedLocalSearch import IteratedLocalSearch
from pyvrp.PenaltyManager import PenaltyManager, PenaltyParams
from pyvrp.search import (
    OPERATORS,
    LocalSearch,
    PerturbationManager,
    PerturbationParams,
    Relocate1,
    Relocate2,
    Swap11,
    Swap21,
    Swap22,
    SwapTails,
)
from pyvrp.stop import MaxIterations

from gcrm.periodic_model import PeriodicProblem

#: Factor applied to distances and durations before rounding them for PyVRP.
SCALE = 1000

_EPS = 1e-6
_LS_OPERATORS = (Relocate1, Relocate2, Swap11, Swap21, Swap22, SwapTails)
_NEIGHBOURS = 40

Routes = list[list[int]]


def scaled_matrices(problem: PeriodicProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer distance, duration (rounded up) and service matrices for PyVRP.

    Parameters
    ----------
    problem
        The problem.

    Returns
    -------
    tuple of numpy.ndarray
        ``distance × SCALE`` rounded, ``duration × SCALE`` rounded up, and
        ``service × SCALE`` rounded up.
    """
    dist = np.rint(np.asarray(problem.distance, dtype=float) * SCALE).astype(np.int64)
    dur = np.ceil(np.asarray(problem.duration, dtype=float) * SCALE - _EPS).astype(np.int64)
    np.fill_diagonal(dist, 0)
    np.fill_diagonal(dur, 0)
    service = np.ceil(np.asarray(problem.service, dtype=float) * SCALE - _EPS).astype(np.int64)
    return dist, dur, service


def duration_limit(problem: PeriodicProblem, day: int) -> int | None:
    """Scaled route duration limit of ``day`` (rounded down), or ``None``."""
    limit = problem.max_duration[day]
    return None if limit is None else math.floor(limit * SCALE + _EPS)


def is_free(problem: PeriodicProblem, c: int) -> bool:
    """Whether customer ``c`` needs one visit (every pattern is a single day)."""
    return all(len(p) == 1 for p in problem.patterns[c])


class JointModel:
    """All days of a plan as one PyVRP problem (see the module docstring).

    Parameters
    ----------
    problem
        The problem.
    seed
        Seed of PyVRP's random number generator.
    """

    def __init__(self, problem: PeriodicProblem, seed: int) -> None:
        self.p = problem
        self.seed = seed
        self.dist, self.dur, self.service = scaled_matrices(problem)
        self.nodes: list[int] = []
        self.allowed: list[set[int]] = []
        self.client_at: dict[tuple[int, int], int] = {}
        for c in range(1, problem.num_nodes):
            days = sorted({d for p in problem.patterns[c] for d in p})
            if is_free(problem, c):
                self._add(c, days)
            else:
                for d in days:
                    self._add(c, [d])
        self.data = self._data(self.nodes, self.allowed, required=False)
        self.ce = CostEvaluator([float(10 * self.dist.max() + 1)], 100.0, 100.0)
        self._ls = LocalSearch(
            self.data, RandomNumberGenerator(seed=seed), self._neighbours(self.nodes, self.allowed)
        )
        for op in _LS_OPERATORS:
            self._ls.add_operator(op(self.data))

    def _add(self, c: int, days: list[int]) -> None:
        for d in days:
            self.client_at[c, d] = len(self.nodes)
        self.nodes.append(c)
        self.allowed.append(set(days))

    def _data(self, nodes: list[int], allowed: list[set[int]], *, required: bool) -> ProblemData:
        p = self.p
        idx = np.array([0, *nodes])
        base_d = self.dist[np.ix_(idx, idx)]
        base_t = self.dur[np.ix_(idx, idx)]
        self._big = 10 * int(base_d.max() + base_t.max() + 1) * (len(idx) + 1)
        mask = np.zeros((p.horizon, len(idx)), dtype=bool)
        for k, days in enumerate(allowed):
            mask[sorted(days), k + 1] = True
        mask[:, 0] = True
        dist_m, dur_m = [], []
        for d in range(p.horizon):
            bad = ~(mask[d][:, None] & mask[d][None, :])
            dm, tm = base_d + self._big * bad, base_t + self._big * bad
            np.fill_diagonal(dm, 0)
            np.fill_diagonal(tm, 0)
            dist_m.append(dm)
            dur_m.append(tm)
        coords = p.coords if p.coords is not None else np.zeros((p.num_nodes, 2))
        vtypes = []
        for d in range(p.horizon):
            vt: dict[str, Any] = {
                "num_available": max(1, p.num_vehicles[d]),
                "capacity": [p.capacity[d]],
                "profile": d,
                "name": f"day{d + 1}",
            }
            limit = duration_limit(p, d)
            if limit is not None:
                vt["shift_duration"] = limit
            vtypes.append(VehicleType(**vt))
        return ProblemData(
            locations=[Location(x=float(coords[i, 0]), y=float(coords[i, 1])) for i in idx],
            clients=[
                Client(
                    location=k + 1,
                    delivery=[int(p.demand[c])],
                    service_duration=int(self.service[c]),
                    required=required,
                )
                for k, c in enumerate(nodes)
            ],
            depots=[Depot(location=0)],
            vehicle_types=vtypes,
            distance_matrices=dist_m,
            duration_matrices=dur_m,
        )

    def _neighbours(
        self, nodes: list[int], allowed: list[set[int]]
    ) -> dict[Activity, list[Activity]]:
        """Nearest clients that share a day, for PyVRP's granular neighbourhood."""
        n = len(nodes)
        mask = np.zeros((n, self.p.horizon), dtype=int)
        for k, days in enumerate(allowed):
            mask[k, sorted(days)] = 1
        share = (mask @ mask.T) > 0
        idx = np.array(nodes, dtype=np.int64)
        prox = (self.dist[np.ix_(idx, idx)] + self.dist[np.ix_(idx, idx)].T).astype(float)
        prox[~share] = np.inf
        np.fill_diagonal(prox, np.inf)
        order = np.argsort(prox, axis=1, kind="stable")[:, : min(_NEIGHBOURS, max(n - 1, 0))]
        return {
            Activity(ActivityType.CLIENT, i): [
                Activity(ActivityType.CLIENT, int(j)) for j in order[i] if np.isfinite(prox[i, j])
            ]
            for i in range(n)
        }

    def local_search(self, days: list[Routes]) -> list[Routes]:
        """Improve a plan by PyVRP's exhaustive local search, visits unchanged.

        Parameters
        ----------
        days
            Routes per day (node indices); every visit on an allowed day.

        Returns
        -------
        list
            Improved routes per day; one-visit customers may have changed day.
        """
        if not self.nodes:
            return days
        sol = self._solution(self.data, days, lambda c, d: self.client_at[c, d])
        out = self._ls(sol, self.ce, exhaustive=True)
        return self._days(out, self.nodes)

    def _solution(
        self, data: ProblemData, days: list[Routes], client: Callable[[int, int], int]
    ) -> Solution:
        routes = [
            Route(data, [client(c, d) for c in r], d)
            for d in range(self.p.horizon)
            for r in days[d]
            if r
        ]
        return Solution(data, routes)

    def _days(self, sol: Solution, nodes: list[int]) -> list[Routes]:
        days: list[Routes] = [[] for _ in range(self.p.horizon)]
        for route in sol.routes():
            days[route.vehicle_type()].append([nodes[a.idx] for a in route if a.is_client()])
        return days

    def iterated_search(
        self,
        days: list[Routes],
        pattern: list[int],
        *,
        seed: int,
        iterations: int,
        stop: Callable[[int], bool] | None = None,
    ) -> list[Routes] | None:
        """Run PyVRP's iterated local search over all days.

        The patterns of multi-visit customers are kept.

        Parameters
        ----------
        days
            Routes per day.
        pattern
            Pattern index per node (those of multi-visit customers are kept).
        seed, iterations
            PyVRP's seed and iteration budget.
        stop
            An extra stopping criterion (e.g. a deadline).

        Returns
        -------
        list or None
            The best routes per day, or ``None`` if PyVRP found nothing feasible.
        """
        p = self.p
        nodes: list[int] = []
        allowed: list[set[int]] = []
        at: dict[tuple[int, int], int] = {}
        for c in range(1, p.num_nodes):
            if is_free(p, c):
                days_ok = sorted({q[0] for q in p.patterns[c]})
                for d in days_ok:
                    at[c, d] = len(nodes)
                nodes.append(c)
                allowed.append(set(days_ok))
            else:
                for d in p.patterns[c][pattern[c]]:
                    at[c, d] = len(nodes)
                    nodes.append(c)
                    allowed.append({d})
        data = self._data(nodes, allowed, required=True)
        init = self._solution(data, days, lambda c, d: at[c, d])
        ls = LocalSearch(
            data,
            RandomNumberGenerator(seed=seed),
            self._neighbours(nodes, allowed),
            PerturbationManager(PerturbationParams()),
        )
        for op in OPERATORS:
            if op.supports(data):
                ls.add_operator(op(data))
        params = PenaltyParams()
        pm = PenaltyManager(params.midpoint_penalties(data), params)
        halt = _Halt(MaxIterations(iterations), stop)
        best = IteratedLocalSearch(data, pm, ls, init).run(halt, collect_stats=False).best
        if not best.is_feasible() or best.distance() >= self._big:
            return None
        return self._days(best, nodes)


class _Halt:
    """PyVRP stopping criterion: an iteration limit, or an extra criterion."""

    def __init__(self, iterations: MaxIterations, extra: Callable[[int], bool] | None) -> None:
        self._iterations = iterations
        self._extra = extra

    def __call__(self, best_cost: int) -> bool:
        return self._iterations(best_cost) or (self._extra is not None and self._extra(best_cost))
