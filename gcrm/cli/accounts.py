"""Account data: import, list, export, reports, maps and erasure (``gcrm accounts ...`` etc.)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gcrm.cli._common import (
    LazyModule,
    OutputFormat,
    Run,
    app,
    command,
    echo_json,
    fail,
    group,
    print_frame,
)

if TYPE_CHECKING:
    from gcrm import density, import_report, importer, map_cli, reports, store
    from gcrm.db import session as db_session
else:
    db_session = LazyModule("gcrm.db.session")
    density = LazyModule("gcrm.density")
    import_report = LazyModule("gcrm.import_report")
    importer = LazyModule("gcrm.importer")
    map_cli = LazyModule("gcrm.map_cli")
    reports = LazyModule("gcrm.reports")
    store = LazyModule("gcrm.store")

accounts_app = group("accounts", "Accounts.")
erase_app = group("erase", "Erase personal data (admins).")


@command(app, "import")
def import_(
    run: Run,
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
) -> None:
    """Import accounts: validate, upsert by external_id, report rejected rows.

    Prints the column mapping, value mappings, warnings and every rejected
    row with all its reasons on stderr and the counts as JSON on stdout;
    exits with 4 when no row could be imported.
    """
    columns = importer.load_mapping(mapping) if mapping else None
    with run.acting() as (session, actor):
        report = importer.import_file(session, actor, file, mapping=columns, dry_run=dry_run)
    typer.echo(import_report.format_report(report), err=True)
    if report.rejects and (rejects or not dry_run):
        target = rejects or file.with_name(file.name + ".rejected.csv")
        importer.write_rejects(report, target)
        typer.echo(f"{report.rejected} rejected row(s) written to {target}", err=True)
    for row, ext, other in report.duplicate_pairs:
        typer.echo(f"row {row}: {ext!r} looks like a duplicate of {other!r}", err=True)
    echo_json(report.summary())
    if report.rows and not import_report.imported_rows(report):
        raise fail(f"{file.name}: no row could be imported", 4)


@command(accounts_app, "list")
def accounts_list(
    run: Run,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    kind: Annotated[list[str] | None, typer.Option(help="Only this kind (repeatable).")] = None,
    territory: Annotated[list[str] | None, typer.Option(help="Only this territory.")] = None,
    text: Annotated[str | None, typer.Option(help="Name/address contains.")] = None,
) -> None:
    """List the accounts the acting user may see (``--format csv`` is an audited export)."""
    flt = store.AccountFilter(kinds=kind or (), territories=territory or (), text=text)
    with run.acting() as (session, actor):
        df = reports.account_list(session, actor, flt, fmt=fmt.value)
    print_frame(df, fmt)


@command(accounts_app, "export")
def accounts_export(
    run: Run,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or json.")] = "csv",
    kind: Annotated[list[str] | None, typer.Option(help="Only this kind (repeatable).")] = None,
    territory: Annotated[list[str] | None, typer.Option(help="Only this territory.")] = None,
) -> None:
    """Export the accounts the user may see (audited; personal data per role)."""
    with run.acting() as (session, actor):
        flt = store.AccountFilter(kinds=kind or (), territories=territory or ())
        export = reports.export_accounts(session, actor, flt, fmt)  # type: ignore[arg-type]
        output.write_bytes(export.data)
    echo_json({"output": str(output), "rows": export.rows, "sha256": export.sha256})


@command(erase_app, "contact")
def erase_contact_cmd(
    run: Run,
    contact_id: Annotated[int, typer.Argument(help="contacts.id")],
) -> None:
    """Anonymise a person everywhere (contacts, notes, audit details)."""
    with run.acting() as (session, actor):
        store.erase_contact(session, actor, contact_id)
    db_session.purge_freed_bytes()
    echo_json({"erased": f"contact:{contact_id}"})


@command(erase_app, "account")
def erase_account_cmd(
    run: Run,
    account_id: Annotated[int, typer.Argument(help="accounts.id")],
) -> None:
    """Anonymise an account and its people, keeping aggregates."""
    with run.acting() as (session, actor):
        store.erase_account(session, actor, account_id)
    db_session.purge_freed_bytes()
    echo_json({"erased": f"account:{account_id}"})


@command(app, "subject-access")
def subject_access_cmd(
    run: Run,
    email: Annotated[str | None, typer.Option(help="The person's e-mail.")] = None,
    name: Annotated[str | None, typer.Option(help="The person's name.")] = None,
) -> None:
    """Print everything held on a person as JSON (admins)."""
    with run.acting() as (session, actor):
        result = store.subject_access(session, actor, email=email, name=name)
    echo_json(result)


class ReportKind(StrEnum):
    """Which report."""

    territories = "territories"
    reps = "reps"
    accounts = "accounts"


@command(app)
def report(
    run: Run,
    kind: Annotated[ReportKind, typer.Argument(help="territories, reps or accounts.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help="csv, xlsx, pdf, geojson, gpkg, parquet or json.")
    ] = "csv",
    territory: Annotated[
        list[str] | None, typer.Option("--territory", help="Only this territory (repeatable).")
    ] = None,
) -> None:
    """Write a report, scoped and audited as the acting user; prints a JSON summary line."""
    with run.acting() as (session, actor):
        export = reports.export_report(
            session,
            actor,
            kind.value,  # type: ignore[arg-type]
            fmt,  # type: ignore[arg-type]
            territories=territory or None,
        )
        output.write_bytes(export.data)
    echo_json(
        {
            "report": kind.value,
            "format": fmt,
            "output": str(output),
            "rows": export.rows,
            "bytes": len(export.data),
            "sha256": export.sha256,
        }
    )


class MapLayer(StrEnum):
    """Layers of ``gcrm map``."""

    markers = "markers"
    heat = "heat"
    hex = "hex"
    postcode = "postcode"
    territory = "territory"


@command(app, "map")
def map_(
    run: Run,
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
) -> None:
    """Write a standalone HTML map that works offline (assets inlined)."""
    parsed = density.MapFilter.parse(flt or [])
    with run.acting() as (session, actor):
        result = map_cli.write_map(
            session, actor, layer.value, output, flt=parsed, weight=weight, tiles=tiles,
            roads=roads,
        )  # fmt: skip
    echo_json(result)
