"""Who may be contacted through which channel: THE contact rule, audiences, unsubscribes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from gcrm._errors import InputError, NotFoundError
from gcrm.auth import Actor
from gcrm.db.models import Account, AuditEvent, Contact
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
    return _withdraw(
        session, session.get(Account, account_id), "account", account_id, reason=reason, by=by
    )


def _withdraw(
    session: Session,
    record: Account | Contact | None,
    kind: str,
    key: int,
    *,
    reason: str,
    by: str,
) -> bool:
    """Turn one account's or person's marketing consent off and audit it (the one way)."""
    if record is None:
        msg = f"{kind} {key} does not exist"
        raise NotFoundError(msg)
    changed = bool(record.marketing_consent)
    record.marketing_consent = False
    session.add(
        AuditEvent(
            username=by,
            action="consent",
            target=f"{kind}:{key}",
            details=json.dumps({"marketing_consent": False, "reason": reason}),
        )
    )
    session.flush()
    return changed


#: Columns of :func:`email_recipients_frame`: the account's, then the person's.
RECIPIENT_COLUMNS: tuple[str, ...] = (*AUDIENCE_COLUMNS, "contact_id", "contact_name")


def contact_person_rule(channel: str) -> ColumnElement[bool]:
    """Return THE rule of who may be contacted as an account's contact person (SQL).

    The account may be contacted at all (never do-not-contact or erased,
    whatever its own consent), and the person: never do-not-contact or erased;
    for marketing channels only with the person's own marketing consent; for
    e-mail only with an address. The account's own address follows
    :func:`contact_rule`.

    Parameters
    ----------
    channel
        One of :data:`CHANNELS`.

    Returns
    -------
    sqlalchemy.ColumnElement
        A boolean expression over :class:`~gcrm.db.models.Account` joined
        with :class:`~gcrm.db.models.Contact`.

    Raises
    ------
    InputError
        If the channel is unknown.
    """
    if channel not in CHANNELS:
        msg = f"channel: {channel!r} is not one of {', '.join(CHANNELS)}"
        raise InputError(msg)
    cond = and_(
        Account.do_not_contact.is_(False),
        Account.erased_at.is_(None),
        Contact.do_not_contact.is_(False),
        Contact.erased_at.is_(None),
    )
    if channel in MARKETING_CHANNELS:
        cond = and_(cond, Contact.marketing_consent.is_(True))
    if channel == "email":
        cond = and_(cond, Contact.email.is_not(None), Contact.email != "")
    return cond


def email_recipients_frame(
    session: Session, actor: Actor, flt: AccountFilter | None = None
) -> pd.DataFrame:
    """Return the e-mail addresses a user may mail: accounts' own and their persons'.

    The actor's scope and the filter select accounts; an account's own
    address follows :func:`contact_rule`, each contact person's
    :func:`contact_person_rule` (their own consent and do-not-contact).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    flt
        The filter of accounts.

    Returns
    -------
    pandas.DataFrame
        :data:`RECIPIENT_COLUMNS`, one row per (account, person or none);
        ``email`` is the recipient; ``contact_id`` is missing for the
        account's own address. Ordered by account, its own address first.
    """
    cols = [getattr(Account, c) for c in AUDIENCE_COLUMNS]
    own = session.execute(
        _account_select(actor, flt).where(contact_rule("email")).with_only_columns(*cols)
    ).all()
    person_cols = [Contact.email if c == "email" else getattr(Account, c) for c in AUDIENCE_COLUMNS]
    people = session.execute(
        _account_select(actor, flt)
        .join(Contact, Contact.account_id == Account.id)
        .where(contact_person_rule("email"))
        .with_only_columns(*person_cols, Contact.id, Contact.name)
    ).all()
    frame = pd.DataFrame(
        [(*r, None, None) for r in own] + [tuple(r) for r in people],
        columns=list(RECIPIENT_COLUMNS),
    )
    frame["contact_id"] = frame["contact_id"].astype("Int64")
    order = frame["contact_id"].fillna(-1)
    return (
        frame.assign(_o=order)
        .sort_values(["id", "_o"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def withdraw_contact_consent(
    session: Session, contact_id: int, *, reason: str, by: str = "unsubscribe"
) -> bool:
    """Turn a contact person's marketing consent off (their unsubscribe), audited.

    Parameters
    ----------
    session
        An open session.
    contact_id
        The person.
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
        If there is no such person.
    """
    return _withdraw(
        session, session.get(Contact, contact_id), "contact", contact_id, reason=reason, by=by
    )


def current_recipient(
    session: Session, actor: Actor, account_id: int, contact_id: int | None
) -> dict[str, Any] | None:
    """Return one e-mail recipient as the rules allow it now (the send-time re-check).

    One query: the account in the actor's scope and, for its own address,
    :func:`contact_rule`, or for a person, :func:`contact_person_rule`.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_id
        The account.
    contact_id
        The person (``None``: the account's own address).

    Returns
    -------
    dict or None
        A row of :data:`RECIPIENT_COLUMNS`, or ``None`` if it may not be mailed.
    """
    flt = AccountFilter(ids=[account_id])
    cols = [getattr(Account, c) for c in AUDIENCE_COLUMNS]
    if contact_id is None:
        stmt = _account_select(actor, flt).where(contact_rule("email"))
        row = session.execute(stmt.with_only_columns(*cols)).first()
        return (
            None if row is None else dict(zip(RECIPIENT_COLUMNS, (*row, None, None), strict=True))
        )
    person_cols = [Contact.email if c == "email" else getattr(Account, c) for c in AUDIENCE_COLUMNS]
    stmt = (
        _account_select(actor, flt)
        .join(Contact, Contact.account_id == Account.id)
        .where(Contact.id == contact_id, contact_person_rule("email"))
        .with_only_columns(*person_cols, Contact.id, Contact.name)
    )
    row = session.execute(stmt).first()
    return None if row is None else dict(zip(RECIPIENT_COLUMNS, row, strict=True))
