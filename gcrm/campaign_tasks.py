"""Campaign visits and calls where reps work: My day's suggestions and call cycles.

A campaign with the ``visit`` or ``call`` channel leaves one open task per
member for the account's rep (:func:`gcrm.campaigns.launch`). This module
reads a rep's open tasks as the rep may act on them NOW: the account in the
rep's scope and allowed by the contact rule of the task's channel
(:func:`gcrm.store.reachable_ids`; a consent withdrawn or a do-not-contact
set after the launch drops the task). A visit task is done once the account
has been visited since the task was created, or its campaign logged a visit
response; a call task once the campaign logged a call response.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcrm.auth import Actor, actor_for
from gcrm.db import campaign_tables as tables
from gcrm.db.session import session_scope
from gcrm.store import AccountFilter, accounts_frame, audience_frame, reachable_ids

__all__ = [
    "call_list",
    "campaign_calls",
    "cycle_frame",
    "open_tasks",
    "task_accounts",
    "with_campaign_visits",
]


def open_tasks(session: Any, rep: Actor, *, kind: str) -> pd.DataFrame:
    """Return a rep's open campaign tasks of a kind, as the rep may act on them now.

    Parameters
    ----------
    session
        An open session.
    rep
        The rep (their scope and id).
    kind
        ``visit`` or ``call``.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``campaign_id``, ``campaign`` (name), ``created_at``;
        one row per account (the oldest task first; names of every campaign
        asking for it joined by ``", "``).
    """
    cols = ["account_id", "campaign_id", "campaign", "created_at"]
    if rep.id is None:
        return pd.DataFrame(columns=cols)
    tasks = tables.open_tasks_frame(session, rep_id=rep.id, kind=kind)
    if tasks.empty:
        return pd.DataFrame(columns=cols)
    done = tables.responded_pairs(session, kind=kind)
    tasks = tasks[
        [
            (int(c), int(a)) not in done
            for c, a in zip(tasks["campaign_id"], tasks["account_id"], strict=True)
        ]
    ]
    ok = reachable_ids(session, rep, tasks["account_id"].astype(int), channel=kind)
    tasks = tasks[tasks["account_id"].astype(int).isin(ok)]
    if kind == "visit" and not tasks.empty:
        seen = accounts_frame(session, rep, AccountFilter(ids=sorted(ok)))
        last = dict(zip(seen["id"].astype(int), pd.to_datetime(seen["last_visit"]), strict=True))
        visited = [
            pd.notna(last.get(int(a))) and last[int(a)] >= pd.Timestamp(t).normalize()
            for a, t in zip(tasks["account_id"], tasks["created_at"], strict=True)
        ]
        tasks = tasks[~pd.Series(visited, index=tasks.index, dtype=bool)]
    if tasks.empty:
        return pd.DataFrame(columns=cols)
    tasks = tasks.sort_values(["created_at", "campaign_id"])
    names = tasks.groupby("account_id", sort=False)["campaign"].agg(
        lambda s: ", ".join(dict.fromkeys(s))
    )
    first = tasks.drop_duplicates("account_id").set_index("account_id")
    first["campaign"] = names
    return first.reset_index()[cols]


def task_accounts(
    session: Any, rep: Actor, *, kind: str, viewer: Actor | None = None
) -> pd.DataFrame:
    """Return the accounts of a rep's open tasks, oldest task first.

    Parameters
    ----------
    session
        An open session.
    rep
        Whose tasks.
    kind
        ``visit`` or ``call``.
    viewer
        Who reads them (their scope applies too; default the rep).

    Returns
    -------
    pandas.DataFrame
        :func:`gcrm.store.accounts_frame` columns (no geometry) plus
        ``campaign`` (the campaigns asking).
    """
    tasks = open_tasks(session, rep, kind=kind)
    ids = [int(i) for i in tasks["account_id"]] or [-1]
    frame = pd.DataFrame(accounts_frame(session, viewer or rep, AccountFilter(ids=ids)))
    frame = frame.drop(columns="geometry")
    names = dict(zip(tasks["account_id"].astype(int), tasks["campaign"], strict=True))
    order = {a: k for k, a in enumerate(names)}
    frame["campaign"] = frame["id"].astype(int).map(names)
    return frame.sort_values("id", key=lambda c: c.astype(int).map(order)).reset_index(drop=True)


def call_list(session: Any, rep: Actor, *, viewer: Actor | None = None) -> pd.DataFrame:
    """Return a rep's open campaign calls: who to call, the number, which campaign.

    Parameters
    ----------
    session
        An open session.
    rep
        Whose calls.
    viewer
        Who reads them (default the rep).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``name``, ``phone``, ``street``, ``housenumber``, ``city`` and
        ``campaign``, oldest task first.
    """
    tasks = open_tasks(session, rep, kind="call")
    ids = [int(i) for i in tasks["account_id"]] or [-1]
    frame = audience_frame(session, viewer or rep, AccountFilter(ids=ids), channel="call")
    names = dict(zip(tasks["account_id"].astype(int), tasks["campaign"], strict=True))
    order = {a: k for k, a in enumerate(names)}
    frame["campaign"] = frame["id"].astype(int).map(names)
    cols = ["id", "name", "phone", "street", "housenumber", "city", "campaign"]
    frame = frame.sort_values("id", key=lambda c: c.astype(int).map(order))
    return frame[cols].reset_index(drop=True)


def campaign_calls(viewer: Actor, rep: str) -> pd.DataFrame:
    """:func:`call_list` of a rep in its own transaction (My day)."""
    with session_scope() as s:
        return call_list(s, actor_for(s, rep), viewer=viewer)


def with_campaign_visits(viewer: Actor, rep: str, accounts: pd.DataFrame) -> pd.DataFrame:
    """Mark the accounts a campaign asks a rep to visit (My day's suggestions).

    Parameters
    ----------
    viewer
        Who plans the day (the rep, or their manager).
    rep
        The rep's username.
    accounts
        The accounts My day ranks (e.g. the rep's own).

    Returns
    -------
    pandas.DataFrame
        ``accounts`` with a ``campaign`` column (the campaigns asking for a
        visit, or missing), and the task accounts it lacked appended.
    """
    with session_scope() as s:
        tasks = task_accounts(s, actor_for(s, rep), kind="visit", viewer=viewer)
    names = dict(zip(tasks["id"].astype(int), tasks["campaign"], strict=True))
    missing = tasks[~tasks["id"].isin(accounts["id"])]
    frame = pd.concat([accounts, missing], ignore_index=True) if len(missing) else accounts.copy()
    frame["campaign"] = frame["id"].astype(int).map(names)
    return frame


def cycle_frame(session: Any, rep: Actor, *, horizon_days: int) -> pd.DataFrame:
    """Campaign visits as call-cycle rows: each visited once within the horizon.

    Returns
    -------
    pandas.DataFrame
        :func:`task_accounts` rows with ``visit_every_days`` set to the
        horizon and no last visit (so the cycle planner visits each once).
    """
    frame = task_accounts(session, rep, kind="visit")
    return frame.assign(visit_every_days=max(int(horizon_days), 1), last_visit=None)
