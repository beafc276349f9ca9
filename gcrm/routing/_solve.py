"""Solving a routing model with PyVRP: budget, two searches on two cores, fallback.

The budget is work, not wall time (see :class:`gcrm.routing.PlanOptions`).
Large models run two searches with seeds ``seed`` and ``seed + 1`` in two
processes and keep the better plan (the first on a tie).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from pyvrp import PenaltyParams, Solution, SolveParams, solve
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

from gcrm import plan_budget
from gcrm.routing._model import RoutingModel
from gcrm.routing.problem import PlanOptions

_DEFAULT_OPTIONS = PlanOptions()  # the default options (immutable)


@dataclass
class ModelSolution:
    """PyVRP's answer, mapped back.

    Attributes
    ----------
    routes
        ``(vehicle type, [client indices])`` of every non-empty route.
    feasible, cost, iterations, seconds
        From PyVRP.
    fallback
        Whether required visits had to be made optional.
    """

    routes: list[tuple[int, list[int]]]
    feasible: bool
    cost: float
    iterations: int
    seconds: float
    fallback: bool = False


def solve_model(model: RoutingModel, options: PlanOptions = _DEFAULT_OPTIONS) -> ModelSolution:
    """Solve a routing model with PyVRP.

    Parameters
    ----------
    model
        From :func:`build_model`.
    options
        Budget (iterations, early stop, wall-time cap), seed and searches.

    Returns
    -------
    ModelSolution
        The routes. If no feasible solution holds every required visit, the
        model is solved again with required visits as optional ones of a huge
        prize (``fallback``), with the same budget.
    """
    if model.data is None:
        return ModelSolution([], True, 0.0, 0, 0.0)
    res = _search(model.data, options)
    fallback = False
    if not res.feasible and any(v.is_required for v in model.visits):
        res = _search(model.with_required_as_prizes().data, options)
        fallback = True
    return ModelSolution(
        res.routes if res.feasible else [],
        res.feasible,
        res.cost if res.feasible else math.inf,
        res.iterations,
        res.seconds,
        fallback,
    )


@dataclass(frozen=True)
class _Run:
    """One PyVRP search, in a form that crosses process boundaries."""

    routes: list[tuple[int, list[int]]]
    feasible: bool
    cost: float
    iterations: int
    seconds: float


def _one_search(data: Any, options: PlanOptions, seed: int) -> _Run:
    n = data.num_clients
    res = pyvrp_solve(
        data,
        options.time_limit(n),
        dataclasses.replace(options, seed=seed, iterations=options.iteration_budget(n)),
        prizes=True,
        patience=options.patience(n),
    )
    best = res.best
    routes: list[tuple[int, list[int]]] = []
    if best.is_feasible():
        for r in best.routes():
            clients = [a.idx for a in r if a.is_client()]
            if clients:
                routes.append((r.vehicle_type(), clients))
    cost = float(res.cost()) if best.is_feasible() else math.inf
    return _Run(routes, best.is_feasible(), cost, res.num_iterations, res.runtime)


def _search(data: Any, options: PlanOptions) -> _Run:
    """One search, or two on two cores (seeds ``seed``, ``seed + 1``), best kept.

    Each search stops on its own iteration budget, so the result does not
    depend on which finishes first: the better cost wins, the first seed on
    a tie.
    """
    if options.searches(data.num_clients) < 2:
        return _one_search(data, options, options.seed)
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        other = pool.submit(_one_search, data, options, options.seed + 1)
        first = _one_search(data, options, options.seed)
        second = other.result()
    best = first if (first.feasible, -first.cost) >= (second.feasible, -second.cost) else second
    return dataclasses.replace(
        best,
        iterations=first.iterations + second.iterations,
        seconds=time.perf_counter() - t0,
    )


def pyvrp_solve(
    data: Any,
    seconds: float,
    options: PlanOptions,
    *,
    prizes: bool = False,
    patience: int | None = None,
) -> Any:
    """Run PyVRP; with ``prizes``, penalties can outgrow every prize.

    PyVRP caps its penalty weights (per unit of time warp or excess load) at
    ``1e5`` by default. A prize above the cap makes breaking a window or a
    restriction pay off, and the search may never find a feasible plan: the
    cap is raised to a hundred times the largest prize, and the search starts
    from the empty plan (feasible when nothing is required). ``patience``
    stops the search after that many iterations without improvement.
    """
    criteria: list[Any] = [MaxRuntime(max(seconds, 0.01))]
    if options.iterations is not None:
        criteria.append(MaxIterations(options.iterations))
    if patience is not None:
        criteria.append(plan_budget.SignificantNoImprovement(patience))
    stop: Any = criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)
    kw: dict[str, Any] = {}
    if prizes:
        top = max((c.prize for c in data.clients()), default=0)
        cap = max(PenaltyParams().max_penalty, 100.0 * top)
        kw["params"] = SolveParams(penalty=PenaltyParams(max_penalty=cap))
        kw["initial_solution"] = Solution(data, [])
    with warnings.catch_warnings():
        # Infeasible runs are handled by the caller (fallback solve, reports).
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return solve(data, stop=stop, seed=options.seed, collect_stats=False, display=False, **kw)
