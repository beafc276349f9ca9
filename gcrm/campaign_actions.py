"""What the Campaigns page does, one call per action (each in its own transaction).

Pages never open database sessions themselves; they call these. Each function
takes the logged-in actor; the rules live in :mod:`gcrm.campaigns`,
:mod:`gcrm.segments` and :mod:`gcrm.store`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pandas as pd

from gcrm.auth import Actor
from gcrm.campaign_reports import (
    GroupBy,
    campaign_report,
    export_campaign_report,
    export_letters,
    response_map,
)
from gcrm.campaigns import (
    create_campaign,
    get_campaign,
    launch,
    log_response,
    preview,
    segment_definition,
    send_pending,
    unsubscribe,
)
from gcrm.db import campaign_tables as tables
from gcrm.db.session import session_scope
from gcrm.reports import Export
from gcrm.segments import SegmentDefinition, save_segment
from gcrm.store import facets

if TYPE_CHECKING:
    import folium
    import networkx as nx


def campaigns_frame(actor: Actor) -> pd.DataFrame:
    """Return the campaigns the actor may see with their outbox counts."""
    with session_scope() as s:
        owner_ids = None if actor.role in ("admin", "analyst", "system") else [actor.id or -1]
        rows = []
        for c in tables.list_campaigns(s, owner_ids):
            counts = tables.outbox_counts(s, c.id)
            rows.append(
                {
                    "id": c.id,
                    "name": c.name,
                    "channels": c.channels,
                    "status": c.status,
                    "sent": counts["sent"],
                    "pending": counts["pending"],
                    "uncertain": counts["uncertain"],
                }
            )
    return pd.DataFrame(
        rows, columns=["id", "name", "channels", "status", "sent", "pending", "uncertain"]
    )


def filter_options(actor: Actor) -> dict[str, list[str]]:
    """Return the kinds and territories the actor can filter on."""
    with session_scope() as s:
        return facets(s, actor)


def new_campaign(
    actor: Actor,
    *,
    name: str,
    definition: SegmentDefinition,
    channels: list[str],
    subject: str,
    body: str,
    reminder_after_days: int | None,
) -> int:
    """Save the segment (named after the campaign) and the campaign; return its id."""
    with session_scope() as s:
        save_segment(s, actor, f"{name} (segment)", definition)
        c = create_campaign(
            s,
            actor,
            name=name,
            segment=f"{name} (segment)",
            channels=channels,
            subject=subject,
            body=body,
            reminder_after_days=reminder_after_days,
        )
        return c.id


def _graph_if_needed(s: Any, actor: Actor, ref: int, G: nx.MultiDiGraph | None) -> Any:
    d = segment_definition(s, get_campaign(s, actor, ref))
    return G if d.drive is not None else None


def preview_campaign(actor: Actor, ref: int, *, G: nx.MultiDiGraph | None = None) -> dict[str, Any]:
    """Return the preview of :func:`gcrm.campaigns.preview`."""
    with session_scope() as s:
        return preview(s, actor, ref, G=_graph_if_needed(s, actor, ref, G))


def send_campaign(actor: Actor, ref: int, *, G: nx.MultiDiGraph | None = None) -> dict[str, Any]:
    """Launch a campaign and send its pending e-mail; return what happened."""
    with session_scope() as s:
        queued = launch(s, actor, ref, G=_graph_if_needed(s, actor, ref, G))
        channels = get_campaign(s, actor, ref).channels.split(",")
    out: dict[str, Any] = {"queued": queued}
    if "email" in channels:
        out["send"] = dataclasses.asdict(send_pending(ref))
    return out


def describe_send(result: dict[str, Any]) -> str:
    """Return what :func:`send_campaign` did, in words for the page."""
    parts = []
    send = result.get("send")
    if send is not None:
        words = f"Sent {send['sent']} e-mail(s)"
        others = [f"{send[k]} {k}" for k in ("skipped", "failed", "retry", "uncertain") if send[k]]
        parts.append(words + (f" ({', '.join(others)})" if others else ""))
    queued = result.get("queued", {})
    tasks = [f"{queued[k]} {k}(s)" for k in ("visit", "call") if k in queued]
    if tasks:
        parts.append("new suggested " + " and ".join(tasks) + " for the reps")
    if "letter" in queued:
        parts.append(f"{queued['letter']} letter(s) ready to export")
    return "Done. " + "; ".join(parts) + "." if parts else "Done: nothing to send."


def respond(actor: Actor, ref: int, account_id: int, *, kind: str, converted: bool) -> None:
    """Log a response (see :func:`gcrm.campaigns.log_response`)."""
    with session_scope() as s:
        log_response(s, actor, ref, account_id, kind=kind, converted=converted)


def unsubscribe_link(token: str) -> dict[str, Any]:
    """Apply the unsubscribe link's token (no login: the signed token is the right).

    See :func:`gcrm.campaigns.unsubscribe`.

    Raises
    ------
    InputError
        If the token is not valid (nothing changes).
    NotFoundError
        If the account or person is gone.
    """
    with session_scope() as s:
        return unsubscribe(s, token)


def report(actor: Actor, ref: int, *, by: GroupBy) -> pd.DataFrame:
    """Return :func:`gcrm.campaign_reports.campaign_report`."""
    with session_scope() as s:
        return campaign_report(s, actor, ref, by=by)


def report_map(actor: Actor, ref: int) -> folium.Map:
    """Return the hexagon response map of a campaign."""
    return response_map(report(actor, ref, by="hex"))


def export_report_file(actor: Actor, ref: int, *, by: GroupBy, fmt: str) -> Export:
    """Return the audited export of a campaign report."""
    with session_scope() as s:
        return export_campaign_report(s, actor, ref, by=by, fmt=fmt)  # type: ignore[arg-type]


def export_letters_file(
    actor: Actor, ref: int, *, fmt: str, G: nx.MultiDiGraph | None = None
) -> Export:
    """Return the audited mail-merge or PDF letters of a campaign."""
    with session_scope() as s:
        return export_letters(s, actor, ref, fmt=fmt, G=_graph_if_needed(s, actor, ref, G))  # type: ignore[arg-type]
