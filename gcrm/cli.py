"""The command-line interface: ``python -m gcrm COMMAND``.

Every command prints machine-readable output on stdout (one JSON line or a
table) and messages on stderr. Exit codes: 0 success, 1 failure, 2 bad input
(unreadable file, missing column, bad argument), 3 permission denied or
authentication failed.

Commands that touch stored data act as a user: ``--user`` (or
``GCRM_USER``) with ``GCRM_PASSWORD`` or a prompt; their scope and rights
apply. Maintenance commands (``setup``, ``db upgrade``, ``demo``, ``assets``)
and commands that touch no stored data run without a user.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from gcrm._errors import AuthenticationError, GcrmError, InputError, PermissionDeniedError
from gcrm.campaign_cli import campaigns_app

app = typer.Typer(
    name="gcrm",
    help="gcrm: a geographic CRM on OpenStreetMap data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log (admins).", no_args_is_help=True)
territories_app = typer.Typer(help="Sales territories.", no_args_is_help=True)
erase_app = typer.Typer(help="Erase personal data (admins).", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(territories_app, name="territories")
app.add_typer(erase_app, name="erase")
app.add_typer(campaigns_app, name="campaigns")


class OutputFormat(StrEnum):
    """Output formats of list commands."""

    json = "json"
    csv = "csv"
    table = "table"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


#: The user the running command acts as, once logged in (for the audit of a denial).
_ACTING: dict[str, str] = {}


def _audit_denied(fn, message: str) -> None:  # type: ignore[no-untyped-def]
    """Record a denied command in its own transaction (its own work rolled back)."""
    from gcrm.auth import audit_apart
    from gcrm.db.session import session_scope

    if "username" not in _ACTING:
        return
    # ``go`` is defined inside the command's function: "erase_contact_cmd.<locals>.go"
    outer = fn.__qualname__.split(".<locals>", 1)[0]
    command = outer.removesuffix("_cmd").strip("_").replace("_", " ")
    details = json.dumps({"command": command, "reason": message}, ensure_ascii=False)
    with session_scope() as session:
        audit_apart(session, _ACTING["username"], "denied", command or None, details)


def _run(fn):  # type: ignore[no-untyped-def]
    """Call ``fn`` turning gcrm's errors into one message and an exit code."""
    _ACTING.clear()
    try:
        return fn()
    except PermissionDeniedError as exc:
        _audit_denied(fn, str(exc))
        raise _fail(str(exc), 3) from None
    except AuthenticationError as exc:
        raise _fail(str(exc), 3) from None
    except InputError as exc:
        raise _fail(str(exc), 2) from None
    except GcrmError as exc:
        raise _fail(str(exc), 1) from None
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise _fail(f"database error: {first}", 1) from None


