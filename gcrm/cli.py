"""The command-line interface: ``python -m gcrm COMMAND``.

Every command prints machine-readable output on stdout (one JSON line or a
table) and messages on stderr. Exit codes: 0 success, 1 failure, 2 bad input
(unreadable file, missing column, bad argument), 3 permission denied or
authentication failed.

Commands that touch stored data act as a user: ``--user`` (or
``GCRM_USER``) with ``GCRM_PASSWORD`` or a prompt. Until a user is given they
act as the maintenance (``system``) actor, which the audit log records.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gcrm._errors import AuthenticationError, GcrmError, InputError, PermissionDeniedError

app = typer.Typer(
    name="gcrm",
    help="gcrm: a geographic CRM on OpenStreetMap data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(users_app, name="users")


class OutputFormat(StrEnum):
    """Output formats of list commands."""

    json = "json"
    csv = "csv"
    table = "table"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _run(fn):  # type: ignore[no-untyped-def]
    """Call ``fn`` turning gcrm's errors into one message and an exit code."""
    try:
        return fn()
    except (AuthenticationError, PermissionDeniedError) as exc:
        raise _fail(str(exc), 3) from None
    except InputError as exc:
        raise _fail(str(exc), 2) from None
    except GcrmError as exc:
        raise _fail(str(exc), 1) from None


def _acting_user(session, user: str | None):  # type: ignore[no-untyped-def]
    """Return the actor for ``--user``/``GCRM_USER`` (password checked)."""
    from gcrm.auth import SYSTEM, login

    username = user or os.environ.get("GCRM_USER")
    if not username:
        return SYSTEM
    password = os.environ.get("GCRM_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            msg = "no password: set GCRM_PASSWORD or run in a terminal to be prompted"
            raise AuthenticationError(msg)
        password = typer.prompt(f"Password for {username}", hide_input=True)
    try:
        return login(session, username, password)
    except AuthenticationError:
        session.commit()  # keep the audit line of the failed attempt
        raise


def _ensure_db() -> None:
    from gcrm.db.session import database_is_current, upgrade_database

    if not database_is_current():
        upgrade_database()


UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="Act as this user (default GCRM_USER).")
]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from gcrm.db.session import upgrade_database
    from gcrm.settings import get_settings

    _run(upgrade_database)
    url = get_settings().resolved_database_url
    typer.echo(json.dumps({"database": url.split("@")[-1], "schema": "current"}))


@app.command()
def demo(
    osm: Annotated[Path | None, typer.Option(help="OSM file (default: bundled Helsinki).")] = None,
) -> None:
    """Build the Helsinki demo CRM (idempotent)."""
    from gcrm.db.session import session_scope
    from gcrm.demo import build_demo

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            summary = build_demo(session, osm)
        typer.echo(json.dumps(summary.__dict__))

    _run(go)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX file of accounts.")],
    mapping: Annotated[
        Path | None, typer.Option(help="JSON file mapping file headers to columns.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected rows (default FILE.rejected.csv)."),
    ] = None,
    user: UserOption = None,
) -> None:
    """Import accounts: validate, upsert by external_id, report rejected rows."""
    from gcrm.db.session import session_scope
    from gcrm.importer import import_file, load_mapping, write_rejects

    def go() -> None:
        columns = load_mapping(mapping) if mapping else None
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            report = import_file(session, actor, file, mapping=columns, dry_run=dry_run)
        if report.rejects:
            target = rejects or file.with_name(file.name + ".rejected.csv")
            write_rejects(report, target)
            typer.echo(f"{report.rejected} rejected row(s) written to {target}", err=True)
        for row, ext, other in report.duplicate_pairs:
            typer.echo(f"row {row}: {ext!r} looks like a duplicate of {other!r}", err=True)
        typer.echo(json.dumps(report.summary()))

    _run(go)


@accounts_app.command("list")
def accounts_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    kind: Annotated[list[str] | None, typer.Option(help="Only this kind (repeatable).")] = None,
    territory: Annotated[list[str] | None, typer.Option(help="Only this territory.")] = None,
    text: Annotated[str | None, typer.Option(help="Name/address contains.")] = None,
    user: UserOption = None,
) -> None:
    """List the accounts the acting user may see."""
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            flt = AccountFilter(kinds=kind or (), territories=territory or (), text=text)
            df = accounts_frame(session, actor, flt).drop(columns="geometry")
        _print_frame(df, fmt)

    _run(go)


@users_app.command("list")
def users_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    user: UserOption = None,
) -> None:
    """List users with their role and territories."""
    import pandas as pd

    from gcrm.db.session import session_scope
    from gcrm.store import list_users

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            rows = [
                {
                    "username": u.username,
                    "display_name": u.display_name,
                    "role": u.role,
                    "territories": [t.name for t in u.territories],
                }
                for u in list_users(session, actor)
            ]
        _print_frame(pd.DataFrame(rows), fmt)

    _run(go)


@app.command()
def assets(
    force: Annotated[bool, typer.Option(help="Fetch again even if present.")] = False,
) -> None:
    """Put the map's JavaScript/CSS under static/vendor so maps work offline."""
    from gcrm.assets import vendor_assets

    def go() -> None:
        dest = vendor_assets(force=force)
        typer.echo(json.dumps({"assets": str(dest)}))

    _run(go)


@app.command()
def setup(
    demo_data: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the demo.")] = True,
) -> None:
    """Everything a fresh install needs: schema, map assets, demo data if empty."""
    from gcrm.assets import vendor_assets
    from gcrm.db.session import session_scope
    from gcrm.demo import build_demo

    def go() -> None:
        _ensure_db()
        vendor_assets()
        out: dict[str, object] = {"schema": "current", "assets": "ok"}
        if demo_data:
            with session_scope() as session:
                out["demo"] = build_demo(session).__dict__
        typer.echo(json.dumps(out))

    _run(go)


def _print_frame(df, fmt: OutputFormat) -> None:  # type: ignore[no-untyped-def]
    if fmt is OutputFormat.json:
        typer.echo(df.to_json(orient="records", date_format="iso", force_ascii=False))
    elif fmt is OutputFormat.csv:
        from gcrm.importer import neutralise_formula

        typer.echo(df.map(neutralise_formula).to_csv(index=False), nl=False)
    else:
        typer.echo(df.to_string(index=False) if not df.empty else "(none)")


def main() -> None:
    """Run the CLI."""
    app()
