"""Import accounts from CSV and XLSX files.

The importer reads a file (any of utf-8, utf-8 with BOM or cp1252; comma,
semicolon, tab or pipe separated; or an Excel sheet), maps its headers to the
canonical columns (:data:`CANONICAL_COLUMNS`, with the synonyms of
:data:`HEADER_SYNONYMS` or a user's mapping file), validates every row with
pydantic and upserts the good rows by ``external_id`` in one transaction.
Rejected rows are kept and reported (row number, field, reason); likely
duplicates are flagged, never merged.

The file is read and written in chunks of :data:`CHUNK_ROWS` rows
(:mod:`gcrm.import_read`), so memory stays bounded whatever its size; every
chunk is written in the caller's transaction, so a failure anywhere leaves
nothing behind. The steps live in their own modules: reading
(:mod:`gcrm.import_read`, :mod:`gcrm.import_files`), parsing and validation
(:mod:`gcrm.import_rows`), locating (:mod:`gcrm.import_geo`), turning rows
into inserts and updates (:mod:`gcrm.import_write`) and the report
(:mod:`gcrm.import_report`); the database is reached only through
:mod:`gcrm.store`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from gcrm import store
from gcrm.auth import Actor, audit_apart, require, sees_personal_data
from gcrm.import_geo import Geo
from gcrm.import_read import (
    CANONICAL_COLUMNS,
    CHUNK_ROWS,
    HEADER_SYNONYMS,
    REQUIRED_COLUMNS,
    Chunk,
    ImportFile,
    Table,
    load_mapping,
    normalise_text,
    read_table,
    suggest_mapping,
)
from gcrm.import_report import ImportReport, RejectedRow, neutralise_formula, write_rejects
from gcrm.import_rows import (
    DECIMAL_COLUMNS,
    AccountRow,
    Valid,
    Validation,
    column_decimals,
    parse_date,
    parse_number,
    validate,
)
from gcrm.import_write import (
    HIDDEN_FIELDS,
    ContactRow,
    Duplicates,
    Preparer,
    person_contacts,
    split_persons,
    without_private,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "CHUNK_ROWS",
    "HEADER_SYNONYMS",
    "REQUIRED_COLUMNS",
    "AccountRow",
    "Geocoder",
    "ImportReport",
    "RejectedRow",
    "Table",
    "import_file",
    "load_mapping",
    "neutralise_formula",
    "normalise_text",
    "parse_date",
    "parse_number",
    "read_table",
    "suggest_mapping",
    "write_rejects",
]

#: Signature of a geocoder the importer can call: (street, housenumber,
#: postcode, city) -> (lat, lon, precision, score) or ``None``.
Geocoder = Callable[
    [str | None, str | None, str | None, str | None], tuple[float, float, str, float] | None
]


def import_file(
    session: Session,
    actor: Actor,
    path: str | Path,
    *,
    mapping: dict[str, str | None] | None = None,
    dry_run: bool = False,
    geocoder: Geocoder | Literal["default"] | None = "default",
    progress: Callable[[float, str], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportReport:
    """Validate and upsert the accounts of a CSV/XLSX file.

    Everything happens in the caller's transaction: the caller commits (see
    :func:`run_import`), so a failure anywhere leaves nothing behind. The
    file is read, validated and written ``chunk_rows`` rows at a time, so
    memory stays bounded whatever its size; the result does not depend on
    ``chunk_rows``.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``import``).
    path
        The file.
    mapping
        Header → canonical column pairs (``None``: ignore the header).
    dry_run
        Validate and count, write nothing.
    geocoder
        Called for rows with an address and no coordinates; ``"default"``
        (the default) geocodes offline against the region's OSM addresses
        (:func:`gcrm.geocode.default_index`), ``None`` does not geocode.
    progress
        Called with (fraction done, message).
    chunk_rows
        Rows read and written at a time.

    Returns
    -------
    ImportReport
        Counts, rejected rows, likely duplicates.
    """
    require(actor, "import")
    file = ImportFile(path, mapping)
    file.require_columns()
    run = _Run(session, actor, file, dry_run=dry_run, geo=Geo.of(geocoder))
    if progress:
        progress(0.05, "validating rows")
    for chunk in file.chunks(chunk_rows):
        run.chunk(chunk)
        if progress:
            progress(0.05 + 0.9 * run.fraction(), f"{run.report.rows:,} rows read")
    report = run.finish()
    if progress:
        progress(1.0, "done")
    return report


class _Run:
    """One import: what it keeps across the file's chunks."""

    def __init__(
        self, session: Session, actor: Actor, file: ImportFile, *, dry_run: bool, geo: Geo | None
    ) -> None:
        self.session, self.actor, self.file, self.dry_run = session, actor, file, dry_run
        name = file.path.name
        self.report = ImportReport(file=name, dry_run=dry_run)
        self.report.ignored_columns = file.ignored_headers
        self.report.column_mapping = dict(file.source_headers)
        self.report.warnings.extend(file.notes)
        numbers = [c for c in DECIMAL_COLUMNS if c in file.columns]
        decimals = {}
        if numbers:
            decimals = column_decimals(file.cells_of(numbers), numbers, file.delimiter)
        self.state = Validation(decimals)
        self.state.stored = _stored_lookup(session, self.state.seen_ids)
        # An actor who may not see personal values gets no answer that depends
        # on them: a personal field in the file always counts as a change.
        hidden = frozenset() if sees_personal_data(actor) else HIDDEN_FIELDS
        self.preparer = Preparer(
            session, f"import:{name}", hidden, geo, self.state.kept, self.state.keep_stored
        )
        self.duplicates = Duplicates(session)
        self.persons: list[Valid] = []
        self.companies: dict[str, str] = {}
        self.size = max(1, file.path.stat().st_size)

    def fraction(self) -> float:
        """Roughly how much of the file is done (by rows of the size seen so far)."""
        return min(1.0, self.report.rows * 60 / self.size)

    def chunk(self, chunk: Chunk) -> None:
        """Validate, compare and (unless a dry run) write one chunk of rows."""
        report = self.report
        report.rows += len(chunk)
        report.skipped += chunk.skipped
        for rownum, reason, cells in chunk.malformed:
            report.rejects.append(RejectedRow(rownum, "row", reason, cells))
        good = validate(chunk, self.file.columns, report, self.state)
        checked, persons = split_persons(good)
        self.persons += persons
        if "is_company" in self.file.columns:
            for _, row, _, _ in checked:
                self.companies.setdefault(normalise_text(row.name), row.external_id or "")
        existing = store.import_accounts_by_external_id(
            self.session, [row.external_id or "" for _, row, _, _ in checked]
        )
        changes = self.preparer.prepare(checked, existing, report)
        report.inserted += len(changes.inserts)
        report.updated += len(changes.updates)
        self.duplicates.flag(report, changes.inserts)
        if self.dry_run:
            return
        store.import_insert_accounts(self.session, without_private(changes.inserts))
        store.import_update_accounts(self.session, without_private(changes.updates))
        _upsert_contacts(self.session, changes.contacts)

    def finish(self) -> ImportReport:
        """File the contact persons, link duplicates, audit; return the report."""
        report, session = self.report, self.session
        contacts = person_contacts(session, self.persons, self.companies, report)
        self.preparer.owners.report(report)
        self.state.values.report(report)
        report.precisions = dict(sorted(self.preparer.precisions.items()))
        report.rejected = len(report.rejects)
        report.rejects.sort(key=lambda r: r.row)
        report.skipped.sort()
        assert (
            report.inserted + report.updated + report.unchanged + report.rejected + report.contacts
            == report.rows
        )
        details = {
            **report.summary(),
            "sha256": self.file.sha256 or _sha256(self.file.path),
            "ignored_columns": self.file.ignored_headers,
        }
        name = self.file.path.name
        if self.dry_run:
            # the caller writes nothing and may roll back: this line stays anyway
            audit_apart(
                session,
                self.actor.username,
                "import_dry_run",
                name,
                json.dumps(details, default=str),
            )
            return report
        if contacts:
            _upsert_contacts(session, contacts)
        _resolve_duplicate_links(session, report)
        # A large import changes what the page queries should read first (index or scan).
        store.import_refresh_statistics(session, report.inserted + report.updated)
        store.audit(session, self.actor, "import", name, details)
        session.flush()
        return report


def _upsert_contacts(session: Session, rows: list[ContactRow]) -> None:
    store.import_upsert_contacts(session, rows)


def _resolve_duplicate_links(session: Session, report: ImportReport) -> None:
    store.import_link_duplicates(session, [(a, b) for _, a, b in report.duplicate_pairs])


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _stored_lookup(
    session: Session, seen: dict[str, int]
) -> Callable[[str], dict[str, str] | None]:
    """Return a lookup of the stored account of an external id as text.

    It is asked only for rows with errors.

    An id this import already took in (``seen``) counts as not stored: the
    answer must not depend on how the file is cut into chunks.
    """
    memo: dict[str, dict[str, str] | None] = {}
    known: set[str] = set()

    def lookup(ext: str) -> dict[str, str] | None:
        if ext in seen:
            return None
        if not known:  # one query for the ids the store holds, on the first error only
            known.update(store.import_external_ids(session))
            known.add("")
        if ext not in known:
            return None
        if ext not in memo:
            memo[ext] = store.import_account_text(session, ext)
        return memo[ext]

    return lookup
