"""Explain an import: which column fed which field, what was mapped, what went wrong.

The CLI prints :func:`format_report` (a dry run is the place to read it before
anything is written); the Import page shows the same facts as tables via
:func:`report_tables`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from gcrm.pins import PRECISION_LABELS

if TYPE_CHECKING:
    from gcrm.importer import ImportReport


def imported_rows(report: ImportReport) -> int:
    """Return how many rows were (or would be) taken in: inserted, updated, unchanged or
    filed as contacts.

    Parameters
    ----------
    report
        An import report.

    Returns
    -------
    int
        ``0`` means nothing in the file could be used (the CLI then exits non-zero).
    """
    return report.inserted + report.updated + report.unchanged + report.contacts


def format_report(report: ImportReport) -> str:
    """Render a report as text: counts, column mapping, value mappings, warnings,
    skipped lines, location precision and every rejected row with all its reasons.

    Parameters
    ----------
    report
        An import report (dry run or real).

    Returns
    -------
    str
        Several lines, for a terminal.
    """
    s = report.summary()
    head = "DRY RUN: nothing written. " if report.dry_run else ""
    lines = [
        f"{head}{report.file}: {s['rows']} rows: {s['inserted']} new, {s['updated']} updated, "
        f"{s['unchanged']} unchanged, {s['rejected']} rejected, {s['contacts']} contact "
        f"persons; {s['skipped']} lines skipped; {s['duplicates']} likely duplicates",
        "Columns:",
    ]
    lines += [f"  {header!r} -> {field}" for field, header in report.column_mapping.items()]
    lines += [f"  {header!r} ignored" for header in report.ignored_columns]
    if report.value_mappings:
        lines.append("Values:")
        lines += [
            f"  {field} {text!r} -> {mapped} ({count} row(s))"
            for field, text, mapped, count in report.value_mappings
        ]
    if report.precisions:
        lines.append("Locations:")
        lines += [
            f"  {p}: {n} ({PRECISION_LABELS.get(p, p)})" for p, n in report.precisions.items()
        ]
    if report.warnings:
        lines.append("Warnings:")
        lines += [f"  {w}" for w in report.warnings]
    if report.skipped:
        lines.append("Skipped lines:")
        lines += [f"  row {row}: {why}" for row, why in report.skipped]
    if report.rejects:
        lines.append("Rejected rows:")
        for r in report.rejects:
            reasons = r.reasons or [(r.field, r.reason)]
            lines.append(f"  row {r.row}: " + "; ".join(f"{f}: {why}" for f, why in reasons))
    return "\n".join(lines)


def report_tables(report: ImportReport) -> dict[str, pd.DataFrame]:
    """Return the report's facts as small tables (for the Import page).

    Parameters
    ----------
    report
        An import report.

    Returns
    -------
    dict
        ``columns`` (file column → field, or ignored), ``values`` (value
        mappings), ``locations`` (rows per precision) and ``skipped``.
    """
    columns = [{"file column": h, "field": f} for f, h in report.column_mapping.items()]
    columns += [{"file column": h, "field": "(ignored)"} for h in report.ignored_columns]
    return {
        "columns": pd.DataFrame(columns, columns=["file column", "field"]),
        "values": pd.DataFrame(
            report.value_mappings, columns=["field", "value in file", "imported as", "rows"]
        ),
        "locations": pd.DataFrame(
            [
                {"precision": p, "rows": n, "meaning": PRECISION_LABELS.get(p, p)}
                for p, n in report.precisions.items()
            ],
            columns=["precision", "rows", "meaning"],
        ),
        "skipped": pd.DataFrame(report.skipped, columns=["row", "why"]),
    }
