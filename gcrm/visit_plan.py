"""What the Visit plan page shows and does (each call in its own transaction).

The page (``views/visit_plan.py``) lets a manager plan call cycles for their
reps, set visit frequencies by segment or account, and see each rep's saved
cycle: a calendar of days with visits and hours, a day's route map, frequency
compliance and balance figures, and the ICS export.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import pandas as pd

from gcrm.auth import Actor
from gcrm.cycle_plans import (
    add_cycle_appointment,
    cycle_ics,
    cycle_routes,
    cycle_visits,
    plan_and_save,
)
from gcrm.db.session import session_scope
from gcrm.maps import route_map
from gcrm.store import AccountFilter, accounts_frame, list_users, saved_cycles, update_account


def planning_reps(actor: Actor) -> list[str]:
    """Reps the actor may plan for (a manager: their region's; an admin: all).

    Parameters
    ----------
    actor
        The acting user.

    Returns
    -------
    list of str
        Usernames of active reps.
    """
    with session_scope() as s:
        users = list_users(s, actor)
        return [u.username for u in users if u.role == "rep" and u.is_active]


def frequency_table(actor: Actor) -> pd.DataFrame:
    """Visit frequencies by segment, over the accounts the actor sees.

    Parameters
    ----------
    actor
        The acting user.

    Returns
    -------
    pandas.DataFrame
        Columns segment, accounts, with_frequency, every_days (most common).
    """
    with session_scope() as s:
        frame = accounts_frame(s, actor, AccountFilter(include_do_not_contact=False))
    seg = frame["segment"].fillna("(none)")
    every = pd.to_numeric(frame["visit_every_days"], errors="coerce")
    rows = []
    for name, idx in seg.groupby(seg).groups.items():
        e = every.loc[idx].dropna()
        rows.append(
            {
                "segment": str(name),
                "accounts": len(idx),
                "with_frequency": len(e),
                "every_days": int(e.mode().iloc[0]) if len(e) else None,
            }
        )
    return pd.DataFrame(rows, columns=["segment", "accounts", "with_frequency", "every_days"])


def set_frequency(
    actor: Actor,
    every_days: int,
    *,
    segment: str | None = None,
    account_ids: Sequence[int] = (),
) -> int:
    """Set the visit frequency of a segment's accounts or of chosen accounts.

    Parameters
    ----------
    actor
        The acting user (needs ``edit`` on each account).
    every_days
        Days between visits (1 to 365).
    segment
        Every account of this segment the actor sees (``"(none)"``: no segment).
    account_ids
        These accounts.

    Returns
    -------
    int
        Accounts changed (all in one transaction).
    """
    with session_scope() as s:
        ids = list(account_ids)
        if segment is not None:
            frame = accounts_frame(s, actor)
            seg = frame["segment"].fillna("(none)")
            ids += [int(i) for i in frame.loc[seg == segment, "id"]]
        for i in dict.fromkeys(ids):
            update_account(s, actor, int(i), {"visit_every_days": int(every_days)})
        return len(dict.fromkeys(ids))


def plan_visits(
    actor: Actor, reps: Sequence[str], start: dt.date, **options: Any
) -> dict[str, Any]:
    """Plan and save call cycles (:func:`gcrm.cycle_plans.plan_and_save`) in one transaction.

    Parameters
    ----------
    actor
        Who plans.
    reps
        Usernames.
    start
        First date.
    **options
        ``weeks``, ``iterations``, ``balance``, ``G``... as for ``plan_and_save``.

    Returns
    -------
    dict
        The saved cycles.
    """
    with session_scope() as s:
        return plan_and_save(s, actor, reps, start, **options)


def add_appointment(actor: Actor, rep: str, account_id: int, when: dt.datetime, *, G: Any) -> dict:
    """Add a fixed appointment to a saved cycle (:func:`gcrm.cycle_plans.add_cycle_appointment`).

    Parameters
    ----------
    actor, rep, account_id, when, G
        As for ``add_cycle_appointment``.

    Returns
    -------
    dict
        The saved cycle with ``changed`` dates.
    """
    with session_scope() as s:
        return add_cycle_appointment(s, actor, rep, account_id, when, G=G)


def saved_for(actor: Actor, rep: str | None = None) -> list[dict[str, Any]]:
    """Return the saved cycles the actor may see (:func:`gcrm.store.saved_cycles`)."""
    with session_scope() as s:
        return saved_cycles(s, actor, rep=rep)


def ics_for(actor: Actor, rep: str | None = None) -> str:
    """Return the saved cycles as iCalendar (:func:`gcrm.cycle_plans.cycle_ics`)."""
    with session_scope() as s:
        return cycle_ics(s, actor, rep=rep)


def calendar_frame(stored: Mapping[str, Any]) -> pd.DataFrame:
    """Return a saved cycle's calendar: one row per working day.

    Parameters
    ----------
    stored
        A saved cycle.

    Returns
    -------
    pandas.DataFrame
        Columns date, weekday, visits, first, last, work_h, drive_min, accounts (names).
    """
    rows = []
    for d in stored["days"]:
        visits = d.get("visits", [])
        day = dt.date.fromisoformat(d["date"])
        rows.append(
            {
                "date": day,
                "weekday": f"{day:%a}",
                "visits": len(d["accounts"]),
                "first": visits[0]["start"][11:16] if visits else "",
                "last": visits[-1]["end"][11:16] if visits else "",
                "work_h": round(d["work_minutes"] / 60, 2),
                "drive_min": d["drive_minutes"],
                "accounts": ", ".join(v["name"] for v in visits),
            }
        )
    cols = ["date", "weekday", "visits", "first", "last", "work_h", "drive_min", "accounts"]
    return pd.DataFrame(rows, columns=cols)


def figures(stored: Mapping[str, Any]) -> dict[str, float]:
    """Frequency compliance and balance of a saved cycle.

    Parameters
    ----------
    stored
        A saved cycle.

    Returns
    -------
    dict
        ``compliance`` (share of accounts with every visit they need),
        ``visits``, ``required`` (visits needed), ``skipped``,
        ``mean_work_h``, ``max_work_h``, ``balance_cv`` (coefficient of
        variation of working hours over working days), ``drive_h``.
    """
    work = [d["work_minutes"] / 60 for d in stored["days"]]
    mean = statistics.fmean(work) if work else 0.0
    sd = statistics.pstdev(work) if len(work) > 1 else 0.0
    visits = sum(len(d["accounts"]) for d in stored["days"])
    return {
        "compliance": float(stored["compliance"]),
        "visits": float(visits),
        "required": float(sum(stored["required_visits"].values())),
        "skipped": float(len(stored["skipped"])),
        "mean_work_h": round(mean, 2),
        "max_work_h": round(max(work, default=0.0), 2),
        "balance_cv": round(sd / mean, 3) if mean else 0.0,
        "drive_h": round(stored["drive_minutes"] / 60, 2),
    }


def day_map(rep: str, stored: Mapping[str, Any], day: dt.date) -> folium.Map:
    """Return the route map of one day of a saved cycle (:func:`gcrm.maps.route_map`)."""
    return route_map(cycle_routes(rep, stored, day=day))


def cycle_accounts(actor: Actor, rep: str, day: dt.date, *, days: int = 1) -> pd.DataFrame:
    """Account rows of a rep's saved cycle visits from ``day`` for ``days`` days (My day).

    Parameters
    ----------
    actor
        The acting user (a rep sees their own cycle, a manager their region's).
    rep
        The rep's username.
    day
        First date.
    days
        Number of dates.

    Returns
    -------
    pandas.DataFrame
        Rows as :func:`gcrm.store.accounts_frame` gives them, in the cycle's
        visiting order (empty when no saved cycle holds those dates).
    """
    with session_scope() as s:
        ids: list[int] = []
        for k in range(max(days, 1)):
            ids += [
                int(v["account_id"]) for v in cycle_visits(s, actor, rep, day + dt.timedelta(k))
            ]
        ids = list(dict.fromkeys(ids))
        if not ids:
            return accounts_frame(s, actor, AccountFilter(ids=[-1]))
        frame = accounts_frame(s, actor, AccountFilter(ids=ids))
    order = {a: k for k, a in enumerate(ids)}
    return frame.sort_values("id", key=lambda c: c.map(order)).reset_index(drop=True)


def with_cycle_visits(
    actor: Actor, rep: str, day: dt.date, accounts: pd.DataFrame, *, days: int = 1
) -> tuple[pd.DataFrame, list[int]]:
    """Add a rep's saved cycle visits for the dates to an account frame (My day).

    Parameters
    ----------
    actor, rep, day, days
        As for :func:`cycle_accounts`.
    accounts
        The accounts My day ranks (e.g. the rep's own).

    Returns
    -------
    tuple
        The frame with the cycle's accounts it lacked appended, and the
        cycle's account ids in visiting order.
    """
    cycle = cycle_accounts(actor, rep, day, days=days)
    missing = cycle[~cycle["id"].isin(accounts["id"])]
    frame = pd.concat([accounts, missing], ignore_index=True) if len(missing) else accounts
    return frame, [int(i) for i in cycle["id"]]
