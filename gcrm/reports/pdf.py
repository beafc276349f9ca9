"""The territory report as a printable PDF (summary tables, charts, a map page per territory)."""

from __future__ import annotations

import io
import textwrap
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gcrm.reports.figures import REGION_ROW, SUMMARY_COLUMNS, TerritoryReport


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
    """Return the territory summary as people read it: titled columns with units, rounded.

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
    """Draw the summary as tables with one row per figure and a column per territory."""
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
    # matplotlib (about 40 MB, slow to import) only when a PDF is asked for
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
