"""Exports and reports: every file that leaves gcrm goes through here.

Exports are scoped (the store applies the acting user's scope), audited (who,
when, filter, row count, columns, file hash), pseudonymised for roles that do
not see personal data, and safe to open in a spreadsheet (formula injection
neutralised).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gcrm._errors import InputError
from gcrm.auth import Actor, pseudonym, require, sees_personal_data
from gcrm.db.models import Account, Contact
from gcrm.importer import neutralise_formula
from gcrm.store import AccountFilter, accounts_frame, audit

ExportFormat = Literal["csv", "xlsx", "json"]

#: Columns of the account list export, in order.
ACCOUNT_EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "external_id",
    "name",
    "kind",
    "stage",
    "segment",
    "owner",
    "territory",
    "street",
    "housenumber",
    "postcode",
    "city",
    "lat",
    "lon",
    "geocode_precision",
    "potential_value",
    "annual_revenue",
    "visit_every_days",
    "last_visit",
    "do_not_contact",
    "marketing_consent",
    "phone",
    "email",
    "contact_name",
    "contact_email",
    "contact_phone",
)
_PERSONAL_EXPORT_COLUMNS = ("phone", "email", "contact_name", "contact_email", "contact_phone")


@dataclasses.dataclass(frozen=True)
class Export:
    """A finished export: its bytes and what the audit log recorded."""

    data: bytes
    filename: str
    mime: str
    rows: int
    columns: tuple[str, ...]
    sha256: str


def account_table(session: Session, actor: Actor, flt: AccountFilter | None = None) -> pd.DataFrame:
    """Return the account list export as a table (scoped, pseudonymised per role).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``view``).
    flt
        The filter (the one on screen).

    Returns
    -------
    pandas.DataFrame
        :data:`ACCOUNT_EXPORT_COLUMNS`; personal columns hold pseudonyms or
        nothing when the actor may not see personal data.
    """
    df = pd.DataFrame(accounts_frame(session, actor, flt).drop(columns="geometry"))
    ids = [int(i) for i in df["id"]]
    personal: dict[int, dict[str, object]] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        for aid, phone, email in session.execute(
            select(Account.id, Account.phone, Account.email).where(Account.id.in_(chunk))
        ):
            personal[aid] = {"phone": phone, "email": email}
        for c in session.scalars(
            select(Contact).where(Contact.account_id.in_(chunk)).order_by(Contact.id)
        ):
            row = personal.setdefault(c.account_id, {})
            if "contact_name" not in row:
                row.update(
                    contact_name=c.name,
                    contact_email=c.email,
                    contact_phone=c.phone,
                    contact_pseudonym=pseudonym(c),
                )
    extra = pd.DataFrame.from_dict(personal, orient="index").reindex(ids)
    for col in _PERSONAL_EXPORT_COLUMNS:
        df[col] = extra[col].to_numpy() if col in extra.columns else None
    if not sees_personal_data(actor):
        given = extra["contact_pseudonym"] if "contact_pseudonym" in extra.columns else []
        df["contact_name"] = [v if isinstance(v, str) else None for v in given] or None
        for col in ("phone", "email", "contact_email", "contact_phone"):
            df[col] = None
    return df[list(ACCOUNT_EXPORT_COLUMNS)]


def to_bytes(df: pd.DataFrame, fmt: ExportFormat, *, sheet: str = "accounts") -> bytes:
    """Serialise a table safely: formulas neutralised in CSV and XLSX.

    Parameters
    ----------
    df
        The table.
    fmt
        ``csv``, ``xlsx`` or ``json``.
    sheet
        Sheet name for XLSX.

    Returns
    -------
    bytes
        The file's content.
    """
    if fmt == "json":
        return df.to_json(orient="records", date_format="iso", force_ascii=False).encode()
    safe = df.map(neutralise_formula)
    if fmt == "csv":
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
            # strings_to_formulas off: text stays text even without the quote
            writer.book.strings_to_formulas = False
            safe.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            header = writer.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
            for j, col in enumerate(safe.columns):
                ws.write(0, j, str(col), header)
                ws.set_column(j, j, max(10, min(40, len(str(col)) + 2)))
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(1, len(safe)), max(0, len(safe.columns) - 1))
        return buf.getvalue()
    msg = f"format: {fmt!r} is not one of csv, xlsx, json"
    raise InputError(msg)


_MIME = {
    "pdf": "application/pdf",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_accounts(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    fmt: ExportFormat = "csv",
) -> Export:
    """Export the account list (the current filter), audited.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``export``).
    flt
        The filter.
    fmt
        ``csv``, ``xlsx`` or ``json``.

    Returns
    -------
    Export
        The file and its audit facts.
    """
    require(actor, "export")
    df = account_table(session, actor, flt)
    data = to_bytes(df, fmt)
    digest = hashlib.sha256(data).hexdigest()
    export = Export(
        data=data,
        filename=f"accounts.{fmt}",
        mime=_MIME[fmt],
        rows=len(df),
        columns=tuple(df.columns),
        sha256=digest,
    )
    audit(
        session,
        actor,
        "export",
        export.filename,
        {
            "filter": dataclasses.asdict(flt) if flt else {},
            "rows": export.rows,
            "columns": list(export.columns),
            "sha256": digest,
            "pseudonymised": not sees_personal_data(actor),
        },
    )
    return export


# --------------------------------------------------------------- territory report

#: Accounts in no territory are reported under this name.
NO_TERRITORY = "(no territory)"
#: The row holding the whole region's figures.
REGION_ROW = "Region (all)"
_OPEN_STAGES = ("new", "contacted", "qualified", "proposal", "negotiation")


@dataclasses.dataclass
class TerritoryReport:
    """The territory report: one row per territory plus the region, and breakdowns.

    Attributes
    ----------
    summary
        One row per territory and a last :data:`REGION_ROW` row; see
        :data:`SUMMARY_COLUMNS`.
    breakdown
        Long table: territory, dimension (``kind``/``stage``/``segment``),
        value, accounts, potential_value.
    territories
        Territory polygons (EPSG:4326) with the summary's figures.
    today
        The reference date of the time-based figures.
    """

    summary: pd.DataFrame
    breakdown: pd.DataFrame
    territories: gpd.GeoDataFrame
    today: dt.date

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the report's tables by sheet name (summary first)."""
        out: dict[str, pd.DataFrame] = {"summary": self.summary}
        for dim in ("kind", "stage", "segment"):
            part = self.breakdown[self.breakdown["dimension"] == dim]
            out[f"by_{dim}"] = part.drop(columns="dimension").reset_index(drop=True)
        return out