def _acting_user(session, user: str | None):  # type: ignore[no-untyped-def]
    """Return the actor for ``--user``/``GCRM_USER`` (password checked)."""
    from gcrm.auth import login

    username = user or os.environ.get("GCRM_USER")
    if not username:
        msg = "this command acts as a user: pass --user NAME or set GCRM_USER (and GCRM_PASSWORD)"
        raise AuthenticationError(msg)
    password = os.environ.get("GCRM_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            msg = "no password: set GCRM_PASSWORD or run in a terminal to be prompted"
            raise AuthenticationError(msg)
        password = typer.prompt(f"Password for {username}", hide_input=True)
    actor = login(session, username, password)  # audited in its own transaction
    _ACTING["username"] = actor.username
    return actor


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
    _echo_json({"database": url.split("@")[-1], "schema": "current"})


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
        _echo_json(summary.__dict__)

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
        typer.Option(
            help="Where to write rejected rows (default FILE.rejected.csv; "
            "a dry run writes them only when this is given)."
        ),
    ] = None,
    user: UserOption = None,
) -> None:
    """Import accounts: validate, upsert by external_id, report rejected rows.

    Prints the column mapping, value mappings, warnings and every rejected
    row with all its reasons on stderr and the counts as JSON on stdout;
    exits with 4 when no row could be imported.
    """
    from gcrm.db.session import session_scope
    from gcrm.import_report import format_report, imported_rows
    from gcrm.importer import import_file, load_mapping, write_rejects

    def go() -> None:
        columns = load_mapping(mapping) if mapping else None
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            report = import_file(session, actor, file, mapping=columns, dry_run=dry_run)
        typer.echo(format_report(report), err=True)
        if report.rejects and (rejects or not dry_run):
            target = rejects or file.with_name(file.name + ".rejected.csv")
            write_rejects(report, target)
            typer.echo(f"{report.rejected} rejected row(s) written to {target}", err=True)
        for row, ext, other in report.duplicate_pairs:
            typer.echo(f"row {row}: {ext!r} looks like a duplicate of {other!r}", err=True)
        _echo_json(report.summary())
        if report.rows and not imported_rows(report):
            raise _fail(f"{file.name}: no row could be imported", 4)

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
    """List the accounts the acting user may see (``--format csv`` is an audited export)."""
    from gcrm.auth import require
    from gcrm.db.session import session_scope
    from gcrm.store import AccountFilter, accounts_frame, audit

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            if fmt == OutputFormat.csv:
                require(actor, "export")
            flt = AccountFilter(kinds=kind or (), territories=territory or (), text=text)
            df = accounts_frame(session, actor, flt).drop(columns="geometry")
            action = "export" if fmt == OutputFormat.csv else "view"
            details = {"rows": len(df), "format": fmt.value, "command": "accounts list"}
            audit(session, actor, action, "accounts", details)
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

    from gcrm.auth import require
    from gcrm.db.session import session_scope
    from gcrm.store import list_users

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            require(actor, "admin")
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


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="rep, manager, analyst or admin.")] = "rep",
    display_name: Annotated[str, typer.Option(help="Full name.")] = "",
    user: UserOption = None,
) -> None:
    """Add a user (password from GCRM_NEW_PASSWORD or a prompt).

    The first admin of an empty installation can be added without a user;
    after that an admin must act.
    """
    from sqlalchemy import select

    from gcrm.auth import SYSTEM, create_user
    from gcrm.db.models import Role, User
    from gcrm.db.session import session_scope

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            has_admin = session.scalar(select(User.id).where(User.role == Role.ADMIN.value))
            actor = _acting_user(session, user) if has_admin else SYSTEM
            password = os.environ.get("GCRM_NEW_PASSWORD")
            if password is None:
                if not sys.stdin.isatty():
                    raise InputError("no password: set GCRM_NEW_PASSWORD or run in a terminal")
                password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
            create_user(session, actor, username, password, role=role, display_name=display_name)
        _echo_json({"user": username, "role": role})

    _run(go)


@users_app.command("set")
def users_set(
    username: Annotated[str, typer.Argument(help="Whose settings to change.")],
    home: Annotated[
        str | None,
        typer.Option(help='Home base: an address ("Mannerheimintie 5, Helsinki") or "lat, lon".'),
    ] = None,
    clear_home: Annotated[bool, typer.Option("--clear-home", help="Remove the home.")] = False,
    shift: Annotated[str | None, typer.Option(help="Working hours, e.g. 08:00-16:00.")] = None,
    user: UserOption = None,
) -> None:
    """Set a rep's home base (where routes start and end) and shift (admins)."""
    from gcrm.db.session import session_scope
    from gcrm.home_base import set_home_base

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            u = set_home_base(
                session, actor, username, home=home, clear_home=clear_home, shift=shift
            )
            out = {
                "user": u.username,
                "home_lat": u.home_lat,
                "home_lon": u.home_lon,
                "shift": f"{u.work_start}-{u.work_end}",
            }
        typer.echo(json.dumps(out))

    _run(go)


