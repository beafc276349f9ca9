"""Exports and reports: every file that leaves gcrm goes through here.

Exports are scoped (the store applies the acting user's scope), audited (who,
when, filter, row count, columns, file hash), pseudonymised for roles that do
not see personal data, and safe to open in a spreadsheet (formula injection
neutralised).

- :mod:`gcrm.reports.figures`: the territory and rep reports' figures (tables);
- :mod:`gcrm.reports.files`: tables and reports as CSV/JSON/XLSX/GeoJSON/GPKG/Parquet;
- :mod:`gcrm.reports.pdf`: the territory report as a printable PDF;
- :mod:`gcrm.reports.exports`: the account list and reports as audited files.
"""

from __future__ import annotations

from gcrm.reports.exports import (
    ACCOUNT_EXPORT_COLUMNS,
    Export,
    account_list,
    account_table,
    audited_export,
    export_accounts,
    export_report,
)
from gcrm.reports.figures import (
    NO_TERRITORY,
    REGION_ROW,
    REP_COLUMNS,
    SUMMARY_COLUMNS,
    TerritoryReport,
    rep_report,
    territory_report,
)
from gcrm.reports.files import (
    REPORT_FORMATS,
    ExportFormat,
    ReportFormat,
    tables_to_xlsx,
    territory_report_bytes,
    to_bytes,
)
from gcrm.reports.pdf import SUMMARY_LABELS, display_summary, territory_report_pdf

__all__ = [
    "ACCOUNT_EXPORT_COLUMNS",
    "NO_TERRITORY",
    "REGION_ROW",
    "REPORT_FORMATS",
    "REP_COLUMNS",
    "SUMMARY_COLUMNS",
    "SUMMARY_LABELS",
    "Export",
    "ExportFormat",
    "ReportFormat",
    "TerritoryReport",
    "account_list",
    "account_table",
    "audited_export",
    "display_summary",
    "export_accounts",
    "export_report",
    "rep_report",
    "tables_to_xlsx",
    "territory_report",
    "territory_report_bytes",
    "territory_report_pdf",
    "to_bytes",
]