#: Columns of :attr:`TerritoryReport.summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "territory",
    "owner",
    "area_km2",
    "accounts",
    "leads",
    "prospects",
    "customers",
    "pipeline_value",
    "potential_value",
    "annual_revenue",
    "prospects_per_km2",
    "visits_30d",
    "visits_90d",
    "with_target",
    "covered",
    "coverage",
    "overdue",
    "avg_drive_between_min",
    "avg_drive_from_home_min",
    "white_space",
    "accounts_vs_region_avg",
    "coverage_vs_region_avg",
)


def _mean_drive_minutes(
    graph: Any, lats: np.ndarray, lons: np.ndarray, home: tuple[float, float] | None, sample: int
) -> tuple[float, float]:
    """Mean drive time (min) between accounts and from a home base, on a seeded sample."""
    from gcrm.matrix import travel_matrix

    if graph is None or len(lats) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(7)
    idx = np.sort(rng.choice(len(lats), size=min(sample, len(lats)), replace=False))
    slat, slon = lats[idx], lons[idx]
    if home is not None:
        slat = np.r_[home[0], slat]
        slon = np.r_[home[1], slon]
    m = travel_matrix(graph, slat, slon).durations
    off = 1 if home is not None else 0
    block = m[off:, off:]
    pairs = block[~np.eye(len(block), dtype=bool)]
    pairs = pairs[np.isfinite(pairs)]
    between = float(pairs.mean() / 60.0) if pairs.size else float("nan")
    from_home = float("nan")
    if home is not None:
        legs = m[0, 1:]
        legs = legs[np.isfinite(legs)]
        from_home = float(legs.mean() / 60.0) if legs.size else float("nan")
    return between, from_home