@audit_app.command("list")
def audit_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    limit: Annotated[int, typer.Option(help="Newest N lines.")] = 1000,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    user: UserOption = None,
) -> None:
    """Print the audit log (admins)."""
    from gcrm.db.session import session_scope
    from gcrm.store import audit_frame

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            df = audit_frame(session, actor, limit=limit, action=action)
        _print_frame(df, fmt)

    _run(go)


@accounts_app.command("export")
def accounts_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or json.")] = "csv",
    kind: Annotated[list[str] | None, typer.Option(help="Only this kind (repeatable).")] = None,
    territory: Annotated[list[str] | None, typer.Option(help="Only this territory.")] = None,
    user: UserOption = None,
) -> None:
    """Export the accounts the user may see (audited; personal data per role)."""
    from gcrm.db.session import session_scope
    from gcrm.reports import export_accounts
    from gcrm.store import AccountFilter

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            flt = AccountFilter(kinds=kind or (), territories=territory or ())
            export = export_accounts(session, actor, flt, fmt)  # type: ignore[arg-type]
            output.write_bytes(export.data)
        _echo_json({"output": str(output), "rows": export.rows, "sha256": export.sha256})

    _run(go)


@erase_app.command("contact")
def erase_contact_cmd(
    contact_id: Annotated[int, typer.Argument(help="contacts.id")],
    user: UserOption = None,
) -> None:
    """Anonymise a person everywhere (contacts, notes, audit details)."""
    from gcrm.db.session import purge_freed_bytes, session_scope
    from gcrm.store import erase_contact

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            erase_contact(session, _acting_user(session, user), contact_id)
        purge_freed_bytes()
        _echo_json({"erased": f"contact:{contact_id}"})

    _run(go)


@erase_app.command("account")
def erase_account_cmd(
    account_id: Annotated[int, typer.Argument(help="accounts.id")],
    user: UserOption = None,
) -> None:
    """Anonymise an account and its people, keeping aggregates."""
    from gcrm.db.session import purge_freed_bytes, session_scope
    from gcrm.store import erase_account

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            erase_account(session, _acting_user(session, user), account_id)
        purge_freed_bytes()
        _echo_json({"erased": f"account:{account_id}"})

    _run(go)


@app.command("subject-access")
def subject_access_cmd(
    email: Annotated[str | None, typer.Option(help="The person's e-mail.")] = None,
    name: Annotated[str | None, typer.Option(help="The person's name.")] = None,
    user: UserOption = None,
) -> None:
    """Print everything held on a person as JSON (admins)."""
    from gcrm.db.session import session_scope
    from gcrm.store import subject_access

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            result = subject_access(session, _acting_user(session, user), email=email, name=name)
        _echo_json(result)

    _run(go)


@app.command()
def geocode(
    input_csv: Annotated[Path, typer.Argument(help="CSV with id and address columns.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")],
    osm: Annotated[Path | None, typer.Option(help="OSM file (default: the region's).")] = None,
    min_score: Annotated[
        float | None, typer.Option(help="Results scoring lower are 'none'.")
    ] = None,
) -> None:
    """Geocode a CSV offline: adds lat, lon, precision, score, matched, reason."""
    from gcrm.geocode import geocode_file

    def go() -> None:
        summary = geocode_file(input_csv, output, osm, progress=True, min_score=min_score)
        _echo_json(summary)

    _run(go)


class Weight(StrEnum):
    """What a matrix minimises."""

    time = "time"
    length = "length"


@app.command()
def matrix(
    points: Annotated[Path, typer.Option(help="CSV with id, lat, lon.")],
    output: Annotated[Path, typer.Option("--output", "-o", help=".npz to write.")],
    osm: Annotated[Path | None, typer.Option(help="OSM file (default: the region's).")] = None,
    weight: Annotated[Weight, typer.Option(help="Minimise travel time or length.")] = (Weight.time),
    profile: Annotated[str, typer.Option(help="drive, drive_service, walk or bike.")] = "drive",
) -> None:
    """Travel-time and distance matrices over the road network (inf = unreachable)."""
    import numpy as np

    from gcrm.matrix import matrix_from_points_file

    def go() -> None:
        result = matrix_from_points_file(osm, points, output, weight=weight.value, profile=profile)
        _echo_json(
            {
                "output": str(output),
                "points": len(result.ids),
                "too_far": int(result.too_far.sum()),
                "unreachable_pairs": int((~np.isfinite(result.durations)).sum()),
            }
        )

    _run(go)


