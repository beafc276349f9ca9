"""Who may be contacted through which channel: THE contact rule, audiences, unsubscribes."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from gcrm._errors import InputError, NotFoundError
from gcrm.auth import Actor
from gcrm.db.models import (
    Account,
    AuditEvent,
)
from gcrm.store.scope import AccountFilter, _account_select

#: Channels of a campaign; the marketing ones need marketing consent.
CHANNELS: tuple[str, ...] = ("email", "letter", "call", "visit")
MARKETING_CHANNELS: frozenset[str] = frozenset({"email", "letter"})

#: Columns of :func:`audience_frame`.
AUDIENCE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "owner_id",
    "territory_id",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "lat",
    "lon",
    "email",
    "phone",
)


def contact_rule(channel: str) -> ColumnElement[bool]:
    """Return THE rule of who may be contacted through a channel (SQL condition).

    Never a do-not-contact or erased account; for marketing channels
    (:data:`MARKETING_CHANNELS`) only accounts with marketing consent. Every
    campaign audience and every send re-check goes through this one function.

    Parameters
    ----------
    channel
        One of :data:`CHANNELS`.

    Returns
    -------
    sqlalchemy.ColumnElement
        A boolean expression over :class:`~gcrm.db.models.Account`.

    Raises
    ------
    InputError
        If the channel is unknown.
    """
    if channel not in CHANNELS:
        msg = f"channel: {channel!r} is not one of {', '.join(CHANNELS)}"
        raise InputError(msg)
    cond = and_(Account.do_not_contact.is_(False), Account.erased_at.is_(None))
    if channel in MARKETING_CHANNELS:
        cond = and_(cond, Account.marketing_consent.is_(True))
    if channel == "email":
        cond = and_(cond, Account.email.is_not(None), Account.email != "")
    return cond


def audience_frame(
    session: Session, actor: Actor, flt: AccountFilter | None = None, *, channel: str
) -> pd.DataFrame:
    """Return the accounts a user may reach through a channel.

    The actor's scope, the filter and :func:`contact_rule` apply together.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    flt
        The filter.
    channel
        The channel (its contact rule applies).

    Returns
    -------
    pandas.DataFrame
        :data:`AUDIENCE_COLUMNS`, ordered by id.
    """
    cols = [getattr(Account, c) for c in AUDIENCE_COLUMNS]
    stmt = (
        _account_select(actor, flt)
        .where(contact_rule(channel))
        .with_only_columns(*cols)
        .order_by(Account.id)
    )
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=list(AUDIENCE_COLUMNS))


def reachable_ids(
    session: Session, actor: Actor, account_ids: Iterable[int], *, channel: str
) -> set[int]:
    """Return which of some accounts the user may reach now through a channel.

    Used right before a message is handed to SMTP or a task is created, so a
    consent withdrawn after the audience was computed still stops it.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_ids
        The candidates.
    channel
        The channel.

    Returns
    -------
    set of int
        The reachable ids.
    """
    ids = list(dict.fromkeys(int(i) for i in account_ids))
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        flt = AccountFilter(ids=ids[i : i + 500])
        stmt = _account_select(actor, flt).where(contact_rule(channel))
        out.update(session.scalars(stmt.with_only_columns(Account.id)))
    return out


def withdraw_marketing_consent(
    session: Session, account_id: int, *, reason: str, by: str = "unsubscribe"
) -> bool:
    """Turn an account's marketing consent off (an unsubscribe), audited.

    No user acts: the account's own person asked (a signed link). The audit
    line names ``by`` as the user.

    Parameters
    ----------
    session
        An open session.
    account_id
        The account.
    reason
        What to write in the audit log (e.g. the campaign).
    by
        The audit log's user name.

    Returns
    -------
    bool
        ``True`` if consent was on and is now off.

    Raises
    ------
    NotFoundError
        If there is no such account.
    """
    account = session.get(Account, account_id)
    if account is None:
        msg = f"account {account_id} does not exist"
        raise NotFoundError(msg)
    changed = bool(account.marketing_consent)
    account.marketing_consent = False
    session.add(
        AuditEvent(
            username=by,
            action="consent",
            target=f"account:{account_id}",
            details=json.dumps({"marketing_consent": False, "reason": reason}),
        )
    )
    session.flush()
    return changed
