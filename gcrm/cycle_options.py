"""The options of a call-cycle run, in one place (:func:`gcrm.cycles.plan_cycles`).

Planning cycles (:func:`gcrm.cycles.plan_cycles`) and planning and saving them
(:func:`gcrm.cycle_plans.plan_and_save`) take the same options: they are the
fields of :class:`CycleOptions`, with their defaults.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class CycleOptions:
    """How call cycles are planned.

    Attributes
    ----------
    weeks
        Horizon, 1 to 8 weeks.
    country
        Public holidays of this country are off (``None``: none).
    absences
        Per username, dates off.
    iterations, seconds, seed
        Solver budget per rep (iterations, and seconds if given) and seed.
    profile
        Road network profile (``drive``, ``walk`` or ``bike``).
    balance
        Cap working days at this multiple of the average day
        (see :func:`gcrm.cycles.plan_rep_cycle`; ``None``: no cap).
    """

    weeks: int = 4
    country: str | None = "FI"
    absences: Mapping[str, Iterable[dt.date]] | None = None
    iterations: int = 200
    seconds: float | None = None
    seed: int = 0
    profile: str = "drive"
    balance: float | None = None

    @classmethod
    def of(cls, options: CycleOptions | None = None, **changes: Any) -> CycleOptions:
        """Return ``options`` (default: the defaults) with some fields changed.

        Parameters
        ----------
        options
            The options to start from.
        **changes
            Fields of :class:`CycleOptions` (an unknown name raises ``TypeError``).

        Returns
        -------
        CycleOptions
            The options.
        """
        return dataclasses.replace(options or cls(), **changes)

    def horizon(self, start: dt.date | str) -> tuple[dt.date, dt.date]:
        """Return the first and last day of the horizon that starts at ``start`` (ISO or date)."""
        first = dt.date.fromisoformat(start) if isinstance(start, str) else start
        return first, first + dt.timedelta(days=7 * self.weeks - 1)
