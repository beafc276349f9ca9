"""Maintenance commands: schema, demo data, offline map assets and basemap, the worker.

They run without a user (see :mod:`gcrm.cli`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gcrm.cli._common import LazyModule, Run, app, command, echo_json, group

if TYPE_CHECKING:
    from gcrm import assets as vendoring
    from gcrm import basemap as basemaps
    from gcrm import demo as demo_builder
    from gcrm import jobs, settings
    from gcrm.db import session as db_session
else:
    vendoring = LazyModule("gcrm.assets")
    basemaps = LazyModule("gcrm.basemap")
    db_session = LazyModule("gcrm.db.session")
    demo_builder = LazyModule("gcrm.demo")
    jobs = LazyModule("gcrm.jobs")
    settings = LazyModule("gcrm.settings")

db_app = group("db", "Database schema.")


@command(db_app, "upgrade", acts=False, db=False)
def db_upgrade(run: Run) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    db_session.upgrade_database()
    url = settings.get_settings().resolved_database_url
    echo_json({"database": url.split("@")[-1], "schema": "current"})


@command(app, acts=False)
def demo(
    run: Run,
    osm: Annotated[Path | None, typer.Option(help="OSM file (default: bundled Helsinki).")] = None,
) -> None:
    """Build the Helsinki demo CRM (idempotent)."""
    with run.session() as session:
        summary = demo_builder.build_demo(session, osm)
    echo_json(summary.__dict__)


@command(app, acts=False, db=False)
def assets(
    run: Run,
    force: Annotated[bool, typer.Option(help="Fetch again even if present.")] = False,
    dest: Annotated[
        Path | None, typer.Argument(help="Folder to fill (default static/vendor).")
    ] = None,
) -> None:
    """Put the map's JavaScript/CSS under static/vendor so maps work offline."""
    dest = vendoring.vendor_assets(dest, force=force)
    echo_json({"assets": str(dest)})


@command(app, acts=False, db=False)
def basemap(
    run: Run,
    force: Annotated[bool, typer.Option(help="Rebuild even if cached.")] = False,
    osm: Annotated[Path | None, typer.Option(help="OSM file (default GCRM_OSM_FILE).")] = None,
) -> None:
    """Build the offline basemap (vector tiles) from the region's OSM file; cached."""
    info = basemaps.ensure_basemap(osm, force=force)
    echo_json({**asdict(info), "url": info.url})


@command(app, acts=False)
def setup(
    run: Run,
    demo_data: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the demo.")] = True,
) -> None:
    """Everything a fresh install needs: schema, map assets, demo data if empty."""
    vendoring.vendor_assets()
    out: dict[str, object] = {"schema": "current", "assets": "ok"}
    out["basemap"] = basemaps.ensure_basemap().name
    if demo_data:
        with run.session() as session:
            out["demo"] = demo_builder.build_demo(session).__dict__
    echo_json(out)


@command(app, "worker", acts=False)
def worker(
    run: Run,
    once: Annotated[bool, typer.Option("--once", help="Stop when the queue is empty.")] = False,
    poll: Annotated[
        float,
        typer.Option(
            "--poll", help="Longest wait on an empty queue (PostgreSQL NOTIFY wakes it sooner)."
        ),
    ] = 1.0,
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", help="Stop after this many jobs.")
    ] = None,
) -> None:
    """Run queued jobs (territory builds, reports, cycle and day plans, imports) until stopped."""
    n = jobs.work(once=once, poll_s=poll, max_jobs=max_jobs)
    typer.echo(f"{n} job(s) run")