def territory_report(
    session: Session,
    actor: Actor,
    territories: Sequence[str] | None = None,
    *,
    today: dt.date | None = None,
    graph: Any = "default",
    sample: int = 150,
    white_space_minutes: float = 10.0,
) -> TerritoryReport:
    """Compute the territory report over the accounts the actor may see.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``view``; the scope applies).
    territories
        Only these territories (names); ``None`` for all in scope.
    today
        Reference date of visits and coverage (default today).
    graph
        Road graph for drive times; ``"default"`` loads the region's drive
        network, ``None`` skips the drive-time and white-space figures.
    sample
        Drive times are averaged over at most this many accounts per
        territory (seeded sample), so the report scales to large regions.
    white_space_minutes
        A prospect is white space when its nearest rep home base and nearest
        customer are at least this far, in drive minutes.

    Returns
    -------
    TerritoryReport
        The figures.
    """
    from gcrm.density import coverage, coverage_mask, metric_crs, white_space
    from gcrm.store import interactions_frame, rep_home_bases, territories_frame

    require(actor, "view")
    today = today or dt.date.today()
    if graph == "default":
        from gcrm.network import load_network

        graph = load_network()
    flt = AccountFilter(territories=list(territories)) if territories else None
    acc = accounts_frame(session, actor, flt)
    acc["territory"] = acc["territory"].fillna(NO_TERRITORY)
    terr = territories_frame(session, actor)
    if territories:
        terr = terr[terr["name"].isin(list(territories))]
    homes = rep_home_bases(session, actor)
    visits = interactions_frame(
        session, actor, None if flt is None else [int(i) for i in acc["id"]]
    )
    visits = visits[visits["kind"] == "visit"]
    when = pd.to_datetime(visits["occurred_at"]).dt.date
    v30 = visits[when >= today - dt.timedelta(days=30)].groupby("account_id").size()
    v90 = visits[when >= today - dt.timedelta(days=90)].groupby("account_id").size()
    acc["visits_30d"] = acc["id"].map(v30).fillna(0).astype(int)
    acc["visits_90d"] = acc["id"].map(v90).fillna(0).astype(int)
    has_target, covered = coverage_mask(acc, today=today)
    acc["_target"], acc["_covered"] = has_target, covered

    ws_ids: set[int] = set()
    if graph is not None and len(acc):
        ws = white_space(acc, homes, graph, min_minutes=white_space_minutes)
        ws_ids = {int(i) for i in ws["id"]}
    acc["_white"] = acc["id"].isin(ws_ids)

    crs = (
        metric_crs(terr.geometry if len(terr) else acc.geometry) if len(acc) or len(terr) else None
    )
    area_km2: dict[str, float] = {}
    if len(terr) and crs is not None:
        area_km2 = dict(zip(terr["name"], terr.to_crs(crs).area / 1e6, strict=True))
    owners = dict(zip(terr["name"], terr["owner"], strict=True))
    home_of = {
        r["username"]: (float(r["lat"]), float(r["lon"]))
        for _, r in homes.dropna(subset=["lat", "lon"]).iterrows()
    }

    names = list(terr["name"]) + (
        [NO_TERRITORY] if (acc["territory"] == NO_TERRITORY).any() else []
    )
    rows = []
    for name in names:
        part = acc[acc["territory"] == name]
        rows.append(
            _summary_row(
                name,
                owners.get(name),
                area_km2.get(name),
                part,
                graph,
                home_of.get(owners.get(name) or ""),
                sample,
            )
        )
    region_area = sum(area_km2.values()) if area_km2 else float("nan")
    rows.append(_summary_row(REGION_ROW, None, region_area, acc, graph, None, sample))
    summary = pd.DataFrame(rows)
    cov = coverage(acc, by=None, today=today)
    summary.loc[summary["territory"] == REGION_ROW, "coverage"] = float(cov["coverage"].iloc[0])
    per = summary[~summary["territory"].isin([REGION_ROW, NO_TERRITORY])]
    avg_accounts = per["accounts"].mean() if len(per) else float("nan")
    avg_cov = per["coverage"].mean() if len(per) else float("nan")
    summary["accounts_vs_region_avg"] = summary["accounts"] / avg_accounts
    summary["coverage_vs_region_avg"] = summary["coverage"] - avg_cov
    summary = summary[list(SUMMARY_COLUMNS)]

    breakdown = _breakdown(acc)
    # The territory's own owner column stays; the summary's copy would become owner_x/owner_y.
    geo = terr.merge(
        summary.drop(columns=["owner"]), left_on="name", right_on="territory", how="left"
    ).drop(columns=["territory"])
    geo = gpd.GeoDataFrame(geo, geometry="geometry", crs="EPSG:4326")
    return TerritoryReport(summary=summary, breakdown=breakdown, territories=geo, today=today)


def _summary_row(
    name: str,
    owner: str | None,
    area_km2: float | None,
    part: pd.DataFrame,
    graph: Any,
    home: tuple[float, float] | None,
    sample: int,
) -> dict[str, Any]:
    kinds = part["kind"].value_counts()
    open_pipeline = part["kind"].isin(["lead", "prospect"]) & part["stage"].isin(_OPEN_STAGES)
    prospects = int(kinds.get("prospect", 0) + kinds.get("lead", 0))
    area = float(area_km2) if area_km2 is not None else float("nan")
    with_target = int(part["_target"].sum())
    covered = int(part["_covered"].sum())
    loc = part.dropna(subset=["lat", "lon"])
    between, from_home = (float("nan"), float("nan"))
    if graph is not None:
        between, from_home = _mean_drive_minutes(
            graph, loc["lat"].to_numpy(float), loc["lon"].to_numpy(float), home, sample
        )
    return {
        "territory": name,
        "owner": owner,
        "area_km2": area,
        "accounts": len(part),
        "leads": int(kinds.get("lead", 0)),
        "prospects": int(kinds.get("prospect", 0)),
        "customers": int(kinds.get("customer", 0)),
        "pipeline_value": float(part.loc[open_pipeline, "potential_value"].fillna(0).sum()),
        "potential_value": float(part["potential_value"].fillna(0).sum()),
        "annual_revenue": float(part["annual_revenue"].fillna(0).sum()),
        "prospects_per_km2": prospects / area if area and area > 0 else float("nan"),
        "visits_30d": int(part["visits_30d"].sum()),
        "visits_90d": int(part["visits_90d"].sum()),
        "with_target": with_target,
        "covered": covered,
        "coverage": covered / with_target if with_target else float("nan"),
        "overdue": with_target - covered,
        "avg_drive_between_min": between,
        "avg_drive_from_home_min": from_home,
        "white_space": int(part["_white"].sum()),
    }


