"""Tests of the CSV/XLSX account importer (:mod:`gcrm.importer`).

Most tests use the ``db`` fixture, so they run on SQLite and, when
``GCRM_TEST_POSTGRES_URL`` is set, on PostgreSQL/PostGIS too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gcrm._errors import InputError
from gcrm.auth import SYSTEM
from gcrm.db.models import Account, AuditEvent, Contact, User
from gcrm.db.session import session_scope
from gcrm.importer import (
    CANONICAL_COLUMNS,
    HEADER_SYNONYMS,
    ImportReport,
    RejectedRow,
    import_file,
    load_mapping,
    neutralise_formula,
    parse_date,
    parse_number,
    read_table,
    write_rejects,
)
from gcrm.store import set_manual_pin

DATA = Path(__file__).resolve().parent / "data" / "import"
GOOD = DATA / "good.csv"
BAD_ROWS = DATA / "bad_rows.csv"

#: Expected rejections of ``bad_rows.csv``: row -> (field, words of the reason).
#: Rows 10-12 (an unknown kind, stage and owner) are imported with a warning.
BAD_ROWS_EXPECTED: dict[int, tuple[str, str]] = {
    3: ("name", "required"),
    4: ("email", "not a valid e-mail"),
    5: ("phone", "not a phone number"),
    6: ("lat", "outside -90..90"),
    7: ("lat/lon", "give both or neither"),
    8: ("potential_value", "not a number"),
    9: ("last_visit", "not a valid date"),
    13: ("external_id", "repeats row 2"),
    14: ("opening_hours", "not valid OSM opening_hours"),
    15: ("potential_value", "must not be negative"),
}


# ----------------------------------------------------------------- helpers


@pytest.fixture
def users(db: str) -> str:
    """The ``db`` database with the users ``rep1`` (rep) and ``boss`` (admin)."""
    with session_scope() as session:
        session.add(User(username="rep1", display_name="Riikka Rep", role="rep"))
        session.add(User(username="boss", display_name="Bo Boss", role="admin"))
    return db


def run_import(path: Path, **kwargs: Any) -> ImportReport:
    """Import a file as the system actor in one committed transaction (no geocoding
    unless a test passes a geocoder, so stored coordinates come from the file only)."""
    kwargs.setdefault("geocoder", None)
    with session_scope() as session:
        return import_file(session, SYSTEM, path, **kwargs)


def accounts_snapshot() -> list[dict[str, Any]]:
    """Every column of every account (geometry as WKT), ordered by id."""
    with session_scope() as session:
        rows = session.execute(select(Account.__table__).order_by(Account.id)).mappings()
        return [{k: (v.wkt if hasattr(v, "wkt") else v) for k, v in row.items()} for row in rows]


def accounts_by_ext() -> dict[str, dict[str, Any]]:
    """Every account keyed by external_id."""
    return {a["external_id"]: a for a in accounts_snapshot()}


def count(model: Any, *where: Any) -> int:
    """Count the rows of a table (optionally filtered)."""
    with session_scope() as session:
        stmt = select(func.count()).select_from(model)
        for cond in where:
            stmt = stmt.where(cond)
        return int(session.scalar(stmt) or 0)


def write_csv(
    path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    """Write rows as a delimited file (quoting only where needed)."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def assert_invariant(report: ImportReport) -> None:
    """The four outcome counts always add up to the rows read."""
    total = report.inserted + report.updated + report.unchanged + report.rejected
    assert total == report.rows, report.summary()


# --------------------------------------------------------------- good file


def test_good_file_is_imported_with_every_field(users: str) -> None:
    """A clean file inserts every row and stores each column's parsed value."""
    report = run_import(GOOD)
    assert report.summary() == {
        "rows": 5,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "contacts": 0,
        "skipped": 0,
        "duplicates": 0,
    }
    assert report.rejects == []
    acc = accounts_by_ext()
    assert set(acc) == {"g1", "g2", "g3", "g4", "g5"}

    g1 = acc["g1"]
    assert g1["name"] == "Kahvila Esimerkki Oy"
    assert (g1["kind"], g1["stage"], g1["segment"]) == ("customer", "won", "Food & drink")
    assert (g1["street"], g1["housenumber"], g1["postcode"], g1["city"], g1["country"]) == (
        "Mannerheimintie",
        "1",
        "00100",
        "Helsinki",
        "FI",
    )
    assert g1["lat"] == pytest.approx(60.1699)
    assert g1["lon"] == pytest.approx(24.9384)
    assert g1["geocode_precision"] == "provided"
    assert g1["geom"] is not None
    assert g1["email"] == "info@kahvila.example.com"
    assert g1["phone"] == "+358 40 123 4567"
    assert g1["potential_value"] == pytest.approx(1234.5)
    assert g1["annual_revenue"] == pytest.approx(5000)
    assert g1["opening_hours"] == "Mo-Fr 08:00-16:00"
    assert (g1["visit_minutes"], g1["visit_every_days"]) == (45, 30)
    assert (g1["do_not_contact"], g1["marketing_consent"]) == (False, True)
    assert g1["last_visit"] == dt.date(2026, 3, 1)
    assert g1["manual_pin"] is False
    assert g1["duplicate_of_id"] is None
    assert g1["source"] == "import:good.csv"

    with session_scope() as session:
        rep1 = session.scalar(select(User.id).where(User.username == "rep1"))
        contacts = session.execute(select(Contact.name, Contact.email, Contact.phone)).all()
    assert g1["owner_id"] == rep1
    # A row with a contact name keeps its e-mail/phone on the contact.
    assert contacts == [("Aino Virtanen", "aino@apteekki.example.com", "09 123 4567")]

    # Case-insensitive kind/stage; defaults for missing cells.
    assert (acc["g4"]["kind"], acc["g4"]["stage"]) == ("customer", "won")
    assert acc["g4"]["owner_id"] is None
    assert acc["g4"]["do_not_contact"] is True
    assert (acc["g5"]["kind"], acc["g5"]["stage"]) == ("prospect", "new")
    assert acc["g5"]["visit_minutes"] == 30
    assert acc["g3"]["lat"] is None and acc["g3"]["geocode_precision"] == "none"
    assert acc["g3"]["last_visit"] == dt.date(2026, 3, 1)


