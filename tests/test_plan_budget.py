"""The default planning budget: iterations, patience and the significant-gain early stop."""

from __future__ import annotations

import pytest

from gcrm import plan_budget
from gcrm.plan_budget import MIN_GAIN, SignificantNoImprovement
from gcrm.routing import PlanOptions


def _stops_at(criterion: SignificantNoImprovement, costs: list[float]) -> int | None:
    for i, c in enumerate(costs, start=1):
        if criterion(c):
            return i
    return None


def test_small_gains_do_not_restart_the_count() -> None:
    """Gains of a few seconds of driving each (under MIN_GAIN in all) do not keep a
    search going."""
    costs = [100_000.0] * 3 + [99_990.0 - k for k in range(20)]  # 10 s, then 1 s a step
    assert _stops_at(SignificantNoImprovement(5), costs) == 6


def test_gains_add_up_until_they_count() -> None:
    """Small gains count once they add up to more than MIN_GAIN since the last count."""
    step = MIN_GAIN / 4 + 1  # the fourth step passes MIN_GAIN
    costs = [100_000.0 - k * step for k in range(12)]
    assert _stops_at(SignificantNoImprovement(5), costs) is None
    assert _stops_at(SignificantNoImprovement(3), costs) == 4


def test_a_visit_more_restarts_the_count() -> None:
    """A gain above MIN_GAIN (a visit's prize) restarts it; with min_gain=0 any gain does."""
    costs = [100_000.0] * 4 + [99_000.0] * 10
    assert _stops_at(SignificantNoImprovement(5), costs) == 10
    creeping = [100_000.0 - k for k in range(20)]
    assert _stops_at(SignificantNoImprovement(5, min_gain=0), creeping) is None
    assert _stops_at(SignificantNoImprovement(5), creeping) == 6
    with pytest.raises(ValueError, match="patience"):
        SignificantNoImprovement(-1)


def test_plan_options_use_the_budget() -> None:
    """PlanOptions' defaults come from plan_budget; explicit values win."""
    assert PlanOptions().iteration_budget(120) == plan_budget.iteration_budget(120) == 4_600
    assert PlanOptions().patience(120) == plan_budget.patience(120) == 300 + 360 + 240
    assert PlanOptions(iterations=7, no_improvement=0).iteration_budget(120) == 7
    assert PlanOptions(no_improvement=0).patience(120) is None
