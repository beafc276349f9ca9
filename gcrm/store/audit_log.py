"""The audit log: appending a line, reading it (admins)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gcrm.auth import Actor, require
from gcrm.db.models import (
    AuditEvent,
)


def audit(
    session: Session,
    actor: Actor | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one line to the audit log (in the caller's transaction).

    Parameters
    ----------
    session
        An open session.
    actor
        Who did it (``None`` for an unknown user, e.g. a failed login).
    action
        ``login``, ``login_failed``, ``view``, ``edit``, ``import``,
        ``export``, ``erase``...
    target
        What it was done to (``account:12``, a file name...).
    details
        JSON-serialisable details.
    """
    session.add(
        AuditEvent(
            username=actor.username if actor else None,
            action=action,
            target=target,
            details=json.dumps(details, default=str, ensure_ascii=False) if details else None,
        )
    )


def audit_frame(
    session: Session, actor: Actor, *, limit: int | None = None, action: str | None = None
) -> pd.DataFrame:
    """Return the audit log, newest first (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    limit
        At most this many lines.
    action
        Only this action.

    Returns
    -------
    pandas.DataFrame
        Columns id, at, username, action, target, details.
    """
    require(actor, "admin")
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if limit:
        stmt = stmt.limit(limit)
    rows = [
        {
            "id": e.id,
            "at": e.at,
            "username": e.username,
            "action": e.action,
            "target": e.target,
            "details": e.details,
        }
        for e in session.scalars(stmt)
    ]
    return pd.DataFrame(rows, columns=["id", "at", "username", "action", "target", "details"])