def test_import_writes_one_audit_event(users: str) -> None:
    """A real import leaves one ``import`` audit line holding the summary counts."""
    run_import(GOOD)
    with session_scope() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
        details = [json.loads(e.details or "{}") for e in events]
        targets = [e.target for e in events]
    assert targets == ["good.csv"]
    assert details[0]["inserted"] == 5
    assert len(details[0]["sha256"]) == 64


# ---------------------------------------------------------------- bad rows


def test_every_bad_row_class_is_rejected_with_row_field_and_reason(
    users: str, tmp_path: Path
) -> None:
    """Each kind of bad row is rejected with its file row (header = 1), field and reason,
    the good row is still imported, and the rejects file holds the same rows."""
    report = run_import(BAD_ROWS)
    assert_invariant(report)
    assert (report.rows, report.inserted, report.rejected) == (14, 4, 10)
    got = {r.row: (r.field, r.reason) for r in report.rejects}
    assert sorted(got) == sorted(BAD_ROWS_EXPECTED)
    for row, (field, words) in BAD_ROWS_EXPECTED.items():
        assert got[row][0] == field, (row, got[row])
        assert words in got[row][1], (row, got[row])
    assert sorted(accounts_by_ext()) == ["b01", "b09", "b10", "b11"]
    assert report.unknown_owners == {"nobody": 1}

    out = write_rejects(report, tmp_path / "out" / "rejected.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["row"]) for r in rows] == sorted(BAD_ROWS_EXPECTED)
    for r in rows:
        field, words = BAD_ROWS_EXPECTED[int(r["row"])]
        assert r["field"] == field
        assert words in r["reason"]
    # The original cells travel with the rejection.
    by_row = {int(r["row"]): r for r in rows}
    assert by_row[4]["email"] == "not-an-email"
    assert by_row[13]["name"] == "Repeated Id Oy"
    assert by_row[15]["potential_value"] == "'-250"  # neutralised: starts with '-'


BAD_CELLS: list[tuple[str, dict[str, str], str]] = [
    ("name_missing", {"name": ""}, "name"),
    ("bad_email", {"email": "someone@@example"}, "email"),
    ("bad_phone", {"phone": "12ab34"}, "phone"),
    ("lat_out_of_range", {"lat": "-91", "lon": "24.9"}, "lat"),
    ("lon_out_of_range", {"lat": "60.1", "lon": "181"}, "lon"),
    ("lat_without_lon", {"lat": "60.1", "lon": ""}, "lat/lon"),
    ("lon_without_lat", {"lat": "", "lon": "24.9"}, "lat/lon"),
    ("non_numeric_value", {"potential_value": "12 apples"}, "potential_value"),
    ("non_numeric_revenue", {"annual_revenue": "n/a"}, "annual_revenue"),
    ("non_numeric_lat", {"lat": "north", "lon": "24.9"}, "lat"),
    ("bad_date", {"last_visit": "2026-13-01"}, "last_visit"),
    ("unparseable_date", {"last_visit": "last tuesday"}, "last_visit"),
    ("invalid_opening_hours", {"opening_hours": "9 to 5"}, "opening_hours"),
    ("negative_value", {"potential_value": "-1"}, "potential_value"),
    ("negative_revenue", {"annual_revenue": "-1.000,00"}, "annual_revenue"),
    ("fractional_visit_minutes", {"visit_minutes": "12.5"}, "visit_minutes"),
    ("visit_minutes_out_of_range", {"visit_minutes": "0"}, "visit_minutes"),
    ("bad_boolean", {"do_not_contact": "perhaps"}, "do_not_contact"),
]


@pytest.mark.parametrize(
    ("cells", "field"), [c[1:] for c in BAD_CELLS], ids=[c[0] for c in BAD_CELLS]
)
def test_single_bad_cell_rejects_only_its_row(
    users: str, tmp_path: Path, cells: dict[str, str], field: str
) -> None:
    """One bad cell rejects its row (row 3, the named field, a reason) and nothing else."""
    header = [
        "external_id", "name", "email", "phone", "lat", "lon", "potential_value",
        "annual_revenue", "last_visit", "kind", "stage", "owner", "opening_hours",
        "visit_minutes", "do_not_contact",
    ]  # fmt: skip
    good = {"external_id": "ok", "name": "Good Oy", "owner": "rep1", "kind": "lead"}
    bad = {"external_id": "bad", "name": "Bad Oy", **cells}
    path = write_csv(
        tmp_path / "one.csv",
        [header, [good.get(h, "") for h in header], [bad.get(h, "") for h in header]],
    )
    report = run_import(path)
    assert_invariant(report)
    assert (report.inserted, report.rejected) == (1, 1)
    (rej,) = report.rejects
    assert (rej.row, rej.field) == (3, field)
    assert rej.reason.strip()
    assert rej.values["external_id"] == "bad"
    assert list(accounts_by_ext()) == ["ok"]


def test_row_numbers_count_blank_lines(users: str, tmp_path: Path) -> None:
    """Row numbers are the file's physical rows: a blank line still counts, so the bad
    row on line 4 (after a blank line 3) is reported as row 4, as a spreadsheet shows it."""
    path = tmp_path / "blank.csv"
    path.write_text("name,email\nGood Oy,good@example.com\n\nBad Oy,not-an-email\n")
    report = run_import(path)
    assert (report.rows, report.inserted, report.rejected) == (2, 1, 1)
    assert [(r.row, r.field) for r in report.rejects] == [(4, "email")]


def test_row_numbers_count_rows_of_empty_cells(users: str, tmp_path: Path) -> None:
    """A row of empty cells is skipped (not counted in ``rows``) but keeps its row number."""
    path = tmp_path / "empty_cells.csv"
    path.write_text("name,email\nGood Oy,good@example.com\n,\nBad Oy,not-an-email\n")
    report = run_import(path)
    assert (report.rows, report.inserted, report.rejected) == (2, 1, 1)
    assert [(r.row, r.field) for r in report.rejects] == [(4, "email")]


def test_over_long_value_is_rejected_not_stored_or_crashing(users: str, tmp_path: Path) -> None:
    """A cell longer than its column allows (postcode is 20 characters) is a rejected row
    naming the field, like an over-long name; the rest of the file still imports."""
    path = write_csv(
        tmp_path / "long.csv",
        [
            ["external_id", "name", "postcode"],
            ["ok", "Good Oy", "00100"],
            ["long", "Long Postcode Oy", "00100 HELSINKI FINLAND EU"],
        ],
    )
    report = run_import(path)
    assert_invariant(report)
    assert [(r.row, r.field) for r in report.rejects] == [(3, "postcode")]
    assert list(accounts_by_ext()) == ["ok"]


# ------------------------------------------------- encodings and delimiters

NAMES = ["Kahvila Väinö", "Euro € Oy", "Pöllö & Kärki Ab"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings_are_read_correctly(users: str, tmp_path: Path, encoding: str) -> None:
    """utf-8, utf-8 with BOM and cp1252 files keep ä, ö and € in names intact."""
    rows = [["external_id", "name", "city"]] + [
        [f"e{i}", n, "Hämeenlinna"] for i, n in enumerate(NAMES)
    ]
    path = write_csv(tmp_path / f"{encoding}.csv", rows, ";", encoding)
    if encoding == "utf-8-sig":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    table = read_table(path)
    assert table.encoding == encoding
    assert "external_id" in table.frame.columns  # the BOM is not part of the header
    report = run_import(path)
    assert (report.inserted, report.rejected) == (3, 0)
    acc = accounts_by_ext()
    assert [acc[f"e{i}"]["name"] for i in range(3)] == NAMES
    assert {a["city"] for a in acc.values()} == {"Hämeenlinna"}


@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"]
)
def test_delimiters_are_detected(users: str, tmp_path: Path, delimiter: str) -> None:
    """Comma, semicolon, tab and pipe separated files are split into the right columns."""
    rows = [
        ["external_id", "name", "street", "housenumber", "city", "potential_value"],
        ["d1", "Smith, Jones & Co", "Mannerheimintie", "1 A", "Helsinki", "1500"],
        ["d2", "Pipe; Tab Oy", "Bulevardi", "2", "Espoo", "20"],
        ["d3", "Plain Oy", "Kaivokatu", "8", "Vantaa", ""],
    ]
    path = write_csv(tmp_path / "delim.csv", rows, delimiter)
    assert read_table(path).delimiter == delimiter
    report = run_import(path)
    assert (report.inserted, report.rejected) == (3, 0)
    acc = accounts_by_ext()
    assert acc["d1"]["name"] == "Smith, Jones & Co"
    assert acc["d1"]["housenumber"] == "1 A"
    assert acc["d2"]["name"] == "Pipe; Tab Oy"
    assert acc["d2"]["city"] == "Espoo"
    assert acc["d1"]["potential_value"] == 1500
    assert acc["d3"]["potential_value"] is None


def test_decimal_commas_in_semicolon_file(users: str, tmp_path: Path) -> None:
    """In a ;-file ``1.234,50`` is 1234.5, ``12,5`` is 12.5 and ``60,17`` a latitude."""
    path = tmp_path / "fi.csv"
    path.write_text(
        "external_id;name;potential_value;annual_revenue;lat;lon\n"
        "c1;Iso Oy;1.234,50;2.000;60,17;24,94\n"
        "c2;Pieni Oy;12,5;1.000.000;60,2;25\n",
        encoding="utf-8",
    )
    report = run_import(path)
    assert (report.inserted, report.rejected) == (2, 0)
    acc = accounts_by_ext()
    assert acc["c1"]["potential_value"] == pytest.approx(1234.5)
    assert acc["c2"]["potential_value"] == pytest.approx(12.5)
    assert acc["c1"]["annual_revenue"] == pytest.approx(2000)
    assert acc["c2"]["annual_revenue"] == pytest.approx(1_000_000)
    assert (acc["c1"]["lat"], acc["c1"]["lon"]) == pytest.approx((60.17, 24.94))


def test_thousands_separators_in_comma_file(users: str, tmp_path: Path) -> None:
    """In a ,-file ``"1,234.50"`` is 1234.5 and ``"1,000,000"`` is a million."""
    path = tmp_path / "en.csv"
    path.write_text(
        "external_id,name,potential_value,annual_revenue\n"
        't1,Big Ltd,"1,234.50","1,000,000"\n'
        't2,Small Ltd,99.95,"€ 1,200"\n',
        encoding="utf-8",
    )
    report = run_import(path)
    assert (report.inserted, report.rejected) == (2, 0)
    acc = accounts_by_ext()
    assert acc["t1"]["potential_value"] == pytest.approx(1234.5)
    assert acc["t1"]["annual_revenue"] == pytest.approx(1_000_000)
    assert acc["t2"]["potential_value"] == pytest.approx(99.95)
    assert acc["t2"]["annual_revenue"] == pytest.approx(1200)


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1.234,50", ",", 1234.5),
        ("1.234,50", ".", 1234.5),
        ("12,5", ",", 12.5),
        ("1,234.50", ".", 1234.5),
        ("1,234.50", ",", 1234.5),
        ("1 234,50", ",", 1234.5),
        ("1\u00a0234,50", ",", 1234.5),
        ("1,000,000", ".", 1_000_000),
        ("1.000.000", ",", 1_000_000),
        ("1,234", ".", 1234),
        ("1,234", ",", 1.234),
        ("1.234", ",", 1234),
        ("1.234", ".", 1.234),
        ("-1.234", ",", -1234),
        ("-1,234", ".", -1234),
        ("€ 12", ".", 12),
        ("12 EUR", ".", 12),
        ("-5", ".", -5),
        ("(5)", ".", -5),
        ("0", ".", 0),
    ],
)
def test_parse_number_examples(text: str, decimal: str, expected: float) -> None:
    """``parse_number`` reads decimal commas, thousands separators and currency signs."""
    assert parse_number(text, decimal) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["abc", "12 apples", "1.2.3,4,5", ".", ",", "1e5", "12-5"])
