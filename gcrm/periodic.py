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
2. *Search*: each iteration removes a few customers from all their days
   (a geographic cluster, a random set, or everyone on one route), then puts
   each back with the pattern of least total insertion cost over its days,
   measured on the current routes. Every changed day is re-optimised by
   PyVRP's local search (relocate, swap, 2-opt*), warm-started from the
   repaired routes. A candidate replaces the current plan under a simulated
   annealing rule; the best feasible plan is kept.
3. *Polish*: the best plan's days are each improved by a short PyVRP
   iterated local search.

Distances go to PyVRP as integers scaled by :data:`SCALE` (durations rounded
up, so that a route PyVRP deems feasible is feasible in exact arithmetic);
reported costs use the exact floating-point distances. The search is
deterministic for a seed when it is bounded by iterations; a time budget
(wall or CPU clock) makes it depend on the machine's load.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pyvrp import (
    Client,
    CostEvaluator,
    Depot,
    Location,
    ProblemData,
    RandomNumberGenerator,
    Solution,
    VehicleType,
)
from pyvrp import solve as pyvrp_solve
from pyvrp.search import (
    LocalSearch,
    NeighbourhoodParams,
    Relocate1,
    Relocate2,
    Swap11,
    Swap21,
    Swap22,
    SwapTails,
    compute_neighbours,
)
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

from gcrm._errors import InputError

#: Factor applied to distances and durations before rounding them for PyVRP.
SCALE = 1000

_EPS = 1e-6
_LS_OPERATORS = (Relocate1, Relocate2, Swap11, Swap21, Swap22, SwapTails)

Routes = list[list[int]]


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


