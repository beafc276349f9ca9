"""Planning from the store: visits from accounts, reps from users, saved plans.

The only routing module that touches the store. :func:`build_problem` fills a
:class:`gcrm.routing.PlanningProblem` from the accounts due (and those
chosen) in the reps' scopes; :func:`plan_for_reps` plans it, explains the
result and, with ``save=True``, saves each route as its rep's plan for that
day (:func:`gcrm.store.save_plan`), for the app and the CLI alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import Actor, require
from gcrm.due import due_date
from gcrm.plan_notes import explain_plan
from gcrm.routing._times import to_time
from gcrm.routing.plan import DroppedVisit, Plan
from gcrm.routing.planner import plan_routes
from gcrm.routing.problem import (
    REASON_DNC,
    REASON_FULL,
    REASON_NO_LOCATION,
    LunchBreak,
    PlanningProblem,
    PlanOptions,
    Rep,
    Visit,
)
from gcrm.store import AccountFilter, accounts_frame, audit, get_user, save_plan

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session


def visits_from_accounts(
    accounts: Any,
    *,
    start: dt.date,
    days: int = 1,
    due: bool = True,
    selected: Iterable[int] = (),
    required: Iterable[int] = (),
    owner_only: bool = False,
) -> tuple[list[Visit], list[DroppedVisit]]:
    """Turn account rows into visits: those due, plus a selection.

    Parameters
    ----------
    accounts
        A frame with :data:`gcrm.store.ACCOUNT_COLUMNS` (as from
        :func:`gcrm.store.accounts_frame`).
    start
        First planned date.
    days
        Number of planned dates.
    due
        Include accounts due by the last planned date (last visit plus
        ``visit_every_days``).
    selected
        Account ids chosen by a manager or rep (planned even if not due).
    required
        Account ids that must be planned (also selected).
    owner_only
        Only the account's owner (``owner`` column) may visit it.

    Returns
    -------
    visits, dropped
        Visits ``account:<id>``, and the chosen accounts left out (no
        location, do not contact). Do-not-contact accounts are never visits.
    """
    last_day = start + dt.timedelta(days=max(days, 1) - 1)
    sel = {int(x) for x in selected} | {int(x) for x in required}
    req = {int(x) for x in required}
    values = pd.to_numeric(accounts["potential_value"], errors="coerce").fillna(0.0)
    visits: list[Visit] = []
    dropped: list[DroppedVisit] = []
    for row, value in zip(accounts.itertuples(index=False), values, strict=True):
        aid = int(row.id)
        lv = row.last_visit
        if isinstance(lv, str):
            lv = dt.date.fromisoformat(lv)
        elif isinstance(lv, dt.datetime):  # pandas Timestamps too
            lv = None if pd.isna(lv) else lv.date()
        elif not isinstance(lv, dt.date):
            lv = None
        every = row.visit_every_days
        every = None if every is None or pd.isna(every) else int(every)
        d = due_date(lv, every)
        is_due = due and d is not None and d <= last_day
        if not (is_due or aid in sel):
            continue
        name = str(row.name or "")
        if bool(row.do_not_contact):
            dropped.append(DroppedVisit(f"account:{aid}", aid, name, REASON_DNC, aid in req))
            continue
        lat, lon = row.lat, row.lon
        if lat is None or lon is None or not (np.isfinite(lat) and np.isfinite(lon)):
            dropped.append(
                DroppedVisit(f"account:{aid}", aid, name, REASON_NO_LOCATION, aid in req)
            )
            continue
        minutes = row.visit_minutes
        minutes = 30.0 if minutes is None or pd.isna(minutes) else float(minutes)
        address = " ".join(str(x) for x in (row.street, row.housenumber) if x and not pd.isna(x))
        if row.city and not pd.isna(row.city):
            address = f"{address}, {row.city}" if address else str(row.city)
        oh = row.opening_hours if isinstance(row.opening_hours, str) else None
        owner = row.owner if isinstance(row.owner, str) and owner_only else None
        visits.append(
            Visit(
                id=f"account:{aid}",
                lat=float(lat),
                lon=float(lon),
                minutes=minutes,
                name=name,
                account_id=aid,
                opening_hours=oh,
                value=float(value),
                required=aid in req,
                reps=(owner,) if owner else (),
                address=address,
            )
        )
    return visits, dropped


def rep_from_user(
    user: Any,
    *,
    lunch: LunchBreak | None = None,
    max_work_minutes: float | None = None,
    end: tuple[float, float] | None = None,
) -> Rep:
    """Build a :class:`Rep` from a stored user (home base and working hours).

    Parameters
    ----------
    user
        A :class:`gcrm.db.models.User` with ``home_lat``/``home_lon``.
    lunch
        The break; default :class:`LunchBreak` ().
    max_work_minutes
        Longest working day.
    end
        Where days end, if not at home (e.g. the office).

    Returns
    -------
    Rep
        The rep.

    Raises
    ------
    InputError
        If the user has no home base.
    """
    if user.home_lat is None or user.home_lon is None:
        msg = f"user {user.username!r} has no home base: set it before planning"
        raise InputError(msg)
    return Rep(
        id=user.username,
        start=(float(user.home_lat), float(user.home_lon)),
        end=end,
        shift_start=to_time(user.work_start or "08:00"),
        shift_end=to_time(user.work_end or "16:00"),
        max_work_minutes=max_work_minutes,
        lunch=lunch if lunch is not None else LunchBreak(),
        name=user.display_name or user.username,
    )


def plannable_users(session: Session, actor: Actor, names: Iterable[str]) -> list[Any]:
    """Return the stored users named, each active and plannable by ``actor``.

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans.
    names
        User names of the reps, in the order wanted.

    Returns
    -------
    list of User
        In the order of ``names``.

    Raises
    ------
    NotFoundError
        If a name is not an active user.
    PermissionDeniedError
        If the actor may not plan for one of them (:func:`check_can_plan`).
    """
    users = []
    for name in names:
        user = get_user(session, name)
        if user is None or not user.is_active:
            msg = f"no active user {name!r}"
            raise NotFoundError(msg)
        check_can_plan(actor, user)
        users.append(user)
    return users


def check_can_plan(actor: Actor, rep_user: Any) -> None:
    """Check that ``actor`` may plan ``rep_user``'s days.

    A rep plans their own days; a manager those of their region's reps; an
    admin (or the system) anyone's.

    Parameters
    ----------
    actor
        Who plans (needs the ``plan`` permission).
    rep_user
        The stored user to plan for.

    Raises
    ------
    PermissionDeniedError
        If the actor may not plan for that user.
    """
    require(actor, "plan")
    if actor.role in ("admin", "system"):
        return
    if actor.role == "rep" and rep_user.id == actor.id:
        return
    if actor.role == "manager" and actor.region_id is not None:
        if rep_user.region_id == actor.region_id:
            return
    msg = f"user {actor.username!r} ({actor.role}) may not plan for {rep_user.username!r}"
    raise PermissionDeniedError(msg)


def build_problem(
    session: Session,
    actor: Actor,
    reps: Sequence[str],
    start: dt.date,
    *,
    days: int = 1,
    due: bool = True,
    selected: Iterable[int] = (),
    required: Iterable[int] = (),
    owner_only: bool = True,
    profile: str = "drive",
    lunch: LunchBreak | None = None,
    max_work_minutes: float | None = None,
) -> tuple[PlanningProblem, list[DroppedVisit]]:
    """Build a planning problem from the store.

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans: a rep for themselves, a manager for their region's reps.
    reps
        Usernames of the reps to plan.
    start
        First date.
    days
        Number of consecutive dates.
    due
        Include the accounts due by the last date (in the reps' scopes).
    selected, required
        Account ids to plan as well (see :func:`visits_from_accounts`); they
        must be in the actor's scope.
    owner_only
        Each account is visited by its owner when the owner is planned.
    profile
        Road network profile.
    lunch, max_work_minutes
        Break and longest day of every rep.

    Returns
    -------
    problem, dropped
        The problem and the chosen accounts left out before planning.

    Raises
    ------
    PermissionDeniedError
        If the actor may not plan for one of the reps.
    NotFoundError
        If a rep does not exist.
    InputError
        If a rep has no home base or ``days`` is not positive.
    """
    if days < 1:
        raise InputError("days must be at least 1")
    rep_users = plannable_users(session, actor, reps)
    flt = AccountFilter(include_do_not_contact=False)
    chosen = sorted({int(x) for x in selected} | {int(x) for x in required})
    # Without ``due``, only the chosen accounts become visits: one read, as the
    # actor (so already only what the actor may see), instead of every rep's book.
    whole_books = due or not chosen
    frames = []
    for user in rep_users if whole_books else []:
        frames.append(accounts_frame(session, Actor.from_user(user), flt))
    if chosen:
        frames.append(accounts_frame(session, actor, AccountFilter(ids=chosen)))
    frame = pd.concat(frames, ignore_index=True).drop_duplicates("id")
    if whole_books and actor.role not in ("admin", "system") and len(frame):
        visible = accounts_frame(session, actor, AccountFilter(ids=frame["id"].tolist()))
        frame = frame[frame["id"].isin(visible["id"])]
    planned = {u.username for u in rep_users}
    visits, dropped = visits_from_accounts(
        frame,
        start=start,
        days=days,
        due=due,
        selected=selected,
        required=required,
        owner_only=owner_only and len(rep_users) > 1,
    )
    visits = [dataclasses.replace(v, reps=tuple(r for r in v.reps if r in planned)) for v in visits]
    rep_objs = tuple(
        rep_from_user(u, lunch=lunch, max_work_minutes=max_work_minutes) for u in rep_users
    )
    dates = tuple(start + dt.timedelta(days=k) for k in range(days))
    return PlanningProblem(tuple(visits), rep_objs, dates, profile=profile), dropped


def plan_for_reps(
    session: Session,
    actor: Actor,
    reps: Sequence[str],
    start: dt.date | str,
    *,
    days: int = 1,
    seconds: float | None = None,
    seed: int = 0,
    iterations: int | None = None,
    profile: str = "drive",
    due: bool = True,
    selected: Iterable[int] = (),
    required: Iterable[int] = (),
    output: str | Path | None = None,
    G: nx.MultiDiGraph | None = None,
    save: bool = False,
) -> Plan:
    """Plan reps' days from the store (the ``plan`` command).

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans: a rep plans their own days, a manager their region's reps.
    reps
        Usernames.
    start
        First date (``YYYY-MM-DD`` or a date).
    days
        Number of days.
    seconds, seed, iterations
        Solver options (see :class:`PlanOptions`).
    profile
        Road network profile (``drive``, ``walk``, ``bike``).
    due
        Plan the accounts due by the last date (default).
    selected, required
        Extra account ids to plan, and those that must be planned.
    output
        Write the plan's JSON here.
    G
        Road graph (default: loaded for ``profile``).
    save
        Also save each route as its rep's plan for that day (replacing an
        older one), as the My day page does (:func:`gcrm.store.save_plan`);
        ``stats["saved_routes"]`` counts the routes saved.

    Returns
    -------
    Plan
        The plan (also written to ``output``); the accounts left out before
        planning are among its dropped visits.
    """
    start_date = dt.date.fromisoformat(start) if isinstance(start, str) else start
    problem, pre_dropped = build_problem(
        session,
        actor,
        reps,
        start_date,
        days=days,
        due=due,
        selected=selected,
        required=required,
        profile=profile,
    )
    plan = plan_routes(
        problem, G=G, options=PlanOptions(seconds=seconds, seed=seed, iterations=iterations)
    )
    plan.dropped = pre_dropped + plan.dropped
    explain_plan(plan, full_reason=REASON_FULL, G=G)  # nothing due / home far from roads
    audit(
        session,
        actor,
        "plan",
        ",".join(reps),
        {
            "start": start_date.isoformat(),
            "days": days,
            "visits": len(plan.planned_visit_ids()),
            "dropped": len(plan.dropped),
        },
    )
    if save:
        plan.stats["saved_routes"] = save_plan(session, actor, plan)
    if output is not None:
        plan.to_json(output)
    return plan
