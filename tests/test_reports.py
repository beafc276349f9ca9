"""Territory and rep reports: figures recomputed from the store, every format read back."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from gcrm._errors import PermissionDeniedError
from gcrm.auth import actor_for
from gcrm.db.models import Account, AuditEvent, Interaction, Territory
from gcrm.db.session import session_scope
from gcrm.reports import REGION_ROW, export_report, rep_report, territory_report

TODAY = dt.date.today()


def _expected(s, territory: str) -> dict[str, float]:
    """The figures of one territory, straight from SQL and plain Python."""
    tid = s.scalar(select(Territory.id).where(Territory.name == territory))
    accounts = s.scalars(select(Account).where(Account.territory_id == tid)).all()
    ids = [a.id for a in accounts]
    visits = s.scalars(
        select(Interaction).where(Interaction.account_id.in_(ids), Interaction.kind == "visit")
    ).all()
    with_target = [a for a in accounts if a.visit_every_days]
    covered = [
        a
        for a in with_target
        if a.last_visit is not None and (TODAY - a.last_visit).days < a.visit_every_days
    ]
    return {
        "accounts": len(accounts),
        "customers": sum(a.kind == "customer" for a in accounts),
        "leads": sum(a.kind == "lead" for a in accounts),
        "potential_value": sum(a.potential_value or 0 for a in accounts),
        "pipeline_value": sum(
            a.potential_value or 0
            for a in accounts
            if a.kind in ("lead", "prospect") and a.stage not in ("won", "lost")
        ),
        "annual_revenue": sum(a.annual_revenue or 0 for a in accounts),
        "visits_30d": sum(v.occurred_at.date() >= TODAY - dt.timedelta(days=30) for v in visits),
        "visits_90d": sum(v.occurred_at.date() >= TODAY - dt.timedelta(days=90) for v in visits),
        "with_target": len(with_target),
        "covered": len(covered),
        "overdue": len(with_target) - len(covered),
    }


def test_figures_match_an_independent_count(demo_copy: str) -> None:
    """Every territory's counts, values, visits and coverage equal a recount from the store."""
    with session_scope() as s:
        report = territory_report(s, actor_for(s, "analyst"), graph=None, today=TODAY)
        summary = report.summary.set_index("territory")
        names = list(s.scalars(select(Territory.name)))
        for name in names:
            want = _expected(s, name)
            got = summary.loc[name]
            for key, value in want.items():
                assert got[key] == pytest.approx(value), (name, key)
            assert got["coverage"] == pytest.approx(want["covered"] / want["with_target"])
        total = s.scalar(select(func.count()).select_from(Account))
    region = summary.loc[REGION_ROW]
    assert region["accounts"] == total
    assert region["accounts"] == summary.drop(index=REGION_ROW)["accounts"].sum()
    assert summary.drop(index=REGION_ROW)["accounts_vs_region_avg"].mean() == pytest.approx(1.0)
    # breakdowns add up to the accounts
    stage = report.breakdown[report.breakdown["dimension"] == "stage"]
    assert stage.groupby("territory")["accounts"].sum().to_dict() == {
        n: summary.loc[n, "accounts"] for n in names
    }


def test_drive_time_figures(demo_copy: str) -> None:
    """Drive-time averages are positive minutes and the home base figure uses the owner's home."""
    with session_scope() as s:
        report = territory_report(s, actor_for(s, "manager"), ["Helsinki West"], today=TODAY)
    row = report.summary.set_index("territory").loc["Helsinki West"]
    assert 0 < row["avg_drive_between_min"] < 30
    assert 0 < row["avg_drive_from_home_min"] < 30
    assert row["white_space"] >= 0


def test_scope_and_permissions(demo_copy: str) -> None:
    """Reps may not export; a report only holds what the acting user may see."""
    with session_scope() as s:
        with pytest.raises(PermissionDeniedError):
            export_report(s, actor_for(s, "rep1"), "territories", "csv", graph=None)
        reps = rep_report(s, actor_for(s, "rep1"), today=TODAY)
        assert list(reps["rep"]) == ["rep1"]
        full = rep_report(s, actor_for(s, "manager"), today=TODAY)
        assert set(full["rep"]) == {"rep1", "rep2", "rep3"}
        n_visits = s.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(
                Interaction.kind == "visit",
                Interaction.occurred_at
                >= dt.datetime.combine(TODAY - dt.timedelta(days=90), dt.time()),
            )
        )
        assert full["visits_90d"].sum() == n_visits


