"""The ``gcrm plan`` command's work: plan a rep's days, save them, write files.

Kept out of the capability modules (:mod:`gcrm.routing`): the CLI
(:mod:`gcrm.cli`) wires its options to :func:`plan_command`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcrm._errors import InputError
from gcrm.routing import plan_for_reps, to_gpx, to_ics

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor

__all__ = ["plan_command"]


def plan_command(
    session: Session,
    actor: Actor,
    rep: str,
    date: str,
    *,
    days: int = 1,
    seconds: float | None = None,
    output: str | Path = "plan.json",
    seed: int = 0,
    profile: str = "drive",
    gpx: str | Path | None = None,
    ics: str | Path | None = None,
) -> dict[str, Any]:
    """Run ``python -m gcrm plan`` (the CLI wires its options to this).

    The plan is saved as the rep's plan for each planned day, as the My day
    page saves it (:func:`gcrm.routing.plan_for_reps` with ``save=True``),
    and written as JSON to ``output``.

    Parameters
    ----------
    session, actor
        Open session and the acting user.
    rep
        Username of the rep to plan.
    date
        First date, ``YYYY-MM-DD``.
    days, seconds, seed, profile
        See :func:`plan_for_reps`.
    output
        Where the plan's JSON goes.
    gpx, ics
        Also write the plan as GPX (UTC times) and iCalendar (with
        ``VTIMEZONE``) files.

    Returns
    -------
    dict
        A one-line summary for stdout: ``output``, ``routes``, ``visits``,
        ``dropped``, ``drive_s``, ``distance_m``, ``saved`` (routes saved).
    """
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        msg = f"invalid date {date!r}: expected YYYY-MM-DD"
        raise InputError(msg) from None
    plan = plan_for_reps(
        session,
        actor,
        [rep],
        day,
        days=days,
        seconds=seconds,
        seed=seed,
        profile=profile,
        output=output,
        save=True,
    )
    if gpx is not None:
        Path(gpx).write_text(to_gpx(plan), encoding="utf-8")
    if ics is not None:
        Path(ics).write_text(to_ics(plan), encoding="utf-8", newline="")
    return {
        "output": str(output),
        "gpx": str(gpx) if gpx is not None else None,
        "ics": str(ics) if ics is not None else None,
        "routes": len(plan.routes),
        "visits": len(plan.planned_visit_ids()),
        "dropped": len(plan.dropped),
        "drive_s": sum(r.drive_s for r in plan.routes),
        "distance_m": sum(r.distance_m for r in plan.routes),
        "notes": plan.stats.get("notes", []),
        "saved": plan.stats.get("saved_routes", 0),
    }