def _breakdown(acc: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for dim in ("kind", "stage", "segment"):
        g = (
            acc.assign(value=acc[dim].fillna("(none)"))
            .groupby(["territory", "value"], dropna=False)
            .agg(accounts=("id", "size"), potential_value=("potential_value", "sum"))
            .reset_index()
        )
        g.insert(1, "dimension", dim)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------- rep activity report

#: Columns of :func:`rep_report`.
REP_COLUMNS: tuple[str, ...] = (
    "rep",
    "accounts",
    "visits_30d",
    "visits_90d",
    "calls_90d",
    "outcomes_90d",
    "overdue",
    "planned_days_90d",
    "planned_stops_90d",
    "done_stops_90d",
    "planned_vs_done",
    "planned_drive_min_90d",
    "planned_km_90d",
    "last_activity",
)


def rep_report(session: Session, actor: Actor, *, today: dt.date | None = None) -> pd.DataFrame:
    """Rep activity: visits, outcomes, overdue accounts; planned vs done from saved plans.

    A planned stop counts as done when the rep logged a visit at that account
    on the planned day. Drive time and distance are those of the saved plans.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (scope applies: a rep sees only their own row).
    today
        Reference date (default today).

    Returns
    -------
    pandas.DataFrame
        :data:`REP_COLUMNS`, one row per rep with accounts in scope.
    """
    from gcrm.density import coverage_mask
    from gcrm.store import interactions_frame, saved_plans_frame

    require(actor, "view")
    today = today or dt.date.today()
    acc = accounts_frame(session, actor)
    inter = interactions_frame(session, actor)
    plans = saved_plans_frame(session, actor)
    plans = plans[(plans["day"] >= today - dt.timedelta(days=90)) & (plans["day"] <= today)]
    visit_days = {
        (u, int(a), d)
        for u, a, d in zip(
            inter.loc[inter["kind"] == "visit", "user"],
            inter.loc[inter["kind"] == "visit", "account_id"],
            pd.to_datetime(inter.loc[inter["kind"] == "visit", "occurred_at"]).dt.date,
            strict=True,
        )
    }
    when = pd.to_datetime(inter["occurred_at"]).dt.date
    recent = inter[when >= today - dt.timedelta(days=90)]
    has_target, covered = coverage_mask(acc, today=today)
    acc = acc.assign(_overdue=has_target & ~covered)
    reps = sorted(
        set(acc["owner"].dropna()) | set(inter["user"].dropna()) | set(plans["rep"].dropna())
    )
    rows = []
    for rep in reps:
        mine = recent[recent["user"] == rep]
        visits = mine[mine["kind"] == "visit"]
        w = pd.to_datetime(visits["occurred_at"]).dt.date
        outcomes = mine["outcome"].dropna().value_counts()
        last = inter.loc[inter["user"] == rep, "occurred_at"]
        mine_plans = plans[plans["rep"] == rep]
        planned = sum(len(ids) for ids in mine_plans["account_ids"])
        done = sum(
            (rep, a, day) in visit_days
            for ids, day in zip(mine_plans["account_ids"], mine_plans["day"], strict=True)
            for a in ids
        )
        rows.append(
            {
                "rep": rep,
                "accounts": int((acc["owner"] == rep).sum()),
                "visits_30d": int((w >= today - dt.timedelta(days=30)).sum()),
                "visits_90d": len(visits),
                "calls_90d": int((mine["kind"] == "call").sum()),
                "outcomes_90d": "; ".join(f"{k}: {v}" for k, v in outcomes.items()),
                "overdue": int(acc.loc[acc["owner"] == rep, "_overdue"].sum()),
                "planned_days_90d": len(mine_plans),
                "planned_stops_90d": planned,
                "done_stops_90d": done,
                "planned_vs_done": done / planned if planned else float("nan"),
                "planned_drive_min_90d": float(mine_plans["drive_s"].sum()) / 60.0,
                "planned_km_90d": float(mine_plans["distance_m"].sum()) / 1000.0,
                "last_activity": pd.to_datetime(last).max() if len(last) else pd.NaT,
            }
        )
    return pd.DataFrame(rows, columns=list(REP_COLUMNS))


# --------------------------------------------------------------- writers

ReportFormat = Literal["csv", "xlsx", "pdf", "geojson", "gpkg", "parquet", "json"]
REPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "pdf", "geojson", "gpkg", "parquet", "json")


