"""Solving benchmark instances (TSPLIB, Solomon, VRPLIB) with PyVRP.

:func:`solve_instance` solves instances read by :mod:`gcrm.bench.instances`
(the ``solve`` command: :func:`solve_instance_file`). A single tour without
time windows is first solved by PyVRP and then improved by an iterated 2-opt /
Or-opt local search (:func:`gcrm.bench.tour.improve_tour`; PyVRP has no
intra-route 2-opt). Not on the product's planning path.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyvrp import Client, Depot, Location, ProblemData, VehicleType

from gcrm._errors import InputError
from gcrm.bench.instances import (
    Instance,
    check_solution,
    read_instance,
    route_cost,
    scale_of,
    scaled,
)
from gcrm.bench.tour import improve_tour
from gcrm.routing import PlanOptions, pyvrp_solve

#: Largest benchmark instance :func:`solve_instance` accepts (full matrices).
MAX_INSTANCE_NODES = 5000

_MAX_TOUR_SEARCH = 3000  # largest tour the pure-Python 2-opt/Or-opt search improves


@dataclass
class InstanceSolution:
    """A solution of a benchmark instance.

    Attributes
    ----------
    routes
        Routes in the file's node numbers, depot excluded (a TSPLIB tour lists
        every city once, from the first city).
    cost
        Recomputed from the instance with its own rounding convention.
    feasible
        Whether :func:`gcrm.bench.instances.check_solution` found no violation.
    seconds, iterations
        Solver figures.
    """

    routes: list[list[int]]
    cost: float
    feasible: bool
    seconds: float
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        """Return the ``solve`` command's output: ``routes`` and ``cost``."""
        cost: float | int = int(self.cost) if float(self.cost).is_integer() else self.cost
        return {"routes": self.routes, "cost": cost}


def instance_data(inst: Instance) -> tuple[Any, int]:
    """PyVRP data of a benchmark instance, and the integer scale used.

    Distances are scaled to integers by :func:`gcrm.bench.instances.scale_of` and
    rounded to nearest; travel times (equal to distances) are rounded up
    except under a convention that defines them rounded (``nint``,
    ``dimacs``), where they are exact.

    Parameters
    ----------
    inst
        The instance.

    Returns
    -------
    data, scale
        ``pyvrp.ProblemData`` and the scale.
    """
    s = scale_of(inst)
    d = inst.distances()
    dist = scaled(d, s)
    dur = scaled(d, s, up=True) if inst.has_time_windows else np.zeros_like(dist)
    n = inst.dimension
    if len(inst.coords):
        locs = [Location(float(x), float(y)) for x, y in inst.coords]
    else:
        locs = [Location(0.0, 0.0) for _ in range(n)]
    demands = inst.demands if inst.demands is not None else np.zeros(n, dtype=np.int64)
    cap = [int(inst.capacity)] if inst.capacity else []
    tw = inst.has_time_windows
    ready = scaled(inst.ready, s) if tw and inst.ready is not None else None
    due = scaled(inst.due, s) if tw and inst.due is not None else None
    serv = scaled(inst.service, s, up=True) if tw and inst.service is not None else None
    clients = []
    for i in range(1, n):
        kw: dict[str, Any] = {}
        if cap:
            kw["delivery"] = [int(demands[i])]
        if tw:
            assert ready is not None and due is not None and serv is not None
            kw.update(service_duration=int(serv[i]), tw_early=int(ready[i]), tw_late=int(due[i]))
        clients.append(Client(i, **kw))
    dkw: dict[str, Any] = {}
    vkw: dict[str, Any] = {}
    if tw:
        assert ready is not None and due is not None
        dkw = {"tw_early": int(ready[0]), "tw_late": int(due[0])}
        vkw = {"tw_early": int(ready[0]), "tw_late": int(due[0])}
    fleet = inst.num_vehicles or (n - 1)
    vt = VehicleType(fleet, capacity=cap, start_depot=0, end_depot=0, **vkw)
    data = ProblemData(
        locs,
        clients,
        [Depot(0, **dkw)],
        [vt],
        [dist],  # type: ignore[list-item]  # PyVRP's stub: ndarray[int]
        [dur],  # type: ignore[list-item]
    )
    return data, s