def solve_periodic(
    problem: PeriodicProblem,
    *,
    seed: int = 0,
    iterations: int | None = None,
    seconds: float | None = None,
    clock: Literal["wall", "cpu"] = "wall",
    polish_iterations: int | None = None,
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
        Search iterations (removals and re-insertions).
    seconds
        Time budget, on ``clock``; about a tenth goes to the final polish.
    clock
        ``"wall"`` or ``"cpu"`` (process CPU time: repeatable on a shared
        machine).
    polish_iterations
        PyVRP iterated-local-search iterations per day in the final polish
        (default: scaled to the day's size).

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
    if (iterations is not None and iterations < 0) or (seconds is not None and seconds <= 0):
        raise InputError("budgets must be positive")
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    search = _Search(problem, seed)
    timer = _Budget(iterations, seconds, clock)
    search.construct()
    search.run(timer)
    search.polish(timer, polish_iterations)
    best_days = search.best_days
    cost = problem.plan_cost(best_days)
    return PeriodicSolution(
        days=tuple(tuple(tuple(r) for r in routes if r) for routes in best_days),
        patterns=tuple(
            problem.patterns[c][search.best_pattern[c]] if c else ()
            for c in range(problem.num_nodes)
        ),
        cost=cost,
        feasible=not violations(problem, best_days),
        iterations=search.iteration,
        seconds=time.perf_counter() - start_wall,
        cpu_seconds=time.process_time() - start_cpu,
    )


class _Budget:
    """Iteration and time limits; ``progress()`` runs from 0 to 1."""

    def __init__(self, iterations: int | None, seconds: float | None, clock: str) -> None:
        self.iterations = iterations
        self.seconds = seconds
        self._now = time.process_time if clock == "cpu" else time.perf_counter
        self._start = self._now()

    def elapsed(self) -> float:
        return self._now() - self._start

    def progress(self, iteration: int) -> float:
        p = 0.0
        if self.iterations:
            p = max(p, iteration / self.iterations)
        if self.seconds:
            p = max(p, self.elapsed() / (0.9 * self.seconds))
        return min(p, 1.0)

    def remaining(self) -> float | None:
        return None if self.seconds is None else max(0.0, self.seconds - self.elapsed())


class _Day:
    """One day's static PyVRP data over every customer that may be served that day."""

    def __init__(
        self, problem: PeriodicProblem, day: int, ints: tuple[np.ndarray, np.ndarray]
    ) -> None:
        dist_i, dur_i = ints
        self.day = day
        self.nodes = [
            c for c in range(1, problem.num_nodes) if any(day in p for p in problem.patterns[c])
        ]
        self.client_of = {c: k for k, c in enumerate(self.nodes)}
        self.capacity = problem.capacity[day]
        self.vehicles = problem.num_vehicles[day]
        limit = problem.max_duration[day]
        self.limit = math.floor(limit * SCALE + _EPS) if limit is not None else None
        self.data: ProblemData | None = None
        if not self.nodes:
            return
        idx = np.array([0, *self.nodes])
        coords = problem.coords if problem.coords is not None else np.zeros((problem.num_nodes, 2))
        service_i = np.ceil(problem.service * SCALE - _EPS).astype(np.int64)
        locations = [Location(x=float(coords[i, 0]), y=float(coords[i, 1])) for i in idx]
        clients = [
            Client(
                location=k + 1,
                delivery=[int(problem.demand[c])],
                service_duration=int(service_i[c]),
                required=False,
            )
            for k, c in enumerate(self.nodes)
        ]
        vt: dict[str, Any] = {"num_available": self.vehicles, "capacity": [self.capacity]}
        if self.limit is not None:
            vt["shift_duration"] = self.limit
        self.data = ProblemData(
            locations=locations,
            clients=clients,
            depots=[Depot(location=0)],
            vehicle_types=[VehicleType(**vt)],
            distance_matrices=[dist_i[np.ix_(idx, idx)]],
            duration_matrices=[dur_i[np.ix_(idx, idx)]],
        )
        self.ls: LocalSearch | None = None

    def local_search(self, routes: Routes, ce: CostEvaluator, seed: int) -> Routes:
        """Improve ``routes`` (same customers) with PyVRP's exhaustive local search."""
        if self.data is None or not any(routes):
            return routes
        if self.ls is None:
            size = min(40, max(1, len(self.nodes) - 1))
            nb = compute_neighbours(self.data, NeighbourhoodParams(num_neighbours=size))
            self.ls = LocalSearch(self.data, RandomNumberGenerator(seed=seed), nb)
            for op in _LS_OPERATORS:
                self.ls.add_operator(op(self.data))
        sol = Solution(self.data, [[self.client_of[c] for c in r] for r in routes if r])
        out = self.ls(sol, ce, exhaustive=True)
        return self._routes(out)

    def polish(
        self, routes: Routes, *, seed: int, iterations: int, seconds: float | None
    ) -> Routes:
        """Improve ``routes`` by PyVRP's iterated local search on just their customers."""
        assert self.data is not None
        visited = sorted(c for r in routes for c in r)
        clients = self.data.clients()
        sub = [clients[self.client_of[c]] for c in visited]
        locs = self.data.locations()
        idx = np.array([0, *[self.client_of[c] + 1 for c in visited]])
        dist = self.data.distance_matrix(0)[np.ix_(idx, idx)]
        dur = self.data.duration_matrix(0)[np.ix_(idx, idx)]
        data = ProblemData(
            locations=[locs[i] for i in idx],
            clients=[
                Client(
                    location=k + 1,
                    delivery=cl.delivery,
                    service_duration=cl.service_duration,
                )
                for k, cl in enumerate(sub)
            ],
            depots=[Depot(location=0)],
            vehicle_types=self.data.vehicle_types(),
            distance_matrices=[dist],
            duration_matrices=[dur],
        )
        pos = {c: k for k, c in enumerate(visited)}
        init = Solution(data, [[pos[c] for c in r] for r in routes if r])
        stops: list[Any] = [MaxIterations(iterations)]
        if seconds is not None:
            stops.append(MaxRuntime(max(seconds, 0.01)))
        stop = MultipleCriteria(stops) if len(stops) > 1 else stops[0]
        res = pyvrp_solve(data, stop, seed=seed, collect_stats=False, initial_solution=init)
        if not res.best.is_feasible():
            return routes
        return [[visited[a.idx] for a in r if a.is_client()] for r in res.best.routes()]

    def _routes(self, sol: Solution) -> Routes:
        return [[self.nodes[a.idx] for a in r if a.is_client()] for r in sol.routes()]


class _Search:
    """State of the large-neighbourhood search (see the module docstring)."""

    def __init__(self, problem: PeriodicProblem, seed: int) -> None:
        self.p = problem
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.dist = np.asarray(problem.distance, dtype=float)
        dist_i = np.rint(self.dist * SCALE).astype(np.int64)
        dur_i = np.ceil(np.asarray(problem.duration, dtype=float) * SCALE - _EPS).astype(np.int64)
        np.fill_diagonal(dist_i, 0)
        np.fill_diagonal(dur_i, 0)
        self.dur_i = dur_i.astype(float)
        self.service_i = np.ceil(problem.service * SCALE - _EPS)
        self.demand = np.asarray(problem.demand, dtype=float)
        self.days = [_Day(problem, d, (dist_i, dur_i)) for d in range(problem.horizon)]
        big = float(dist_i.max()) if dist_i.size else 1.0
        self.ce = CostEvaluator([10.0 * big + 1.0], 100.0, 100.0)
        # penalty per unit of excess load / excess scaled duration, in distance units
        self.pen_load = 10.0 * float(self.dist.max() + 1.0)
        self.pen_dur = 100.0 / SCALE
        self.routes: list[Routes] = [[] for _ in range(problem.horizon)]
        self.pattern = [-1] * problem.num_nodes
        self.customers = list(range(1, problem.num_nodes))
        order = np.argsort(self.dist[1:, 1:], axis=1) if problem.num_nodes > 1 else None
        self.near = (
            [[], *([int(j) + 1 for j in row] for row in order)] if order is not None else [[]]
        )
        self.iteration = 0
        self.best_days: list[Routes] = []
        self.best_pattern: list[int] = []
        self.best_obj = math.inf

    # ----------------------------------------------------------- evaluation

    def day_objective(self, d: int) -> float:
        """Travel cost plus penalties of day ``d``."""
        total = 0.0
        for r in self.routes[d]:
            if r:
                total += self._route_obj(d, r)
        return total

    def _route_obj(self, d: int, r: list[int]) -> float:
        seq = [0, *r, 0]
        cost = float(self.dist[seq[:-1], seq[1:]].sum())
        excess = max(0.0, float(self.demand[r].sum()) - self.p.capacity[d])
        cost += self.pen_load * excess
        limit = self.days[d].limit
        if limit is not None:
            dur = float(self.dur_i[seq[:-1], seq[1:]].sum() + self.service_i[r].sum())
            cost += self.pen_dur * max(0.0, dur - limit)
        return cost

    def insertion(self, d: int, c: int) -> tuple[float, int, int]:
        """Cheapest penalised insertion of ``c`` on day ``d``: (cost, route, position)."""
        routes = self.routes[d]
        day = self.days[d]
        best = (math.inf, -1, 0)
        if len([r for r in routes if r]) < day.vehicles:
            cost = float(self.dist[0, c] + self.dist[c, 0])
            if day.limit is not None:
                dur = self.dur_i[0, c] + self.dur_i[c, 0] + self.service_i[c]
                cost += self.pen_dur * max(0.0, dur - day.limit)
            cost += self.pen_load * max(0.0, self.demand[c] - day.capacity)
            best = (cost, len(routes), 0)
        live = [(k, r) for k, r in enumerate(routes) if r]
        if not live:
            return best
        prev_l: list[int] = []
        nxt_l: list[int] = []
        rid_l: list[int] = []
        pos_l: list[int] = []
        loads = np.empty(len(live))
        durs = np.zeros(len(live))
        for j, (_, r) in enumerate(live):
            seq = [0, *r, 0]
            prev_l.extend(seq[:-1])
            nxt_l.extend(seq[1:])
            rid_l.extend([j] * (len(seq) - 1))
            pos_l.extend(range(len(seq) - 1))
            loads[j] = self.demand[r].sum()
            if day.limit is not None:
                durs[j] = self.dur_i[seq[:-1], seq[1:]].sum() + self.service_i[r].sum()
        prev = np.array(prev_l)
        nxt = np.array(nxt_l)
        rid = np.array(rid_l)
        delta = self.dist[prev, c] + self.dist[c, nxt] - self.dist[prev, nxt]
        over_now = np.maximum(0.0, loads - day.capacity)
        over_new = np.maximum(0.0, loads + self.demand[c] - day.capacity)
        delta = delta + self.pen_load * (over_new - over_now)[rid]
        if day.limit is not None:
            ddur = (
                self.dur_i[prev, c] + self.dur_i[c, nxt] - self.dur_i[prev, nxt] + self.service_i[c]
            )
            now = np.maximum(0.0, durs - day.limit)[rid]
            new = np.maximum(0.0, durs[rid] + ddur - day.limit)
            delta = delta + self.pen_dur * (new - now)
        i = int(np.argmin(delta))
        if delta[i] < best[0]:
            best = (float(delta[i]), live[rid[i]][0], pos_l[i])
        return best

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
        self.pattern[c] = -1
        return touched

    # ---------------------------------------------------------------- phases

    def construct(self) -> None:
        """Greedy patterns and routes, then local search on every day."""
        p = self.p
        tie = self.rng.random(len(self.customers))
        order = sorted(
            self.customers,
            key=lambda c: (len(p.patterns[c]), -p.frequency(c) * p.demand[c], tie[c - 1]),
        )
        for c in order:
            self.insert(c)
        for d in range(p.horizon):
            self.routes[d] = self.days[d].local_search(self.routes[d], self.ce, self.seed + d)
        self._remember_if_best(self.objective())

    def objective(self) -> float:
        return sum(self.day_objective(d) for d in range(self.p.horizon))

    def _remember_if_best(self, obj: float) -> None:
        if obj < self.best_obj - _EPS and self._feasible():
            self.best_obj = obj
            self.best_days = [[list(r) for r in routes] for routes in self.routes]
            self.best_pattern = list(self.pattern)
        elif not self.best_days:
            self.best_days = [[list(r) for r in routes] for routes in self.routes]
            self.best_pattern = list(self.pattern)

    def _feasible(self) -> bool:
        return not violations(self.p, self.routes)

    def run(self, budget: _Budget) -> None:
        """The large-neighbourhood search loop."""
        n = len(self.customers)
        if n == 0:
            return
        current = self.objective()
        temp0 = float(__import__("os").environ.get("T0", "1.0")) * current / max(1, n)
        k_max = max(2, min(30, n // 5 + 2))
        while True:
            prog = budget.progress(self.iteration)
            if prog >= 1.0:
                break
            self.iteration += 1
            removed = self._choose_removal(k_max)
            saved = {d: [list(r) for r in self.routes[d]] for d in range(self.p.horizon)}
            saved_pattern = {c: self.pattern[c] for c in removed}
            touched: set[int] = set()
            for c in removed:
                touched |= self.remove(c)
            order = list(removed)
            self.rng.shuffle(order)
            if self.rng.random() < 0.5:
                order.sort(key=lambda c: -self.dist[0, c])
            for c in order:
                self.insert(c, noise=0.1 if self.rng.random() < 0.3 else 0.0)
                touched |= set(self.p.patterns[c][self.pattern[c]])
            for d in sorted(touched):
                self.routes[d] = self.days[d].local_search(self.routes[d], self.ce, self.seed + d)
            cand = self.objective()
            temp = temp0 * (1.0 - prog)
            if cand < current - _EPS or (
                temp > 0 and self.rng.random() < math.exp(-(cand - current) / temp)
            ):
                current = cand
                self._remember_if_best(cand)
            else:
                for d in touched:
                    self.routes[d] = saved[d]
                for c, k in saved_pattern.items():
                    self.pattern[c] = k

    def _choose_removal(self, k_max: int) -> list[int]:
        n = len(self.customers)
        k = int(self.rng.integers(min(2, n), k_max + 1))
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

    def polish(self, budget: _Budget, iterations: int | None) -> None:
        """Short PyVRP iterated local search on each day of the best plan."""
        if not self.best_days or not self._best_is_feasible():
            return
        days = self.best_days
        for d in range(self.p.horizon):
            if not any(days[d]) or self.days[d].data is None:
                continue
            size = sum(len(r) for r in days[d])
            iters = iterations if iterations is not None else 200 + 20 * size
            left = budget.remaining()
            secs = None if left is None else left / (self.p.horizon - d)
            if iters <= 0 or (secs is not None and secs <= 0.01):
                continue
            new = self.days[d].polish(days[d], seed=self.seed + d, iterations=iters, seconds=secs)
            before = sum(self._route_obj(d, r) for r in days[d] if r)
            after = sum(self._route_obj(d, r) for r in new if r)
            if after < before - _EPS:
                days[d] = new

    def _best_is_feasible(self) -> bool:
        return not violations(self.p, self.best_days)
