"""The planner's warm-up: solver imported and the road graph indexed before the first plan."""

from __future__ import annotations

import sys
import threading

import networkx as nx

from gcrm import network
from gcrm.plan_warmup import PLANNING_MODULES, warm_up, warm_up_in_background


def test_warm_up_indexes_the_graph_and_imports_the_solver(graph) -> None:  # type: ignore[no-untyped-def]
    """After the warm-up the graph's index holds the packed matrix graph and PyVRP is loaded."""
    G = graph.copy()  # a graph no other test has indexed
    assert G not in network._INDEXES
    assert warm_up(G) == 2
    assert "packed:time" in network._INDEXES[G].cache
    assert all(name in sys.modules for name in PLANNING_MODULES)


def test_a_failed_warm_up_is_left_for_the_plan_to_report() -> None:
    """A graph without travel times does not raise in the background thread."""
    G = nx.MultiDiGraph()
    G.add_node(1, x=24.94, y=60.17)
    G.add_node(2, x=24.95, y=60.17)
    G.add_edge(1, 2, length=500.0)
    errors: list[BaseException] = []
    hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        warm_up_in_background(G).join(timeout=60)
    finally:
        threading.excepthook = hook
    assert errors == []
    assert warm_up(nx.MultiDiGraph()) == 0