def solve_instance(
    inst: Instance, *, seconds: float, seed: int = 0, iterations: int | None = None
) -> InstanceSolution:
    """Solve a benchmark instance (TSP, CVRP or VRPTW, distance objective).

    Parameters
    ----------
    inst
        From :func:`gcrm.bench.instances.read_instance`.
    seconds
        Time limit.
    seed
        Random seed.
    iterations
        PyVRP iteration budget (deterministic runs).

    Returns
    -------
    InstanceSolution
        Routes and the recomputed cost.

    Notes
    -----
    The fleet is the file's vehicle count (unbounded when absent); vehicles
    cost nothing, so the distance is minimised with the fleet size free, as
    in the distance-only best-known solutions. A TSP gets 35% of the time in
    PyVRP and the rest in :func:`improve_tour` (2-opt and Or-opt moves with
    neighbour lists, and segment double-bridge kicks).
    """
    if inst.dimension > MAX_INSTANCE_NODES:
        msg = (
            f"instance {inst.name} has {inst.dimension} nodes: at most {MAX_INSTANCE_NODES} "
            "are solved (the solver holds full distance matrices)"
        )
        raise InputError(msg)
    t0 = time.perf_counter()
    data, _ = instance_data(inst)
    opts = PlanOptions(seconds=seconds, seed=seed, iterations=iterations)
    single_tour = inst.kind == "tsp" and not inst.has_time_windows
    budget = seconds * 0.35 if single_tour and inst.dimension > 8 else seconds
    res = pyvrp_solve(data, budget, dataclasses.replace(opts, seconds=budget))
    pos_routes = [[a.idx + 1 for a in r if a.is_client()] for r in res.best.routes()]
    if single_tour:
        tour = [0, *(pos_routes[0] if pos_routes else [])]
        missing = sorted(set(range(inst.dimension)) - set(tour))
        tour += missing
        left = seconds - (time.perf_counter() - t0)
        if 3 < inst.dimension <= _MAX_TOUR_SEARCH and left > 0:
            tour = improve_tour(inst.distances(), tour, seconds=left, seed=seed)
        k = tour.index(0)
        tour = tour[k:] + tour[:k]
        if inst.fmt == "tsplib":
            routes = [[inst.node_ids[c] for c in tour]]
        else:
            routes = [[inst.node_ids[c] for c in tour[1:]]]
    else:
        routes = [[inst.node_ids[c] for c in r] for r in pos_routes if r]
    cost = route_cost(inst, routes)
    feasible = not check_solution(inst, routes)
    return InstanceSolution(
        routes, cost, feasible, time.perf_counter() - t0, int(res.num_iterations)
    )


def solve_instance_file(
    instance: str | Path,
    *,
    seconds: float,
    output: str | Path | None = None,
    seed: int = 0,
    rounding: str | None = None,
) -> dict[str, Any]:
    """Run ``python -m gcrm solve INSTANCE --seconds S --output sol.json``.

    Parameters
    ----------
    instance
        A TSPLIB ``.tsp``, Solomon ``.txt`` or VRPLIB ``.vrp`` file.
    seconds
        Time limit.
    output
        Where to write ``{"routes": [[...], ...], "cost": ...}``.
    seed
        Random seed.
    rounding
        Override the file's distance convention (``nint``, ``exact``,
        ``dimacs``).

    Returns
    -------
    dict
        What was written: ``routes`` in the file's node numbers (depot
        excluded; a TSPLIB tour lists every city once) and the ``cost``
        recomputed from the instance. Note that VRPLIB ``.sol`` files number
        clients one lower than the ``.vrp`` file does (depot 0); see
        :func:`gcrm.bench.instances.read_solution`.

    Raises
    ------
    InputError
        For an unreadable instance or a non-positive time limit.
    """
    if seconds <= 0:
        raise InputError("seconds must be positive")
    inst = read_instance(instance, rounding=rounding)
    sol = solve_instance(inst, seconds=seconds, seed=seed)
    out = sol.to_dict()
    if output is not None:
        Path(output).write_text(json.dumps(out), encoding="utf-8")
    return out
