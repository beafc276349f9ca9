"""The one rule for "due": when an account should next be visited.

An account has a visit-frequency target when ``visit_every_days`` is set and
positive. It is *due* on a day when it has a target and was never visited, or
its last visit plus the target is on or before that day. My day's
suggestions, the planner's "due" visits and the reports' coverage ("covered"
means not due today) all use this module, so they count the same accounts.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["due_date", "due_mask", "has_target_mask"]


def due_date(last_visit: dt.date | None, every_days: float | None) -> dt.date | None:
    """When an account is next due for a visit.

    Parameters
    ----------
    last_visit
        Date of the last visit, if any.
    every_days
        Target days between visits, if any.

    Returns
    -------
    datetime.date or None
        ``last_visit + every_days``; ``date.min`` (due now) for an account with
        a target but no visit yet; ``None`` without a target (also for a
        target of zero or less, or NaN).
    """
    if every_days is None or (isinstance(every_days, float) and math.isnan(every_days)):
        return None
    if every_days <= 0:
        return None
    if last_visit is None:
        return dt.date.min
    return last_visit + dt.timedelta(days=int(every_days))


def _last_visits(values: Sequence[object] | pd.Series) -> np.ndarray:
    out: np.ndarray = (
        pd.to_datetime(pd.Series(values), errors="coerce").to_numpy().astype("datetime64[D]")
    )
    return out


def has_target_mask(accounts: pd.DataFrame) -> np.ndarray:
    """Per account: whether it has a visit-frequency target (boolean array)."""
    every = pd.to_numeric(accounts["visit_every_days"], errors="coerce").to_numpy(float)
    out: np.ndarray = np.isfinite(every) & (every > 0)
    return out


def due_mask(accounts: pd.DataFrame, *, on: dt.date) -> np.ndarray:
    """Per account: whether it is due on (or before) a day.

    Parameters
    ----------
    accounts
        Accounts with ``visit_every_days`` and ``last_visit`` columns.
    on
        The day.

    Returns
    -------
    numpy.ndarray
        Booleans in row order: a target, and never visited or
        ``last_visit + visit_every_days <= on``.
    """
    if len(accounts) == 0:
        return np.zeros(0, dtype=bool)
    every = pd.to_numeric(accounts["visit_every_days"], errors="coerce").to_numpy(float)
    target = has_target_mask(accounts)
    last = (
        _last_visits(accounts["last_visit"])
        if "last_visit" in accounts.columns
        else np.full(len(accounts), np.datetime64("NaT"), dtype="datetime64[D]")
    )
    age = (np.datetime64(on, "D") - last).astype("timedelta64[D]").astype(float)
    age[np.isnat(last)] = np.inf
    out: np.ndarray = target & (age >= np.where(target, every, 0))
    return out
