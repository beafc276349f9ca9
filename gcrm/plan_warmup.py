"""Warm a planning process up before its first plan.

The first plan of a process pays for work that is not solving: importing the
solver (PyVRP) and indexing the road graph for snapping and matrices (arrays,
spatial tree, packed sparse graph). :func:`warm_up` does that ahead of time, so
a page can start it in the background while the user is still choosing visits
and the first Optimise costs what a later one does.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

from gcrm._errors import GcrmError
from gcrm.matrix import travel_matrix

if TYPE_CHECKING:
    import networkx as nx

#: Modules the first plan imports lazily (heavy optional dependencies).
PLANNING_MODULES = ("pyvrp", "pyvrp.stop", "scipy.sparse.csgraph")


def warm_up(G: nx.MultiDiGraph) -> int:
    """Import the solver and index ``G`` for travel matrices.

    Parameters
    ----------
    G
        The road graph later plans use (the index is cached per graph).

    Returns
    -------
    int
        Number of graph nodes used for the two-point matrix (0 for an empty
        graph, which is left for the planner to report).
    """
    for name in PLANNING_MODULES:
        importlib.import_module(name)
    nodes = list(G.nodes)[:2]
    if len(nodes) < 2:
        return 0
    lats = [float(G.nodes[n]["y"]) for n in nodes]
    lons = [float(G.nodes[n]["x"]) for n in nodes]
    travel_matrix(G, lats, lons, weight="time")
    return len(nodes)


def warm_up_in_background(G: nx.MultiDiGraph) -> threading.Thread:
    """Start :func:`warm_up` in a daemon thread and return the thread.

    A failure is left for the first plan to report with its own message (a
    graph without travel times, say): the warm-up only saves time.
    """

    def run() -> None:
        try:
            warm_up(G)
        except GcrmError:
            pass

    thread = threading.Thread(target=run, name="gcrm-plan-warm-up", daemon=True)
    thread.start()
    return thread
