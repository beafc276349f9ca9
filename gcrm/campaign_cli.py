"""``python -m gcrm campaigns ...``: segments, campaigns, sending and reports.

Registered on the main CLI by :mod:`gcrm.cli`. The helpers of that module
(login, error handling, JSON output) are imported inside each command, as in
:mod:`gcrm.cli` itself, which also keeps the two modules free of an import cycle.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

campaigns_app = typer.Typer(help="Geo-targeted campaigns.", no_args_is_help=True)

UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="Act as this user (default GCRM_USER).")
]


def _graph_for(definition: Any) -> Any:
    """The road network, only when a drive-time segment needs it."""
    if definition.drive is None:
        return None
    from gcrm.network import load_network

    return load_network()


def _definition(text: str) -> Any:
    from gcrm.segments import SegmentDefinition

    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    return SegmentDefinition.from_json(text)


@campaigns_app.command("segment")
def segment_cmd(
    name: Annotated[str, typer.Argument(help="Segment name.")],
    definition: Annotated[str, typer.Option(help="JSON, or @file.json.")],
    user: UserOption = None,
) -> None:
    """Save a segment; print its current e-mail reach."""
    from gcrm import cli
    from gcrm.db.session import session_scope
    from gcrm.segments import members, save_segment

    def go() -> None:
        cli._ensure_db()
        d = _definition(definition)
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            row = save_segment(session, actor, name, d)
            n = len(members(session, actor, d, channel="email", G=_graph_for(d)))
            cli._echo_json({"segment": row.id, "name": name, "email_members": n})

    cli._run(go)


@campaigns_app.command("create")
def create_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name.")],
    segment: Annotated[str, typer.Option(help="Segment name or id.")],
    channels: Annotated[str, typer.Option(help="email,letter,call,visit")] = "email",
    subject: Annotated[str, typer.Option(help="E-mail subject (Jinja2).")] = "",
    body_file: Annotated[Path | None, typer.Option(help="E-mail body template.")] = None,
    reminder_days: Annotated[int | None, typer.Option(help="Remind after N days.")] = None,
    start_at: Annotated[str | None, typer.Option(help="ISO time (UTC) to launch.")] = None,
    user: UserOption = None,
) -> None:
    """Create a campaign on a saved segment."""
    from gcrm import cli
    from gcrm._errors import InputError
    from gcrm.campaigns import create_campaign
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        body = body_file.read_text(encoding="utf-8") if body_file else ""
        try:
            when = dt.datetime.fromisoformat(start_at) if start_at else None
        except ValueError as exc:
            msg = f"--start-at: {start_at!r} is not an ISO date/time"
            raise InputError(msg) from exc
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            row = create_campaign(
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
            cli._echo_json({"campaign": row.id, "name": row.name, "status": row.status})

    cli._run(go)


@campaigns_app.command("preview")
def preview_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    sample: Annotated[int, typer.Option(help="Rendered e-mails to show.")] = 2,
    user: UserOption = None,
) -> None:
    """Show who a campaign reaches per channel and sample e-mails."""
    from gcrm import cli
    from gcrm.campaigns import get_campaign, preview, segment_definition
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            G = _graph_for(segment_definition(session, get_campaign(session, actor, name)))
            out = preview(session, actor, name, G=G, sample=sample)
            cli._echo_json({"counts": out["counts"], "samples": out["samples"]})

    cli._run(go)


@campaigns_app.command("send")
def send_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    limit: Annotated[int | None, typer.Option(help="Send at most N e-mails.")] = None,
    stale_after: Annotated[
        float, typer.Option(help="Seconds after which a claim is a dead sender's.")
    ] = 600.0,
    user: UserOption = None,
) -> None:
    """Launch a campaign (queue e-mails, create visits/calls) and send its e-mail."""
    from gcrm import cli
    from gcrm.campaigns import get_campaign, launch, segment_definition, send_pending
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            campaign = get_campaign(session, actor, name)
            G = _graph_for(segment_definition(session, campaign))
            queued = launch(session, actor, name, G=G)
            cid, chans = campaign.id, campaign.channels.split(",")
        out: dict[str, Any] = {"queued": queued}
        if "email" in chans:
            result = send_pending(cid, limit=limit, stale_after_s=stale_after)
            out["send"] = result.__dict__
        cli._echo_json(out)

    cli._run(go)


@campaigns_app.command("resolve")
def resolve_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    resend: Annotated[
        bool, typer.Option("--resend/--mark-sent", help="Re-send uncertain e-mails, or mark sent.")
    ],
    user: UserOption = None,
) -> None:
    """Settle e-mails left uncertain by a crashed sender (see gcrm.campaigns)."""
    from gcrm import cli
    from gcrm.campaigns import get_campaign
    from gcrm.db import campaign_tables as tables
    from gcrm.db.session import session_scope
    from gcrm.segments import require_campaigner
    from gcrm.store import audit

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            require_campaigner(actor)
            campaign = get_campaign(session, actor, name)
            n = tables.resolve_uncertain(session, campaign.id, resend=resend)
            audit(
                session,
                actor,
                "campaign",
                f"campaign:{campaign.id}",
                {"resolved": n, "resend": resend},
            )
        cli._echo_json({"resolved": n, "resend": resend})

    cli._run(go)


@campaigns_app.command("run-due")
def run_due_cmd(
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO time (UTC).")] = None,
    stale_after: Annotated[float, typer.Option(help="See `send`.")] = 600.0,
) -> None:
    """Run due steps: scheduled launches, reminders, pending e-mail (for cron)."""
    from gcrm import cli
    from gcrm.campaigns import run_due

    def go() -> None:
        cli._ensure_db()
        when = dt.datetime.fromisoformat(now) if now else None
        cli._echo_json(run_due(now=when, stale_after_s=stale_after))

    cli._run(go)


@campaigns_app.command("report")
def report_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    by: Annotated[str, typer.Option(help="territory, postcode or hex.")] = "territory",
    output: Annotated[Path | None, typer.Option(help="Write CSV/XLSX/JSON (audited).")] = None,
    user: UserOption = None,
) -> None:
    """Reach, response and conversion per area with Wilson intervals."""
    from gcrm import cli
    from gcrm.campaign_reports import campaign_report, export_campaign_report
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            if output is not None:
                fmt = output.suffix.lstrip(".").lower()
                export = export_campaign_report(session, actor, name, by=by, fmt=fmt)  # type: ignore[arg-type]
                output.write_bytes(export.data)
                cli._echo_json({"output": str(output), "rows": export.rows})
            else:
                df = campaign_report(session, actor, name, by=by)  # type: ignore[arg-type]
                cli._print_frame(df, cli.OutputFormat.json)

    cli._run(go)


@campaigns_app.command("letters")
def letters_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: Annotated[Path, typer.Option(help="letters.csv, .xlsx or .pdf (audited).")],
    user: UserOption = None,
) -> None:
    """Export the letter channel: mail-merge file or printable PDF."""
    from gcrm import cli
    from gcrm.campaign_reports import export_letters
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            fmt = output.suffix.lstrip(".").lower()
            export = export_letters(session, actor, name, fmt=fmt)  # type: ignore[arg-type]
            output.write_bytes(export.data)
        cli._echo_json({"output": str(output), "rows": export.rows})

    cli._run(go)


@campaigns_app.command("unsubscribe")
def unsubscribe_cmd(token: Annotated[str, typer.Argument(help="Token from the e-mail.")]) -> None:
    """Apply an unsubscribe token: the account's marketing consent is turned off."""
    from gcrm import cli
    from gcrm.campaigns import unsubscribe
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            cli._echo_json(unsubscribe(session, token))

    cli._run(go)


@campaigns_app.command("import-responses")
def import_responses_cmd(
    name: Annotated[str, typer.Argument(help="Campaign name or id.")],
    path: Annotated[Path, typer.Argument(help="CSV: external_id, kind, converted, value.")],
    user: UserOption = None,
) -> None:
    """Import replies or orders from a CSV (all rows or none)."""
    from gcrm import cli
    from gcrm.campaigns import import_responses
    from gcrm.db.session import session_scope

    def go() -> None:
        cli._ensure_db()
        with session_scope() as session:
            actor = cli._acting_user(session, user)
            n = import_responses(session, actor, name, path.read_bytes(), filename=path.name)
        cli._echo_json({"imported": n})

    cli._run(go)