class ReportKind(StrEnum):
    """Which report."""

    territories = "territories"
    reps = "reps"
    accounts = "accounts"


@app.command()
def report(
    kind: Annotated[ReportKind, typer.Argument(help="territories, reps or accounts.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help="csv, xlsx, pdf, geojson, gpkg, parquet or json.")
    ] = "csv",
    territory: Annotated[
        list[str] | None, typer.Option("--territory", help="Only this territory (repeatable).")
    ] = None,
    user: UserOption = None,
) -> None:
    """Write a report, scoped and audited as the acting user; prints a JSON summary line."""
    from gcrm.db.session import session_scope
    from gcrm.reports import export_report

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            export = export_report(
                session,
                actor,
                kind.value,  # type: ignore[arg-type]
                fmt,  # type: ignore[arg-type]
                territories=territory or None,
            )
            output.write_bytes(export.data)
        _echo_json(
            {
                "report": kind.value,
                "format": fmt,
                "output": str(output),
                "rows": export.rows,
                "bytes": len(export.data),
                "sha256": export.sha256,
            }
        )

    _run(go)


class MapLayer(StrEnum):
    """Layers of ``gcrm map``."""

    markers = "markers"
    heat = "heat"
    hex = "hex"
    postcode = "postcode"
    territory = "territory"


@app.command("map")
def map_(
    layer: Annotated[MapLayer, typer.Option(help="What to draw.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")],
    flt: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="KEY=VALUE[,VALUE] (repeatable): kind, stage, segment, owner, territory, "
            "min_value, max_value, not_visited_since, visited_since.",
        ),
    ] = None,
    weight: Annotated[str, typer.Option(help="Heat weight: count or potential.")] = "count",
    tiles: Annotated[
        str | None, typer.Option(help="openstreetmap, none, or a tile URL template.")
    ] = None,
    roads: Annotated[bool, typer.Option(help="Draw our road network as a basemap.")] = False,
    user: UserOption = None,
) -> None:
    """Write a standalone HTML map that works offline (assets inlined)."""
    from gcrm.db.session import session_scope
    from gcrm.density import MapFilter
    from gcrm.map_cli import write_map

    def go() -> None:
        _ensure_db()
        parsed = MapFilter.parse(flt or [])
        with session_scope() as session:
            actor = _acting_user(session, user)
            result = write_map(
                session, actor, layer.value, output, flt=parsed, weight=weight, tiles=tiles,
                roads=roads,
            )  # fmt: skip
        _echo_json(result)

    _run(go)


class Balance(StrEnum):
    """What built territories balance."""

    workload = "workload"
    potential = "potential"


@territories_app.command("build")
def territories_build(
    k: Annotated[int, typer.Option("--k", help="Number of territories.")],
    balance: Annotated[Balance, typer.Option(help="Balance workload or potential value.")] = (
        Balance.workload
    ),
    set_owners: Annotated[
        bool, typer.Option(help="Make each territory's rep the owner of its accounts.")
    ] = False,
    seconds: Annotated[float, typer.Option(help="Time limit of the optimiser.")] = 20.0,
    user: UserOption = None,
) -> None:
    """Split the region into K balanced, contiguous territories seeded at rep home bases."""
    from gcrm.db.session import session_scope
    from gcrm.territories import build_and_save_territories

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            result = build_and_save_territories(
                session, actor, k, balance.value, set_owners=set_owners, time_limit_s=seconds
            )
        _echo_json(result)

    _run(go)


