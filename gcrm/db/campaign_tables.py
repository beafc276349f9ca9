"""Queries on the campaign tables: segments, campaigns, outbox, tasks, responses.

These functions see no account data and check no rights: :mod:`gcrm.campaigns`
checks the acting user's rights and reads accounts through :mod:`gcrm.store`
(scope and the contact rule). The outbox state machine lives here:

``pending`` -> ``sending`` (claimed: attempt id and time recorded and committed
before SMTP) -> ``sent`` (SMTP accepted: committed right after). ``sending``
rows left by a crash become ``uncertain`` (never re-sent automatically, see
:func:`recover_stale`); ``skipped`` rows lost their consent before sending;
``failed`` rows were refused for good by the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gcrm.db.models import (
    Campaign,
    CampaignResponse,
    CampaignTask,
    OutboxMessage,
    Segment,
    User,
)

#: Outbox states.
OUTBOX_STATES: tuple[str, ...] = ("pending", "sending", "sent", "uncertain", "skipped", "failed")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def find_segment(session: Session, ref: int | str) -> Segment | None:
    """Return a segment by id or name (``None`` if absent)."""
    if isinstance(ref, int) or str(ref).isdigit():
        return session.get(Segment, int(ref))
    return session.scalar(select(Segment).where(Segment.name == str(ref)))


def find_campaign(session: Session, ref: int | str) -> Campaign | None:
    """Return a campaign by id or name (``None`` if absent)."""
    if isinstance(ref, int) or str(ref).isdigit():
        return session.get(Campaign, int(ref))
    return session.scalar(select(Campaign).where(Campaign.name == str(ref)))


def list_campaigns(session: Session, owner_ids: Iterable[int] | None = None) -> list[Campaign]:
    """Return campaigns, newest first (all, or those of some owners)."""
    stmt = select(Campaign).order_by(Campaign.id.desc())
    if owner_ids is not None:
        stmt = stmt.where(Campaign.owner_id.in_(list(owner_ids)))
    return list(session.scalars(stmt))


def enqueue(
    session: Session,
    campaign_id: int,
    step: str,
    rows: Iterable[tuple[int, str, int | None]],
) -> int:
    """Create the outbox rows of a step that do not exist yet.

    Parameters
    ----------
    session
        An open session.
    campaign_id, step
        The campaign step.
    rows
        ``(account_id, recipient, contact_id)``; ``contact_id`` is ``None``
        for the account's own address.

    Returns
    -------
    int
        How many rows were created. One message per address and step: a
        second call creates none (the unique Message-ID, derived from
        campaign, step, account and person, also stops a concurrent one), and
        an address already queued in the step (say a person who is a contact
        at two accounts) is not queued again.
    """
    have = session.execute(
        select(OutboxMessage.message_id, OutboxMessage.recipient).where(
            OutboxMessage.campaign_id == campaign_id, OutboxMessage.step == step
        )
    ).all()
    ids = {m for m, _ in have}
    addresses = {r.strip().lower() for _, r in have}
    new = []
    for aid, recipient, contact_id in rows:
        mid = message_id_of(campaign_id, step, int(aid), contact_id)
        address = recipient.strip().lower()
        if mid in ids or address in addresses:
            continue
        ids.add(mid)
        addresses.add(address)
        new.append(
            OutboxMessage(
                campaign_id=campaign_id,
                account_id=int(aid),
                contact_id=None if contact_id is None else int(contact_id),
                step=step,
                recipient=recipient.strip(),
                status="pending",
                attempts=0,
                message_id=mid,
            )
        )
    session.add_all(new)
    session.flush()
    return len(new)


def message_id_of(campaign_id: int, step: str, account_id: int, contact_id: int | None) -> str:
    """Return the Message-ID of a campaign step's message to an account or its person."""
    person = "" if contact_id is None else f".p{int(contact_id)}"
    return f"<c{campaign_id}.{step}.a{int(account_id)}{person}@gcrm.outbox>"