def tables_to_xlsx(tables: dict[str, pd.DataFrame]) -> bytes:
    """Write tables as one formatted workbook: a sheet each, the first is the summary.

    Headers are bold on a tinted fill, numbers get formats (thousands, two
    decimals, percentages for shares), the header row is frozen and has an
    autofilter; text cells are formula-safe.

    Parameters
    ----------
    tables
        Sheet name → table.

    Returns
    -------
    bytes
        The ``.xlsx`` file.
    """
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        book = writer.book
        book.strings_to_formulas = False
        header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        integer = book.add_format({"num_format": "#,##0"})
        decimal = book.add_format({"num_format": "#,##0.00"})
        percent = book.add_format({"num_format": "0.0%"})
        for sheet, df in tables.items():
            safe = df.map(neutralise_formula)
            for col in safe.columns:
                if pd.api.types.is_datetime64_any_dtype(safe[col]):
                    safe[col] = safe[col].dt.tz_localize(None) if safe[col].dt.tz else safe[col]
            name = sheet[:31]
            safe.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            for j, col in enumerate(safe.columns):
                ws.write(0, j, str(col), header)
                fmt = None
                if col in ("coverage",) or col.endswith("_share"):
                    fmt = percent
                elif pd.api.types.is_integer_dtype(safe[col]):
                    fmt = integer
                elif pd.api.types.is_float_dtype(safe[col]):
                    fmt = decimal
                ws.set_column(j, j, max(10, min(40, len(str(col)) + 2)), fmt)
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(1, len(safe)), max(0, len(safe.columns) - 1))
    return buf.getvalue()


def _geo_bytes(gdf: gpd.GeoDataFrame, driver: str, suffix: str) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"territories{suffix}"
        out = gdf.copy()
        for col in out.columns:
            if col != "geometry" and out[col].dtype == object:
                out[col] = out[col].map(lambda v: None if v is None else neutralise_formula(str(v)))
        out.to_file(path, driver=driver, layer="territories" if driver == "GPKG" else None)
        return path.read_bytes()


def territory_report_bytes(report: TerritoryReport, fmt: ReportFormat, **pdf: Any) -> bytes:
    """Serialise a territory report.

    Parameters
    ----------
    report
        The report.
    fmt
        ``csv`` (the summary), ``xlsx`` (summary and breakdown sheets),
        ``pdf`` (a summary page and a page per territory, with maps and
        charts), ``geojson``/``gpkg`` (territories with their figures),
        ``parquet`` (the summary), ``json`` (the summary).
    **pdf
        Passed to :func:`territory_report_pdf`.

    Returns
    -------
    bytes
        The file's content.
    """
    if fmt in ("csv", "json"):
        return to_bytes(report.summary, fmt)
    if fmt == "xlsx":
        return tables_to_xlsx(report.tables())
    if fmt == "parquet":
        buf = io.BytesIO()
        report.summary.to_parquet(buf, index=False)
        return buf.getvalue()
    if fmt == "geojson":
        return _geo_bytes(report.territories, "GeoJSON", ".geojson")
    if fmt == "gpkg":
        return _geo_bytes(report.territories, "GPKG", ".gpkg")
    if fmt == "pdf":
        return territory_report_pdf(report, **pdf)
    msg = f"format: {fmt!r} is not one of {', '.join(REPORT_FORMATS)}"
    raise InputError(msg)


def _fmt(value: Any, kind: str = "num") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "min":
        return f"{value:.1f} min"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{value:,.0f}"


#: Title (with unit) and number format of each summary column, as printed in the PDF.
SUMMARY_LABELS: dict[str, tuple[str, str]] = {
    "territory": ("Territory", "text"),
    "owner": ("Owner", "text"),
    "area_km2": ("Area (km²)", "1"),
    "accounts": ("Accounts", "0"),
    "leads": ("Leads", "0"),
    "prospects": ("Prospects", "0"),
    "customers": ("Customers", "0"),
    "pipeline_value": ("Open pipeline (€)", "0"),
    "potential_value": ("Potential value (€)", "0"),
    "annual_revenue": ("Annual revenue (€)", "0"),
    "prospects_per_km2": ("Prospects per km²", "1"),
    "visits_30d": ("Visits, last 30 days", "0"),
    "visits_90d": ("Visits, last 90 days", "0"),
    "with_target": ("Accounts with a visit target", "0"),
    "covered": ("Visited within target", "0"),
    "coverage": ("Coverage (%)", "pct"),
    "overdue": ("Overdue visits", "0"),
    "avg_drive_between_min": ("Avg drive between accounts (min)", "1"),
    "avg_drive_from_home_min": ("Avg drive from home base (min)", "1"),
    "white_space": ("White-space prospects", "0"),
    "accounts_vs_region_avg": ("Accounts vs region average (×)", "2"),
    "coverage_vs_region_avg": ("Coverage vs region average (pp)", "pp"),
}