def test_parse_number_rejects_non_numbers(text: str) -> None:
    """``parse_number`` raises ValueError for text that is not a number."""
    with pytest.raises(ValueError, match="not a number"):
        parse_number(text)


@pytest.mark.parametrize("text", ["--5", "+-5"])
def test_parse_number_rejects_doubled_signs(text: str) -> None:
    """A doubled sign is malformed input, not a (possibly positive!) number."""
    with pytest.raises(ValueError, match="not a number"):
        parse_number(text)


def test_parse_number_empty_is_none() -> None:
    """An empty or blank cell is no number (``None``), not zero."""
    assert parse_number("") is None
    assert parse_number("   ") is None


@given(
    cents=st.integers(min_value=-(10**11), max_value=10**11),
    decimal=st.sampled_from([",", "."]),
)
@settings(max_examples=200, deadline=None)
def test_parse_number_round_trips_both_conventions(cents: int, decimal: str) -> None:
    """Any amount (either sign) with two decimals written as ``1,234.50`` or ``1.234,50``
    (with thousands separators) parses back to itself whatever the column's decimal hint."""
    en = f"{cents / 100:,.2f}"
    fi = en.replace(",", "\0").replace(".", ",").replace("\0", ".")
    assert parse_number(en, decimal) == pytest.approx(cents / 100)
    assert parse_number(fi, decimal) == pytest.approx(cents / 100)


