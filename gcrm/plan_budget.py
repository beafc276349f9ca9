"""The planner's default budget in work, not wall time.

A search stops on whichever comes first:

- an iteration budget that grows with the number of PyVRP clients
  (:func:`iteration_budget`);
- a run of :func:`patience` iterations without a *significant* improvement
  (:class:`SignificantNoImprovement`): a better plan that saves less than
  :data:`MIN_GAIN` cost units (five minutes of driving; metres with the
  distance objective) does not restart the count. Late gains of a few
  seconds of driving no longer keep a converged search going, while a search
  that still collects visit value (every visit's prize is worth at least ten
  minutes) keeps its budget.

Both depend on iterations only, so a plan repeats for a seed whatever the
machine's load. Measured on the demo (``benchmarks/plan_bench.py``): 25 stops
stop after about 450 iterations; the two searches of the 200-stop day after
13,400 iterations in all (was 18,300 with every gain counted: the same
visits, about 2% more driving); 3 reps x 5 days x 300 visits keep improving
until the budget.
"""

from __future__ import annotations

#: Default iteration budget per search: base + per client.
ITER_BASE = 1_000
ITER_PER_CLIENT = 30

#: Default patience: base + per client + clients² / square.
PATIENCE_BASE = 300
PATIENCE_PER_CLIENT = 3
PATIENCE_SQUARE = 60

#: Smallest cost gain (seconds of travel, or metres) that restarts the patience.
MIN_GAIN = 300


def iteration_budget(n_clients: int) -> int:
    """Default iterations per search for a model of ``n_clients`` PyVRP clients."""
    return int(ITER_BASE + ITER_PER_CLIENT * n_clients)


def patience(n_clients: int) -> int:
    """Default iterations without a significant improvement before a search stops."""
    n = n_clients
    return int(PATIENCE_BASE + PATIENCE_PER_CLIENT * n + n * n / PATIENCE_SQUARE)


class SignificantNoImprovement:
    """PyVRP stopping criterion: no gain above ``min_gain`` for ``patience`` iterations.

    Like :class:`pyvrp.stop.NoImprovement`, but a new best cost restarts the
    count only when it is lower than the last counted one by more than
    ``min_gain`` cost units.

    Parameters
    ----------
    patience
        Iterations without a significant improvement before stopping.
    min_gain
        Cost units a gain must exceed (``0``: any improvement, as
        ``NoImprovement``).
    """

    def __init__(self, patience: int, min_gain: float = MIN_GAIN) -> None:
        if patience < 0 or min_gain < 0:
            msg = f"patience ({patience}) and min_gain ({min_gain}) must not be negative"
            raise ValueError(msg)
        self._patience = patience
        self._min_gain = min_gain
        self._target: float | None = None
        self._counter = 0

    def __call__(self, best_cost: float) -> bool:
        """Record this iteration's best cost; return whether to stop."""
        t = self._target
        if t is None or t - best_cost > self._min_gain:
            self._target = best_cost
            self._counter = 0
        else:
            self._counter += 1
        return self._counter >= self._patience
