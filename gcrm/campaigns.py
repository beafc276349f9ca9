"""Campaigns: a segment reached through channels on a schedule, and its responses.

Channels: ``email`` (through the outbox and SMTP, see below), ``letter``
(mail-merge export, :mod:`gcrm.campaign_reports`), ``call`` and ``visit``
(suggested tasks for the account's rep, which the planners read with
:func:`gcrm.db.campaign_tables.tasks_frame`).

A campaign acts as its owner: every audience is computed, and re-checked
right before each send, with the owner's scope and the one contact rule of
:func:`gcrm.store.contact_rule`.

Exactly once, as far as SMTP allows
-----------------------------------
Each message is one outbox row, created once (unique campaign, account and
step; its Message-ID is derived from that key). A sender claims a row
(``pending`` -> ``sending`` with an attempt id, committed), hands it to SMTP,
and records ``sent`` when the server answers 250 (committed). So:

- a row is handed to SMTP only by the attempt that claimed it: no two senders
  and no retry send the same row twice;
- a crash before the claim loses nothing (the row stays ``pending``);
- a crash after the claim leaves ``sending``: the server may or may not have
  the message (it may have accepted it just before the crash). Such rows
  become ``uncertain`` when the next sender starts (after ``stale_after_s``)
  and are NOT re-sent automatically; they are counted in every report and a
  person settles them (``campaigns resolve``: re-send, or mark sent, e.g. after
  searching the server's log for the Message-ID). Nothing is sent twice and
  nothing is lost silently.
- a server refusal before the data was accepted (4xx/5xx on MAIL/RCPT, a
  connection refused) is certain: a temporary one returns the row to
  ``pending``, a permanent one marks it ``failed``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import smtplib
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import Actor, actor_for
from gcrm.db import campaign_tables as tables
from gcrm.db.session import session_scope
from gcrm.mailer import (
    build_message,
    check_template,
    connect,
    read_unsubscribe_token,
    render,
    unsubscribe_token,
    unsubscribe_url,
)
from gcrm.segments import SegmentDefinition, load_segment, members, require_campaigner
from gcrm.settings import Settings, get_settings
from gcrm.store import (
    CHANNELS,
    AccountFilter,
    account_ids_by_external,
    audit,
    current_recipient,
    email_recipients_frame,
    get_account,
    log_interaction,
    withdraw_contact_consent,
    withdraw_marketing_consent,
)

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

    from gcrm.db.models import Campaign, CampaignResponse

#: Kinds of response.
RESPONSE_KINDS: tuple[str, ...] = ("reply", "order", "visit", "call", "unsubscribe")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _channels(text: str | Sequence[str]) -> tuple[str, ...]:
    items = text.split(",") if isinstance(text, str) else list(text)
    out = tuple(dict.fromkeys(c.strip().lower() for c in items if c.strip()))
    bad = [c for c in out if c not in CHANNELS]
    if not out or bad:
        msg = f"channels: {', '.join(bad) or 'none given'}; choose from {', '.join(CHANNELS)}"
        raise InputError(msg)
    return out


def create_campaign(
    session: Session,
    actor: Actor,
    *,
    name: str,
    segment: int | str,
    channels: str | Sequence[str],
    subject: str = "",
    body: str = "",
    reminder_after_days: int | None = None,
    reminder_subject: str | None = None,
    start_at: dt.datetime | None = None,
) -> Campaign:
    """Create a campaign (draft, or scheduled when ``start_at`` is given).

    Parameters
    ----------
    session
        An open session.
    actor
        A manager or admin; the campaign acts as them.
    name
        Unique name.
    segment
        A stored segment (id or name).
    channels
        Some of ``email``, ``letter``, ``call``, ``visit``.
    subject, body
        Jinja2 templates of the e-mail (see :mod:`gcrm.mailer`).
    reminder_after_days
        Send a reminder to those who have not responded this many days after
        the first e-mail (``campaigns run-due``).
    reminder_subject
        Subject of the reminder (default ``"Reminder: " + subject``).
    start_at
        Launch at this time (UTC) through ``run-due``; ``None``: a draft.

    Returns
    -------
    Campaign
        The stored campaign.

    Raises
    ------
    InputError
        Naming the bad field.
    """
    require_campaigner(actor)
    if actor.id is None:
        msg = "a campaign needs a real user as its owner (--user)"
        raise PermissionDeniedError(msg)
    chans = _channels(channels)
    name = name.strip()
    if not name:
        msg = "name: must not be empty"
        raise InputError(msg)
    if tables.find_campaign(session, name) is not None:
        msg = f"name: campaign {name!r} already exists"
        raise InputError(msg)
    seg, _ = load_segment(session, segment)
    if "email" in chans:
        if not subject.strip() or not body.strip():
            msg = "an e-mail campaign needs a subject and a body"
            raise InputError(msg)
        check_template(subject, field="subject")
        check_template(body, field="body")
        if reminder_subject:
            check_template(reminder_subject, field="reminder_subject")
    if reminder_after_days is not None and reminder_after_days < 1:
        msg = f"reminder_after_days: must be at least 1, got {reminder_after_days}"
        raise InputError(msg)
    row = tables.add_campaign(
        session,
        name=name,
        segment_id=seg.id,
        owner_id=actor.id,
        channels=",".join(chans),
        subject=subject,
        body=body,
        reminder_after_days=reminder_after_days,
        reminder_subject=reminder_subject,
        status="scheduled" if start_at is not None else "draft",
        start_at=start_at,
    )
    audit(session, actor, "campaign", f"campaign:{row.id}", {"created": name, "channels": chans})
    return row


def get_campaign(session: Session, actor: Actor, ref: int | str) -> Campaign:
    """Return a campaign the actor may see (managers: their own; admins, analysts: all).

    Raises
    ------
    NotFoundError
        If there is none (or it is another manager's).
    """
    row = tables.find_campaign(session, ref)
    visible = row is not None and (
        actor.role in ("admin", "analyst", "system") or row.owner_id == actor.id
    )
    if row is None or not visible:
        msg = f"campaign {ref!r} does not exist"
        raise NotFoundError(msg)
    return row


def campaign_actor(session: Session, campaign: Campaign) -> Actor:
    """Return the actor a campaign acts as (its owner, re-read now).

    Raises
    ------
    PermissionDeniedError
        If the owner is gone or inactive: the campaign stops.
    """
    name = tables.username_of(session, campaign.owner_id)
    if name is None:
        msg = f"campaign {campaign.name!r}: its owner is no longer an active user"
        raise PermissionDeniedError(msg)
    actor = actor_for(session, name)
    require_campaigner(actor)
    return actor


def audience(
    session: Session,
    campaign: Campaign,
    channel: str,
    *,
    G: nx.MultiDiGraph | None = None,
) -> pd.DataFrame:
    """Return a campaign's members for a channel, as its owner sees them now."""
    actor = campaign_actor(session, campaign)
    _, definition = load_segment(session, campaign.segment_id)
    return members(session, actor, definition, channel=channel, G=G)


def _contact_id(row: Any) -> int | None:
    value = row.get("contact_id")
    return None if value is None or pd.isna(value) else int(value)


def _fields(row: Any, campaign_id: int) -> dict[str, Any]:
    token = unsubscribe_token(campaign_id, int(row["id"]), _contact_id(row))
    fields = {k: row.get(k) for k in ("name", "street", "housenumber", "postcode", "city")}
    fields["country"] = row.get("country")
    name = row.get("contact_name")
    fields["contact_name"] = None if name is None or pd.isna(name) else name
    fields["unsubscribe_url"] = unsubscribe_url(token)
    fields["_token"] = token
    return fields


def preview(
    session: Session,
    actor: Actor,
    ref: int | str,
    *,
    G: nx.MultiDiGraph | None = None,
    sample: int = 3,
) -> dict[str, Any]:
    """Return who a campaign would reach per channel and a few rendered e-mails.

    Returns
    -------
    dict
        ``counts`` (channel -> members), ``members`` (channel -> frame) and
        ``samples`` (list of ``{to, subject, text, html}``).
    """
    campaign = get_campaign(session, actor, ref)
    out: dict[str, Any] = {"counts": {}, "members": {}, "samples": []}
    for channel in campaign.channels.split(","):
        frame = audience(session, campaign, channel, G=G)
        out["counts"][channel] = len(frame)
        out["members"][channel] = frame
        if channel == "email":
            for _, row in frame.head(sample).iterrows():
                subj, text, html_doc = render(
                    campaign.subject, campaign.body, _fields(row, campaign.id)
                )
                out["samples"].append(
                    {"to": row["email"], "subject": subj, "text": text, "html": html_doc}
                )
    return out


def launch(
    session: Session, actor: Actor, ref: int | str, *, G: nx.MultiDiGraph | None = None
) -> dict[str, int]:
    """Start a campaign: queue its e-mails and create its suggested visits and calls.

    Idempotent: a second launch queues and creates only what is missing.

    Returns
    -------
    dict
        ``{"email": queued, "call": tasks, "visit": tasks, "letter": members}``.
    """
    campaign = get_campaign(session, actor, ref)
    if actor.role != "system":
        require_campaigner(actor)
    out: dict[str, int] = {}
    for channel in campaign.channels.split(","):
        frame = audience(session, campaign, channel, G=G)
        if channel == "email":
            out["email"] = tables.enqueue(session, campaign.id, "initial", _recipients(frame))
        elif channel in ("call", "visit"):
            tasks = [
                (int(a), None if pd.isna(o) else int(o), channel)
                for a, o in zip(frame["id"], frame["owner_id"], strict=True)
            ]
            out[channel] = tables.add_tasks(session, campaign.id, tasks)
        else:
            out[channel] = len(frame)
    if campaign.status in ("draft", "scheduled"):
        campaign.status = "active"
        campaign.sent_at = _now()
    audit(session, actor, "campaign", f"campaign:{campaign.id}", {"launched": out})
    session.flush()
    return out


def _recipients(frame: pd.DataFrame) -> list[tuple[int, str, int | None]]:
    """``(account_id, address, contact_id)`` of an e-mail audience."""
    return [(int(r["id"]), str(r["email"]), _contact_id(r)) for r in frame.to_dict("records")]


@dataclasses.dataclass(frozen=True)
class SendResult:
    """What one run of the sender did.

    Attributes
    ----------
    sent, skipped, failed, retry, uncertain
        Messages per outcome in this run (``uncertain``: stale claims found).
    """

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0
    uncertain: int = 0


def _step_texts(campaign: Campaign, step: str) -> tuple[str, str]:
    if step == "reminder":
        return campaign.reminder_subject or f"Reminder: {campaign.subject}", campaign.body
    return campaign.subject, campaign.body


def _send_one(
    client: smtplib.SMTP, settings: Settings, url: str | None, campaign_id: int, attempt: str
) -> str | None:
    """Claim, send and record one message; return its outcome (``None``: none left)."""
    with session_scope(url) as session:
        msg = tables.claim(session, campaign_id, attempt)
        if msg is None:
            return None
        msg_pk, account_id, contact_id, step = msg.id, msg.account_id, msg.contact_id, msg.step
        recipient, message_id = msg.recipient, msg.message_id
        campaign = tables.find_campaign(session, campaign_id)
        assert campaign is not None
        actor = campaign_actor(session, campaign)
        # re-checked now (scope and the contact rules): consent may have gone since queuing
        row = current_recipient(session, actor, account_id, contact_id)
        if row is None:
            tables.finish(session, msg_pk, attempt, "skipped", "no longer reachable")
            return "skipped"
        if str(row["email"]).strip().lower() != recipient.strip().lower():
            tables.finish(session, msg_pk, attempt, "skipped", "address changed since queuing")
            return "skipped"
        fields = _fields(row, campaign_id)
        subject, body = _step_texts(campaign, step)
    # the claim is committed: from here on a crash leaves ``sending``
    subj, text, html_doc = render(subject, body, fields)
    email = build_message(
        sender=settings.smtp_from,
        to=recipient,
        subject=subj,
        text=text,
        html_doc=html_doc,
        message_id=message_id,
        token=fields["_token"],
    )
    outcome, error = "sent", None
    try:
        client.send_message(email)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        outcome = "failed" if all(c >= 500 for c in codes) else "pending"
        error = str(exc.recipients)
    except smtplib.SMTPSenderRefused as exc:
        outcome, error = ("failed" if exc.smtp_code >= 500 else "pending"), str(exc)
    except smtplib.SMTPDataError as exc:
        outcome, error = ("failed" if exc.smtp_code >= 500 else "pending"), str(exc)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        outcome, error = "uncertain", str(exc)
    with session_scope(url) as session:
        tables.finish(session, msg_pk, attempt, outcome, error)
    if outcome == "uncertain":
        raise smtplib.SMTPServerDisconnected(error or "disconnected")
    return outcome


def send_pending(
    campaign_id: int,
    *,
    url: str | None = None,
    limit: int | None = None,
    stale_after_s: float = 600.0,
    settings: Settings | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> SendResult:
    """Send a campaign's pending e-mails through SMTP (see the module notes).

    Parameters
    ----------
    campaign_id
        The campaign.
    url
        Database URL (default the settings').
    limit
        Send at most this many.
    stale_after_s
        ``sending`` rows claimed longer ago than this are settled as
        ``uncertain`` first (a sender that died); use 0 when no other sender
        can be running.
    settings
        SMTP settings (default :func:`gcrm.settings.get_settings`).
    on_sent
        Called with the running count after each message sent.

    Returns
    -------
    SendResult
        The counts of this run.
    """
    s = settings or get_settings()
    counts = {"sent": 0, "skipped": 0, "failed": 0, "pending": 0, "uncertain": 0}
    with session_scope(url) as session:
        counts["uncertain"] = _recover(session, campaign_id, stale_after_s)
    attempt = uuid.uuid4().hex
    client = connect(s)
    try:
        while limit is None or counts["sent"] < limit:
            outcome = _send_one(client, s, url, campaign_id, attempt)
            if outcome is None:
                break
            counts[outcome] += 1
            if outcome == "sent" and on_sent is not None:
                on_sent(counts["sent"])
            if outcome == "pending":
                break  # a temporary refusal: try again on the next run
    finally:
        try:
            client.quit()
        except smtplib.SMTPException:
            client.close()
    return SendResult(
        sent=counts["sent"],
        skipped=counts["skipped"],
        failed=counts["failed"],
        retry=counts["pending"],
        uncertain=counts["uncertain"],
    )


def _recover(session: Session, campaign_id: int, stale_after_s: float) -> int:
    cutoff = _now() - dt.timedelta(seconds=stale_after_s)
    return tables.recover_stale(session, campaign_id, claimed_before=cutoff)


def run_due(
    *,
    now: dt.datetime | None = None,
    url: str | None = None,
    G: nx.MultiDiGraph | None = None,
    settings: Settings | None = None,
    stale_after_s: float = 600.0,
) -> dict[str, Any]:
    """Run every due step: scheduled launches, reminders, then pending e-mail.

    Idempotent: the outbox key (campaign, account, step) and the task key stop
    a second run from queuing anything twice, and sent rows are never sent
    again. Meant for cron or a systemd timer (``python -m gcrm campaigns run-due``).

    Returns
    -------
    dict
        ``{campaign name: {"launched": ..., "reminders": n, "sent": n, ...}}``.
    """
    when = now or _now()
    report: dict[str, Any] = {}
    with session_scope(url) as session:
        due = [(c.id, c.name) for c in tables.due_campaigns(session, when)]
    for cid, name in due:
        entry: dict[str, Any] = {}
        with session_scope(url) as session:
            campaign = tables.find_campaign(session, cid)
            assert campaign is not None
            actor = campaign_actor(session, campaign)
            if campaign.status == "scheduled":
                entry["launched"] = launch(session, actor, cid, G=G)
            elif campaign.reminder_after_days and campaign.sent_at is not None:
                if campaign.sent_at + dt.timedelta(days=campaign.reminder_after_days) <= when:
                    entry["reminders"] = _queue_reminders(session, actor, campaign)
        if "email" in name_channels(url, cid):
            entry["send"] = dataclasses.asdict(
                send_pending(cid, url=url, settings=settings, stale_after_s=stale_after_s)
            )
        report[name] = entry
    return report


def name_channels(url: str | None, campaign_id: int) -> tuple[str, ...]:
    """Return a campaign's channels."""
    with session_scope(url) as session:
        campaign = tables.find_campaign(session, campaign_id)
        return tuple(campaign.channels.split(",")) if campaign else ()


def _queue_reminders(session: Session, actor: Actor, campaign: Campaign) -> int:
    """Queue reminders to the addresses mailed whose account has not responded
    (only those still reachable now)."""
    mailed = tables.sent_recipients(session, campaign.id, "initial")
    responded = set(tables.responses_frame(session, campaign.id)["account_id"].astype(int))
    targets = {pair for pair in mailed if pair[0] not in responded}
    if not targets:
        return 0
    accounts = sorted({a for a, _ in targets})
    frame = email_recipients_frame(session, actor, AccountFilter(ids=accounts))
    rows = [r for r in _recipients(frame) if (r[0], r[2]) in targets]
    return tables.enqueue(session, campaign.id, "reminder", rows)


def unsubscribe(session: Session, token: str) -> dict[str, Any]:
    """Apply an unsubscribe token: marketing consent off, a response recorded.

    The token names the account's own address or one contact person; only
    that one's consent goes off.

    The app's ``?unsubscribe=TOKEN`` link and ``campaigns unsubscribe TOKEN``
    both call this. Using a token twice changes nothing more.

    Returns
    -------
    dict
        ``{"campaign_id", "account_id", "contact_id", "changed"}``.

    Raises
    ------
    InputError
        If the token is not valid.
    """
    campaign_id, account_id, contact_id = read_unsubscribe_token(token)
    campaign = tables.find_campaign(session, campaign_id)
    reason = f"campaign:{campaign_id}"
    if contact_id is None:
        changed = withdraw_marketing_consent(session, account_id, reason=reason)
    else:
        changed = withdraw_contact_consent(session, contact_id, reason=reason)
    if campaign is not None and changed:
        tables.add_response(
            session,
            campaign_id=campaign_id,
            account_id=account_id,
            kind="unsubscribe",
            converted=False,
            source="link",
            at=_now(),
        )
    return {
        "campaign_id": campaign_id,
        "account_id": account_id,
        "contact_id": contact_id,
        "changed": changed,
    }


def log_response(
    session: Session,
    actor: Actor,
    ref: int | str,
    account_id: int,
    *,
    kind: str,
    outcome: str | None = None,
    converted: bool = False,
    value: float | None = None,
    source: str = "logged",
) -> CampaignResponse:
    """Record a response to a campaign; a visit or call is also logged as an interaction.

    The account must be in the actor's scope (reps log their own visits).

    Raises
    ------
    InputError
        If the kind is unknown.
    """
    if kind not in RESPONSE_KINDS:
        msg = f"kind: {kind!r} is not one of {', '.join(RESPONSE_KINDS)}"
        raise InputError(msg)
    campaign = tables.find_campaign(session, ref)
    if campaign is None:
        msg = f"campaign {ref!r} does not exist"
        raise NotFoundError(msg)
    account = get_account(session, actor, account_id)
    interaction_id = None
    if kind in ("visit", "call"):
        note = f"campaign {campaign.name}"
        interaction_id = log_interaction(
            session, actor, account.id, kind=kind, outcome=outcome, notes=note
        ).id
    row = tables.add_response(
        session,
        campaign_id=campaign.id,
        account_id=account.id,
        kind=kind,
        converted=bool(converted),
        value=value,
        source=source,
        interaction_id=interaction_id,
        at=_now(),
    )
    audit(
        session,
        actor,
        "campaign",
        f"campaign:{campaign.id}",
        {"response": kind, "account": account.id},
    )
    return row


def segment_definition(session: Session, campaign: Campaign) -> SegmentDefinition:
    """Return the definition of a campaign's segment."""
    return load_segment(session, campaign.segment_id)[1]


_TRUE = {"1", "true", "yes", "y", "x", "kyllä"}
_FALSE = {"", "0", "false", "no", "n", "ei"}


def import_responses(
    session: Session, actor: Actor, ref: int | str, data: bytes, *, filename: str = "responses.csv"
) -> int:
    """Import replies or orders from a CSV: all rows or none.

    Columns: ``external_id`` (or ``account_id``), optional ``kind`` (``reply``
    or ``order``; default ``reply``), ``converted`` (yes/no) and ``value``.
    Accounts must be in the actor's scope.

    Returns
    -------
    int
        Rows imported.

    Raises
    ------
    InputError
        Naming the file, the row and the field of the first bad value.
    """
    campaign = get_campaign(session, actor, ref)
    try:
        frame = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{filename}: not a readable CSV ({exc})"
        raise InputError(msg) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    key = "external_id" if "external_id" in frame.columns else "account_id"
    if key not in frame.columns:
        msg = f"{filename}: needs an external_id or account_id column"
        raise InputError(msg)
    found = account_ids_by_external(session, actor, frame[key]) if key == "external_id" else {}
    rows = []
    for n, rec in enumerate(frame.to_dict("records"), start=2):
        ref_value = str(rec[key]).strip()
        aid = found.get(ref_value) if key == "external_id" else _int_or_none(ref_value)
        if aid is not None and key == "account_id":
            try:
                get_account(session, actor, aid)
            except NotFoundError:
                aid = None
        if aid is None:
            msg = f"{filename}, row {n}, {key}: {ref_value!r} is not an account you may see"
            raise InputError(msg)
        kind = str(rec.get("kind", "") or "reply").strip().lower()
        if kind not in ("reply", "order"):
            msg = f"{filename}, row {n}, kind: {kind!r} is not reply or order"
            raise InputError(msg)
        conv = str(rec.get("converted", "") or ("yes" if kind == "order" else "")).strip().lower()
        if conv not in _TRUE | _FALSE:
            msg = f"{filename}, row {n}, converted: {conv!r} is not yes or no"
            raise InputError(msg)
        value = _float_or_none(str(rec.get("value", "")).strip().replace(",", "."))
        if value is False:
            msg = f"{filename}, row {n}, value: {rec.get('value')!r} is not a number"
            raise InputError(msg)
        rows.append((int(aid), kind, conv in _TRUE, value))
    for aid, kind, converted, value in rows:
        tables.add_response(
            session,
            campaign_id=campaign.id,
            account_id=aid,
            kind=kind,
            converted=converted,
            value=value,
            source="import",
            at=_now(),
        )
    audit(session, actor, "import", filename, {"campaign": campaign.id, "responses": len(rows)})
    return len(rows)


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _float_or_none(text: str) -> float | bool | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return False
