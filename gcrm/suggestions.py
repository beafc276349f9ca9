"""Today's suggested visits: due, open that day, most valuable first.

One rule for My day, the planner and the reports: "due" comes from
:mod:`gcrm.due`; "open" from the account's OSM ``opening_hours`` (an account
is open on a day when the whole visit fits in an open interval of that day,
as the planner requires); "valuable" is the potential value. A suggestion
must also be plannable: located and not do-not-contact. An account a campaign
asks the rep to visit (a ``campaign`` column, :mod:`gcrm.campaign_tasks`) is
suggested like a due one, and first.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from gcrm.due import due_mask
from gcrm.routing import Visit, visit_windows

__all__ = ["SuggestionCounts", "suggest_visits", "suggestion_counts"]


def _open_any_day(opening_hours: object, minutes: float, days: list[dt.date]) -> bool:
    if not isinstance(opening_hours, str) or not opening_hours.strip():
        return True
    v = Visit(id="x", lat=0.0, lon=0.0, minutes=minutes, opening_hours=opening_hours)
    return any(visit_windows(v, d) for d in days)


def suggest_visits(
    accounts: pd.DataFrame, *, day: dt.date, days: int = 1, limit: int | None = None
) -> pd.DataFrame:
    """Rank accounts for a rep's day and mark the suggested ones.

    Parameters
    ----------
    accounts
        Accounts (as from :func:`gcrm.store.accounts_frame`).
    day
        First day planned.
    days
        Number of days planned (due by the last one, open on at least one).
    limit
        Most suggestions (the most valuable first); ``None``: all.

    Returns
    -------
    pandas.DataFrame
        The accounts with boolean columns ``due`` (by the last day),
        ``plannable`` (located, not do-not-contact), ``open`` (the visit fits
        the opening hours on a planned day) and ``suggested`` (all three, at
        most ``limit``), ordered: suggested first, then due, then by value.
        With a ``campaign`` column (:func:`gcrm.campaign_tasks.with_campaign_visits`),
        an account a campaign asks for is a candidate even when not due,
        ranked before the due ones; the boolean ``campaign_visit`` marks them.
    """
    last = day + dt.timedelta(days=max(days, 1) - 1)
    dates = [day + dt.timedelta(days=k) for k in range(max(days, 1))]
    out = accounts.copy()
    out["due"] = due_mask(out, on=last)
    lat = pd.to_numeric(out["lat"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(out["lon"], errors="coerce").to_numpy(float)
    dnc = out["do_not_contact"].fillna(False).astype(bool).to_numpy()
    out["plannable"] = np.isfinite(lat) & np.isfinite(lon) & ~dnc
    minutes = pd.to_numeric(out["visit_minutes"], errors="coerce").fillna(30.0)
    out["open"] = [
        _open_any_day(oh, float(m), dates)
        for oh, m in zip(out["opening_hours"], minutes, strict=True)
    ]
    value = pd.to_numeric(out["potential_value"], errors="coerce").fillna(0.0)
    out["_value"] = value
    asked = out["campaign"].notna().to_numpy() if "campaign" in out.columns else False
    out["campaign_visit"] = np.zeros(len(out), dtype=bool) | asked
    candidate = (out["due"] | out["campaign_visit"]) & out["plannable"] & out["open"]
    out["_cand"] = candidate
    out = out.sort_values(
        ["_cand", "campaign_visit", "due", "_value", "id"],
        ascending=[False, False, False, False, True],
    )
    rank = np.cumsum(out["_cand"].to_numpy())
    keep = out["_cand"].to_numpy() & ((rank <= limit) if limit is not None else True)
    out["suggested"] = keep
    return out.drop(columns=["_cand", "_value"]).reset_index(drop=True)


class SuggestionCounts(dict[str, int]):
    """Counts shown beside the suggestions: ``due``, ``plannable_due``,
    ``open_due``, ``campaign`` and ``suggested``."""


def suggestion_counts(ranked: pd.DataFrame) -> SuggestionCounts:
    """Summarise :func:`suggest_visits` output.

    Parameters
    ----------
    ranked
        Output of :func:`suggest_visits`.

    Returns
    -------
    SuggestionCounts
        ``due`` (every due account, as the reports count them),
        ``plannable_due`` (of those, located and not do-not-contact),
        ``open_due`` (of those, open on a planned day), ``campaign`` (visits
        campaigns ask for, plannable and open) and ``suggested``.
    """
    due = ranked["due"].to_numpy(bool)
    plannable = ranked["plannable"].to_numpy(bool)
    is_open = ranked["open"].to_numpy(bool)
    return SuggestionCounts(
        due=int(due.sum()),
        plannable_due=int((due & plannable).sum()),
        open_due=int((due & plannable & is_open).sum()),
        campaign=int((ranked["campaign_visit"] & ranked["plannable"] & ranked["open"]).sum()),
        suggested=int(ranked["suggested"].sum()),
    )