# ------------------------------------------------------------------- dates


@pytest.mark.parametrize("text", ["2026-03-01", "1.3.2026", "01.03.2026", "01/03/2026", "1-3-2026"])
def test_parse_date_iso_and_day_first(text: str) -> None:
    """ISO and day-first dates all mean 1 March 2026 (never 3 January)."""
    assert parse_date(text) == dt.date(2026, 3, 1)


@pytest.mark.parametrize("text", ["2026-02-30", "31.02.2026", "13/13/2026", "March 1st", "2026"])
def test_parse_date_rejects_invalid(text: str) -> None:
    """Impossible or unrecognised dates raise ValueError."""
    with pytest.raises(ValueError, match="date"):
        parse_date(text)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)))
@settings(max_examples=100, deadline=None)
def test_parse_date_round_trips(day: dt.date) -> None:
    """Every date written as ISO, ``d.m.yyyy`` or ``dd/mm/yyyy`` parses back to itself."""
    for text in (day.isoformat(), f"{day.day}.{day.month}.{day.year}", day.strftime("%d/%m/%Y")):
        assert parse_date(text) == day


@pytest.mark.parametrize("text", ["2026-03-01", "1.3.2026", "01/03/2026"])
def test_dates_are_stored(users: str, tmp_path: Path, text: str) -> None:
    """A ``last_visit`` cell in ISO or day-first form is stored as 2026-03-01."""
    path = write_csv(
        tmp_path / "d.csv", [["external_id", "name", "last_visit"], ["x", "X Oy", text]]
    )
    report = run_import(path)
    assert (report.inserted, report.rejected) == (1, 0)
    assert accounts_by_ext()["x"]["last_visit"] == dt.date(2026, 3, 1)


# -------------------------------------------------------------------- XLSX


