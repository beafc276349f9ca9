"""What the My day page does: the rep's accounts, planning, the day's stops."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import geopandas as gpd

from gcrm import day_actions, store
from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.routing import plan_for_reps
from gcrm.store import AccountFilter


def reps_to_plan(actor: Actor) -> list[str]:
    """Return the reps the actor plans for: a rep themselves, others the reps they see."""
    if actor.role == "rep":
        return [actor.username]
    with session_scope() as session:
        return [u.username for u in store.list_users(session, actor) if u.role == "rep"]


def rep_accounts(actor: Actor, rep: str) -> tuple[gpd.GeoDataFrame, tuple[float, float] | None]:
    """Return a rep's own accounts and their home base (``(lat, lon)`` or ``None``)."""
    with session_scope() as session:
        accounts = store.accounts_frame(session, actor, AccountFilter(owners=[rep]))
        rep_user = store.get_user(session, rep)
    if rep_user is None or rep_user.home_lat is None or rep_user.home_lon is None:
        return accounts, None
    return accounts, (float(rep_user.home_lat), float(rep_user.home_lon))


def plan_day(
    actor: Actor, rep: str, day: dt.date, *, days: int, selected: Iterable[int], G: Any
) -> Any:
    """Plan the chosen visits over the road network (see :func:`gcrm.routing.plan_for_reps`).

    Returns
    -------
    gcrm.routing.Plan
        The plan (not saved yet: see :func:`save_plan`).
    """
    with session_scope() as session:
        return plan_for_reps(
            session, actor, [rep], day, days=days, due=False, selected=selected, G=G
        )


def save_plan(actor: Actor, plan: Any) -> None:
    """Save each route of a plan as its rep's plan for its day (:func:`gcrm.store.save_plan`)."""
    with session_scope() as session:
        store.save_plan(session, actor, plan)


def mark_done(actor: Actor, plan: Any, **stop: Any) -> Any:
    """Mark a stop done and log the visit (see :func:`gcrm.day_actions.mark_done`).

    Parameters
    ----------
    actor
        The acting user.
    plan
        The current plan.
    **stop
        ``rep``, ``day``, ``visit_id`` and optionally ``outcome`` and ``notes``.

    Returns
    -------
    gcrm.routing.Plan
        The changed plan.
    """
    with session_scope() as session:
        return day_actions.mark_done(plan, session=session, actor=actor, **stop)


def check_in(
    actor: Actor,
    plan: Any,
    stop: Any,
    route: Any,
    *,
    kind: str,
    position: tuple[float, float] | None,
    accuracy_m: float | None,
) -> tuple[day_actions.CheckIn, Any]:
    """Record a check-in or check-out at a stop; a check-out also marks it done.

    Both happen in one transaction (see :func:`gcrm.day_actions.check_in`).

    Returns
    -------
    tuple
        ``(check-in, plan)``: the plan with the stop done after a check-out,
        else ``None``.
    """
    with session_scope() as session:
        ci = day_actions.check_in(
            session, actor, int(stop.account_id), kind=kind, position=position,
            accuracy_m=accuracy_m, visit_day=route.date,
        )  # fmt: skip
        new = None
        if kind == "out":
            new = day_actions.mark_done(
                plan, rep=route.rep, day=route.date, visit_id=stop.visit_id,
                session=session, actor=actor,
            )  # fmt: skip
    return ci, new


def stop_phones(actor: Actor, account_ids: Iterable[int]) -> dict[int, str]:
    """Return the phone numbers of a route's accounts (see :func:`gcrm.day_actions.stop_phones`)."""
    with session_scope() as session:
        return day_actions.stop_phones(session, actor, account_ids)


def audit_download(actor: Actor, plan: Any, *, filename: str, data: bytes | str) -> None:
    """Record a download of a plan in the audit log (:func:`gcrm.day_actions.audit_download`)."""
    with session_scope() as session:
        day_actions.audit_download(session, actor, plan, filename=filename, data=data)
