"""Periodic vehicle routing: visit days and daily routes chosen together.

A :class:`PeriodicProblem` asks for a plan over a horizon of ``D`` days: every
customer has a list of allowed *patterns* (sets of days on which it is visited,
once on each day of the chosen pattern), a demand per visit and a service
duration; every day has a fleet of identical vehicles with a capacity and an
optional limit on route duration, all starting and ending at one depot. The
cost is the total travel distance over all days. This is the periodic vehicle
routing problem (PVRP) of Cordeau, Gendreau & Laporte (1997); visit
frequencies, spacing rules and allowed weekdays of a sales call cycle all
reduce to the pattern lists.

:func:`solve_periodic` is a large-neighbourhood search over patterns and
routes:

1. *Construction*: customers with the fewest patterns first, each gets the
   pattern whose days admit the cheapest insertions into the routes built so
   far (capacity, duration and fleet size respected where possible).
2. *Pattern search* (large-neighbourhood search): each iteration removes a
   few customers from all their days (a geographic cluster, a random set, or
   everyone on one route), then puts each back with the pattern of least
   total insertion cost over its days, measured on the current routes. The
   whole plan is then re-optimised by PyVRP's local search over all days at
   once (:class:`gcrm.periodic_pyvrp.JointModel`: relocate, swap, 2-opt*
   within and between routes and, for one-visit customers, between days).
   A candidate replaces the current plan under a simulated-annealing rule;
   the best feasible plan is kept.
3. *Route search*: PyVRP's iterated local search on the best plan, all days
   together, multi-visit customers' patterns fixed.

Phases 2 and 3 alternate in :data:`ROUNDS` rounds, the last ending with 3.

Distances go to PyVRP as integers scaled by :data:`gcrm.periodic_pyvrp.SCALE` (durations rounded
up, so that a route PyVRP deems feasible is feasible in exact arithmetic);
reported costs use the exact floating-point distances. The search is
deterministic for a seed when it is bounded by iterations; a time budget
(wall or CPU clock) makes it depend on the machine's load.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np

from gcrm._errors import InputError
from gcrm.periodic_model import PeriodicProblem, PeriodicSolution, violations
from gcrm.periodic_pyvrp import JointModel, Routes, duration_limit, is_free

__all__ = ["PeriodicProblem", "PeriodicSolution", "solve_periodic", "violations"]

_EPS = 1e-6

#: Rounds of pattern search followed by route search.
ROUNDS = 4
#: Share of each round spent in the pattern search.
PATTERN_SHARE = 0.5
#: PyVRP iterations of route search per pattern-search iteration (iteration budgets).
ROUTE_ITERATIONS_PER_ITERATION = 10


def solve_periodic(
    problem: PeriodicProblem,
    *,
    seed: int = 0,
    iterations: int | None = None,
    seconds: float | None = None,
    clock: Literal["wall", "cpu"] = "wall",
) -> PeriodicSolution:
    """Solve a periodic VRP: each customer's pattern and each day's routes.

    Parameters
    ----------
    problem
        The problem.
    seed
        Random seed; with an ``iterations`` budget only, the result is the
        same for the same seed.
    iterations
        Pattern-search iterations (removals and re-insertions); the route
        search then gets :data:`ROUTE_ITERATIONS_PER_ITERATION` PyVRP
        iterations for each.
    seconds
        Time budget on ``clock``, shared between the phases.
    clock
        ``"wall"`` or ``"cpu"`` (process CPU time: repeatable on a shared
        machine).

    Returns
    -------
    PeriodicSolution
        The best plan found (``feasible`` tells whether it meets every
        constraint; an infeasible plan is returned only when no feasible one
        was found).

    Raises
    ------
    InputError
        When neither ``iterations`` nor ``seconds`` is given, or one is not
        positive.
    """
    if iterations is None and seconds is None:
        raise InputError("give an iteration budget, a time budget, or both")
    if (iterations is not None and iterations <= 0) or (seconds is not None and seconds <= 0):
        raise InputError("budgets must be positive")
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    search = _Search(problem, seed)
    budget = _Budget(iterations, seconds, clock)
    search.construct()
    for rnd in range(ROUNDS):
        search.pattern_search(budget, rnd)
        search.route_search(budget, rnd)
    best_days = search.best_days
    return PeriodicSolution(
        days=tuple(tuple(tuple(r) for r in routes if r) for routes in best_days),
        patterns=tuple(
            problem.patterns[c][search.best_pattern[c]] if c else ()
            for c in range(problem.num_nodes)
        ),
        cost=problem.plan_cost(best_days),
        feasible=not violations(problem, best_days),
        iterations=search.iteration,
        seconds=time.perf_counter() - start_wall,
        cpu_seconds=time.process_time() - start_cpu,
    )


class _Budget:
    """Iteration and time limits, cut into phases (see :func:`solve_periodic`)."""

    def __init__(self, iterations: int | None, seconds: float | None, clock: str) -> None:
        self.iterations = iterations
        self.seconds = seconds
        self._now = time.process_time if clock == "cpu" else time.perf_counter
        self._start = self._now()

    def elapsed(self) -> float:
        return self._now() - self._start

    def mark(self, rnd: int, share: float) -> float:
        """Fraction of the budget at which round ``rnd``'s phase ends."""
        return (rnd + share) / ROUNDS

    def time_up(self, fraction: float) -> bool:
        return self.seconds is not None and self.elapsed() >= fraction * self.seconds

    def pattern_progress(self, iteration: int) -> float:
        """Progress of the pattern search over all rounds, 0 to 1."""
        p = 0.0
        if self.iterations:
            p = iteration / self.iterations
        if self.seconds:
            # pattern search runs during the first PATTERN_SHARE of each round
            t = self.elapsed() / self.seconds * ROUNDS
            done = math.floor(t) + min(1.0, (t - math.floor(t)) / PATTERN_SHARE)
            p = max(p, done / ROUNDS)
        return min(p, 1.0)

    def pattern_iterations_until(self, rnd: int) -> int | None:
        if self.iterations is None:
            return None
        return round(self.iterations * (rnd + 1) / ROUNDS)

    def route_iterations(self) -> int:
        if self.iterations is None:
            return 2**62
        return max(1, self.iterations * ROUTE_ITERATIONS_PER_ITERATION // ROUNDS)

    def deadline(self, fraction: float) -> Any:
        """Return a PyVRP stopping criterion for the time budget up to ``fraction``."""
        if self.seconds is None:
            return None
        end = self._start + fraction * self.seconds
        now = self._now
        return lambda _best: now() >= end


class _Search:
    """State of the search (see the module docstring)."""

    def __init__(self, problem: PeriodicProblem, seed: int) -> None:
        self.p = problem
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.joint = JointModel(problem, seed)
        self.dist = np.asarray(problem.distance, dtype=float)
        self.dur_i = self.joint.dur.astype(float)
        self.service_i = self.joint.service.astype(float)
        self.demand = np.asarray(problem.demand, dtype=float)
        self.limit = [duration_limit(problem, d) for d in range(problem.horizon)]
        # penalty per unit of excess load / excess scaled duration, in distance units
        self.pen_load = 10.0 * float(self.dist.max() + 1.0)
        self.pen_dur = 0.1
        self.free = [c for c in range(1, problem.num_nodes) if is_free(problem, c)]
        self.day_pattern = {
            c: {pat[0]: k for k, pat in enumerate(problem.patterns[c])} for c in self.free
        }
        self.routes: list[Routes] = [[] for _ in range(problem.horizon)]
        self.pattern = [-1] * problem.num_nodes
        self.customers = list(range(1, problem.num_nodes))
        order = np.argsort(self.dist[1:, 1:], axis=1, kind="stable")
        self.near = [[], *([int(j) + 1 for j in row] for row in order)]
        self._edge_cache: dict[int, tuple[Any, ...] | None] = {}
        self._obj_cache: dict[int, float] = {}
        self.iteration = 0
        self.current = math.inf
        self.best_days: list[Routes] = []
        self.best_pattern: list[int] = []
        self.best_obj = math.inf

    # ----------------------------------------------------------- evaluation

    def day_objective(self, d: int) -> float:
        """Travel cost plus penalties of day ``d``."""
        if d not in self._obj_cache:
            self._obj_cache[d] = sum(self._route_obj(d, r) for r in self.routes[d] if r)
        return self._obj_cache[d]

    def _route_obj(self, d: int, r: list[int]) -> float:
        seq = [0, *r, 0]
        cost = float(self.dist[seq[:-1], seq[1:]].sum())
        excess = max(0.0, float(self.demand[r].sum()) - self.p.capacity[d])
        cost += self.pen_load * excess
        limit = self.limit[d]
        if limit is not None:
            dur = float(self.dur_i[seq[:-1], seq[1:]].sum() + self.service_i[r].sum())
            cost += self.pen_dur * max(0.0, dur - limit)
        return cost

    def insertion(self, d: int, c: int) -> tuple[float, int, int]:
        """Cheapest penalised insertion of ``c`` on day ``d``: (cost, route, position)."""
        routes = self.routes[d]
        best = (math.inf, -1, 0)
        if len([r for r in routes if r]) < self.p.num_vehicles[d]:
            cost = float(self.dist[0, c] + self.dist[c, 0])
            if self.limit[d] is not None:
                dur = self.dur_i[0, c] + self.dur_i[c, 0] + self.service_i[c]
                cost += self.pen_dur * max(0.0, dur - self.limit[d])
            cost += self.pen_load * max(0.0, self.demand[c] - self.p.capacity[d])
            best = (cost, len(routes), 0)
        arr = self._arrays(d)
        if arr is None:
            return best
        live, prev, nxt, rid, pos, loads, durs, base, base_dur = arr
        delta = self.dist[prev, c] + self.dist[c, nxt] - base
        over_now = np.maximum(0.0, loads - self.p.capacity[d])
        over_new = np.maximum(0.0, loads + self.demand[c] - self.p.capacity[d])
        delta = delta + self.pen_load * (over_new - over_now)[rid]
        if self.limit[d] is not None:
            ddur = self.dur_i[prev, c] + self.dur_i[c, nxt] - base_dur + self.service_i[c]
            now = np.maximum(0.0, durs - self.limit[d])[rid]
            new = np.maximum(0.0, durs[rid] + ddur - self.limit[d])
            delta = delta + self.pen_dur * (new - now)
        i = int(np.argmin(delta))
        if delta[i] < best[0]:
            best = (float(delta[i]), live[rid[i]], int(pos[i]))
        return best

    def _arrays(self, d: int) -> tuple[Any, ...] | None:
        """Edges of day ``d``'s routes as arrays (cached until the day changes)."""
        if d in self._edge_cache:
            return self._edge_cache[d]
        routes = self.routes[d]
        live = [k for k, r in enumerate(routes) if r]
        out: tuple[Any, ...] | None = None
        if live:
            prev_l: list[int] = []
            nxt_l: list[int] = []
            rid_l: list[int] = []
            pos_l: list[int] = []
            for j, k in enumerate(live):
                seq = [0, *routes[k], 0]
                prev_l.extend(seq[:-1])
                nxt_l.extend(seq[1:])
                rid_l.extend([j] * (len(seq) - 1))
                pos_l.extend(range(len(seq) - 1))
            prev, nxt, rid = np.array(prev_l), np.array(nxt_l), np.array(rid_l)
            legs = self.dur_i[prev, nxt]
            loads = np.bincount(rid, weights=self.demand[nxt], minlength=len(live))
            durs = np.bincount(rid, weights=legs + self.service_i[nxt], minlength=len(live))
            out = (live, prev, nxt, rid, np.array(pos_l), loads, durs, self.dist[prev, nxt], legs)
        self._edge_cache[d] = out
        return out

    def _changed(self, d: int) -> None:
        self._edge_cache.pop(d, None)
        self._obj_cache.pop(d, None)

    def insert(self, c: int, *, noise: float = 0.0) -> None:
        """Give ``c`` its cheapest pattern and insert it on each of its days."""
        best_k, best_cost = 0, math.inf
        cache: dict[int, tuple[float, int, int]] = {}
        for k, pat in enumerate(self.p.patterns[c]):
            cost = 0.0
            for d in pat:
                if d not in cache:
                    cache[d] = self.insertion(d, c)
                cost += cache[d][0]
            if noise:
                cost *= 1.0 + noise * self.rng.random()
            if cost < best_cost:
                best_k, best_cost = k, cost
        self.pattern[c] = best_k
        for d in self.p.patterns[c][best_k]:
            _, r, pos = cache[d]
            routes = self.routes[d]
            if r >= len(routes):
                routes.append([c])
            else:
                routes[r].insert(pos, c)
            self._changed(d)

    def remove(self, c: int) -> set[int]:
        """Take ``c`` off all its days; return those days."""
        touched: set[int] = set()
        if self.pattern[c] < 0:
            return touched
        for d in self.p.patterns[c][self.pattern[c]]:
            for r in self.routes[d]:
                if c in r:
                    r.remove(c)
                    touched.add(d)
                    break
            self.routes[d] = [r for r in self.routes[d] if r]
            self._changed(d)
        self.pattern[c] = -1
        return touched

    def _set_plan(self, days: list[Routes]) -> None:
        """Adopt routes from PyVRP; one-visit customers take the day they landed on."""
        self.routes = [[list(r) for r in routes if r] for routes in days]
        self._edge_cache.clear()
        self._obj_cache.clear()
        for d, routes in enumerate(self.routes):
            for r in routes:
                for c in r:
                    if c in self.day_pattern:
                        self.pattern[c] = self.day_pattern[c][d]

    # ---------------------------------------------------------------- phases

    def construct(self) -> None:
        """Greedy patterns and routes, then local search over all days."""
        p = self.p
        tie = self.rng.random(len(self.customers))
        order = sorted(
            self.customers,
            key=lambda c: (len(p.patterns[c]), -p.frequency(c) * p.demand[c], tie[c - 1]),
        )
        for c in order:
            self.insert(c)
        self._set_plan(self.joint.local_search(self.routes))
        self.current = self.objective()
        self._remember_if_best(self.current)

    def objective(self) -> float:
        """Travel cost plus penalties of the current plan."""
        return sum(self.day_objective(d) for d in range(self.p.horizon))

    def _remember_if_best(self, obj: float) -> None:
        feasible = not violations(self.p, self.routes)
        if (feasible and obj < self.best_obj - _EPS) or not self.best_days:
            if feasible:
                self.best_obj = obj
            self.best_days = [[list(r) for r in routes] for routes in self.routes]
            self.best_pattern = list(self.pattern)

    def pattern_search(self, budget: _Budget, rnd: int) -> None:
        """Large-neighbourhood search over patterns until round ``rnd``'s share ends."""
        n = len(self.customers)
        if n == 0:
            return
        temp0 = self.current / max(1, n)
        k_max = min(n, max(2, min(30, n // 5 + 2)))
        until = budget.pattern_iterations_until(rnd)
        end = budget.mark(rnd, PATTERN_SHARE)
        while not budget.time_up(end) and (until is None or self.iteration < until):
            self.iteration += 1
            removed = self._choose_removal(k_max)
            saved = ([[list(r) for r in routes] for routes in self.routes], list(self.pattern))
            for c in removed:
                self.remove(c)
            order = list(removed)
            self.rng.shuffle(order)
            if self.rng.random() < 0.5:
                order.sort(key=lambda c: -self.dist[0, c])
            for c in order:
                self.insert(c, noise=0.1 if self.rng.random() < 0.3 else 0.0)
            self._set_plan(self.joint.local_search(self.routes))
            cand = self.objective()
            temp = temp0 * (1.0 - budget.pattern_progress(self.iteration))
            if cand < self.current - _EPS or (
                temp > 0 and self.rng.random() < math.exp(-(cand - self.current) / temp)
            ):
                self.current = cand
                self._remember_if_best(cand)
            else:
                self._set_plan(saved[0])
                self.pattern = saved[1]

    def _choose_removal(self, k_max: int) -> list[int]:
        n = len(self.customers)
        k = int(self.rng.integers(min(2, k_max), k_max + 1))
        u = self.rng.random()
        if u < 0.6:
            seed_c = int(self.rng.integers(1, n + 1))
            pool = self.near[seed_c][: 2 * k]
            picks = [
                seed_c,
                *self.rng.choice(pool, size=min(k - 1, len(pool)), replace=False).tolist(),
            ]
            return list(dict.fromkeys(int(c) for c in picks))
        if u < 0.8:
            d = int(self.rng.integers(self.p.horizon))
            live = [r for r in self.routes[d] if r]
            if live:
                r = live[int(self.rng.integers(len(live)))]
                return list(r[: max(k, 1) * 2])
        return [int(c) for c in self.rng.choice(self.customers, size=k, replace=False)]

    def route_search(self, budget: _Budget, rnd: int) -> None:
        """PyVRP's iterated local search on the best plan until round ``rnd`` ends."""
        if not self.best_days or self.best_obj == math.inf:
            return
        end = budget.mark(rnd, 1.0)
        if budget.time_up(end):
            return
        days = self.joint.iterated_search(
            self.best_days,
            self.best_pattern,
            seed=self.seed + rnd,
            iterations=budget.route_iterations(),
            stop=budget.deadline(end),
        )
        if days is None:
            return
        self.pattern = list(self.best_pattern)
        self._set_plan(days)
        obj = self.objective()
        if obj < self.best_obj - _EPS and not violations(self.p, self.routes):
            self._remember_if_best(obj)
        else:  # continue from the best plan
            self.pattern = list(self.best_pattern)
            self._set_plan(self.best_days)
        self.current = self.objective()