def claim(session: Session, campaign_id: int, attempt_id: str) -> OutboxMessage | None:
    """Claim the next pending message of a campaign (``pending`` -> ``sending``).

    The conditional UPDATE makes a claim exclusive even with several senders.
    The caller commits before handing the message to SMTP.
    """
    while True:
        msg_id = session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if msg_id is None:
            return None
        done = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, OutboxMessage.status == "pending")
            .values(
                status="sending",
                attempt_id=attempt_id,
                claimed_at=_now(),
                attempts=OutboxMessage.attempts + 1,
            )
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            session.flush()
            msg = session.get(OutboxMessage, msg_id)
            if msg is not None:
                session.refresh(msg)
            return msg


def finish(
    session: Session, message_id: int, attempt_id: str, status: str, error: str | None = None
) -> bool:
    """Move a claimed message out of ``sending`` (only the claiming attempt may).

    Returns
    -------
    bool
        ``False`` when the row was no longer held by this attempt.
    """
    values: dict[str, Any] = {"status": status, "error": error}
    if status == "sent":
        values["sent_at"] = _now()
    done = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.attempt_id == attempt_id,
            OutboxMessage.status == "sending",
        )
        .values(**values)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def recover_stale(
    session: Session, campaign_id: int | None = None, *, claimed_before: dt.datetime | None = None
) -> int:
    """Mark ``sending`` rows claimed before a time as ``uncertain`` (dead senders).

    A row still ``sending`` means its sender died between the claim and the
    record of SMTP's answer: the server may or may not hold the message.
    Re-sending could send it twice, so it is left for a person
    (:func:`resolve_uncertain`); it is never lost: reports count it.
    """
    stmt = update(OutboxMessage).where(OutboxMessage.status == "sending")
    if campaign_id is not None:
        stmt = stmt.where(OutboxMessage.campaign_id == campaign_id)
    if claimed_before is not None:
        stmt = stmt.where(OutboxMessage.claimed_at <= claimed_before)
    done = session.execute(stmt.values(status="uncertain"))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def resolve_uncertain(session: Session, campaign_id: int, *, resend: bool) -> int:
    """Settle uncertain rows: back to ``pending`` (re-send) or ``sent`` (delivered)."""
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "uncertain")
        .values(status="pending" if resend else "sent")
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def outbox_frame(session: Session, campaign_id: int) -> pd.DataFrame:
    """Return a campaign's outbox rows (id, account, step, recipient, status...)."""
    cols = [
        OutboxMessage.id,
        OutboxMessage.account_id,
        OutboxMessage.contact_id,
        OutboxMessage.step,
        OutboxMessage.recipient,
        OutboxMessage.status,
        OutboxMessage.message_id,
        OutboxMessage.attempts,
        OutboxMessage.sent_at,
        OutboxMessage.error,
    ]
    rows = session.execute(
        select(*cols).where(OutboxMessage.campaign_id == campaign_id).order_by(OutboxMessage.id)
    ).all()
    return pd.DataFrame(rows, columns=[c.key for c in cols])


def outbox_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Return ``{status: count}`` of a campaign's outbox (every state present)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.campaign_id == campaign_id)
        .group_by(OutboxMessage.status)
    ).all()
    out = dict.fromkeys(OUTBOX_STATES, 0)
    out.update({str(s): int(n) for s, n in rows})
    return out


def add_tasks(
    session: Session, campaign_id: int, rows: Iterable[tuple[int, int | None, str]]
) -> int:
    """Create suggested visits/calls ``(account_id, rep_id, kind)`` not yet there."""
    have = set(
        session.execute(
            select(CampaignTask.account_id, CampaignTask.kind).where(
                CampaignTask.campaign_id == campaign_id
            )
        ).all()
    )
    new = [
        CampaignTask(campaign_id=campaign_id, account_id=a, rep_id=r, kind=k, status="open")
        for a, r, k in rows
        if (a, k) not in have
    ]
    session.add_all(new)
    session.flush()
    return len(new)


