"""The importer's reads and writes (:mod:`gcrm.importer`): accounts by external id, bulk upserts.

The importer reads and writes accounts only through these functions; they
check no rights (the importer requires ``import`` before it calls them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from gcrm.db.models import Account, Contact, Region, Territory, User, point_wkt
from gcrm.db.statistics import BULK_ROWS, refresh_account_statistics
from gcrm.territory_rule import clip_to_region

_IMPORT_IN_CHUNK = 900  # bound parameters per IN (...) list: SQLite allows 999


def import_territories(session: Session) -> list[tuple[int, str, Any]]:
    """Return every territory as (id, name, shape clipped to its region).

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    list of tuple
        ``(id, name, geometry)``; the geometry may be empty or ``None``.
    """
    stmt = select(Territory.id, Territory.name, Territory.geom, Region.geom).outerjoin(
        Region, Region.id == Territory.region_id
    )
    return [
        (int(tid), str(name), clip_to_region(g, rg)) for tid, name, g, rg in session.execute(stmt)
    ]


def import_accounts_by_external_id(
    session: Session, external_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Return the stored rows (all columns) of the accounts with these external ids.

    Parameters
    ----------
    session
        An open session.
    external_ids
        Any number of ids (queried in chunks).

    Returns
    -------
    dict
        External id → column → value.
    """
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(external_ids), _IMPORT_IN_CHUNK):
        chunk = external_ids[i : i + _IMPORT_IN_CHUNK]
        stmt = select(Account.__table__).where(Account.external_id.in_(chunk))
        for r in session.execute(stmt).mappings():
            out[r["external_id"]] = dict(r)
    return out


def import_external_ids(session: Session) -> set[str]:
    """Return the external ids of every stored account.

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    set of str
        The ids.
    """
    return set(session.scalars(select(Account.external_id)))


def import_account_text(session: Session, external_id: str) -> dict[str, str] | None:
    """Return the stored account of an external id as text (``""`` for NULL).

    Parameters
    ----------
    session
        An open session.
    external_id
        The id.

    Returns
    -------
    dict or None
        Column → text, or ``None`` when no account has that id.
    """
    stmt = select(Account.__table__).where(Account.external_id == external_id)
    r = session.execute(stmt).mappings().first()
    return {k: ("" if v is None else str(v)) for k, v in r.items()} if r else None


def import_user_names(session: Session) -> list[tuple[int, str, str | None, str | None]]:
    """Return every user as (id, username, display name, e-mail) for owner matching.

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    list of tuple
        One per user.
    """
    stmt = select(User.id, User.username, User.display_name, User.email)
    return [(int(uid), str(u), d, e) for uid, u, d, e in session.execute(stmt)]


def import_address_rows(session: Session) -> Iterable[dict[str, Any]]:
    """Yield every stored account's id, name, address and coordinates (duplicate check).

    Parameters
    ----------
    session
        An open session.

    Yields
    ------
    dict
        ``external_id, name, street, housenumber, postcode, lat, lon``.
    """
    stmt = select(
        Account.external_id,
        Account.name,
        Account.street,
        Account.housenumber,
        Account.postcode,
        Account.lat,
        Account.lon,
    )
    for r in session.execute(stmt.execution_options(yield_per=5000)).mappings():
        yield dict(r)


def import_insert_accounts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert accounts in one statement (executemany); absent keys are NULL.

    Parameters
    ----------
    session
        An open session.
    rows
        Column → value per account (``lat``/``lon`` give ``geom``); changed in place.
    """
    if not rows:
        return
    keys: set[str] = {"geom"}
    for v in rows:
        keys.update(v)
    for v in rows:
        v["geom"] = point_wkt(v.get("lat"), v.get("lon"))
        for k in keys - v.keys():
            v[k] = None
    table = Account.__table__
    assert isinstance(table, Table)
    session.execute(insert(table), rows)


def import_update_accounts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Update accounts by primary key (``id`` in each row) in one executemany.

    Parameters
    ----------
    session
        An open session.
    rows
        ``id`` and the changed columns per account (``lat``/``lon`` give ``geom``).
    """
    if not rows:
        return
    for row in rows:
        if "lat" in row:
            row["geom"] = point_wkt(row.get("lat"), row.get("lon"))
    session.execute(update(Account), rows)


def import_account_ids(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    """Return the database ids of the accounts with these external ids.

    Parameters
    ----------
    session
        An open session.
    external_ids
        Any number of ids (queried in chunks).

    Returns
    -------
    dict
        External id → account id.
    """
    exts = list(dict.fromkeys(external_ids))
    ids: dict[str, int] = {}
    for i in range(0, len(exts), _IMPORT_IN_CHUNK):
        stmt = select(Account.external_id, Account.id).where(
            Account.external_id.in_(exts[i : i + _IMPORT_IN_CHUNK])
        )
        ids.update({str(e): int(a) for e, a in session.execute(stmt)})
    return ids


def import_link_duplicates(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """Mark accounts as likely duplicates of others.

    Parameters
    ----------
    session
        An open session.
    pairs
        (external id, external id of the account it likely duplicates).
    """
    if not pairs:
        return
    ids = import_account_ids(session, (e for pair in pairs for e in pair))
    session.execute(update(Account), [{"id": ids[a], "duplicate_of_id": ids[b]} for a, b in pairs])


def import_upsert_contacts(
    session: Session, rows: Sequence[tuple[str, str, str | None, str | None]]
) -> None:
    """Add contacts to accounts, or update the e-mail/phone of one of the same name.

    Parameters
    ----------
    session
        An open session.
    rows
        (account external id, contact name, e-mail, phone); a ``None`` value
        leaves a stored one as it is.
    """
    if not rows:
        return
    ids = import_account_ids(session, (e for e, *_ in rows))
    account_ids = list(ids.values())
    existing: dict[tuple[int, str], Contact] = {}
    for i in range(0, len(account_ids), _IMPORT_IN_CHUNK):
        stmt = select(Contact).where(Contact.account_id.in_(account_ids[i : i + _IMPORT_IN_CHUNK]))
        existing.update({(c.account_id, c.name): c for c in session.scalars(stmt)})
    for ext, name, email, phone in rows:
        aid = ids[ext]
        contact = existing.get((aid, name))
        if contact is None:
            contact = Contact(account_id=aid, name=name, email=email, phone=phone)
            session.add(contact)
            existing[(aid, name)] = contact
        else:
            if email is not None and contact.email != email:
                contact.email = email
            if phone is not None and contact.phone != phone:
                contact.phone = phone


def import_company_external_id(session: Session, name: str) -> str | None:
    """Return the external id of an account with exactly this name, if any.

    Parameters
    ----------
    session
        An open session.
    name
        The company name.

    Returns
    -------
    str or None
        One such account's external id.
    """
    return session.scalar(select(Account.external_id).where(Account.name == name).limit(1))


def import_refresh_statistics(session: Session, written: int) -> bool:
    """Refresh the planner's statistics of ``accounts`` after a bulk import.

    Parameters
    ----------
    session
        The import's session.
    written
        Accounts inserted or updated.

    Returns
    -------
    bool
        Whether they were refreshed (at least :data:`gcrm.db.statistics.BULK_ROWS`).
    """
    if written < BULK_ROWS:
        return False
    refresh_account_statistics(session)
    return True
