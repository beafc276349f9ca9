"""Explain an import: which column fed which field, what was mapped, what went wrong.

The CLI prints :func:`format_report` (a dry run is the place to read it before
anything is written); the Import page shows the same facts as tables via
:func:`report_tables`. :class:`ImportReport` is what an import returns.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from gcrm.pins import PRECISION_LABELS


@dataclasses.dataclass
class RejectedRow:
    """A row that was not imported, with why."""

    row: int
    field: str
    reason: str
    values: dict[str, str]
    reasons: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, row: int, reasons: list[tuple[str, str]], values: dict[str, str]) -> RejectedRow:
        """Build a rejected row from all of its (field, reason) pairs.

        Parameters
        ----------
        row
            The file row number.
        reasons
            Every problem found, in column order.
        values
            The row's cells.

        Returns
        -------
        RejectedRow
            ``field`` and ``reason`` list them all (one pair: as given).
        """
        if len(reasons) == 1:
            return cls(row, reasons[0][0], reasons[0][1], values, list(reasons))
        fields = ", ".join(dict.fromkeys(f for f, _ in reasons))
        text = "; ".join(f"{f}: {r}" for f, r in reasons)
        return cls(row, fields, text, values, list(reasons))


@dataclasses.dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do).

    ``inserted + updated + unchanged + rejected + contacts == rows`` always
    holds (``contacts``: contact-person rows filed under their company);
    ``skipped`` lines (report footers, blank lines) are not rows.
    """

    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    geocoded: int = 0
    dry_run: bool = False
    rejects: list[RejectedRow] = dataclasses.field(default_factory=list)
    duplicate_pairs: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    ignored_columns: list[str] = dataclasses.field(default_factory=list)
    rejects_file: str | None = None
    contacts: int = 0
    column_mapping: dict[str, str] = dataclasses.field(default_factory=dict)
    value_mappings: list[tuple[str, str, str, int]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    unknown_owners: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    precisions: dict[str, int] = dataclasses.field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Return the counts of the one-line JSON summary."""
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "contacts": self.contacts,
            "skipped": len(self.skipped),
            "duplicates": self.duplicates,
        }

    def rejects_frame(self) -> pd.DataFrame:
        """Return rejected rows: row, field, reason, then the original cells."""
        rows = [
            {"row": r.row, "field": r.field, "reason": r.reason, **r.values} for r in self.rejects
        ]
        return pd.DataFrame(rows, columns=None if rows else ["row", "field", "reason"])


def report_to_dict(report: ImportReport) -> dict[str, Any]:
    """Return the report as JSON-serialisable data (an import job's result).

    Parameters
    ----------
    report
        The import report.

    Returns
    -------
    dict
        Read back with :func:`report_from_dict`.
    """
    return dataclasses.asdict(report)


def report_from_dict(data: dict[str, Any]) -> ImportReport:
    """Rebuild an :class:`ImportReport` from :func:`report_to_dict` data (JSON round trip).

    Parameters
    ----------
    data
        The dict, as read back from JSON (tuples came back as lists).

    Returns
    -------
    ImportReport
        Equal to the report that was written.
    """
    fields = dict(data)
    fields["rejects"] = [
        RejectedRow(**{**r, "reasons": [tuple(x) for x in r.get("reasons", [])]})
        for r in fields.get("rejects", [])
    ]
    for name in ("duplicate_pairs", "value_mappings", "skipped"):
        fields[name] = [tuple(x) for x in fields.get(name, [])]
    return ImportReport(**fields)


def write_rejects(report: ImportReport, path: str | Path) -> Path:
    """Write a report's rejected rows as CSV (cells neutralised against formulas).

    Parameters
    ----------
    report
        The import report.
    path
        Where to write.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    df = report.rejects_frame().map(neutralise_formula)
    df.to_csv(p, index=False, encoding="utf-8", lineterminator="\r\n")
    return p


def neutralise_formula(value: Any) -> Any:
    """Make a cell inert for spreadsheets (OWASP CSV injection advice).

    Parameters
    ----------
    value
        A cell.

    Returns
    -------
    Any
        Text starting with ``= + - @``, tab or carriage return gets a
        leading apostrophe; other values are returned as they are.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def imported_rows(report: ImportReport) -> int:
    """Return how many rows were (or would be) taken in.

    Inserted, updated, unchanged or filed as contacts.

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
    """Render a report as text.

    Counts, column mapping, value mappings, warnings, skipped lines, location
    precision and every rejected row with all its reasons.

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