def tasks_frame(
    session: Session, *, campaign_id: int | None = None, rep_id: int | None = None
) -> pd.DataFrame:
    """Return suggested visits/calls (the planners read them per rep)."""
    cols = [
        CampaignTask.id,
        CampaignTask.campaign_id,
        CampaignTask.account_id,
        CampaignTask.rep_id,
        CampaignTask.kind,
        CampaignTask.status,
    ]
    stmt = select(*cols).order_by(CampaignTask.id)
    if campaign_id is not None:
        stmt = stmt.where(CampaignTask.campaign_id == campaign_id)
    if rep_id is not None:
        stmt = stmt.where(CampaignTask.rep_id == rep_id)
    return pd.DataFrame(session.execute(stmt).all(), columns=[c.key for c in cols])


def open_tasks_frame(session: Session, *, rep_id: int, kind: str) -> pd.DataFrame:
    """Return a rep's open tasks of a kind with their campaign's name."""
    cols = ["account_id", "campaign_id", "campaign", "created_at"]
    rows = session.execute(
        select(
            CampaignTask.account_id,
            CampaignTask.campaign_id,
            Campaign.name,
            CampaignTask.created_at,
        )
        .join(Campaign, Campaign.id == CampaignTask.campaign_id)
        .where(
            CampaignTask.rep_id == rep_id,
            CampaignTask.kind == kind,
            CampaignTask.status == "open",
        )
        .order_by(CampaignTask.created_at, CampaignTask.id)
    ).all()
    return pd.DataFrame(rows, columns=cols)


def responded_pairs(session: Session, *, kind: str) -> set[tuple[int, int]]:
    """Return ``(campaign_id, account_id)`` with a response of a kind (a visit, a call)."""
    rows = session.execute(
        select(CampaignResponse.campaign_id, CampaignResponse.account_id)
        .where(CampaignResponse.kind == kind)
        .distinct()
    ).all()
    return {(int(c), int(a)) for c, a in rows}


def add_response(session: Session, **values: Any) -> CampaignResponse:
    """Store one campaign response (see :class:`~gcrm.db.models.CampaignResponse`)."""
    row = CampaignResponse(**values)
    session.add(row)
    session.flush()
    return row


def responses_frame(session: Session, campaign_id: int) -> pd.DataFrame:
    """Return a campaign's responses."""
    cols = [
        CampaignResponse.account_id,
        CampaignResponse.kind,
        CampaignResponse.converted,
        CampaignResponse.value,
        CampaignResponse.source,
        CampaignResponse.at,
    ]
    rows = session.execute(select(*cols).where(CampaignResponse.campaign_id == campaign_id)).all()
    return pd.DataFrame(rows, columns=[c.key for c in cols])


def sent_account_ids(session: Session, campaign_id: int, step: str) -> set[int]:
    """Return the accounts with a message of a step ``sent`` (to them or their people)."""
    return {a for a, _ in sent_recipients(session, campaign_id, step)}


def sent_recipients(session: Session, campaign_id: int, step: str) -> set[tuple[int, int | None]]:
    """Return ``(account_id, contact_id)`` of a step's ``sent`` messages."""
    rows = session.execute(
        select(OutboxMessage.account_id, OutboxMessage.contact_id).where(
            OutboxMessage.campaign_id == campaign_id,
            OutboxMessage.step == step,
            OutboxMessage.status == "sent",
        )
    ).all()
    return {(int(a), None if c is None else int(c)) for a, c in rows}


def add_segment(session: Session, **values: Any) -> Segment:
    """Store a segment."""
    row = Segment(**values)
    session.add(row)
    session.flush()
    return row


def add_campaign(session: Session, **values: Any) -> Campaign:
    """Store a campaign."""
    row = Campaign(**values)
    session.add(row)
    session.flush()
    return row


def username_of(session: Session, user_id: int | None) -> str | None:
    """Return the login name of a user id (``None`` if absent or inactive)."""
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user is not None and user.is_active else None


def due_campaigns(session: Session, now: dt.datetime) -> list[Campaign]:
    """Return campaigns with a step due: scheduled to start, or a reminder due."""
    stmt = select(Campaign).where(
        ((Campaign.status == "scheduled") & (Campaign.start_at <= now))
        | ((Campaign.status == "active") & Campaign.reminder_after_days.is_not(None))
    )
    return list(session.scalars(stmt.order_by(Campaign.id)))