#: Territories per summary table in the PDF (more go on further pages).
_TABLE_COLUMNS = 6


def display_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The territory summary as people read it: titled columns with units, rounded.

    Parameters
    ----------
    summary : pandas.DataFrame
        :attr:`TerritoryReport.summary`.

    Returns
    -------
    pandas.DataFrame
        The same rows; columns renamed to :data:`SUMMARY_LABELS` titles,
        shares in per cent, every figure rounded to its printed precision.
    """
    out = pd.DataFrame(index=summary.index)
    for col in summary.columns:
        title, kind = SUMMARY_LABELS.get(col, (col, "text"))
        values = summary[col]
        if kind in ("pct", "pp"):
            values = (pd.to_numeric(values, errors="coerce") * 100).round(0)
        elif kind != "text":
            values = pd.to_numeric(values, errors="coerce").round(int(kind))
        out[title] = values
    return out


def _cell(value: Any, kind: str) -> str:
    """One figure as printed: rounded, thousands separated, ``-`` when missing."""
    missing = value is None or (isinstance(value, float) and not np.isfinite(value))
    if kind == "text":
        return "-" if missing else str(value)
    if missing:
        return "-"
    if kind == "pct":
        return f"{100 * value:.0f}"
    if kind == "pp":
        return f"{100 * value:+.0f}"
    return f"{value:,.{int(kind)}f}".replace(",", "\u202f")


def _summary_pages(pdf: Any, plt: Any, report: TerritoryReport, title: str) -> None:
    """The summary as tables with one row per figure and a column per territory."""
    import textwrap

    summary = report.summary
    rows = [c for c in SUMMARY_COLUMNS if c != "territory"]
    chunks = [summary.iloc[i : i + _TABLE_COLUMNS] for i in range(0, len(summary), _TABLE_COLUMNS)]
    for page, chunk in enumerate(chunks, start=1):
        fig = plt.figure(figsize=(8.27, 11.69))
        more = f" ({page}/{len(chunks)})" if len(chunks) > 1 else ""
        fig.suptitle(f"{title} — {report.today:%d.%m.%Y}{more}", fontsize=14, y=0.97)
        ax = fig.add_axes((0.04, 0.08, 0.92, 0.84))
        ax.axis("off")
        header = [SUMMARY_LABELS["territory"][0]] + [
            textwrap.fill(str(n), 14) for n in chunk["territory"]
        ]
        cells = [
            [SUMMARY_LABELS[c][0]] + [_cell(v, SUMMARY_LABELS[c][1]) for v in chunk[c]]
            for c in rows
        ]
        n = len(chunk)
        widths = [0.40] + [0.60 / max(n, 1)] * n
        table = ax.table(
            cellText=cells, colLabels=header, colWidths=widths, loc="upper center", cellLoc="right"
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        for (r, c), cell in table.get_celld().items():
            cell.set_height(0.06 if r == 0 else 0.034)
            if c == 0:
                cell.set_text_props(ha="left")
                cell.PAD = 0.02
            if r == 0:
                cell.set_text_props(weight="bold", ha="center")
        fig.text(
            0.04,
            0.04,
            "€ rounded to whole euros; coverage = accounts visited within their target "
            "interval; pp = percentage points.",
            fontsize=7,
            color="#555555",
        )
        pdf.savefig(fig)
        plt.close(fig)


def _charts(fig: Any, gs: Any, report: TerritoryReport, names: list[str]) -> None:
    """Accounts per stage, coverage per territory, value per territory (legends beside)."""
    stage = report.breakdown[report.breakdown["dimension"] == "stage"]
    pivot = stage.pivot_table(index="territory", columns="value", values="accounts", fill_value=0)
    pivot = pivot.reindex([n for n in names if n in pivot.index])
    outside = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "fontsize": 7, "frameon": False}
    ax1 = fig.add_subplot(gs[0])
    bottom = np.zeros(len(pivot))
    for col in pivot.columns:
        ax1.barh(pivot.index, pivot[col], left=bottom, label=str(col))
        bottom += pivot[col].to_numpy()
    ax1.set_title("Accounts per stage", fontsize=10)
    ax1.set_xlabel("accounts", fontsize=8)
    ax1.legend(title="stage", title_fontsize=7, **outside)
    ax1.tick_params(labelsize=7)
    per = report.summary.set_index("territory").reindex(names)
    ax2 = fig.add_subplot(gs[1])
    ax2.barh(per.index, per["coverage"].fillna(0) * 100, color="#4c9a2a")
    ax2.set_title("Coverage (visited within target)", fontsize=10)
    ax2.set_xlabel("%", fontsize=8)
    ax2.set_xlim(0, 100)
    ax2.tick_params(labelsize=7)
    ax3 = fig.add_subplot(gs[2])
    ax3.barh(per.index, per["potential_value"] / 1000, color="#2a6f9a", label="potential")
    ax3.barh(per.index, per["pipeline_value"] / 1000, color="#9ac1e0", label="open pipeline")
    ax3.set_title("Value per territory", fontsize=10)
    ax3.set_xlabel("thousand €", fontsize=8)
    ax3.legend(**outside)
    ax3.tick_params(labelsize=7)


def territory_report_pdf(
    report: TerritoryReport,
    *,
    accounts: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    title: str = "Territory report",
) -> bytes:
    """Render the territory report as a printable PDF (A4 portrait).

    First the summary: every figure of :data:`SUMMARY_COLUMNS` as a row
    (titles with units, :data:`SUMMARY_LABELS`), a column per territory, at
    most :data:`_TABLE_COLUMNS` territories per page so the table fits; then a
    page of charts (accounts per stage, coverage and value per territory) with
    their legends beside them; then one page per territory with a static map
    drawn offline from our own road and territory geometry and its figures.
    Maps credit "© OpenStreetMap contributors".

    Parameters
    ----------
    report
        The report.
    accounts
        Account points to draw on the maps (optional).
    roads
        Road lines to draw under the territories (optional).
    title
        The document title.

    Returns
    -------
    bytes
        The PDF.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.gridspec import GridSpec

    plt.rcParams["pdf.fonttype"] = 42
    summary = report.summary
    names = [n for n in summary["territory"] if n != REGION_ROW]
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "gcrm"}) as pdf:
        _summary_pages(pdf, plt, report, title)
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.suptitle(f"{title}: charts", fontsize=14, y=0.97)
        # Left margin for territory names, right margin for the legends.
        gs = GridSpec(3, 1, figure=fig, hspace=0.45, left=0.24, right=0.74, top=0.9, bottom=0.07)
        _charts(fig, [gs[0], gs[1], gs[2]], report, names)
        pdf.savefig(fig)
        plt.close(fig)
        for name in names:
            _territory_page(pdf, plt, report, name, accounts, roads)
    return buf.getvalue()


