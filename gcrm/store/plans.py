"""Saved day plans and call cycles, per rep, within the actor's scope."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from sqlalchemy import false, select
from sqlalchemy.orm import Session

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import Actor, require
from gcrm.db.models import (
    CyclePlan,
    SavedPlan,
    User,
)
from gcrm.store.audit_log import audit
from gcrm.store.users import get_user


def save_plan(session: Session, actor: Actor, plan: Any) -> int:
    """Save each route of a plan as its rep's plan for that day (replacing an older one).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``plan``); a rep saves only their own routes.
    plan
        A :class:`gcrm.routing.Plan`.

    Returns
    -------
    int
        Routes saved.
    """
    require(actor, "plan")
    saved = 0
    for route in plan.routes:
        rep = get_user(session, route.rep)
        if rep is None:
            continue
        if actor.role == "rep" and rep.id != actor.id:
            msg = f"user {actor.username!r} may not save {route.rep!r}'s plan"
            raise PermissionDeniedError(msg)
        row = session.scalar(
            select(SavedPlan).where(SavedPlan.rep_id == rep.id, SavedPlan.day == route.date)
        )
        if row is None:
            row = SavedPlan(rep_id=rep.id, day=route.date)
            session.add(row)
        planned = [s for s in route.stops if s.account_id is not None]
        row.created_by = actor.username
        row.created_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        row.stops = len(planned)
        row.drive_s = int(route.drive_s)
        row.distance_m = int(route.distance_m)
        row.account_ids = json.dumps([int(s.account_id) for s in planned])
        row.route_json = json.dumps(route.to_dict(), default=str)
        saved += 1
    session.flush()
    return saved


def saved_plans_frame(session: Session, actor: Actor) -> pd.DataFrame:
    """Return the saved plans the actor may see: a rep their own, a manager their region's.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.

    Returns
    -------
    pandas.DataFrame
        Columns rep, day, stops, drive_s, distance_m, account_ids (list).
    """
    require(actor, "view")
    stmt = select(SavedPlan, User.username).join(User, User.id == SavedPlan.rep_id)
    if actor.role == "rep":
        stmt = stmt.where(SavedPlan.rep_id == actor.id)
    elif actor.role == "manager":
        stmt = stmt.where(
            User.region_id == actor.region_id if actor.region_id is not None else false()
        )
    rows = [
        {
            "rep": username,
            "day": p.day,
            "stops": p.stops,
            "drive_s": p.drive_s,
            "distance_m": p.distance_m,
            "account_ids": json.loads(p.account_ids),
        }
        for p, username in session.execute(stmt.order_by(SavedPlan.day)).all()
    ]
    cols = ["rep", "day", "stops", "drive_s", "distance_m", "account_ids"]
    return pd.DataFrame(rows, columns=cols)


def _cycle_rep(session: Session, actor: Actor, username: str) -> User:
    """Return the rep whose cycle the actor may plan (own; a manager: their region's)."""
    require(actor, "plan")
    rep = get_user(session, username)
    if rep is None:
        msg = f"no user {username!r}"
        raise NotFoundError(msg)
    if actor.role in ("admin", "system") or (actor.role == "rep" and rep.id == actor.id):
        return rep
    if actor.role == "manager" and actor.region_id is not None and rep.region_id == actor.region_id:
        return rep
    msg = f"user {actor.username!r} ({actor.role}) may not plan for {username!r}"
    raise PermissionDeniedError(msg)


def save_cycle_plan(
    session: Session,
    actor: Actor,
    rep: str,
    start: dt.date,
    end: dt.date,
    plan: dict[str, Any],
) -> int:
    """Save a rep's call cycle, replacing saved cycles that overlap its horizon.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user: a rep for themselves, a manager for their region's reps.
    rep
        The rep's username.
    start, end
        The horizon (inclusive).
    plan
        JSON-serialisable plan (see :func:`gcrm.cycle_plans.save_cycles`).

    Returns
    -------
    int
        The saved row's id.

    Raises
    ------
    PermissionDeniedError, NotFoundError, InputError
        Not allowed, no such user, or ``end`` before ``start``.
    """
    user = _cycle_rep(session, actor, rep)
    if end < start:
        msg = f"cycle plan for {rep!r}: end {end} is before start {start}"
        raise InputError(msg)
    old = session.scalars(
        select(CyclePlan).where(
            CyclePlan.rep_id == user.id, CyclePlan.start <= end, CyclePlan.end >= start
        )
    ).all()
    for row in old:
        session.delete(row)
    session.flush()
    row = CyclePlan(
        rep_id=user.id,
        start=start,
        end=end,
        created_by=actor.username,
        plan_json=json.dumps(plan, default=str),
    )
    session.add(row)
    audit(session, actor, "cycle_save", f"user:{user.id}", {"start": start, "end": end})
    session.flush()
    return int(row.id)


def saved_cycles(
    session: Session,
    actor: Actor,
    *,
    rep: str | None = None,
    day: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Return the saved call cycles the actor may see (a rep their own, a manager their region's).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    rep
        Only this rep's.
    day
        Only the cycle whose horizon holds this date.

    Returns
    -------
    list of dict
        ``{"rep", "start", "end", "created_by", "created_at", "plan"}`` by rep and start.
    """
    require(actor, "view")
    stmt = select(CyclePlan, User.username).join(User, User.id == CyclePlan.rep_id)
    if actor.role == "rep":
        stmt = stmt.where(CyclePlan.rep_id == actor.id)
    elif actor.role == "manager":
        stmt = stmt.where(
            User.region_id == actor.region_id if actor.region_id is not None else false()
        )
    if rep is not None:
        stmt = stmt.where(User.username == rep)
    if day is not None:
        stmt = stmt.where(CyclePlan.start <= day, CyclePlan.end >= day)
    rows = session.execute(stmt.order_by(User.username, CyclePlan.start)).all()
    return [
        {
            "rep": username,
            "start": c.start,
            "end": c.end,
            "created_by": c.created_by,
            "created_at": c.created_at,
            "plan": json.loads(c.plan_json),
        }
        for c, username in rows
    ]
