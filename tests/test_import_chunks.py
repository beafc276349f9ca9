"""The importer reads and writes a file in chunks (issue 13: bounded memory).

Cutting a file into chunks of 7 rows must give exactly what one chunk gives:
the same report (counts, every rejected row with its reasons, duplicates,
warnings, skipped lines, precisions) and the same accounts and contacts. The
file below puts each rule that spans the whole file across chunk borders: a
decimal separator only later rows make clear, an external id repeated three
chunks later, a near-duplicate name at one address many rows apart, a contact
person whose company comes later in the file, a run of one-cell rows longer
than a report footer, and a footer at the end.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from gcrm.auth import SYSTEM
from gcrm.db.models import Account, Contact, User
from gcrm.db.session import session_scope
from gcrm.import_read import ImportFile
from gcrm.importer import ImportReport, import_file, read_table

HEADER = [
    "external_id", "name", "street", "housenumber", "postcode", "city", "lat", "lon",
    "potential_value", "kind", "email", "contact_name", "is_company", "parent_name", "owner",
]  # fmt: skip


def _rows() -> list[list[str]]:
    """About 70 lines shaped like a CRM export, with the cross-chunk cases."""
    rows: list[list[str]] = [HEADER]
    for i in range(1, 31):
        street, number = ("Kauppakatu", "1") if i % 3 == 0 else ("Katu", str(i))
        value = "1,234" if i < 6 else ("12,50" if i % 4 == 0 else "")
        email = "not-an-email" if i % 11 == 0 else f"info{i}@example.com"
        contact = f"Henkilö {i}" if i % 5 == 0 else ""
        owner = "nobody" if i % 13 == 0 else ("rep1" if i % 2 else "")
        kind = "alien" if i == 8 else "customer"
        rows.append([
            f"C{i}", f"Yritys {i} Oy", street, number, "00100", "Helsinki",
            f"{60.16 + i / 1000:.4f}", "24.94", value, kind, email, contact, "", "", owner,
        ])  # fmt: skip
    rows.insert(4, [""] * len(HEADER))  # a blank line inside the data
    rows.append(["C5", "Toistuva Oy", *[""] * (len(HEADER) - 2)])  # repeats row 7 (C5)
    rows.append(["C31", "Yritys 3 Oy.", "Kauppakatu", "1", "00100", *[""] * 10])  # near duplicate
    rows.append(["P1", "Myöhäinen Oy, Maija Meikäläinen", *[""] * 10, "false", "", ""])
    rows.append(["P2", "Matti Ei-yritystä", *[""] * 10, "false", "Tuntematon Oy", ""])
    rows.append(["C32", "Liian, monta", "solua", *[""] * (len(HEADER) - 3), "ylimääräinen"])
    rows += [[f"N{i}", f"Pelkkä nimi {i}", *[""] * (len(HEADER) - 2)] for i in range(12)]
    rows.append(["C40", "Myöhäinen Oy", "Loppukatu", "9", "00200", "Helsinki", "60.2", "24.9",
                 "99,90", "prospect", "", "", "true", "", ""])  # fmt: skip
    rows.append([""] * len(HEADER))
    rows += [["Raportti: kaikki asiakkaat"], ["Copyright (c) 2026"], ["Confidential"]]
    rows.append([])
    return rows


def _write_csv(path: Path) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(_rows())
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _write_xlsx(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in _rows():
        ws.append([c if c != "" else None for c in row])
    wb.save(path)
    return path


class _Undo(Exception):
    """Raised to roll an import back after its result was read."""


def _import(path: Path, chunk_rows: int, *, dry_run: bool = False) -> dict[str, Any]:
    """Import in one transaction, read the result, roll it all back."""
    out: dict[str, Any] = {}
    with pytest.raises(_Undo), session_scope() as s:
        report = import_file(s, SYSTEM, path, geocoder=None, chunk_rows=chunk_rows, dry_run=dry_run)
        s.flush()
        ext = dict(s.execute(select(Account.id, Account.external_id)).all())
        accounts = []
        for row in s.execute(select(Account.__table__).order_by(Account.external_id)).mappings():
            a = {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}
            a["duplicate_of_id"] = ext.get(a["duplicate_of_id"])
            a["geom"] = getattr(a["geom"], "wkt", a["geom"])
            accounts.append(a)
        contacts = sorted(
            (ext[c.account_id], c.name, c.email, c.phone) for c in s.scalars(select(Contact))
        )
        out = {"report": _plain(report), "accounts": accounts, "contacts": contacts}
        raise _Undo
    return out


def _plain(report: ImportReport) -> dict[str, Any]:
    return dataclasses.asdict(report)


@pytest.fixture
def rep(db: str) -> str:
    """Return the database with the user ``rep1``."""
    with session_scope() as s:
        s.add(User(username="rep1", display_name="Riikka Rep", role="rep"))
    return db


@pytest.mark.parametrize("writer", [_write_csv, _write_xlsx], ids=["csv", "xlsx"])
def test_chunks_of_seven_rows_import_as_one_chunk(rep: str, tmp_path: Path, writer) -> None:
    """Chunks of 7 rows: same report, accounts and contacts as the whole file at once."""
    path = writer(tmp_path / ("export.csv" if writer is _write_csv else "export.xlsx"))
    whole = _import(path, 100_000)
    chunked = _import(path, 7)
    assert chunked["report"] == whole["report"]
    assert chunked["accounts"] == whole["accounts"]
    assert chunked["contacts"] == whole["contacts"]
    assert _import(path, 7, dry_run=True)["report"] == {**whole["report"], "dry_run": True}

    report = whole["report"]
    accounts = {a["external_id"]: a for a in whole["accounts"]}
    rejects = {r["row"]: r for r in report["rejects"]}
    # the decimal comma is told from the whole file ("12,50" comes after "1,234")
    assert accounts["C1"]["potential_value"] == pytest.approx(1.234)
    assert accounts["C40"]["potential_value"] == pytest.approx(99.9)
    # an id repeated chunks later, a contact person of a company filed later in the file
    repeat = next(r for r in report["rejects"] if r["values"].get("name") == "Toistuva Oy")
    assert repeat["field"] == "external_id" and "repeats row 7" in repeat["reason"]
    assert ("C40", "Maija Meikäläinen", None, None) in whole["contacts"]
    assert any("Tuntematon Oy" in r["reason"] for r in rejects.values())
    assert any("header has 15" in r["reason"] for r in rejects.values())
    # a near-duplicate at one address 28 rows later is flagged
    assert ("C31", "C3") in {(a, b) for _, a, b in report["duplicate_pairs"]}
    # twelve one-cell rows are accounts; the three footer lines are skipped
    assert {f"N{i}" for i in range(12)} <= set(accounts)
    footer = [reason for _, reason in report["skipped"] if reason.startswith("report footer")]
    assert len(footer) == 3
    assert report["unknown_owners"] == {"nobody": 2}
    assert report["inserted"] + report["contacts"] + report["rejected"] == report["rows"]


def test_reimport_in_chunks_updates_like_one_chunk(rep: str, tmp_path: Path) -> None:
    """A re-import (updated, unchanged and new rows) gives the same answer in chunks."""
    first = _write_csv(tmp_path / "first.csv")
    with session_scope() as s:
        import_file(s, SYSTEM, first, geocoder=None)
    text = first.read_text(encoding="utf-8")
    changed = tmp_path / "second.csv"
    changed.write_text(
        text.replace("Yritys 7 Oy", "Yritys Seitsemän Oy").replace("C12,", "C112,"),
        encoding="utf-8",
    )
    whole = _import(changed, 100_000)
    chunked = _import(changed, 7)
    assert chunked == whole
    summary = whole["report"]
    assert summary["updated"] >= 1 and summary["unchanged"] >= 20 and summary["inserted"] == 1


def test_read_table_reads_every_chunk(tmp_path: Path) -> None:
    """``read_table`` (the whole-file reader) agrees with the chunk reader row by row."""
    path = _write_csv(tmp_path / "export.csv")
    table = read_table(path)
    file = ImportFile(path)
    numbers = [n for chunk in file.chunks(7) for n in chunk.row_numbers]
    assert table.row_numbers == numbers
    assert len(table.frame) == len(numbers) and list(table.frame.columns) == file.columns
    assert [n for n, _ in table.skipped] == sorted(
        n for chunk in file.chunks(3) for n, _ in chunk.skipped
    )