@territories_app.command("import")
def territories_import(
    file: Annotated[Path, typer.Argument(help="GeoJSON of territory polygons.")],
    name_field: Annotated[str, typer.Option(help="Property holding the name.")] = "name",
    owner_field: Annotated[str, typer.Option(help="Property holding the owner.")] = "owner",
    replace: Annotated[bool, typer.Option(help="Replace the region's territories.")] = False,
    user: UserOption = None,
) -> None:
    """Load territories from GeoJSON and assign accounts by spatial join."""
    from gcrm.db.session import session_scope
    from gcrm.territories import import_territories

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            result = import_territories(
                session, actor, file, name_field=name_field, owner_field=owner_field,
                replace=replace,
            )  # fmt: skip
        _echo_json(result)

    _run(go)


@app.command()
def plan(
    rep: Annotated[str, typer.Option(help="The rep (username) to plan for.")],
    date: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="plan.json to write.")],
    days: Annotated[int, typer.Option(help="Number of days.")] = 1,
    seconds: Annotated[float | None, typer.Option(help="Solver time limit.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same plan).")] = 0,
    profile: Annotated[str, typer.Option(help="drive, walk or bike.")] = "drive",
    gpx: Annotated[Path | None, typer.Option(help="Also write the route as GPX (UTC).")] = None,
    ics: Annotated[
        Path | None, typer.Option(help="Also write the visits as iCalendar (VTIMEZONE).")
    ] = None,
    user: UserOption = None,
) -> None:
    """Plan a rep's visits (due accounts) over the road network; writes the plan as JSON."""
    from gcrm.db.session import session_scope
    from gcrm.plan_cli import plan_command

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            summary = plan_command(
                session, actor, rep, date, days=days, seconds=seconds, output=output,
                seed=seed, profile=profile, gpx=gpx, ics=ics,
            )  # fmt: skip
        _echo_json(summary)

    _run(go)


@app.command()
def cycle(
    reps: Annotated[str, typer.Option(help="Reps (usernames), comma-separated.")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    weeks: Annotated[int, typer.Option(help="Horizon in weeks (1-8).")] = 4,
    country: Annotated[
        str, typer.Option(help="Public holidays of this country; '' for none.")
    ] = "FI",
    iterations: Annotated[int, typer.Option(help="Solver iterations per rep.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same plan).")] = 0,
    profile: Annotated[str, typer.Option(help="drive, walk or bike.")] = "drive",
    balance: Annotated[
        float | None, typer.Option(help="Cap days at this multiple of the average (e.g. 1.25).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON to write.")] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Save each rep's cycle (replacing overlapping ones).")
    ] = False,
    user: UserOption = None,
) -> None:
    """Plan call cycles: each account's visit days and every working day's route, as JSON."""
    from gcrm.cycle_plans import plan_and_save
    from gcrm.cycles import plan_cycles
    from gcrm.db.session import session_scope

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            names = [r.strip() for r in reps.split(",") if r.strip()]
            run = plan_and_save if save else plan_cycles
            result = run(
                session, actor, names, start, weeks=weeks, country=country or None,
                iterations=iterations, seed=seed, profile=profile, balance=balance,
            )  # fmt: skip
        if output is not None:
            output.write_text(json.dumps(_plain(result), allow_nan=False), encoding="utf-8")
        _echo_json(result)

    _run(go)


@app.command("cycle-ics")
def cycle_ics_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="The .ics file to write.")],
    rep: Annotated[str | None, typer.Option(help="Only this rep's cycles.")] = None,
    user: UserOption = None,
) -> None:
    """Export the saved call cycles you may see as one iCalendar file (whole horizons)."""
    from gcrm.cycle_plans import cycle_ics
    from gcrm.db.session import session_scope

    def go() -> None:
        _ensure_db()
        with session_scope() as session:
            actor = _acting_user(session, user)
            text = cycle_ics(session, actor, rep=rep)
        output.write_text(text, encoding="utf-8")
        _echo_json({"output": str(output), "events": text.count("BEGIN:VEVENT")})

    _run(go)


