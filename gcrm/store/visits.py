"""Visits, calls, check-ins and contacts of accounts in scope; one account's detail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gcrm._errors import InputError
from gcrm.auth import Actor, account_scope, pseudonym, require, sees_personal_data
from gcrm.db.models import (
    Account,
    Interaction,
    InteractionKind,
    User,
    VisitCheckin,
)
from gcrm.store.accounts import get_account
from gcrm.store.audit_log import audit
from gcrm.store.scope import ACCOUNT_COLUMNS


def log_interaction(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    kind: str = InteractionKind.VISIT.value,
    outcome: str | None = None,
    notes: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Interaction:
    """Record a visit, call, e-mail or note; a visit updates ``last_visit``.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``edit``).
    account_id
        The account (must be in scope).
    kind
        ``visit``, ``call``, ``email`` or ``note``.
    outcome, notes
        Free text.
    occurred_at
        When (default now, UTC).

    Returns
    -------
    Interaction
        The new interaction.
    """
    require(actor, "edit")
    if kind not in {k.value for k in InteractionKind}:
        msg = f"kind: {kind!r} is not one of visit, call, email, note"
        raise InputError(msg)
    account = get_account(session, actor, account_id)
    when = occurred_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    interaction = Interaction(
        account_id=account.id,
        user_id=actor.id,
        kind=kind,
        outcome=outcome,
        notes=notes,
        occurred_at=when,
    )
    session.add(interaction)
    if kind == InteractionKind.VISIT.value and (
        account.last_visit is None or when.date() > account.last_visit
    ):
        account.last_visit = when.date()
    session.flush()
    return interaction


#: The outcomes offered when a visit is logged; any other (typed) outcome is
#: free text and shown only to roles that see personal data.
STANDARD_OUTCOMES: frozenset[str] = frozenset(
    {"order", "follow-up", "no decision", "not interested", "demo booked"}
)


def record_checkin(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    kind: str,
    at: dt.datetime,
    lat: float | None = None,
    lon: float | None = None,
    accuracy_m: float | None = None,
    distance_m: float | None = None,
    far: bool = False,
    visit_day: dt.date | None = None,
) -> VisitCheckin:
    """Store a check-in or check-out (see :func:`gcrm.day_actions.check_in`).

    Parameters
    ----------
    session, actor
        Open session and the acting user (needs ``edit``).
    account_id
        The account (must be in scope).
    kind
        ``"in"`` or ``"out"``.
    at
        When (UTC, naive).
    lat, lon, accuracy_m, distance_m, far
        The device position, its accuracy, the distance to the account and
        whether it is flagged as far.
    visit_day
        The planned day.

    Returns
    -------
    VisitCheckin
        The stored row.
    """
    require(actor, "edit")
    account = get_account(session, actor, account_id)
    row = VisitCheckin(
        account_id=account.id,
        user_id=actor.id,
        kind=kind,
        at=at,
        visit_day=visit_day,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        distance_m=distance_m,
        far=far,
    )
    session.add(row)
    session.flush()
    return row


def checkins_frame(
    session: Session, actor: Actor, *, account_id: int | None = None
) -> pd.DataFrame:
    """Check-ins in the actor's scope, newest first.

    Parameters
    ----------
    session, actor
        Open session and the acting user.
    account_id
        Only this account's.

    Returns
    -------
    pandas.DataFrame
        ``id, account_id, user, kind, at, visit_day, lat, lon, accuracy_m,
        distance_m, far``.
    """
    require(actor, "view")
    stmt = (
        select(
            VisitCheckin.id,
            VisitCheckin.account_id,
            User.username.label("user"),
            VisitCheckin.kind,
            VisitCheckin.at,
            VisitCheckin.visit_day,
            VisitCheckin.lat,
            VisitCheckin.lon,
            VisitCheckin.accuracy_m,
            VisitCheckin.distance_m,
            VisitCheckin.far,
        )
        .join(Account, Account.id == VisitCheckin.account_id)
        .outerjoin(User, User.id == VisitCheckin.user_id)
        .where(account_scope(actor))
        .order_by(VisitCheckin.at.desc(), VisitCheckin.id.desc())
    )
    if account_id is not None:
        stmt = stmt.where(VisitCheckin.account_id == account_id)
    cols = ["id", "account_id", "user", "kind", "at", "visit_day", "lat", "lon",
            "accuracy_m", "distance_m", "far"]  # fmt: skip
    return pd.DataFrame([tuple(r) for r in session.execute(stmt)], columns=cols)


def interactions_frame(
    session: Session,
    actor: Actor,
    account_ids: Iterable[int] | None = None,
    *,
    since: dt.date | None = None,
) -> pd.DataFrame:
    """Return interactions on accounts in the actor's scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_ids
        Only these accounts (``None``: all in scope).
    since
        Only interactions on or after this day (``None``: all).

    Returns
    -------
    pandas.DataFrame
        Columns id, account_id, account, user, kind, occurred_at, outcome, notes,
        newest first. For actors who do not see personal data, notes are
        empty and outcomes other than :data:`STANDARD_OUTCOMES` read "other".
    """
    require(actor, "view")
    stmt = (
        select(
            Interaction.id,
            Interaction.account_id,
            Account.name.label("account"),
            User.username.label("user"),
            Interaction.kind,
            Interaction.occurred_at,
            Interaction.outcome,
            Interaction.notes,
        )
        .join(Account, Account.id == Interaction.account_id)
        .outerjoin(User, User.id == Interaction.user_id)
        .where(account_scope(actor))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
    )
    if account_ids is not None:
        stmt = stmt.where(Interaction.account_id.in_(list(account_ids)))
    if since is not None:
        stmt = stmt.where(Interaction.occurred_at >= dt.datetime.combine(since, dt.time()))
    rows = session.execute(stmt).mappings().all()
    cols = ["id", "account_id", "account", "user", "kind", "occurred_at", "outcome", "notes"]
    df = pd.DataFrame(rows, columns=cols)
    if not sees_personal_data(actor):
        df["notes"] = None
        # a free-text outcome may name people: only the standard ones stay
        df["outcome"] = [
            o if o in STANDARD_OUTCOMES or o is None else "other" for o in df["outcome"]
        ]
    return df


def contacts_of(session: Session, actor: Actor, account_id: int) -> list[dict[str, Any]]:
    """Return the contacts of an account in scope, personal fields masked per role.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; analysts without a grant see pseudonyms.
    account_id
        The account.

    Returns
    -------
    list of dict
        ``id``, ``name``, ``role``, ``phone``, ``email``, ``do_not_contact``,
        ``marketing_consent``, ordered by name.
    """
    account = get_account(session, actor, account_id)
    clear = sees_personal_data(actor)
    out = []
    for c in sorted(account.contacts, key=lambda c: c.name):
        out.append(
            {
                "id": c.id,
                "name": c.name if clear else pseudonym(c),
                "role": c.role,
                "phone": c.phone if clear else None,
                "email": c.email if clear else None,
                "do_not_contact": c.do_not_contact,
                "marketing_consent": c.marketing_consent,
            }
        )
    return out


def account_detail(session: Session, actor: Actor, account_id: int) -> dict[str, Any]:
    """Return everything about one account for its page, and audit the view.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_id
        The account.

    Returns
    -------
    dict
        ``account`` (field → value, phone/e-mail masked per role),
        ``contacts`` (see :func:`contacts_of`) and ``interactions``
        (a DataFrame, see :func:`interactions_frame`).
    """
    account = get_account(session, actor, account_id)
    clear = sees_personal_data(actor)
    fields = {c: getattr(account, c) for c in ACCOUNT_COLUMNS if c not in ("owner", "territory")}
    fields["owner"] = account.owner.username if account.owner else None
    fields["territory"] = account.territory.name if account.territory else None
    fields["phone"] = account.phone if clear else None
    fields["email"] = account.email if clear else None
    detail = {
        "account": fields,
        "contacts": contacts_of(session, actor, account_id),
        "interactions": interactions_frame(session, actor, [account_id]),
    }
    audit(session, actor, "view", f"account:{account_id}", {"personal_data": clear})
    return detail