def test_xlsx_import(users: str, tmp_path: Path) -> None:
    """An Excel sheet with typed cells (numbers, dates, booleans) and synonym headers is
    imported, and a bad row is reported with its sheet row number."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Customer ID", "Company", "Latitude", "Longitude", "Potential", "Last visit",
               "Visit duration", "DNC", "Rep"])  # fmt: skip
    ws.append(["x1", "Kahvila Ä Oy", 60.17, 24.94, 1234.5, dt.date(2026, 3, 1), 45, True, "rep1"])
    ws.append([2, "Numeric Id Ab", None, None, 10, "1.3.2026", 30, False, None])
    ws.append(["x3", "Bad Lat Oy", 95, 24, None, None, None, None, None])
    path = tmp_path / "accounts.xlsx"
    wb.save(path)

    report = run_import(path)
    assert_invariant(report)
    assert (report.rows, report.inserted, report.rejected) == (3, 2, 1)
    assert [(r.row, r.field) for r in report.rejects] == [(4, "lat")]
    acc = accounts_by_ext()
    assert set(acc) == {"x1", "2"}
    x1 = acc["x1"]
    assert x1["name"] == "Kahvila Ä Oy"
    assert (x1["lat"], x1["lon"]) == pytest.approx((60.17, 24.94))
    assert x1["potential_value"] == pytest.approx(1234.5)
    assert x1["last_visit"] == dt.date(2026, 3, 1)
    assert x1["visit_minutes"] == 45
    assert x1["do_not_contact"] is True
    assert x1["owner_id"] is not None
    assert acc["2"]["last_visit"] == dt.date(2026, 3, 1)
    # Re-importing the sheet changes nothing.
    again = run_import(path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


# ---------------------------------------------------- headers and mappings


def test_every_header_synonym_maps_to_its_column(tmp_path: Path) -> None:
    """Each synonym of :data:`HEADER_SYNONYMS` (any case, spaces for underscores) and
    each canonical name is read as its canonical column."""
    for canon, synonyms in HEADER_SYNONYMS.items():
        for header in (canon, *synonyms, *(s.upper().replace("_", " ") for s in synonyms)):
            if canon == "name":
                rows = [[header], ["A"]]
            else:
                rows = [["name", header], ["A", "b"]]
            table = read_table(write_csv(tmp_path / "h.csv", rows))
            assert canon in table.frame.columns, (header, list(table.frame.columns))
            assert table.source_headers[canon] == header
    assert set(HEADER_SYNONYMS) <= set(CANONICAL_COLUMNS)


def test_real_world_headers_are_mapped(users: str, tmp_path: Path) -> None:
    """Headers such as ``Company Name``, ``E-Mail``, ``Zip Code``, ``Lng`` and Finnish
    ``Sähköposti``-style spellings map to canonical columns; unknown ones are ignored."""
    path = write_csv(
        tmp_path / "crm_export.csv",
        [
            [
                "Customer Number",
                "Company Name",
                "Address",
                "No.",
                "Zip Code",
                "Town",
                "Latitude",
                "Lng",
                "Telephone",
                "Puhelin x",
                "Potential",
                "Sales Rep",
                "Last visited",
                "Notes",
            ],
            [
                "s1",
                "Synonym Oy",
                "Mannerheimintie",
                "3",
                "00100",
                "Helsinki",
                "60.17",
                "24.94",
                "+358 9 123 456",
                "",
                "1000",
                "rep1",
                "1.3.2026",
                "n/a",
            ],
        ],
    )
    report = run_import(path)
    assert (report.inserted, report.rejected) == (1, 0)
    assert report.ignored_columns == ["Puhelin x", "Notes"]
    s1 = accounts_by_ext()["s1"]
    assert s1["name"] == "Synonym Oy"
    assert (s1["street"], s1["housenumber"], s1["postcode"], s1["city"]) == (
        "Mannerheimintie",
        "3",
        "00100",
        "Helsinki",
    )
    assert (s1["lat"], s1["lon"]) == pytest.approx((60.17, 24.94))
    assert s1["phone"] == "+358 9 123 456"
    assert s1["potential_value"] == 1000
    assert s1["owner_id"] is not None
    assert s1["last_visit"] == dt.date(2026, 3, 1)


def test_finnish_headers_are_mapped(tmp_path: Path) -> None:
    """Accented Finnish headers (``Sähköposti``, ``Yhteyshenkilö``) lose their accents
    before lookup."""
    path = write_csv(
        tmp_path / "fi.csv",
        [
            ["Nimi", "Sähköposti", "Yhteyshenkilö", "Postinumero", "Kaupunki"],
            ["A", "a@b.fi", "X", "1", "Y"],
        ],
    )
    assert set(read_table(path).frame.columns) == {
        "name",
        "email",
        "contact_name",
        "postcode",
        "city",
    }


def test_mapping_file(users: str, tmp_path: Path) -> None:
    """A JSON mapping file maps unusual headers (and wins over a synonym)."""
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(
        json.dumps(
            {
                "Asiakasnro": "external_id",
                "Yhtiö": "name",
                "Arvo €": "potential_value",
                "Value": "annual_revenue",
            }
        ),
        encoding="utf-8",
    )
    mapping = load_mapping(mapping_path)
    assert mapping["Yhtiö"] == "name"
    path = write_csv(
        tmp_path / "custom.csv",
        [["Asiakasnro", "Yhtiö", "Arvo €", "Value"], ["m1", "Mapattu Oy", "12,5", "300"]],
        ";",
    )
    with pytest.raises(InputError, match="name"):
        read_table(path)  # without the mapping there is no name column
    report = run_import(path, mapping=mapping)
    assert (report.inserted, report.rejected) == (1, 0)
    m1 = accounts_by_ext()["m1"]
    assert m1["name"] == "Mapattu Oy"
    assert m1["potential_value"] == pytest.approx(12.5)
    assert m1["annual_revenue"] == pytest.approx(300)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"Yhtiö": "company"}', "unknown target column"),
        ('["Yhtiö", "name"]', "JSON object"),
        ("{not json", "cannot read the mapping"),
    ],
)
def test_bad_mapping_file_is_an_input_error(tmp_path: Path, content: str, match: str) -> None:
    """A mapping file naming an unknown column, not an object, or not JSON is an InputError."""
    p = tmp_path / "m.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        load_mapping(p)


def test_two_headers_for_one_column_best_spelling_wins(tmp_path: Path) -> None:
    """Two headers naming one column (``Company`` and ``Name``): the better-ranked
    spelling is used, the other is ignored with a note; two mapped by the user are refused."""
    path = write_csv(tmp_path / "two.csv", [["Company", "Name"], ["A", "B"]])
    table = read_table(path)
    assert table.source_headers["name"] == "Name"
    assert table.ignored_headers == ["Company"]
    assert list(table.frame["name"]) == ["B"]
    assert "'Company' also names 'name'" in table.notes[0]
    with pytest.raises(InputError, match="both map to 'name'"):
        read_table(path, {"Company": "name", "Name": "name"})


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"name,city\n", "no data rows"),
        (b"name,city\n,\n", "no data rows"),
        (b"company_x,city\nA,B\n", "missing required column 'name'"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a text file"),
    ],
    ids=["empty", "blank", "header_only", "empty_cells_only", "no_name", "binary"],
)
def test_unusable_files_are_input_errors(tmp_path: Path, content: bytes, match: str) -> None:
    """Empty, header-only, name-less and binary files raise one clear InputError."""
    p = tmp_path / "f.csv"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_table(p)


def test_trailing_delimiter_does_not_shift_columns(tmp_path: Path) -> None:
    """A delimiter at the end of every line (common in spreadsheet exports) adds an empty
    last field; every cell stays under its own header."""
    path = tmp_path / "trailing.csv"
    path.write_text(
        "external_id,name,city\n1,Smith Oy,Helsinki,\n2,Acme Oy,Turku,\n", encoding="utf-8"
    )
    table = read_table(path)
    assert table.frame.to_dict("records") == [
        {"external_id": "1", "name": "Smith Oy", "city": "Helsinki"},
        {"external_id": "2", "name": "Acme Oy", "city": "Turku"},
    ]


def test_extra_field_in_one_row_never_shifts_the_others(tmp_path: Path) -> None:
    """An unquoted comma in one name gives that row one field too many: the file may be
    refused (InputError) or that row kept apart, but no row may have its cells moved
    under the wrong headers."""
    path = tmp_path / "extra.csv"
    path.write_text(
        "external_id,name,city\n1,Smith, Jones Oy,Helsinki\n2,Acme Oy,Turku\n", encoding="utf-8"
    )
    try:
        table = read_table(path)
    except InputError:
        return  # refusing the whole file is acceptable
    records = dict(zip(table.row_numbers, table.frame.to_dict("records"), strict=True))
    assert records[3] == {"external_id": "2", "name": "Acme Oy", "city": "Turku"}
    assert records.get(2, {}).get("external_id") in (None, "1")


def test_missing_file_and_broken_xlsx_are_input_errors(tmp_path: Path) -> None:
    """A missing file and a corrupt .xlsx raise InputError, not a raw exception."""
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"this is not a zip file")
    with pytest.raises(InputError, match="Excel"):
        read_table(broken)


# ----------------------------------------------------- upsert semantics


def _mixed_file(tmp_path: Path) -> Path:
    """good.csv plus two rejected rows."""
    text = GOOD.read_text(encoding="utf-8")
    text += "g6,Rejected Mail Oy,,,,,,,,,,,,bad@,,,,,,,,,,\n"
    text += ",,,,,,,,,,,,,,,,,,,,,,,1.1.2026\n"  # no name
    path = tmp_path / "mixed.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reimport_is_idempotent(users: str, tmp_path: Path) -> None:
    """Importing the same file twice: the second run inserts and updates nothing, counts
    every good row as unchanged and leaves the accounts table byte-for-byte the same."""
    path = _mixed_file(tmp_path)
    first = run_import(path)
    assert (first.rows, first.inserted, first.rejected) == (7, 5, 2)
    before = accounts_snapshot()
    contacts_before = count(Contact)

    second = run_import(path)
    assert_invariant(second)
    assert (second.inserted, second.updated) == (0, 0)
    assert second.unchanged == second.rows - second.rejected == 5
    assert second.duplicates == 0
    assert accounts_snapshot() == before
    assert count(Contact) == contacts_before


def test_changed_cell_updates_one_account(users: str, tmp_path: Path) -> None:
    """Changing one cell of one row updates exactly that account and field."""
    run_import(GOOD)
    before = accounts_by_ext()
    changed = tmp_path / "good.csv"
    changed.write_text(
        GOOD.read_text(encoding="utf-8").replace(",2500,", ",2750,"), encoding="utf-8"
    )
    report = run_import(changed)
    assert_invariant(report)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 4)
    after = accounts_by_ext()
    assert after["g2"]["potential_value"] == 2750
    diff = {k for k in after["g2"] if after["g2"][k] != before["g2"][k]}
    assert diff == {"potential_value", "updated_at"}
    for ext in ("g1", "g3", "g4", "g5"):
        assert after[ext] == before[ext]


def test_upsert_matches_by_external_id(users: str, tmp_path: Path) -> None:
    """A row whose external_id exists updates that account (same id), even when renamed."""
    run_import(GOOD)
    old_id = accounts_by_ext()["g3"]["id"]
    path = write_csv(tmp_path / "rename.csv", [["external_id", "name"], ["g3", "Kirjakauppa Uusi"]])
    report = run_import(path)
    assert (report.inserted, report.updated) == (0, 1)
    acc = accounts_by_ext()
    assert acc["g3"]["id"] == old_id
    assert acc["g3"]["name"] == "Kirjakauppa Uusi"
    assert len(acc) == 5


def test_rows_without_external_id_get_a_stable_one(users: str, tmp_path: Path) -> None:
    """Rows without external_id get an ``auto-`` id from name and address, so re-importing
    them does not insert them again."""
    path = write_csv(
        tmp_path / "noid.csv",
        [["name", "street", "housenumber"], ["A Oy", "Katu", "1"], ["B Oy", "Katu", "2"]],
    )
    first = run_import(path)
    assert first.inserted == 2
    exts = set(accounts_by_ext())
    assert all(e.startswith("auto-") for e in exts)
    second = run_import(path)
    assert (second.inserted, second.unchanged) == (0, 2)
    assert set(accounts_by_ext()) == exts


def test_crash_mid_import_leaves_no_partial_rows(
    users: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the import fails after the accounts were written (here: in the contacts step),
    the transaction is rolled back: no account, contact or audit line remains."""
    import gcrm.importer

    written: list[int] = []

    def spy_upsert(session: Any, rows: Any) -> None:
        """Record how many accounts the transaction holds, then fail."""
        written.append(int(session.scalar(select(func.count()).select_from(Account)) or 0))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gcrm.importer, "_upsert_contacts", spy_upsert)
    with pytest.raises(RuntimeError, match="disk on fire"), session_scope() as session:
        import_file(session, SYSTEM, GOOD, geocoder=None)
    assert written == [5]  # the accounts insert had run inside the transaction
    assert count(Account) == 0
    assert count(Contact) == 0
    assert count(AuditEvent, AuditEvent.action == "import") == 0