@app.command()
def solve(
    instance: Annotated[
        Path, typer.Argument(help="TSPLIB (.tsp), Solomon (.txt), VRPLIB or Cordeau PVRP file.")
    ],
    seconds: Annotated[float, typer.Option(help="Time limit.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="sol.json to write.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Solve a benchmark instance: {"routes": [...], "cost": ...}.

    Cordeau PVRP files give {"days": [[[customers], ...routes], ...days], "cost": ...}.
    """
    from gcrm.bench.pvrp_io import is_pvrp_file, solve_pvrp_file
    from gcrm.bench.solve import solve_instance_file

    def go() -> None:
        if is_pvrp_file(instance):
            summary = solve_pvrp_file(instance, seconds=seconds, output=output, seed=seed)
        else:
            summary = solve_instance_file(instance, seconds=seconds, output=output, seed=seed)
        _echo_json(summary)

    _run(go)


@app.command()
def assets(
    force: Annotated[bool, typer.Option(help="Fetch again even if present.")] = False,
) -> None:
    """Put the map's JavaScript/CSS under static/vendor so maps work offline."""
    from gcrm.assets import vendor_assets

    def go() -> None:
        dest = vendor_assets(force=force)
        _echo_json({"assets": str(dest)})

    _run(go)


@app.command()
def basemap(
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
    osm: Annotated[Path | None, typer.Option(help="OSM file (default GCRM_OSM_FILE).")] = None,
) -> None:
    """Build the offline basemap (vector tiles) from the region's OSM file; cached."""
    from dataclasses import asdict

    from gcrm.basemap import ensure_basemap

    def go() -> None:
        info = ensure_basemap(osm, force=force)
        _echo_json({**asdict(info), "url": info.url})

    _run(go)


@app.command()
def setup(
    demo_data: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the demo.")] = True,
) -> None:
    """Everything a fresh install needs: schema, map assets, demo data if empty."""
    from gcrm.assets import vendor_assets
    from gcrm.basemap import ensure_basemap
    from gcrm.db.session import session_scope
    from gcrm.demo import build_demo

    def go() -> None:
        _ensure_db()
        vendor_assets()
        out: dict[str, object] = {"schema": "current", "assets": "ok"}
        out["basemap"] = ensure_basemap().name
        if demo_data:
            with session_scope() as session:
                out["demo"] = build_demo(session).__dict__
        _echo_json(out)

    _run(go)


def _plain(value: object) -> object:
    """A value JSON can hold: NaN, infinities and missing values become ``null``."""
    import math

    import numpy as np
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_plain(r) for r in value.to_dict("records")]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _echo_json(value: object) -> None:
    """Print one line of strict JSON (no ``NaN``: jq and other parsers refuse it)."""
    typer.echo(json.dumps(_plain(value), ensure_ascii=False, allow_nan=False))


def _print_frame(df, fmt: OutputFormat) -> None:  # type: ignore[no-untyped-def]
    if fmt is OutputFormat.json:
        typer.echo(df.to_json(orient="records", date_format="iso", force_ascii=False))
    elif fmt is OutputFormat.csv:
        from gcrm.importer import neutralise_formula

        typer.echo(df.map(neutralise_formula).to_csv(index=False, lineterminator="\r\n"), nl=False)
    else:
        typer.echo(df.to_string(index=False) if not df.empty else "(none)")


@app.command("worker")
def worker(
    once: bool = typer.Option(False, "--once", help="Stop when the queue is empty."),
    poll: float = typer.Option(1.0, "--poll", help="Seconds between looks at an empty queue."),
    max_jobs: int | None = typer.Option(None, "--max-jobs", help="Stop after this many jobs."),
) -> None:
    """Run queued jobs (territory builds, report files) until stopped."""
    from gcrm import jobs  # imports the territory and report code: only for workers

    _ensure_db()
    n = jobs.work(once=once, poll_s=poll, max_jobs=max_jobs)
    typer.echo(f"{n} job(s) run")


def main() -> None:
    """Run the CLI."""
    app()