def _territory_page(
    pdf: Any,
    plt: Any,
    report: TerritoryReport,
    name: str,
    accounts: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
) -> None:
    row = report.summary.set_index("territory").loc[name]
    fig = plt.figure(figsize=(8.27, 11.69))
    fig.suptitle(f"{name}", fontsize=14, y=0.98)
    ax = fig.add_axes((0.08, 0.42, 0.84, 0.52))
    terr = report.territories[report.territories["name"] == name]
    if len(terr):
        minx, miny, maxx, maxy = terr.total_bounds
        padx, pady = (maxx - minx) * 0.08 + 1e-4, (maxy - miny) * 0.08 + 1e-4
        ax.set_xlim(minx - padx, maxx + padx)
        ax.set_ylim(miny - pady, maxy + pady)
        if roads is not None and len(roads):
            roads.plot(ax=ax, color="#bbbbbb", linewidth=0.6)
        report.territories.boundary.plot(ax=ax, color="#999999", linewidth=0.5)
        terr.plot(ax=ax, color="#2a6f9a", alpha=0.15, edgecolor="#2a6f9a", linewidth=1.5)
    if accounts is not None and len(accounts):
        mine = accounts[accounts["territory"] == name]
        colors = {"lead": "#e69f00", "prospect": "#0072b2", "customer": "#009e73"}
        for kind, color in colors.items():
            pts = mine[mine["kind"] == kind]
            if len(pts):
                ax.scatter(pts["lon"], pts["lat"], s=6, color=color, label=kind, zorder=3)
        if ax.get_legend_handles_labels()[0]:  # below the map, not over it
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=3)
    ax.set_aspect(1 / np.cos(np.radians(float(np.nanmean(ax.get_ylim())))))
    ax.set_xticks([])  # degrees with four decimals tell a reader nothing
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.text(
        0.01,
        0.01,
        "© OpenStreetMap contributors",
        transform=ax.transAxes,
        fontsize=7,
        bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0},
    )
    lines = [
        ("Owner", row["owner"] if isinstance(row["owner"], str) else "-"),
        (
            "Accounts (leads / prospects / customers)",
            f"{row['accounts']:,} ({row['leads']} / {row['prospects']} / {row['customers']})",
        ),
        (
            "Open pipeline / potential value",
            f"{_fmt(row['pipeline_value'])} € / {_fmt(row['potential_value'])} €",
        ),
        ("Annual revenue", f"{_fmt(row['annual_revenue'])} €"),
        (
            "Area / prospects per km²",
            f"{_fmt(row['area_km2'])} km² / {_fmt(row['prospects_per_km2'])}",
        ),
        ("Visits in the last 30 / 90 days", f"{row['visits_30d']} / {row['visits_90d']}"),
        (
            "Coverage (visited within target)",
            f"{_fmt(row['coverage'], 'pct')} "
            f"({row['covered']} of {row['with_target']}); overdue {row['overdue']}",
        ),
        ("Average drive between accounts", _fmt(row["avg_drive_between_min"], "min")),
        ("Average drive from the rep's home base", _fmt(row["avg_drive_from_home_min"], "min")),
        ("White-space prospects", f"{row['white_space']}"),
        ("Accounts vs region average", f"{_cell(row['accounts_vs_region_avg'], '2')}×"),
    ]
    for i, (label, value) in enumerate(lines):
        fig.text(0.08, 0.33 - i * 0.025, label, fontsize=9)
        fig.text(0.60, 0.33 - i * 0.025, str(value), fontsize=9, weight="bold")
    pdf.savefig(fig)
    plt.close(fig)


