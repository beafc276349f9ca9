"""Report files: safe CSV/JSON, formatted XLSX, GeoJSON/GeoPackage, Parquet, PDF bytes."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from gcrm._errors import InputError
from gcrm.import_report import neutralise_formula
from gcrm.reports.figures import TerritoryReport
from gcrm.reports.pdf import territory_report_pdf

ExportFormat = Literal["csv", "xlsx", "json"]
ReportFormat = Literal["csv", "xlsx", "pdf", "geojson", "gpkg", "parquet", "json"]
REPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "pdf", "geojson", "gpkg", "parquet", "json")

#: MIME type of each file format.
MIME = {
    "pdf": "application/pdf",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def to_bytes(df: pd.DataFrame, fmt: ExportFormat, *, sheet: str = "accounts") -> bytes:
    """Serialise a table safely: formulas neutralised in CSV, XLSX cells typed strings.

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
    if fmt == "csv":
        safe = df.map(neutralise_formula)
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        safe = df  # typed string cells: no formula can run, so no apostrophe is needed
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