def test_every_format_reads_back_and_is_audited(demo_copy: str, tmp_path) -> None:
    """CSV, XLSX, GeoJSON, GeoPackage and Parquet hold the same figures; each export is audited."""
    with session_scope() as s:
        analyst = actor_for(s, "analyst")
        report = territory_report(s, analyst, graph=None, today=TODAY)
        files = {
            fmt: export_report(s, analyst, "territories", fmt, graph=None, today=TODAY)
            for fmt in ("csv", "xlsx", "geojson", "gpkg", "parquet")
        }
    want = report.summary.set_index("territory")
    csv = pd.read_csv(io.BytesIO(files["csv"].data)).set_index("territory")
    assert csv.loc[want.index, "accounts"].tolist() == want["accounts"].tolist()
    pq = pd.read_parquet(io.BytesIO(files["parquet"].data)).set_index("territory")
    assert pq["potential_value"].tolist() == pytest.approx(want["potential_value"].tolist())
    for fmt in ("geojson", "gpkg"):
        path = tmp_path / f"territories.{fmt}"
        path.write_bytes(files[fmt].data)
        gdf = gpd.read_file(path).set_index("name")
        assert gdf.crs.to_epsg() == 4326
        for name in gdf.index:
            assert gdf.loc[name, "accounts"] == want.loc[name, "accounts"]
            assert gdf.loc[name, "coverage"] == pytest.approx(want.loc[name, "coverage"])
        assert gdf.geometry.is_valid.all()
    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"].data))
    assert wb.sheetnames == ["summary", "by_kind", "by_stage", "by_segment"]
    ws = wb["summary"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    assert ws["A1"].font.b
    header = [c.value for c in ws[1]]
    cov_col = header.index("coverage") + 1
    assert ws.cell(row=2, column=cov_col).number_format == "0.0%"
    with session_scope() as s:
        lines = s.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert len(lines) == 5
    for line in lines:
        details = json.loads(line.details)
        assert line.username == "analyst" and details["rows"] == len(want)
        assert details["sha256"] == files[details["format"]].sha256


def test_pdf_has_a_page_per_territory(demo_copy: str, tmp_path) -> None:
    """The PDF has a summary page and one page per territory, with names, figures and the credit."""
    from pypdf import PdfReader

    with session_scope() as s:
        export = export_report(s, actor_for(s, "manager"), "territories", "pdf", today=TODAY)
        names = sorted(s.scalars(select(Territory.name)))
    reader = PdfReader(io.BytesIO(export.data))
    assert len(reader.pages) == 2 + len(names)  # summary, charts, a page per territory
    first = reader.pages[0].extract_text() + reader.pages[1].extract_text()
    assert "Territory report" in first and "Accounts per stage" in first
    for page, name in zip(reader.pages[2:], names, strict=True):
        text = page.extract_text()
        assert name in text
        assert "Coverage" in text and "OpenStreetMap contributors" in text
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian package poppler-utils) is not installed")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(export.data)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == len(reader.pages)


def test_formula_injection_in_reports(demo_copy: str) -> None:
    """A territory named like a formula exports as inert text in CSV and XLSX."""
    with session_scope() as s:
        t = s.scalar(select(Territory).where(Territory.name == "Helsinki West"))
        t.name = '=HYPERLINK("http://evil")'
    with session_scope() as s:
        analyst = actor_for(s, "analyst")
        csv = export_report(s, analyst, "territories", "csv", graph=None)
        xlsx = export_report(s, analyst, "territories", "xlsx", graph=None)
    assert "'=HYPERLINK" in csv.data.decode("utf-8-sig")
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.data))["summary"]
    values = [c.value for c in ws["A"]]
    assert '\'=HYPERLINK("http://evil")' in values
    assert all(c.data_type != "f" for c in ws["A"])


def test_empty_scope_gives_an_empty_report(demo_copy: str) -> None:
    """A manager without a region sees no account; the report is empty but well formed."""
    from gcrm.auth import Actor

    nobody = Actor(id=999, username="ghost", role="manager", region_id=None)
    with session_scope() as s:
        report = territory_report(s, nobody, graph=None)
    assert report.summary["accounts"].tolist() == [0]
    assert np.isnan(report.summary["coverage"].iloc[0])


def test_planned_vs_done_from_saved_plans(demo_copy: str) -> None:
    """A saved plan counts its stops; a visit logged at a planned account that day is 'done';
    drive time and distance are the plan's."""
    from gcrm.routing import plan_for_reps
    from gcrm.store import log_interaction, save_plan

    day = TODAY - dt.timedelta(days=1)
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        ids = [
            a.id
            for a in s.scalars(
                select(Account)
                .where(Account.owner_id == rep1.id, Account.do_not_contact.is_(False))
                .order_by(Account.id)
                .limit(4)
            )
        ]
        plan = plan_for_reps(s, rep1, ["rep1"], day, seconds=1.0, due=False, selected=ids)
        assert save_plan(s, rep1, plan) == 1
        route = plan.routes[0]
        first = route.stops[0]
        log_interaction(
            s, rep1, int(first.account_id), kind="visit", outcome="order",
            occurred_at=dt.datetime.combine(day, dt.time(11)),
        )  # fmt: skip
    with session_scope() as s:
        row = rep_report(s, actor_for(s, "manager"), today=TODAY).set_index("rep").loc["rep1"]
    assert row["planned_days_90d"] == 1
    assert row["planned_stops_90d"] == len(route.stops)
    assert row["done_stops_90d"] == 1
    assert row["planned_vs_done"] == pytest.approx(1 / len(route.stops))
    assert row["planned_drive_min_90d"] == pytest.approx(route.drive_s / 60)
    assert row["planned_km_90d"] == pytest.approx(route.distance_m / 1000)
