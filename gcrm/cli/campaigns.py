"""``gcrm campaigns ...``: segments, campaigns, sending and reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gcrm._errors import InputError
from gcrm.cli._common import LazyModule, OutputFormat, Run, command, echo_json, group, print_frame

if TYPE_CHECKING:
    from gcrm import campaign_reports, campaigns, network, segments
else:
    campaign_reports = LazyModule("gcrm.campaign_reports")
    campaigns = LazyModule("gcrm.campaigns")
    network = LazyModule("gcrm.network")
    segments = LazyModule("gcrm.segments")

campaigns_app = group("campaigns", "Geo-targeted campaigns.")


def _graph_for(definition: segments.SegmentDefinition) -> Any:
    """Return the road network, only when a drive-time segment needs it."""
    if definition.drive is None:
        return None
    return network.load_network()


def _definition(text: str) -> segments.SegmentDefinition:
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    return segments.SegmentDefinition.from_json(text)


@command(campaigns_app, "segment")
def segment_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Segment name.")],
    definition: Annotated[str, typer.Option(help="JSON, or @file.json.")],
) -> None:
    """Save a segment; print its current e-mail reach."""
    d = _definition(definition)
    with run.acting() as (session, actor):
        row = segments.save_segment(session, actor, name, d)
        n = len(segments.members(session, actor, d, channel="email", G=_graph_for(d)))
        echo_json({"segment": row.id, "name": name, "email_members": n})


@command(campaigns_app, "create")
def create_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name.")],
    segment: Annotated[str, typer.Option(help="Segment name or id.")],
    channels: Annotated[str, typer.Option(help="email,letter,call,visit")] = "email",
    subject: Annotated[str, typer.Option(help="E-mail subject (Jinja2).")] = "",
    body_file: Annotated[Path | None, typer.Option(help="E-mail body template.")] = None,
    reminder_days: Annotated[int | None, typer.Option(help="Remind after N days.")] = None,
    start_at: Annotated[str | None, typer.Option(help="ISO time (UTC) to launch.")] = None,
) -> None:
    """Create a campaign on a saved segment."""
    body = body_file.read_text(encoding="utf-8") if body_file else ""
    try:
        when = dt.datetime.fromisoformat(start_at) if start_at else None
    except ValueError as exc:
        msg = f"--start-at: {start_at!r} is not an ISO date/time"
        raise InputError(msg) from exc
    with run.acting() as (session, actor):
        row = campaigns.create_campaign(
            session,
            actor,
            name=name,
            segment=segment,
            channels=channels,
            subject=subject,
            body=body,
            reminder_after_days=reminder_days,
            start_at=when,
        )
        echo_json({"campaign": row.id, "name": row.name, "status": row.status})


@command(campaigns_app, "preview")
def preview_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    sample: Annotated[int, typer.Option(help="Rendered e-mails to show.")] = 2,
) -> None:
    """Show who a campaign reaches per channel and sample e-mails."""
    with run.acting() as (session, actor):
        G = _graph_for(
            campaigns.segment_definition(session, campaigns.get_campaign(session, actor, name))
        )
        out = campaigns.preview(session, actor, name, G=G, sample=sample)
        echo_json({"counts": out["counts"], "samples": out["samples"]})


@command(campaigns_app, "send")
def send_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    limit: Annotated[int | None, typer.Option(help="Send at most N e-mails.")] = None,
    stale_after: Annotated[
        float, typer.Option(help="Seconds after which a claim is a dead sender's.")
    ] = 600.0,
) -> None:
    """Launch a campaign (queue e-mails, create visits/calls) and send its e-mail."""
    with run.acting() as (session, actor):
        campaign = campaigns.get_campaign(session, actor, name)
        G = _graph_for(campaigns.segment_definition(session, campaign))
        queued = campaigns.launch(session, actor, name, G=G)
        cid, chans = campaign.id, campaign.channels.split(",")
    out: dict[str, Any] = {"queued": queued}
    if "email" in chans:
        result = campaigns.send_pending(cid, limit=limit, stale_after_s=stale_after)
        out["send"] = result.__dict__
    echo_json(out)


@command(campaigns_app, "resolve")
def resolve_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    resend: Annotated[
        bool, typer.Option("--resend/--mark-sent", help="Re-send uncertain e-mails, or mark sent.")
    ],
) -> None:
    """Settle e-mails left uncertain by a crashed sender (see gcrm.campaigns)."""
    with run.acting() as (session, actor):
        n = campaigns.resolve_uncertain(session, actor, name, resend=resend)
    echo_json({"resolved": n, "resend": resend})


@command(campaigns_app, "run-due", acts=False)
def run_due_cmd(
    run: Run,
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO time (UTC).")] = None,
    stale_after: Annotated[float, typer.Option(help="See `send`.")] = 600.0,
) -> None:
    """Run due steps: scheduled launches, reminders, pending e-mail (for cron)."""
    when = dt.datetime.fromisoformat(now) if now else None
    echo_json(campaigns.run_due(now=when, stale_after_s=stale_after))


@command(campaigns_app, "report")
def report_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    by: Annotated[str, typer.Option(help="territory, postcode or hex.")] = "territory",
    output: Annotated[Path | None, typer.Option(help="Write CSV/XLSX/JSON (audited).")] = None,
) -> None:
    """Reach, response and conversion per area with Wilson intervals."""
    with run.acting() as (session, actor):
        if output is not None:
            fmt = output.suffix.lstrip(".").lower()
            export = campaign_reports.export_campaign_report(session, actor, name, by=by, fmt=fmt)  # type: ignore[arg-type]
            output.write_bytes(export.data)
            echo_json({"output": str(output), "rows": export.rows})
        else:
            df = campaign_reports.campaign_report(session, actor, name, by=by)  # type: ignore[arg-type]
            print_frame(df, OutputFormat.json)


@command(campaigns_app, "letters")
def letters_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: Annotated[Path, typer.Option(help="letters.csv, .xlsx or .pdf (audited).")],
) -> None:
    """Export the letter channel: mail-merge file or printable PDF."""
    with run.acting() as (session, actor):
        fmt = output.suffix.lstrip(".").lower()
        export = campaign_reports.export_letters(session, actor, name, fmt=fmt)  # type: ignore[arg-type]
        output.write_bytes(export.data)
    echo_json({"output": str(output), "rows": export.rows})


@command(campaigns_app, "unsubscribe", acts=False)
def unsubscribe_cmd(
    run: Run, token: Annotated[str, typer.Argument(help="Token from the e-mail.")]
) -> None:
    """Apply an unsubscribe token: the account's marketing consent is turned off."""
    with run.session() as session:
        echo_json(campaigns.unsubscribe(session, token))


@command(campaigns_app, "import-responses")
def import_responses_cmd(
    run: Run,
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    path: Annotated[Path, typer.Argument(help="CSV: external_id, kind, converted, value.")],
) -> None:
    """Import replies or orders from a CSV (all rows or none)."""
    with run.acting() as (session, actor):
        n = campaigns.import_responses(session, actor, name, path.read_bytes(), filename=path.name)
    echo_json({"imported": n})