def _export(
    session: Session,
    actor: Actor,
    data: bytes,
    filename: str,
    rows: int,
    columns: Sequence[str],
    details: dict[str, Any],
) -> Export:
    digest = hashlib.sha256(data).hexdigest()
    export = Export(
        data=data,
        filename=filename,
        mime=_MIME.get(filename.rsplit(".", 1)[-1], "application/octet-stream"),
        rows=rows,
        columns=tuple(columns),
        sha256=digest,
    )
    audit(
        session,
        actor,
        "export",
        filename,
        {**details, "rows": rows, "columns": list(columns), "sha256": digest},
    )
    return export


def export_report(
    session: Session,
    actor: Actor,
    kind: Literal["territories", "reps", "accounts"],
    fmt: ReportFormat,
    *,
    territories: Sequence[str] | None = None,
    today: dt.date | None = None,
    graph: Any = "default",
) -> Export:
    """Build a report in a format, scoped and audited as the acting user.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``export``).
    kind
        ``territories`` (:func:`territory_report`), ``reps``
        (:func:`rep_report`) or ``accounts`` (the account list,
        :func:`account_table`).
    fmt
        One of :data:`REPORT_FORMATS`; ``geojson``/``gpkg`` for territories
        only, ``pdf`` for territories only.
    territories
        Only these territories.
    today
        Reference date.
    graph
        Road graph for drive times (``"default"``: the region's; ``None``:
        skip drive-time figures).

    Returns
    -------
    Export
        The file and what the audit log recorded.
    """
    require(actor, "export")
    if fmt not in REPORT_FORMATS:
        msg = f"format: {fmt!r} is not one of {', '.join(REPORT_FORMATS)}"
        raise InputError(msg)
    details: dict[str, Any] = {
        "report": kind,
        "format": fmt,
        "territories": list(territories or []),
    }
    if kind == "territories":
        if graph == "default":
            from gcrm.network import load_network

            graph = load_network()
        report = territory_report(session, actor, territories, today=today, graph=graph)
        extra: dict[str, Any] = {}
        if fmt == "pdf":
            acc = accounts_frame(session, actor)
            acc["territory"] = acc["territory"].fillna(NO_TERRITORY)
            extra["accounts"] = acc
            if graph is not None:
                from gcrm.network import road_lines

                extra["roads"] = road_lines(graph)
        data = territory_report_bytes(report, fmt, **extra)
        table = report.summary
    elif kind in ("reps", "accounts"):
        if fmt in ("geojson", "gpkg", "pdf"):
            msg = f"format: the {kind} report comes as csv, xlsx, parquet or json"
            raise InputError(msg)
        if kind == "reps":
            table = rep_report(session, actor, today=today)
        else:
            flt = AccountFilter(territories=list(territories)) if territories else None
            table = account_table(session, actor, flt)
            details["pseudonymised"] = not sees_personal_data(actor)
        if fmt == "xlsx":
            data = tables_to_xlsx({kind: table})
        elif fmt == "parquet":
            buf = io.BytesIO()
            table.to_parquet(buf, index=False)
            data = buf.getvalue()
        else:
            data = to_bytes(table, fmt)  # type: ignore[arg-type]
    else:
        msg = f"report: {kind!r} is not one of territories, reps, accounts"
        raise InputError(msg)
    return _export(session, actor, data, f"{kind}.{fmt}", len(table), table.columns, details)
