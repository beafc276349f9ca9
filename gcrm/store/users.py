"""Users, regions and the reps' home bases, as the actor may see them."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session, selectinload

from gcrm.auth import Actor, require
from gcrm.db.models import (
    Region,
    Role,
    User,
)


def get_user(session: Session, username: str) -> User | None:
    """Return a user by login name (no scope: used by login and the CLI).

    Parameters
    ----------
    session
        An open session.
    username
        Login name.

    Returns
    -------
    User or None
        The user.
    """
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session, actor: Actor) -> list[User]:
    """Return users: all for admins and managers' own region, else only oneself.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.

    Returns
    -------
    list of User
        Ordered by username.
    """
    stmt = select(User).options(selectinload(User.territories)).order_by(User.username)
    if not actor.can("admin") and actor.role not in ("analyst",):
        if actor.role == "manager" and actor.region_id is not None:
            stmt = stmt.where(or_(User.region_id == actor.region_id, User.id == actor.id))
        else:
            stmt = stmt.where(User.id == actor.id)
    return list(session.scalars(stmt))


def regions(session: Session) -> list[Region]:
    """Return every region (no personal data; not scoped).

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    list of Region
        Ordered by name.
    """
    return list(session.scalars(select(Region).order_by(Region.name)))


def rep_home_bases(session: Session, actor: Actor, *, region: str | None = None) -> pd.DataFrame:
    """Return the active reps that have a home base, within the actor's scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user: a manager sees their region's reps, a rep only
        themselves, analysts and admins every rep.
    region
        Only reps of this region (name).

    Returns
    -------
    pandas.DataFrame
        Columns user_id, username, display_name, region, lat, lon; ordered by
        username.
    """
    require(actor, "view")
    stmt = (
        select(User, Region.name)
        .outerjoin(Region, Region.id == User.region_id)
        .where(
            User.role == Role.REP.value,
            User.is_active.is_(True),
            User.home_lat.is_not(None),
            User.home_lon.is_not(None),
        )
        .order_by(User.username)
    )
    if actor.role == Role.MANAGER.value:
        # A manager without a region manages nobody (``== None`` would be IS NULL).
        stmt = stmt.where(
            User.region_id == actor.region_id if actor.region_id is not None else false()
        )
    elif actor.role == Role.REP.value:
        stmt = stmt.where(User.id == actor.id if actor.id is not None else false())
    if region is not None:
        stmt = stmt.where(Region.name == region)
    rows = [
        {
            "user_id": u.id,
            "username": u.username,
            "display_name": u.display_name,
            "region": region_name,
            "lat": float(u.home_lat or 0.0),  # never None: filtered above
            "lon": float(u.home_lon or 0.0),
        }
        for u, region_name in session.execute(stmt).all()
    ]
    cols = ["user_id", "username", "display_name", "region", "lat", "lon"]
    return pd.DataFrame(rows, columns=cols)
