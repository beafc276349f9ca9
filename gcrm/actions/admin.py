"""What the Admin page does: users and roles, home bases, the audit log."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcrm import auth, home_base, store
from gcrm.auth import Actor
from gcrm.db.session import session_scope


def users_table(actor: Actor) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Return the users the actor may see, one row each, and the regions by name.

    Returns
    -------
    tuple
        ``(rows, regions)``: rows with username, name, role, region, active,
        personal data, grant, territories, home (``"lat, lon"``), shift and
        last login; regions as ``{name: id}``.
    """
    with session_scope() as session:
        users = [
            {
                "username": u.username,
                "name": u.display_name,
                "role": u.role,
                "region": u.region.name if u.region else None,
                "active": u.is_active,
                "personal data": u.personal_data_grant or u.role != "analyst",
                "grant": bool(u.personal_data_grant),
                "territories": ", ".join(t.name for t in u.territories),
                "home": f"{u.home_lat:.5f}, {u.home_lon:.5f}" if u.home_lat is not None else "",
                "shift": f"{u.work_start}-{u.work_end}",
                "last login": u.last_login_at,
            }
            for u in store.list_users(session, actor)
        ]
        return users, {r.name: r.id for r in store.regions(session)}


def update_user(actor: Actor, username: str, **changes: Any) -> None:
    """Change a user's role, region, status or grant (see :func:`gcrm.auth.update_user`)."""
    with session_scope() as session:
        auth.update_user(session, actor, username, **changes)


def set_home_base(
    actor: Actor, username: str, *, home: str | None, clear_home: bool, shift: str | None
) -> tuple[str, str]:
    """Set a user's home base and shift (see :func:`gcrm.home_base.set_home_base`).

    Returns
    -------
    tuple
        ``(home, shift)`` as saved: ``"lat, lon"`` (or ``"none"``) and
        ``"HH:MM-HH:MM"``.
    """
    with session_scope() as session:
        u = home_base.set_home_base(
            session, actor, username, home=home, clear_home=clear_home, shift=shift
        )
        where = f"{u.home_lat:.5f}, {u.home_lon:.5f}" if u.home_lat is not None else "none"
        return where, f"{u.work_start}-{u.work_end}"


def create_user(actor: Actor, username: str, password: str, **fields: Any) -> None:
    """Add a user (see :func:`gcrm.auth.create_user`)."""
    with session_scope() as session:
        auth.create_user(session, actor, username, password, **fields)


def audit_log(actor: Actor, *, action: str | None, limit: int = 500) -> pd.DataFrame:
    """Return the newest lines of the audit log (see :func:`gcrm.store.audit_frame`)."""
    with session_scope() as session:
        return store.audit_frame(session, actor, limit=limit, action=action)
