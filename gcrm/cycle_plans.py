"""Saved call cycles: plan and save, add an appointment, read a day, export ICS.

A saved cycle (table ``cycle_plans``, through :mod:`gcrm.store`) holds, per
rep and horizon, the plan of :mod:`gcrm.cycles` with each visit's times
(:mod:`gcrm.cycle_day`), the accounts' names and places, and the fixed
appointments. Adding an appointment re-plans only the days it touches
(:mod:`gcrm.cycle_appointments`); the ICS export goes through the project's
iCalendar writer (:func:`gcrm.routing.export.to_ics`, with ``VTIMEZONE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from gcrm._errors import InputError, NotFoundError
from gcrm.auth import Actor
from gcrm.cycle_appointments import add_appointment
from gcrm.cycle_day import order_for_windows, schedule_day
from gcrm.cycle_options import CycleOptions
from gcrm.cycle_replan import rebuild
from gcrm.cycles import (
    CycleAccount,
    RepCycle,
    accounts_for_cycle,
    plan_each_rep,
    rep_inputs,
)
from gcrm.network import load_network
from gcrm.routing import Plan, PlannedStop, Rep, RoutePlan, check_can_plan
from gcrm.routing.export import to_ics
from gcrm.store import AccountFilter, accounts_frame, get_user, save_cycle_plan, saved_cycles


def stored_cycle(
    plan: RepCycle,
    rep: Rep,
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    *,
    start: dt.date,
    end: dt.date,
    appointments: Mapping[dt.date, Mapping[int, dt.time]] | None = None,
) -> dict[str, Any]:
    """Return the JSON kept for a saved cycle: the plan, each visit's times, the accounts.

    A day whose visits miss their opening hours is re-ordered when another
    order misses fewer (:func:`gcrm.cycle_day.order_for_windows`).

    Parameters
    ----------
    plan
        The cycle.
    rep
        The rep (shift, break).
    accounts, durations
        As given to :func:`gcrm.cycles.plan_rep_cycle`.
    start, end
        The horizon.
    appointments
        Fixed appointments: per date, account id to start time.

    Returns
    -------
    dict
        :meth:`RepCycle.to_dict` plus ``start``, ``end``, per day ``visits``
        (``account_id``, ``name``, ``arrival``, ``start``, ``end``, ``fixed``,
        ``on_time``), ``accounts``, ``appointments`` and ``home`` (``[lat, lon]``).
    """
    appointments = appointments or {}
    limit = plan.limit_seconds
    days = {}
    for d, ids in zip(plan.dates, plan.days, strict=True):
        pinned = appointments.get(d)
        days[d] = order_for_windows(
            rep, d, ids, accounts, durations, fixed=pinned, limit_seconds=limit
        )
    plan = rebuild(plan, plan.dates, days, accounts, durations, list(plan.skipped))
    out = plan.to_dict()
    by_id = {a.id: a for a in accounts}
    for day in out["days"]:
        d = dt.date.fromisoformat(day["date"])
        timed = schedule_day(rep, d, day["accounts"], accounts, durations,
                             fixed=appointments.get(d))  # fmt: skip
        day["visits"] = [
            {
                "account_id": v.account_id,
                "name": by_id[v.account_id].name,
                "arrival": v.arrival.isoformat(),
                "start": v.start.isoformat(),
                "end": v.end.isoformat(),
                "fixed": v.fixed,
                "on_time": v.on_time,
            }
            for v in timed
        ]
    used = {a for day in plan.days for a in day}
    out["accounts"] = {
        str(a.id): {
            "name": a.name,
            "lat": a.lat,
            "lon": a.lon,
            "minutes": a.minutes,
            "every_days": a.every_days,
        }
        for a in accounts
        if a.id in used or a.id in plan.required
    }
    out["appointments"] = [
        {"account_id": a, "at": dt.datetime.combine(d, t).isoformat()}
        for d, pinned in sorted(appointments.items())
        for a, t in pinned.items()
    ]
    out["start"], out["end"] = start.isoformat(), end.isoformat()
    out["home"] = [rep.start[0], rep.start[1]]
    return out


def plan_and_save(
    session: Any,
    actor: Actor,
    reps: Sequence[str],
    start: dt.date | str,
    *,
    options: CycleOptions | None = None,
    G: Any = None,
    **changes: Any,
) -> dict[str, Any]:
    """Plan call cycles (as :func:`gcrm.cycles.plan_cycles`) and save each rep's.

    A saved cycle replaces the rep's saved cycles that overlap its horizon.

    Parameters
    ----------
    session, actor, reps, start
        As for :func:`gcrm.cycles.plan_cycles`.
    options, G, **changes
        As for :func:`gcrm.cycles.plan_cycles` (:class:`gcrm.cycle_options.CycleOptions`).

    Returns
    -------
    dict
        ``{"start", "end", "weeks", "reps": [stored cycle, ...]}`` (see :func:`stored_cycle`).
    """
    opts = CycleOptions.of(options, **changes)
    start_date, end = opts.horizon(start)
    out = []
    for p in plan_each_rep(session, actor, reps, start_date, opts, G=G):
        stored = stored_cycle(p.plan, p.rep, p.accounts, p.durations, start=start_date, end=end)
        save_cycle_plan(session, actor, p.user.username, start_date, end, stored)
        out.append(stored)
    return {
        "start": start_date.isoformat(), "end": end.isoformat(), "weeks": opts.weeks, "reps": out,
    }  # fmt: skip


def _plannable(session: Any, actor: Actor, name: str) -> Any:
    user = get_user(session, name)
    if user is None or not user.is_active:
        msg = f"no active user {name!r}"
        raise NotFoundError(msg)
    check_can_plan(actor, user)
    return user


def _as_plan(saved: Mapping[str, Any]) -> tuple[RepCycle, dict[dt.date, dict[int, dt.time]]]:
    """Return a saved cycle as a :class:`RepCycle` and its appointments.

    The times are recomputed later.
    """
    days = saved["days"]
    plan = RepCycle(
        rep=saved["rep"],
        dates=[dt.date.fromisoformat(d["date"]) for d in days],
        days=[[int(a) for a in d["accounts"]] for d in days],
        drive_seconds=[d["drive_minutes"] * 60 for d in days],
        work_seconds=[d["work_minutes"] * 60 for d in days],
        limit_seconds=saved["limit_minutes"] * 60,
        required={int(a): int(k) for a, k in saved["required_visits"].items()},
        skipped=list(saved["skipped"]),
        feasible=bool(saved["feasible"]),
    )
    fixed: dict[dt.date, dict[int, dt.time]] = {}
    for ap in saved.get("appointments", []):
        at = dt.datetime.fromisoformat(ap["at"])
        fixed.setdefault(at.date(), {})[int(ap["account_id"])] = at.time()
    return plan, fixed


def add_cycle_appointment(
    session: Any,
    actor: Actor,
    rep: str,
    account_id: int,
    when: dt.datetime,
    *,
    minutes: float | None = None,
    profile: str = "drive",
    G: Any = None,
) -> dict[str, Any]:
    """Add a fixed appointment to a rep's saved cycle and save the re-planned cycle.

    Only the appointment's day, the day of the cycle visit it replaces and the
    days that take visits moved off its day change.

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans (as for :func:`gcrm.cycles.plan_cycles`).
    rep
        The rep's username.
    account_id
        The account (one the actor may see).
    when
        The appointment's start (local time).
    minutes
        Its length (default: the account's visit length).
    profile, G
        Road network.

    Returns
    -------
    dict
        The stored cycle, with ``changed`` (ISO dates whose visits changed).

    Raises
    ------
    NotFoundError
        No saved cycle holds that date, or no such account.
    InputError
        Not a working day of the cycle.
    """
    user = _plannable(session, actor, rep)
    found = saved_cycles(session, actor, rep=rep, day=when.date())
    if not found:
        msg = f"no saved cycle of {rep!r} holds {when.date()}"
        raise NotFoundError(msg)
    saved = found[0]
    frame = accounts_frame(session, actor, AccountFilter(ids=[account_id]))
    if frame.empty:
        msg = f"no account {account_id}"
        raise NotFoundError(msg)
    if minutes is not None:
        frame = frame.assign(visit_minutes=minutes)
    extra = accounts_for_cycle(frame.assign(visit_every_days=frame["visit_every_days"].fillna(365)))
    if not extra:
        msg = f"account {account_id} has no location"
        raise InputError(msg)
    graph = G if G is not None else load_network(profile=profile)
    horizon = (saved["end"] - saved["start"]).days + 1
    rep_obj, accounts, durations = rep_inputs(session, user, graph, extra, horizon_days=horizon)
    if minutes is not None:
        accounts = [extra[0] if a.id == account_id else a for a in accounts]
    plan, fixed = _as_plan(saved["plan"])
    known = {a.id for a in accounts}
    plan.days = [[a for a in day if a in known] for day in plan.days]
    start, end = saved["start"], saved["end"]
    res = add_appointment(plan, rep_obj, accounts, durations, account_id=account_id, when=when,
                          start=start, end=end, fixed=fixed)  # fmt: skip
    fixed.setdefault(when.date(), {})[account_id] = when.time()
    stored = stored_cycle(res.plan, rep_obj, accounts, durations, start=start, end=end,
                          appointments=fixed)  # fmt: skip
    save_cycle_plan(session, actor, rep, start, end, stored)
    return {**stored, "changed": [d.isoformat() for d in res.changed]}


def cycle_visits(session: Any, actor: Actor, rep: str, day: dt.date) -> list[dict[str, Any]]:
    """Return the visits of a rep's saved cycle on one date (empty if none).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (a rep sees their own, a manager their region's).
    rep
        The rep's username.
    day
        The date.

    Returns
    -------
    list of dict
        ``account_id``, ``name``, ``arrival``, ``start``, ``end``, ``fixed``, ``on_time``
        in visiting order.
    """
    for saved in saved_cycles(session, actor, rep=rep, day=day):
        for d in saved["plan"]["days"]:
            if d["date"] == day.isoformat():
                return list(d.get("visits", []))
    return []


def cycle_ics(
    session: Any, actor: Actor, *, rep: str | None = None, timezone: str | None = None
) -> str:
    """Return the saved cycles the actor may see as one iCalendar (one event per visit).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    rep
        Only this rep's cycles.
    timezone
        IANA zone of the visits' local times (default ``GCRM_TIMEZONE``).

    Returns
    -------
    str
        ``text/calendar`` over every saved horizon.
    """
    routes = []
    for saved in saved_cycles(session, actor, rep=rep):
        routes += cycle_routes(saved["rep"], saved["plan"])
    plan = Plan(routes=routes, dropped=[], problem=cast(Any, None))
    return to_ics(plan, timezone=timezone)


def cycle_routes(
    rep: str, stored: Mapping[str, Any], *, day: dt.date | None = None
) -> list[RoutePlan]:
    """Return a saved cycle's days as routes (for the iCalendar writer and the route map).

    Parameters
    ----------
    rep
        The rep's username.
    stored
        A saved cycle (:func:`stored_cycle`).
    day
        Only this date.

    Returns
    -------
    list of RoutePlan
        One per day with visits, starting and ending at the rep's home base.
    """
    accounts = stored["accounts"]
    home = stored.get("home") or [0.0, 0.0]
    routes = []
    for day_row in stored["days"]:
        if day is not None and day_row["date"] != day.isoformat():
            continue
        routes += _route(rep, day_row, accounts, (float(home[0]), float(home[1])))
    return routes


def _route(
    rep: str, day: Mapping[str, Any], accounts: Mapping[str, Any], home: tuple[float, float]
) -> list[RoutePlan]:
    """One saved day as a route (empty when it has no visit)."""
    stops = []
    for v in day.get("visits", []):
        acc = accounts.get(str(v["account_id"]), {})
        arrival = dt.datetime.fromisoformat(v["arrival"])
        start = dt.datetime.fromisoformat(v["start"])
        end = dt.datetime.fromisoformat(v["end"])
        stops.append(
            PlannedStop(
                visit_id=f"cycle-{v['account_id']}",
                account_id=int(v["account_id"]),
                name=str(v["name"]),
                address="",
                lat=float(acc.get("lat", 0.0)),
                lon=float(acc.get("lon", 0.0)),
                arrival=arrival,
                wait_s=int((start - arrival).total_seconds()),
                start=start,
                end=end,
                departure=end,
                leg_duration_s=0,
                leg_distance_m=0,
                fixed=bool(v.get("fixed")),
            )
        )
    if not stops:
        return []
    d = dt.date.fromisoformat(day["date"])
    lat, lon = home
    return [
        RoutePlan(rep, rep, d, lat, lon, lat, lon, stops[0].arrival, stops[-1].end, stops,
                  None, 0, 0)
    ]  # fmt: skip