def test_crash_during_reimport_leaves_accounts_unchanged(
    users: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after updates and inserts were flushed (in the duplicate-link step)
    rolls them all back: the accounts table is exactly as before the import."""
    import gcrm.importer

    run_import(GOOD)
    before = accounts_snapshot()
    path = tmp_path / "changed.csv"
    path.write_text(
        GOOD.read_text(encoding="utf-8").replace(",2500,", ",9999,")
        + "g9,kahvila esimerkki oy,,,,Mannerheimintie,1,00100,Helsinki,,,,,,,,,,,,,,,\n",
        encoding="utf-8",
    )

    def fail(session: Any, report: ImportReport) -> None:
        """Fail after the updates and inserts were sent."""
        assert report.updated == 1 and report.inserted == 1
        raise RuntimeError("connection lost")

    monkeypatch.setattr(gcrm.importer, "_resolve_duplicate_links", fail)
    with pytest.raises(RuntimeError, match="connection lost"), session_scope() as session:
        import_file(session, SYSTEM, path, geocoder=None)
    assert accounts_snapshot() == before


def test_dry_run_writes_nothing(users: str) -> None:
    """A dry run reports what would happen (same counts as a real run) but writes no
    account, contact or audit line."""
    dry = run_import(BAD_ROWS, dry_run=True)
    assert dry.dry_run is True
    assert (dry.rows, dry.inserted, dry.rejected) == (14, 4, 10)
    assert count(Account) == 0
    assert count(Contact) == 0
    assert count(AuditEvent, AuditEvent.action == "import") == 0
    real = run_import(BAD_ROWS)
    assert real.summary() == dry.summary()


def test_dry_run_of_changes_leaves_store_unchanged(users: str, tmp_path: Path) -> None:
    """A dry run of a changed file counts the update but the stored account keeps its value."""
    run_import(GOOD)
    before = accounts_snapshot()
    changed = tmp_path / "good.csv"
    changed.write_text(
        GOOD.read_text(encoding="utf-8").replace(",2500,", ",2750,"), encoding="utf-8"
    )
    report = run_import(changed, dry_run=True)
    assert (report.updated, report.unchanged) == (1, 4)
    assert accounts_snapshot() == before


# ------------------------------------------------------------- duplicates


def test_likely_duplicates_in_one_file_are_flagged_not_merged(users: str, tmp_path: Path) -> None:
    """Two rows with the same normalised name and address are both stored; the second
    points at the first through ``duplicate_of_id`` and is counted in ``duplicates``."""
    path = write_csv(
        tmp_path / "dups.csv",
        [
            ["external_id", "name", "street", "housenumber", "postcode", "city"],
            ["k1", "Kahvila Esimerkki Oy", "Mannerheimintie", "1", "00100", "Helsinki"],
            ["k2", "kahvila esimerkki oy", "MANNERHEIMINTIE", "1", "00100", "Helsinki"],
            ["k3", "Kahvila Esimerkki Oy", "Mannerheimintie", "3", "00100", "Helsinki"],
            ["k4", "Ravintola Muu", "Mannerheimintie", "1", "00100", "Helsinki"],
        ],
    )
    report = run_import(path)
    assert report.inserted == 4
    assert report.duplicates == 1
    assert report.duplicate_pairs == [(3, "k2", "k1")]
    acc = accounts_by_ext()
    assert set(acc) == {"k1", "k2", "k3", "k4"}
    assert acc["k2"]["duplicate_of_id"] == acc["k1"]["id"]
    assert acc["k1"]["duplicate_of_id"] is None
    assert acc["k3"]["duplicate_of_id"] is None  # other house number
    assert acc["k4"]["duplicate_of_id"] is None  # other name
    assert acc["k2"]["name"] == "kahvila esimerkki oy"  # nothing merged or rewritten


def test_likely_duplicate_of_stored_account_is_flagged(users: str, tmp_path: Path) -> None:
    """A new row matching an already stored account (name and address, ignoring case and
    punctuation) is flagged against it on a later import; both accounts remain."""
    run_import(GOOD)
    path = write_csv(
        tmp_path / "later.csv",
        [
            ["external_id", "name", "street", "housenumber", "postcode"],
            ["n1", "KAHVILA ESIMERKKI OY.", "Mannerheimintie", "1", "00100"],
        ],
    )
    report = run_import(path)
    assert (report.inserted, report.duplicates) == (1, 1)
    acc = accounts_by_ext()
    assert len(acc) == 6
    assert acc["n1"]["duplicate_of_id"] == acc["g1"]["id"]
    assert acc["g1"]["name"] == "Kahvila Esimerkki Oy"
    again = run_import(path)
    assert (again.unchanged, again.duplicates) == (1, 0)
    assert accounts_by_ext()["n1"]["duplicate_of_id"] == acc["g1"]["id"]


# ------------------------------------------------------------- manual pin


def test_manual_pin_survives_reimport_with_other_coordinates(users: str, tmp_path: Path) -> None:
    """A pin placed by hand is kept when a later import brings other lat/lon; the row's
    other changes still apply."""
    run_import(GOOD)
    with session_scope() as session:
        aid = session.scalar(select(Account.id).where(Account.external_id == "g1"))
        set_manual_pin(session, SYSTEM, aid, 60.2, 24.9)
    changed = tmp_path / "good.csv"
    changed.write_text(
        GOOD.read_text(encoding="utf-8")
        .replace("60.1699,24.9384", "61.5000,23.7600")
        .replace("Kahvila Esimerkki Oy", "Kahvila Esimerkki Oy Ab"),
        encoding="utf-8",
    )
    report = run_import(changed)
    assert (report.updated, report.unchanged) == (1, 4)
    g1 = accounts_by_ext()["g1"]
    assert (g1["lat"], g1["lon"]) == (60.2, 24.9)
    assert g1["manual_pin"] is True
    assert g1["geocode_precision"] == "manual"
    assert g1["geocode_source"] == "manual"
    assert g1["name"] == "Kahvila Esimerkki Oy Ab"

    # And with nothing else changed, the pinned row is simply unchanged.
    moved_only = tmp_path / "moved.csv"
    moved_only.write_text(
        GOOD.read_text(encoding="utf-8")
        .replace("60.1699,24.9384", "59.0,22.0")
        .replace("Kahvila Esimerkki Oy", "Kahvila Esimerkki Oy Ab"),
        encoding="utf-8",
    )
    again = run_import(moved_only)
    assert (again.updated, again.unchanged) == (0, 5)
    assert (accounts_by_ext()["g1"]["lat"], accounts_by_ext()["g1"]["lon"]) == (60.2, 24.9)


def test_geocoder_is_used_for_rows_without_coordinates(users: str, tmp_path: Path) -> None:
    """Rows with an address and no coordinates are located by the given geocoder; rows
    with coordinates from the file are not geocoded."""
    calls: list[tuple[Any, ...]] = []

    def geocoder(street, number, postcode, city):  # type: ignore[no-untyped-def]
        """Record the call; find every address at one point."""
        calls.append((street, number, postcode, city))
        return (60.1, 24.9, "address", 0.9)

    report = run_import(GOOD, geocoder=geocoder)
    assert report.geocoded == 1
    assert calls == [("Keskuskatu", "3", "00100", "Helsinki")]
    g3 = accounts_by_ext()["g3"]
    assert (g3["lat"], g3["lon"], g3["geocode_precision"]) == (60.1, 24.9, "address")


# ------------------------------------------------------ formula injection


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd()", "'=cmd()"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (5, 5),
        (None, None),
    ],
)
def test_neutralise_formula(value: Any, expected: Any) -> None:
    """Text starting with = + - @ tab or CR gets a leading apostrophe; the rest is untouched."""
    assert neutralise_formula(value) == expected


def test_rejects_file_neutralises_formula_cells(users: str, tmp_path: Path) -> None:
    """The rejected-rows CSV never hands a spreadsheet a live formula: ``=cmd()`` is
    written as ``'=cmd()``, also in the reason text and the original cells."""
    path = write_csv(
        tmp_path / "evil.csv",
        [
            ["external_id", "name", "email", "segment"],
            ['=HYPERLINK("http://x")', "=cmd()", "bad", "@SUM(1)"],
            ["e2", "+cmd|' /C calc'!A0", "", "-1+1"],
            ["e2", "Repeat", "", ""],
        ],
    )
    report = run_import(path)
    assert report.rejected == 2
    assert report.inserted == 1
    out = write_rejects(report, tmp_path / "rejects.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["name"] == "'=cmd()"
    assert rows[0]["external_id"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["segment"] == "'@SUM(1)"
    assert rows[0]["field"] == "email"
    assert rows[1]["field"] == "external_id"
    for row in rows:
        for cell in row.values():
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def test_write_rejects_with_no_rejects_writes_header_only(tmp_path: Path) -> None:
    """With nothing rejected the report file is just the row/field/reason header."""
    out = write_rejects(ImportReport(file="x.csv"), tmp_path / "sub" / "r.csv")
    assert out.read_text(encoding="utf-8").strip() == "row,field,reason"


def test_rejects_frame_columns_start_with_row_field_reason() -> None:
    """The rejects frame lists row, field, reason, then the original cells."""
    report = ImportReport(file="x.csv")
    report.rejects.append(RejectedRow(7, "email", "bad", {"name": "A", "email": "x"}))
    df = report.rejects_frame()
    assert list(df.columns) == ["row", "field", "reason", "name", "email"]
    assert df.iloc[0].tolist() == [7, "email", "bad", "A", "x"]


# -------------------------------------------------------- permissions


@pytest.mark.parametrize(("username", "allowed"), [("rep1", False), ("boss", True)])
def test_import_needs_the_import_permission(users: str, username: str, allowed: bool) -> None:
    """A rep may not import (PermissionDeniedError, nothing written); an admin may."""
    from gcrm._errors import PermissionDeniedError
    from gcrm.auth import actor_for

    with session_scope() as session:
        actor = actor_for(session, username)
        if allowed:
            assert import_file(session, actor, GOOD, geocoder=None).inserted == 5
        else:
            with pytest.raises(PermissionDeniedError):
                import_file(session, actor, GOOD, geocoder=None)
    assert count(Account) == (5 if allowed else 0)


# ------------------------------------------------------ property test

#: Valid cells per column (any combination of them is a good row).
_GOOD_CELLS: dict[str, list[str]] = {
    "external_id": ["e1", "e2", "e3", "e4", "e5"],
    "name": ["Acme Oy", "acme oy", "Ääkkönen Ab", "=cmd()"],
    "email": ["", "a@example.com", "Info@Example.COM"],
    "phone": ["", "+358 40 123 4567", "09-123 456"],
    "potential_value": ["", "1,234.50", "1.234,50", "12,5", "€ 10", "0"],
    "annual_revenue": ["", "5000", "1 000"],
    "last_visit": ["", "2026-03-01", "1.3.2026", "01/03/2026"],
    "kind": ["", "lead", "Customer", "client"],
    "stage": ["", "won", "Lost"],
    "owner": ["", "rep1"],
    "opening_hours": ["", "Mo-Fr 08:00-16:00", "24/7"],
    "visit_minutes": ["", "30", "45"],
    "do_not_contact": ["", "yes", "no"],
    "street": ["", "Mannerheimintie", "MANNERHEIMINTIE"],
    "housenumber": ["", "1", "2"],
    "contact_name": ["", "", "Aino Virtanen"],
}
_COORDS = [("", ""), ("60.17", "24.94"), ("60,5", "24,9"), ("-33.9", "151.2")]
_COLUMNS = [*_GOOD_CELLS, "lat", "lon", "segment"]


@st.composite
def _files(draw):  # type: ignore[no-untyped-def]
    """A small file: rows of valid cells, some with one planted bad cell (from BAD_CELLS)."""
    rows = []
    # A small namespace of ids: later files both insert new accounts and update old ones.
    batch = draw(st.integers(min_value=0, max_value=9))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        cells = {c: draw(st.sampled_from(v)) for c, v in _GOOD_CELLS.items()}
        cells["external_id"] = f"b{batch}-{cells['external_id']}"
        cells["lat"], cells["lon"] = draw(st.sampled_from(_COORDS))
        planted = draw(st.one_of(st.none(), st.sampled_from(BAD_CELLS)))
        if planted is not None:
            cells.update(planted[1])
        rows.append((cells, None if planted is None else planted[2]))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return rows, delimiter, encoding


def _expected_rejects(rows: list[tuple[dict[str, str], str | None]]) -> list[tuple[int, str]]:
    """(row, field) the importer must reject: bad cells first, then repeated ids, then
    unknown owners (checked against the store after the file)."""
    seen: set[str] = set()
    out = []
    for i, (cells, bad_field) in enumerate(rows):
        rownum = i + 2
        if bad_field is not None and bad_field != "owner":
            out.append((rownum, bad_field))
        elif cells["external_id"] in seen:
            out.append((rownum, "external_id"))
        else:
            seen.add(cells["external_id"])
            if bad_field == "owner":
                out.append((rownum, "owner"))
    return out


@given(_files())
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_counts_always_add_up(users: str, tmp_path: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """For random small files mixing good rows and rows with one bad cell (any delimiter
    and encoding, imported one after another into the same store):
    ``inserted + updated + unchanged + rejected == rows``, exactly the bad rows are
    rejected with their row and field, and the table grows by exactly ``inserted``."""
    rows, delimiter, encoding = spec
    body = [[cells[c] for c in _COLUMNS[:-1]] + [f"seg{i}"] for i, (cells, _) in enumerate(rows)]
    path = write_csv(tmp_path / "prop.csv", [_COLUMNS, *body], delimiter, encoding)
    before = count(Account)
    report = run_import(path)
    assert report.rows == len(rows)
    assert_invariant(report)
    assert report.rejected == len(report.rejects)
    assert [(r.row, r.field) for r in report.rejects] == _expected_rejects(rows)
    assert all(r.reason for r in report.rejects)
    assert count(Account) == before + report.inserted
    assert report.duplicates <= report.inserted


@pytest.mark.parametrize("order", ["located_first", "located_second"])
def test_rows_with_and_without_coordinates_in_any_order(
    users: str, tmp_path: Path, order: str
) -> None:
    """A file mixing a row with coordinates and e-mail and a row with neither (but with a
    contact person) stores each row's own values, whatever the row order."""
    header = ["external_id", "name", "lat", "lon", "contact_name", "email"]
    located = ["p1", "Paikallinen Oy", "60.17", "24.94", "", "p1@example.com"]
    unlocated = ["p2", "Paikaton Oy", "", "", "Aino Virtanen", "aino@example.com"]
    body = [located, unlocated] if order == "located_first" else [unlocated, located]
    report = run_import(write_csv(tmp_path / "mix.csv", [header, *body]))
    assert (report.inserted, report.rejected) == (2, 0)
    acc = accounts_by_ext()
    p1, p2 = acc["p1"], acc["p2"]
    assert (p1["lat"], p1["lon"]) == (60.17, 24.94)
    assert p1["geocode_precision"] == "provided"
    assert p1["geom"] is not None
    assert p1["email"] == "p1@example.com"
    assert (p2["lat"], p2["lon"], p2["geom"]) == (None, None, None)
    assert p2["geocode_precision"] == "none"
    assert p2["email"] is None
    with session_scope() as session:
        assert session.execute(select(Contact.name, Contact.email)).all() == [
            ("Aino Virtanen", "aino@example.com")
        ]
