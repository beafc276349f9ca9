"""Right to erasure and subject access: anonymise a person everywhere, list what is held."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gcrm._errors import InputError, NotFoundError
from gcrm.auth import Actor, require
from gcrm.db.models import (
    Account,
    AuditEvent,
    Contact,
    Interaction,
    Precision,
    SavedPlan,
)
from gcrm.redact import redact_json, redact_text, secret_pattern
from gcrm.store.accounts import get_account
from gcrm.store.audit_log import audit
from gcrm.store.scope import point_geometry


def _erase_everywhere(session: Session, secrets: list[str | None]) -> None:
    """Remove a person's values from every copy, field by field (see :mod:`gcrm.redact`).

    Interaction notes and outcomes, audit targets and details, and saved
    plans are searched; a field that mentions the person is replaced whole.
    """
    pattern = secret_pattern(secrets)
    if pattern is None:
        return
    for it in session.scalars(
        select(Interaction).where(
            or_(Interaction.notes.is_not(None), Interaction.outcome.is_not(None))
        )
    ):
        it.notes = redact_text(it.notes, pattern)
        it.outcome = redact_text(it.outcome, pattern)
    for ev in session.scalars(
        select(AuditEvent).where(
            or_(AuditEvent.details.is_not(None), AuditEvent.target.is_not(None))
        )
    ):
        ev.target = redact_text(ev.target, pattern)
        ev.details = redact_json(ev.details, pattern)
    for plan in session.scalars(select(SavedPlan)):
        plan.route_json = redact_json(plan.route_json, pattern) or plan.route_json


def erase_contact(session: Session, actor: Actor, contact_id: int) -> None:
    """Anonymise a person everywhere, keeping aggregates (right to erasure).

    The contact's name, phone and e-mail are removed; every interaction note
    or outcome, audit target or audit detail value and saved-plan value that
    mentions them is replaced by ``[erased]`` (field by field, see
    :mod:`gcrm.redact`). The contact row stays (counted, marked
    do-not-contact). After the commit, call
    :func:`gcrm.db.session.purge_freed_bytes` so no old copy stays in the
    database files.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``erase``).
    contact_id
        The contact.

    Raises
    ------
    NotFoundError
        If there is no such contact.
    """
    require(actor, "erase")
    contact = session.get(Contact, contact_id)
    if contact is None:
        msg = f"no contact with id {contact_id}"
        raise NotFoundError(msg)
    secrets = [contact.name, contact.phone, contact.email]
    contact.name = f"Erased person {contact.id}"
    contact.phone = None
    contact.email = None
    contact.role = None
    contact.do_not_contact = True
    contact.marketing_consent = False
    contact.erased_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _erase_everywhere(session, secrets)
    audit(session, actor, "erase", f"contact:{contact_id}")
    session.flush()


def erase_account(session: Session, actor: Actor, account_id: int) -> None:
    """Anonymise an account and all its people, keeping aggregates.

    Name, street address, phone, e-mail, contacts and interaction notes are
    removed; kind, stage, values, visit counts, postcode, city and a location
    rounded to about 100 m stay for the figures. The account is marked
    do-not-contact so it is never planned or called again.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``erase``).
    account_id
        The account.
    """
    require(actor, "erase")
    account = get_account(session, actor, account_id)
    secrets = [account.name, account.phone, account.email]
    for contact in account.contacts:
        secrets += [contact.name, contact.phone, contact.email]
        contact.name = f"Erased person {contact.id}"
        contact.phone = contact.email = contact.role = None
        contact.do_not_contact = True
        contact.erased_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for it in account.interactions:
        it.notes = None
        it.outcome = redact_text(it.outcome, secret_pattern(secrets))
    account.name = f"Erased account {account.id}"
    account.street = account.housenumber = None
    account.phone = account.email = None
    account.opening_hours = None
    if account.lat is not None and account.lon is not None:
        account.lat, account.lon = round(account.lat, 3), round(account.lon, 3)
        account.geom = point_geometry(account.lat, account.lon)
    account.geocode_precision = Precision.POSTCODE.value
    account.do_not_contact = True
    account.marketing_consent = False
    account.erased_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _erase_everywhere(session, secrets)
    audit(session, actor, "erase", f"account:{account_id}")
    session.flush()


def subject_access(
    session: Session, actor: Actor, *, email: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """Everything held on a person, for a subject-access request (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    email, name
        Who to look for (exact, case-insensitive); at least one.

    Returns
    -------
    dict
        ``contacts`` (with their account), ``accounts`` whose phone/e-mail
        match, ``interactions`` mentioning the person, ``audit`` lines
        mentioning them.
    """
    require(actor, "admin")
    if not email and not name:
        raise InputError("give an e-mail address or a name")
    keys = [k.lower() for k in (email, name) if k]
    conds = []
    if email:
        conds.append(func.lower(Contact.email) == email.lower())
    if name:
        conds.append(func.lower(Contact.name) == name.lower())
    contacts = list(session.scalars(select(Contact).where(or_(*conds))))
    accounts = []
    if email:
        accounts = list(
            session.scalars(select(Account).where(func.lower(Account.email) == email.lower()))
        )
    own_accounts = {a.id for a in accounts}  # accounts that are the person (sole traders)

    def mentions(text: str | None) -> bool:
        return bool(text) and any(k in text.lower() for k in keys)  # type: ignore[union-attr]

    interactions = [
        {
            "id": i.id,
            "account_id": i.account_id,
            "kind": i.kind,
            "occurred_at": i.occurred_at,
            "outcome": i.outcome,
            "notes": i.notes,
        }
        for i in session.scalars(select(Interaction))
        if mentions(i.notes) or i.account_id in own_accounts
    ]
    audit_lines = [
        {"at": e.at, "username": e.username, "action": e.action, "target": e.target}
        for e in session.scalars(select(AuditEvent))
        if mentions(e.details) or mentions(e.target)
    ]
    result = {
        "query": {"email": email, "name": name},
        "contacts": [
            {
                "id": c.id,
                "account_id": c.account_id,
                "name": c.name,
                "role": c.role,
                "phone": c.phone,
                "email": c.email,
                "do_not_contact": c.do_not_contact,
                "marketing_consent": c.marketing_consent,
            }
            for c in contacts
        ],
        "accounts": [
            {"id": a.id, "name": a.name, "phone": a.phone, "email": a.email} for a in accounts
        ],
        "interactions": interactions,
        "audit": audit_lines,
    }
    # The audit line names the records found, never the person searched for: an
    # e-mail or name here would outlive the person's erasure (issue 13).
    refs = [f"contact:{c.id}" for c in contacts] + [f"account:{a.id}" for a in accounts]
    target = ",".join(refs)
    if len(target) > 300:
        target = target[:300].rsplit(",", 1)[0]
    audit(
        session,
        actor,
        "subject_access",
        target or "no match",
        {
            "contacts": len(contacts),
            "accounts": len(accounts),
            "interactions": len(interactions),
            "searched_by": [k for k, v in (("e-mail", email), ("name", name)) if v],
        },
    )
    return result
