"""Reads and writes of the demo builder (:mod:`gcrm.demo`).

The demo acts as the system before any user exists, so these take no actor
and apply no scope. Bulk rows go in with one ``INSERT`` per table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gcrm.db.models import Account, Base, Contact, Interaction, Region, Territory, User


def users_by_name(session: Session) -> dict[str, User]:
    """Return every user by username."""
    return {u.username: u for u in session.scalars(select(User))}


def count_users(session: Session) -> int:
    """Return how many users there are (none: an empty database)."""
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def count_accounts(session: Session, *, source: str) -> int:
    """Return how many accounts came from a source (e.g. ``"demo"``)."""
    stmt = select(func.count()).select_from(Account).where(Account.source == source)
    return int(session.scalar(stmt) or 0)


def region_named(session: Session, name: str) -> Region | None:
    """Return the region of this name, if there is one."""
    return session.scalar(select(Region).where(Region.name == name))


def territory_named(session: Session, name: str) -> Territory | None:
    """Return the territory of this name, if there is one."""
    return session.scalar(select(Territory).where(Territory.name == name))


def add_rows(session: Session, rows: Iterable[Base]) -> None:
    """Add new ORM rows and flush, so they get their ids."""
    session.add_all(list(rows))
    session.flush()


def insert_accounts(session: Session, rows: list[dict[str, Any]], *, source: str) -> dict[str, int]:
    """Insert account rows in bulk; return ``{external_id: id}`` of the source's accounts.

    Parameters
    ----------
    session
        An open session.
    rows
        Column → value dicts of :class:`~gcrm.db.models.Account`.
    source
        The rows' ``source``.

    Returns
    -------
    dict
        External id → account id of every account from ``source``.
    """
    session.execute(insert(Account), rows)
    stmt = select(Account.external_id, Account.id).where(Account.source == source)
    return {str(e): int(i) for e, i in session.execute(stmt).all()}


def insert_history(
    session: Session, contacts: list[dict[str, Any]], interactions: list[dict[str, Any]]
) -> None:
    """Insert contact and interaction rows in bulk (either may be empty), then flush."""
    if contacts:
        session.execute(insert(Contact), contacts)
    if interactions:
        session.execute(insert(Interaction), interactions)
    session.flush()


def table_counts(session: Session, *, source: str) -> dict[str, int]:
    """Return the number of users, territories, accounts of a source, contacts, interactions."""
    count = {
        m: select(func.count()).select_from(m) for m in (User, Territory, Contact, Interaction)
    }
    return {
        "users": int(session.scalar(count[User]) or 0),
        "territories": int(session.scalar(count[Territory]) or 0),
        "accounts": count_accounts(session, source=source),
        "contacts": int(session.scalar(count[Contact]) or 0),
        "interactions": int(session.scalar(count[Interaction]) or 0),
    }
