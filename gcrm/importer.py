"""Import accounts from CSV and XLSX files.

The importer reads a file (any of utf-8, utf-8 with BOM or cp1252; comma,
semicolon, tab or pipe separated; or an Excel sheet), maps its headers to the
canonical columns (:data:`CANONICAL_COLUMNS`, with the synonyms of
:data:`HEADER_SYNONYMS` or a user's mapping file), validates every row with
pydantic and upserts the good rows by ``external_id`` in one transaction.
Rejected rows are kept and reported (row number, field, reason); likely
duplicates are flagged, never merged.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import math
import re
import unicodedata
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from rapidfuzz import fuzz, process
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gcrm import crm_layouts, import_files
from gcrm._errors import InputError
from gcrm.auth import Actor, audit_apart, require, sees_personal_data
from gcrm.db.models import (
    STAGES,
    Account,
    AccountKind,
    Contact,
    Precision,
    Region,
    Territory,
    User,
    point_wkt,
)
from gcrm.import_geo import Geo, locate
from gcrm.store import audit
from gcrm.territory_rule import clip_to_region, holding_territory

if TYPE_CHECKING:
    from sqlalchemy import Table as SATable

#: The columns an import file may have, after header mapping.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "external_id",
    "name",
    "kind",
    "stage",
    "segment",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "lat",
    "lon",
    "contact_name",
    "contact_email",
    "contact_phone",
    "email",
    "phone",
    "potential_value",
    "annual_revenue",
    "opening_hours",
    "visit_minutes",
    "visit_every_days",
    "owner",
    "do_not_contact",
    "marketing_consent",
    "last_visit",
    *crm_layouts.AUXILIARY_COLUMNS,
)

#: Columns a file must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("name",)

#: Accepted header spellings of each column (compared after lower-casing,
#: stripping accents and turning spaces and punctuation into underscores): the
#: export layouts of other CRMs, see :mod:`gcrm.crm_layouts`.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    canon: tuple(h for h in spellings if crm_layouts.norm_header(h) != canon)
    for canon, spellings in crm_layouts.LAYOUT_HEADERS.items()
}

_TRUE = {"1", "true", "yes", "y", "x", "kylla", "ja", "t", "on"}
_FALSE = {"0", "false", "no", "n", "ei", "nej", "f", "off", ""}
_SIMPLE_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_COORDINATE = re.compile(r"[+-]?\d{1,3}([.,]\d+)?")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_THOUSANDS_POINT = re.compile(r"-?\d{1,3}\.\d{3}")
_NON_DIGITS = re.compile(r"\D")
_PHONE = re.compile(r"^\+?[0-9 ()\-./]{5,25}$")
_KINDS = frozenset(k.value for k in AccountKind)
_PROVIDED = Precision.PROVIDED.value
_NO_PRECISION = Precision.NONE.value
_KIND_SYNONYMS = {"client": "customer", "customers": "customer", "prospects": "prospect"}
_CHUNK = 5000


_norm_header = crm_layouts.norm_header
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@functools.lru_cache(maxsize=65536)
def normalise_text(text: str | None) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    str
        The comparable form (used for duplicate detection).
    """
    if not text:
        return ""
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    t = _NON_ALNUM.sub(" ", t)
    return " ".join(t.split())


# --------------------------------------------------------------------- reading


@dataclasses.dataclass
class Table:
    """A file read into strings, with its provenance.

    Attributes
    ----------
    frame
        Every cell as a string (``""`` when empty), columns canonical.
    row_numbers
        The file row number of each frame row (header = 1).
    source_headers
        Canonical column → the header it came from.
    ignored_headers
        Headers that map to no canonical column.
    encoding, delimiter
        What was detected (``None`` for Excel).
    malformed
        Records that cannot be read into columns: (row, reason, cells).
    """

    frame: pd.DataFrame
    row_numbers: list[int]
    source_headers: dict[str, str]
    ignored_headers: list[str]
    encoding: str | None
    delimiter: str | None
    malformed: list[tuple[int, str, dict[str, str]]] = dataclasses.field(default_factory=list)
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def load_mapping(path: str | Path) -> dict[str, str | None]:
    """Read a column mapping file: JSON ``{"file header": "canonical column"}``.

    A ``null`` target ignores that header.

    Parameters
    ----------
    path
        A ``.json`` file.

    Returns
    -------
    dict
        Header → canonical column.

    Raises
    ------
    InputError
        If the file is unreadable or names an unknown canonical column.
    """
    p = Path(path)
    try:
        mapping = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{p.name}: cannot read the mapping file: {exc}"
        raise InputError(msg) from exc
    if not isinstance(mapping, dict):
        msg = f"{p.name}: the mapping file must be a JSON object of header -> column"
        raise InputError(msg)
    bad = sorted(str(v) for v in mapping.values() if v and v not in CANONICAL_COLUMNS)
    if bad:
        msg = f"{p.name}: unknown target column(s) {', '.join(bad)}"
        raise InputError(msg)
    return {str(k): (str(v) if v else None) for k, v in mapping.items()}


@dataclasses.dataclass
class _Raw:
    """A file's header and records as text, with their row numbers in the file."""

    header: list[str]
    records: list[list[str]]
    row_numbers: list[int]
    malformed: list[tuple[int, str, dict[str, str]]]
    encoding: str | None
    delimiter: str | None
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _read_xlsx(p: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:
        msg = f"{p.name}: cannot read the Excel file: {exc}"
        raise InputError(msg) from exc
    try:
        ws = wb.worksheets[0]
        rows = [
            (i, [_cell_text(v) for v in row])
            for i, row in enumerate(ws.iter_rows(values_only=True), start=1)
        ]
    finally:
        wb.close()
    first = next((k for k, (_, cells) in enumerate(rows) if any(c.strip() for c in cells)), None)
    if first is None:
        msg = f"{p.name}: the file is empty"
        raise InputError(msg)
    _, header = rows[first]
    while header and not header[-1].strip():
        header.pop()
    return header, rows[first + 1 :]


def _read_csv(p: Path) -> tuple[list[str], list[tuple[int, list[str]]], str, str]:
    raw = p.read_bytes()
    text, encoding = import_files.decode(raw, p.name)
    if not text.strip():
        msg = f"{p.name}: the file is empty"
        raise InputError(msg)
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if rows or (cells and any(c.strip() for c in cells)):
                rows.append((start, cells))  # blank lines after the header are reported
            start = reader.line_num + 1
    except csv.Error as exc:
        msg = f"{p.name}: cannot parse the file as CSV near line {reader.line_num}: {exc}"
        raise InputError(msg) from exc
    if not rows:
        msg = f"{p.name}: the file is empty"
        raise InputError(msg)
    import_files.check_quotes(text, rows, p.name)
    _, header = rows[0]
    return header, rows[1:], encoding, delimiter


def _read_raw(p: Path) -> _Raw:
    """Read a CSV/XLSX file as text records, keeping file row numbers.

    A record with more cells than the header is malformed (its cells would
    land under the wrong columns) unless the extra cells are empty, as with
    a trailing delimiter; a record with fewer cells is padded.
    """
    if not p.is_file():
        msg = f"{p}: file not found"
        raise InputError(msg)
    encoding: str | None = None
    delimiter: str | None = None
    import_files.check_size(p)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        import_files.check_xlsx(p)
        header, rows = _read_xlsx(p)
    else:
        header, rows, encoding, delimiter = _read_csv(p)
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()
    if not header or not any(header):
        msg = f"{p.name}: the file has no header row"
        raise InputError(msg)
    width = len(header)
    rows, skipped = _drop_trailer(rows, width)
    records: list[list[str]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, str, dict[str, str]]] = []
    for rownum, raw_cells in rows:
        if not any(c.strip() for c in raw_cells):
            skipped.append((rownum, "blank line"))
            continue
        cells = [_unquote_formula(c) for c in raw_cells]
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            shown = dict(zip(header, cells, strict=False))
            shown["(extra cells)"] = (delimiter or ",").join(cells[width:])
            reason = (
                f"has {len(cells)} cells but the header has {width} "
                "(an unquoted separator inside a value?)"
            )
            malformed.append((rownum, reason, shown))
            continue
        records.append(cells[:width] + [""] * (width - len(cells)))
        numbers.append(rownum)
    skipped.sort()
    return _Raw(header, records, numbers, malformed, encoding, delimiter, skipped)


def _unquote_formula(cell: str) -> str:
    """Undo our own formula protection: ``'+358 40 …`` → ``+358 40 …``."""
    if cell[:1] == "'" and cell[1:2] in _FORMULA_START:
        return cell[1:]
    return cell


def _drop_trailer(
    rows: list[tuple[int, list[str]]], width: int
) -> tuple[list[tuple[int, list[str]]], list[tuple[int, str]]]:
    """Split off a report footer: after the last blank line, rows of one cell.

    A Salesforce Classic report ends with a blank line, the report name,
    copyright, "Confidential Information" and "Generated By" lines; other
    report exports end alike. Such rows are skipped and reported, not rejected.
    """

    def filled(cells: list[str]) -> int:
        return sum(1 for c in cells if c.strip())

    end = len(rows)
    while end > 0 and not filled(rows[end - 1][1]):
        end -= 1
    k = end
    while k > 0 and filled(rows[k - 1][1]) == 1:
        k -= 1
    if width < 2 or k == end or k == 0 or filled(rows[k - 1][1]) or end - k > 10:
        return rows, []
    skipped = [
        (n, f"report footer: {next(c for c in cells if c.strip()).strip()[:80]!r}")
        for n, cells in rows[k:end]
    ]
    skipped += [(n, "blank line") for n, _ in rows[end:]]
    return rows[:k], skipped


def suggest_mapping(path: str | Path) -> dict[str, str | None]:
    """Propose a canonical column for each header of a file (``None``: ignored).

    Parameters
    ----------
    path
        A CSV/XLSX file.

    Returns
    -------
    dict
        File header → canonical column or ``None``, in file order. The first
        header claiming a canonical column wins; later ones map to ``None``.
    """
    raw = _read_raw(Path(path))
    columns, _ignored, _notes = _map_headers(raw.header, {}, Path(path).name)
    chosen = {j: target for target, j in columns.items()}
    return {str(h): chosen.get(j) for j, h in enumerate(raw.header)}


def _map_headers(
    header: list[str], mapping: dict[str, str | None], file: str
) -> tuple[dict[str, int], list[str], list[str]]:
    """Map a file's headers to import columns.

    A user's mapping wins; otherwise the best-ranked spelling of
    :mod:`gcrm.crm_layouts` wins and another column matching the same field
    is ignored (and noted). Returns field → column index, ignored headers and
    notes.
    """
    user_map = {_norm_header(k): v for k, v in mapping.items()}
    chosen: dict[str, tuple[int, int]] = {}  # field -> (rank, column)
    ignored: list[str] = []
    notes: list[str] = []
    for j, h in enumerate(header):
        key = _norm_header(h)
        if key in user_map:
            target, rank = user_map[key], -1
        else:
            hit = crm_layouts.match_header(h)
            target, rank = hit if hit else (None, 0)
        if not target:
            ignored.append(h)
            continue
        prev = chosen.get(target)
        if prev is not None:
            if rank == prev[0] == -1:
                msg = f"{file}: columns {header[prev[1]]!r} and {h!r} both map to {target!r}"
                raise InputError(msg)
            loser = j if rank >= prev[0] else prev[1]
            ignored.append(header[loser])
            notes.append(
                f"column {header[loser]!r} also names {target!r}; "
                f"{header[prev[1] if loser == j else j]!r} is used"
            )
            if loser == j:
                continue
        chosen[target] = (rank, j)
    columns = {t: j for t, (_, j) in sorted(chosen.items(), key=lambda kv: kv[1][1])}
    return columns, [h for h in header if h in ignored], notes


def read_table(path: str | Path, mapping: dict[str, str | None] | None = None) -> Table:
    """Read a CSV or XLSX file into strings with canonical column names.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv`` or ``.xlsx``/``.xlsm``.
    mapping
        Extra header → canonical column pairs (they win over synonyms); a
        ``None`` or empty target ignores that header.

    Returns
    -------
    Table
        The cells and what was detected.

    Raises
    ------
    InputError
        If the file is missing, unreadable or empty, has duplicate target
        columns, or lacks a required column.
    """
    p = Path(path)
    raw = _read_raw(p)
    columns, ignored, notes = _map_headers(raw.header, mapping or {}, p.name)
    source_headers = {t: raw.header[j] for t, j in columns.items()}
    keep_columns = [(j, t) for t, j in columns.items()]
    missing = [c for c in REQUIRED_COLUMNS if c not in source_headers]
    if missing:
        msg = (
            f"{p.name}: missing required column {', '.join(missing)!r} "
            f"(headers found: {', '.join(raw.header)})"
        )
        raise InputError(msg)
    if not raw.records and not raw.malformed:
        msg = f"{p.name}: the file has a header but no data rows"
        raise InputError(msg)
    frame = pd.DataFrame(
        [[cells[j].strip() for j, _ in keep_columns] for cells in raw.records],
        columns=[t for _, t in keep_columns],
        dtype=object,
    )
    table = Table(frame, raw.row_numbers, source_headers, ignored, raw.encoding, raw.delimiter)
    table.malformed = raw.malformed
    table.skipped = raw.skipped
    table.notes = notes
    return table


# ------------------------------------------------------------------ parsing


def parse_number(text: str, decimal: str = ".") -> float | None:
    """Parse ``1,234.5``, ``1.234,5``, ``1 234,5``, ``€ 12`` and friends.

    Parameters
    ----------
    text
        The cell.
    decimal
        The decimal separator to assume when a lone separator is ambiguous
        (``"1,234"``).

    Returns
    -------
    float or None
        ``None`` for an empty cell.

    Raises
    ------
    ValueError
        If the text is not a number.
    """
    t = text.strip()
    if not t:
        return None
    if _PLAIN_NUMBER.fullmatch(t) and not (decimal == "," and _THOUSANDS_POINT.fullmatch(t)):
        return _finite(float(t), text)
    t = t.replace("\u00a0", " ").replace("\u202f", " ")
    t = re.sub(r"^[€$£]|[€$£]$|\s*(eur|EUR|e)$", "", t).strip()
    t = t.replace(" ", "").replace("'", "")
    neg = False
    if t.startswith("(") and t.endswith(")"):
        neg, t = True, t[1:-1]
    if t[:1] in ("+", "-"):
        neg, t = (t[0] == "-") != neg, t[1:]
    if not re.fullmatch(r"[0-9.,]+", t) or not re.search(r"[0-9]", t):
        msg = f"{text!r} is not a number"
        raise ValueError(msg)
    if "," in t and "." in t:
        dec = "," if t.rfind(",") > t.rfind(".") else "."
    elif t.count(",") > 1:
        dec = "."
    elif t.count(".") > 1:
        dec = ","
    elif "," in t:
        dec = decimal if re.fullmatch(r"\d{1,3},\d{3}", t) else ","
    elif "." in t:
        dec = "," if decimal == "," and re.fullmatch(r"\d{1,3}\.\d{3}", t) else "."
    else:
        dec = "."
    thousands = "," if dec == "." else "."
    t = t.replace(thousands, "").replace(dec, ".")
    if t.count(".") > 1 or t in ("", "."):
        msg = f"{text!r} is not a number"
        raise ValueError(msg)
    value = _finite(float(t), text)
    return -value if neg else value


def _finite(value: float, text: str) -> float:
    if not math.isfinite(value) or abs(value) > 1e15:
        msg = f"{text[:40]!r} is too large"
        raise ValueError(msg)
    return value


def _column_decimal(values: pd.Series, delimiter: str | None) -> str:
    """Guess a column's decimal separator from its unambiguous values."""
    comma = values.str.contains(r"\d,\d{1,2}$|\d,\d{4,}$|\.\d{3},", regex=True).sum()
    point = values.str.contains(r"\d\.\d{1,2}$|\d\.\d{4,}$|,\d{3}\.", regex=True).sum()
    if comma > point:
        return ","
    if point > comma:
        return "."
    return "," if delimiter == ";" else "."


def parse_date(text: str) -> dt.date | None:
    """Parse ISO (``2026-03-01``) or day-first (``1.3.2026``, ``01/03/2026``) dates.

    Parameters
    ----------
    text
        The cell (a time part is ignored).

    Returns
    -------
    datetime.date or None
        ``None`` for an empty cell.

    Raises
    ------
    ValueError
        If it is not a date.
    """
    t = text.strip()
    if not t:
        return None
    t = re.split(r"[ T]", t, maxsplit=1)[0]
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", t)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})", t)
        if not m:
            msg = f"{text!r} is not a date (use YYYY-MM-DD or DD.MM.YYYY)"
            raise ValueError(msg)
        d, mo, y = (int(g) for g in m.groups())
        if y < 100:
            y += 2000
    try:
        return dt.date(y, mo, d)
    except ValueError as exc:
        msg = f"{text!r} is not a valid date"
        raise ValueError(msg) from exc


def _parse_coordinate(text: str) -> float | None:
    """A coordinate has no thousands separator: its one ``,`` or ``.`` is decimal."""
    t = text.strip()
    if not t:
        return None
    if not _COORDINATE.fullmatch(t):
        msg = f"{text!r} is not a coordinate in decimal degrees"
        raise ValueError(msg)
    return float(t.replace(",", "."))


def _parse_bool(text: str) -> bool:
    t = normalise_text(text).replace(" ", "")
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    msg = f"{text!r} is not yes/no"
    raise ValueError(msg)


def _max_lengths() -> dict[str, int]:
    """Longest text each import field may hold: the store's column sizes."""
    from sqlalchemy import String

    out = {
        c.name: int(c.type.length)
        for c in Account.__table__.columns
        if isinstance(c.type, String) and c.type.length
    }
    out["contact_name"] = int(Contact.__table__.c.name.type.length)  # type: ignore[attr-defined]
    out["owner"] = int(User.__table__.c.username.type.length)  # type: ignore[attr-defined]
    return out


_MAX_LENGTH = _max_lengths()


class AccountRow(BaseModel):
    """One validated import row (field names are the canonical columns)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    external_id: str | None = Field(default=None, max_length=_MAX_LENGTH["external_id"])
    name: str = Field(max_length=_MAX_LENGTH["name"])
    kind: str = AccountKind.PROSPECT.value
    stage: str = "new"
    segment: str | None = Field(default=None, max_length=_MAX_LENGTH["segment"])
    street: str | None = Field(default=None, max_length=_MAX_LENGTH["street"])
    housenumber: str | None = Field(default=None, max_length=_MAX_LENGTH["housenumber"])
    postcode: str | None = Field(default=None, max_length=_MAX_LENGTH["postcode"])
    city: str | None = Field(default=None, max_length=_MAX_LENGTH["city"])
    country: str | None = Field(default=None, max_length=_MAX_LENGTH["country"])
    lat: float | None = None
    lon: float | None = None
    contact_name: str | None = Field(default=None, max_length=_MAX_LENGTH["contact_name"])
    contact_email: str | None = Field(default=None, max_length=_MAX_LENGTH["email"])
    contact_phone: str | None = Field(default=None, max_length=_MAX_LENGTH["phone"])
    email: str | None = Field(default=None, max_length=_MAX_LENGTH["email"])
    phone: str | None = Field(default=None, max_length=_MAX_LENGTH["phone"])
    potential_value: float | None = None
    annual_revenue: float | None = None
    opening_hours: str | None = Field(default=None, max_length=_MAX_LENGTH["opening_hours"])
    visit_minutes: int | None = None
    visit_every_days: int | None = None
    owner: str | None = Field(default=None, max_length=_MAX_LENGTH["owner"])
    do_not_contact: bool | None = None
    marketing_consent: bool | None = None
    last_visit: dt.date | None = None
    full_address: str | None = None
    address_extra: str | None = None
    is_company: str | None = None
    parent_name: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v:
            raise ValueError("is required")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        k = v.lower() if v else AccountKind.PROSPECT.value
        k = _KIND_SYNONYMS.get(k, k)
        if k not in _KINDS:
            msg = f"{v!r} is not one of lead, prospect, customer"
            raise ValueError(msg)
        return k

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str) -> str:
        s = v.lower() if v else "new"
        if s not in STAGES:
            msg = f"{v!r} is not one of {', '.join(STAGES)}"
            raise ValueError(msg)
        return s

    @field_validator("lat")
    @classmethod
    def _lat(cls, v: float | None) -> float | None:
        if v is not None and not -90 <= v <= 90:
            msg = f"{v} is outside -90..90"
            raise ValueError(msg)
        return v

    @field_validator("lon")
    @classmethod
    def _lon(cls, v: float | None) -> float | None:
        if v is not None and not -180 <= v <= 180:
            msg = f"{v} is outside -180..180"
            raise ValueError(msg)
        return v

    @field_validator("email", "contact_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if not v:
            return None
        if len(v) <= 254 and _SIMPLE_EMAIL.fullmatch(v):
            local, domain = v.rsplit("@", 1)
            return f"{local}@{domain.lower()}"
        from email_validator import EmailNotValidError, validate_email

        try:
            return validate_email(v, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            msg = f"{v!r} is not a valid e-mail address ({exc})"
            raise ValueError(msg) from None

    @field_validator("phone", "contact_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if not v:
            return None
        for part in v.split(";"):  # several numbers, as OSM and exports list them
            if not _PHONE.fullmatch(part.strip()) or len(_NON_DIGITS.sub("", part)) < 5:
                msg = f"{v!r} is not a phone number"
                raise ValueError(msg)
        return v

    @field_validator("potential_value", "annual_revenue")
    @classmethod
    def _non_negative(cls, v: float | None) -> float | None:
        if v is not None and v < 0:
            raise ValueError("must not be negative")
        return v

    @field_validator("visit_minutes")
    @classmethod
    def _visit_minutes(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 720:
            raise ValueError("must be between 1 and 720 minutes")
        return v

    @field_validator("visit_every_days")
    @classmethod
    def _visit_every(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 3650:
            raise ValueError("must be between 1 and 3650 days")
        return v

    @field_validator("opening_hours")
    @classmethod
    def _opening_hours(cls, v: str | None) -> str | None:
        if not v:
            return None
        import opening_hours

        try:
            opening_hours.OpeningHours(v)
        except Exception as exc:
            msg = f"{v!r} is not valid OSM opening_hours syntax ({str(exc).splitlines()[0]})"
            raise ValueError(msg) from None
        return v

    @model_validator(mode="after")
    def _lat_lon_pair(self) -> AccountRow:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat/lon: give both or neither")
        return self


# ------------------------------------------------------------------ reporting


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


# ------------------------------------------------------------------ importing

#: Account fields an import row may set, and the row field they come from.
#: Account fields an actor without personal-data rights cannot see (the dry
#: run's oracle, issue 13: they always count as changed for such an actor).
_HIDDEN_FIELDS: frozenset[str] = frozenset({"phone", "email", "notes"})

_ACCOUNT_FIELDS: tuple[str, ...] = (
    "name",
    "kind",
    "stage",
    "segment",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "potential_value",
    "annual_revenue",
    "opening_hours",
    "visit_minutes",
    "visit_every_days",
    "do_not_contact",
    "marketing_consent",
    "last_visit",
)

#: Signature of a geocoder the importer can call: (street, housenumber,
#: postcode, city) -> (lat, lon, precision, score) or ``None``.
Geocoder = Callable[
    [str | None, str | None, str | None, str | None], tuple[float, float, str, float] | None
]


def _auto_external_id(row: AccountRow) -> str:
    key = "|".join(
        normalise_text(x) for x in (row.name, row.street, row.housenumber, row.postcode, row.city)
    )
    return "auto-" + hashlib.sha1(key.encode()).hexdigest()[:16]


_Valid = tuple[int, AccountRow, set[str], dict[str, str]]


class _Values:
    """Maps kind and stage cells onto ours, counting each mapping for the report."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[Any]] = {}

    def _note(self, field: str, text: str, mapped: str) -> None:
        entry = self.counts.setdefault((field, text), [mapped, 0])
        entry[1] += 1

    def apply(self, data: dict[str, Any], kept: dict[str, str]) -> None:
        """Replace ``kind``/``stage`` in ``data`` by our values; unknown ones go to ``kept``."""
        kind_text = data.pop("kind", None)
        stage_text = data.pop("stage", None)
        kind = stage = implied_kind = implied_stage = None
        if kind_text:
            hit = crm_layouts.map_kind(kind_text)
            if hit is None:
                kept["kind"] = kind_text
                self._note("kind", kind_text, "(unknown: kept as given)")
            else:
                kind, implied_stage = hit
        if stage_text:
            hit = crm_layouts.map_stage(stage_text)
            if hit is None:
                kept["stage"] = stage_text
                self._note("stage", stage_text, "(unknown: kept as given)")
            else:
                stage, implied_kind = hit
        kind = kind or implied_kind
        stage = stage or implied_stage
        if kind:
            data["kind"] = kind
            if kind_text and kind_text.strip().lower() != kind:
                self._note("kind", kind_text, kind)
        if stage:
            data["stage"] = stage
            if stage_text and stage_text.strip().lower() != stage:
                self._note("stage", stage_text, stage)

    def report(self, report: ImportReport) -> None:
        """Add the value mappings and warnings about unknown values to a report."""
        for (field, text), (mapped, count) in sorted(self.counts.items()):
            report.value_mappings.append((field, text, mapped, count))
            if mapped.startswith("(unknown"):
                report.warnings.append(
                    f"{field} {text!r} ({count} row(s)) is not a value gcrm knows: "
                    f"kept as given in import_values, {field} left at its default"
                )


def _parse_cell(col: str, text: str, decimals: dict[str, str]) -> Any:
    if col in decimals:
        return parse_number(text, decimals[col])
    if col in ("lat", "lon"):
        return _parse_coordinate(text)
    if col in ("visit_minutes", "visit_every_days"):
        num = parse_number(text)
        if num is not None and num != int(num):
            msg = f"{text!r} is not a whole number"
            raise ValueError(msg)
        return None if num is None else int(num)
    if col in ("do_not_contact", "marketing_consent"):
        return _parse_bool(text)
    if col == "last_visit":
        return parse_date(text)
    return text or None


def _validate(
    table: Table,
    report: ImportReport,
    kept: dict[int, dict[str, str]] | None = None,
    stored: Callable[[str], dict[str, str] | None] | None = None,
    keep_stored: dict[int, set[str]] | None = None,
) -> list[_Valid]:
    """Parse and validate every row; a rejected row lists all of its problems.

    Values gcrm cannot map (an unknown account type) are put in ``kept``
    (row number → field → text) instead of rejecting the row. A cell that
    fails validation but equals what the store already holds for that
    ``external_id`` (``stored``, asked only for rows with errors) is no reason
    to reject: the field is left as it is (``keep_stored``: row number →
    fields), so our own export re-imports.
    """
    frame = table.frame
    decimals = {
        c: _column_decimal(frame[c], table.delimiter)
        for c in ("potential_value", "annual_revenue")
        if c in frame.columns
    }
    present = set(frame.columns)
    good: list[_Valid] = []
    seen_ids: dict[str, int] = {}
    columns = list(frame.columns)
    values = _Values()
    records = [
        dict(zip(columns, values, strict=True)) for values in frame.to_numpy(dtype=object).tolist()
    ]
    for rownum, cells in zip(table.row_numbers, records, strict=True):
        data: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for col, text in cells.items():
            try:
                data[col] = _parse_cell(col, text, decimals)
            except ValueError as exc:
                errors.append((col, str(exc)))
        row_kept: dict[str, str] = {}
        values.apply(data, row_kept)
        if data.get("name") is None:
            data["name"] = ""
        row: AccountRow | None = None
        try:
            bad = {f for f, _ in errors}
            if bad & {"lat", "lon"}:
                bad |= {"lat", "lon"}  # one bad coordinate is its own reason, not a pair error
            row = AccountRow.model_validate({k: v for k, v in data.items() if k not in bad})
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(x) for x in err["loc"]) or "row"
                if field == "row" and "lat/lon" in err["msg"]:
                    field = "lat/lon"
                errors.append((field, err["msg"].removeprefix("Value error, ")))
            ext_id = cells.get("external_id", "")
            old = stored(ext_id) if stored is not None and ext_id else None
            same = {f for f, _ in errors if old is not None and f in old and cells.get(f) == old[f]}
            if same and keep_stored is not None and len(same) == len(errors):
                errors = []
                keep_stored[rownum] = same
                row = AccountRow.model_validate({k: v for k, v in data.items() if k not in same})
        if errors or row is None:
            order = {c: i for i, c in enumerate(columns)}
            errors.sort(key=lambda e: order.get(e[0], len(order)))
            report.rejects.append(RejectedRow.of(rownum, errors, cells))
            continue
        ext = row.external_id or _auto_external_id(row)
        row.external_id = ext
        if ext in seen_ids:
            report.rejects.append(
                RejectedRow(
                    rownum,
                    "external_id",
                    f"{ext!r} repeats row {seen_ids[ext]} of this file",
                    cells,
                )
            )
            continue
        seen_ids[ext] = rownum
        if row_kept and kept is not None:
            kept[rownum] = row_kept
        good.append((rownum, row, present, cells))
    values.report(report)
    return good


class _Territories:
    """The stored territories, clipped to their regions, for the one rule of
    :mod:`gcrm.territory_rule`."""

    def __init__(self, session: Session) -> None:
        stmt = select(Territory.id, Territory.name, Territory.geom, Region.geom).outerjoin(
            Region, Region.id == Territory.region_id
        )
        rows = [(tid, name, clip_to_region(g, rg)) for tid, name, g, rg in session.execute(stmt)]
        self.ids = [int(r[0]) for r in rows]
        self.names = [str(r[1]) for r in rows]
        self.geoms = [r[2] for r in rows]

    def holders(self, values: list[dict[str, Any]]) -> list[int | None]:
        """The territory id holding each located row (``None`` when none does)."""
        if not self.ids or not values:
            return [None] * len(values)
        found = holding_territory(
            self.names, self.geoms, [v["lon"] for v in values], [v["lat"] for v in values]
        )
        return [self.ids[i] if i is not None else None for i in found]


def _assign_territories(session: Session, rows: list[dict[str, Any]]) -> None:
    """Give every row with coordinates the territory that holds it (one rule)."""
    located_rows = [v for v in rows if v.get("lat") is not None and v.get("lon") is not None]
    for v, tid in zip(located_rows, _Territories(session).holders(located_rows), strict=True):
        if tid is not None:
            v["territory_id"] = tid


def import_file(
    session: Session,
    actor: Actor,
    path: str | Path,
    *,
    mapping: dict[str, str | None] | None = None,
    dry_run: bool = False,
    geocoder: Geocoder | Literal["default"] | None = "default",
    progress: Callable[[float, str], None] | None = None,
) -> ImportReport:
    """Validate and upsert the accounts of a CSV/XLSX file.

    Everything happens in the caller's transaction: the caller commits (see
    :func:`run_import`), so a failure anywhere leaves nothing behind.

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

    Returns
    -------
    ImportReport
        Counts, rejected rows, likely duplicates.
    """
    require(actor, "import")
    p = Path(path)
    table = read_table(p, mapping)
    report = ImportReport(
        file=p.name, rows=len(table.frame) + len(table.malformed), dry_run=dry_run
    )
    for rownum, reason, cells in table.malformed:
        report.rejects.append(RejectedRow(rownum, "row", reason, cells))
    geo = Geo.of(geocoder)
    report.ignored_columns = table.ignored_headers
    report.column_mapping = dict(table.source_headers)
    report.skipped = list(table.skipped)
    report.warnings.extend(table.notes)
    if progress:
        progress(0.05, "validating rows")
    kept: dict[int, dict[str, str]] = {}
    keep_stored: dict[int, set[str]] = {}
    good = _validate(table, report, kept, _stored_lookup(session), keep_stored)
    checked, persons = _split_persons(good)
    owners = _Owners(session)

    ext_ids = [row.external_id for _, row, _, _ in checked]
    existing: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ext_ids), 900):
        chunk = ext_ids[i : i + 900]
        stmt = select(Account.__table__).where(Account.external_id.in_(chunk))
        for r in session.execute(stmt).mappings():
            existing[r["external_id"]] = dict(r)
    if progress:
        progress(0.3, "comparing with the store")

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    contact_rows: list[_ContactRow] = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    prepared: list[tuple[AccountRow, dict[str, Any], dict[str, Any] | None]] = []
    for rownum, row, present, _cells in checked:
        old = existing.get(row.external_id or "")
        values = _row_values(rownum, row, present, owners, kept.get(rownum), old)
        for f in keep_stored.get(rownum, ()):
            values.pop(f, None)  # invalid but already stored as it is: left alone
        if row.contact_name:
            separate = "contact_email" in present or "contact_phone" in present
            contact_rows.append(
                (
                    row.external_id or "",
                    row.contact_name,
                    row.contact_email if separate else row.email,
                    row.contact_phone if separate else row.phone,
                )
            )
        _locate(values, row, present, old, geo, report)
        prepared.append((row, values, old))
    _assign_territories(session, [v for _, v, _ in prepared if "lat" in v])
    # An actor who may not see personal values gets no answer that depends
    # on them: a personal field in the file always counts as a change.
    hidden = frozenset() if sees_personal_data(actor) else _HIDDEN_FIELDS
    for row, values, old in prepared:
        if old is None:
            values["external_id"] = row.external_id
            values.setdefault("geocode_precision", _NO_PRECISION)
            values.setdefault("visit_minutes", 30)
            values.setdefault("kind", row.kind)
            values.setdefault("stage", row.stage)
            values.setdefault("do_not_contact", False)
            values.setdefault("marketing_consent", False)
            values["manual_pin"] = False
            values["source"] = f"import:{p.name}"
            values["created_at"] = now
            values["updated_at"] = now
            inserts.append(values)
        else:
            changed = {
                k: v
                for k, v in values.items()
                if not k.startswith("_") and (k in hidden or old.get(k) != v)
            }
            if changed:
                changed["id"] = old["id"]
                changed["updated_at"] = now
                updates.append(changed)
            else:
                report.unchanged += 1
    contact_rows += _person_contacts(session, persons, checked, report)
    owners.report(report)
    _count_precisions(report, inserts, updates, existing)
    report.rejected = len(report.rejects)
    report.rejects.sort(key=lambda r: r.row)
    report.inserted = len(inserts)
    report.updated = len(updates)

    _flag_duplicates(session, report, inserts, updates, existing)
    assert (
        report.inserted + report.updated + report.unchanged + report.rejected + report.contacts
        == report.rows
    )

    details = {**report.summary(), "sha256": _sha256(p), "ignored_columns": table.ignored_headers}
    if dry_run:
        # the caller writes nothing and may roll back: this line stays anyway
        audit_apart(
            session, actor.username, "import_dry_run", p.name, json.dumps(details, default=str)
        )
        return report
    if progress:
        progress(0.5, "writing accounts")
    _write_accounts(session, inserts, updates, progress)
    _resolve_duplicate_links(session, report)
    _upsert_contacts(session, contact_rows)
    audit(session, actor, "import", p.name, details)
    session.flush()
    if progress:
        progress(1.0, "done")
    return report


def _write_accounts(
    session: Session,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    progress: Callable[[float, str], None] | None,
) -> None:
    """Insert and update accounts in chunks (one executemany per chunk)."""
    total = max(1, len(inserts) + len(updates))
    done = 0
    for i in range(0, len(inserts), _CHUNK):
        chunk = [_without_private(v) for v in inserts[i : i + _CHUNK]]
        # one executemany needs the same keys in every row: absent means NULL
        keys: set[str] = {"geom"}
        for v in chunk:
            keys.update(v)
        for v in chunk:
            v["geom"] = point_wkt(v.get("lat"), v.get("lon"))
            for k in keys - v.keys():
                v[k] = None
        session.execute(insert(_ACCOUNTS_TABLE), chunk)
        done += len(chunk)
        if progress:
            progress(0.5 + 0.4 * done / total, f"{done} of {total} accounts written")
    for i in range(0, len(updates), _CHUNK):
        changes = [_without_private(row) for row in updates[i : i + _CHUNK]]
        for row in changes:
            if "lat" in row:
                row["geom"] = point_wkt(row.get("lat"), row.get("lon"))
        session.execute(update(Account), changes)
        done += len(changes)
        if progress:
            progress(0.5 + 0.4 * done / total, f"{done} of {total} accounts written")


_ACCOUNTS_TABLE = cast("SATable", Account.__table__)
_PRIVATE_KEYS = ("_row", "_dup_key", "_duplicate_of_ext")


def _without_private(values: dict[str, Any]) -> dict[str, Any]:
    for key in _PRIVATE_KEYS:
        values.pop(key, None)
    return values


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dup_key(values: dict[str, Any]) -> str | None:
    keys = ("street", "housenumber", "postcode")
    addr = " ".join(normalise_text(values.get(k)) for k in keys if values.get(k))
    if addr.strip():
        return addr
    if values.get("lat") is not None and values.get("lon") is not None:
        return f"@{round(values['lat'], 4)},{round(values['lon'], 4)}"
    return None


#: Names per address compared fuzzily with a new row (the most recent ones):
#: bounds the work per row, so a file of 100,000 rows at one address imports
#: as fast as 100,000 addresses. Exact name matches are found among all.
_FUZZY_POOL = 64


class _AddressNames:
    """The account names seen at one address: exact lookup plus a bounded fuzzy pool."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.recent: deque[tuple[str, str]] = deque(maxlen=_FUZZY_POOL)

    def add(self, ext: str, name: str) -> None:
        self.exact.setdefault(name, ext)
        self.recent.append((ext, name))

    def match(self, ext: str, name: str) -> str | None:
        """The external id of a likely duplicate of ``name`` (token sort ratio >= 90)."""
        other = self.exact.get(name)
        if other is not None and other != ext:
            return other
        pool = [(e, n) for e, n in self.recent if e != ext]
        found = process.extractOne(
            name, [n for _, n in pool], scorer=fuzz.token_sort_ratio, score_cutoff=90
        )
        return pool[found[2]][0] if found is not None else None


def _flag_duplicates(
    session: Session,
    report: ImportReport,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    existing: dict[str, dict[str, Any]],
) -> None:
    """Flag new rows whose normalised name and address match another account.

    Linear in the rows, however many share an address (see
    :class:`_AddressNames`).
    """
    candidates: dict[str, _AddressNames] = {}
    # Existing accounts at the same addresses (one query over the keys' streets).
    keys_needed: set[str] = set()
    for v in inserts:
        k = _dup_key(v)
        if k:
            v["_dup_key"] = k
            keys_needed.add(k)
    if not keys_needed:
        return
    streets = {normalise_text(v.get("street")) for v in inserts if v.get("street")}
    stmt = select(
        Account.external_id,
        Account.name,
        Account.street,
        Account.housenumber,
        Account.postcode,
        Account.lat,
        Account.lon,
    )
    if len(streets) < 500:
        stmt = stmt.where(Account.street.is_not(None))
    for r in session.execute(stmt).mappings():
        k = _dup_key(dict(r))
        if k in keys_needed:
            if k not in candidates:
                candidates[k] = _AddressNames()
            candidates[k].add(r["external_id"], normalise_text(r["name"]))
    for v in inserts:
        k = v.get("_dup_key")
        if not k:
            continue
        name = normalise_text(v["name"])
        if k not in candidates:
            candidates[k] = _AddressNames()
        other_ext = candidates[k].match(v["external_id"], name)
        if other_ext is not None:
            v["_duplicate_of_ext"] = other_ext
            report.duplicates += 1
            report.duplicate_pairs.append((v["_row"], v["external_id"], other_ext))
        candidates[k].add(v["external_id"], name)


def _resolve_duplicate_links(session: Session, report: ImportReport) -> None:
    if not report.duplicate_pairs:
        return
    exts = {e for _, a, b in report.duplicate_pairs for e in (a, b)}
    ids = dict(
        session.execute(
            select(Account.external_id, Account.id).where(Account.external_id.in_(exts))
        ).all()
    )
    session.execute(
        update(Account),
        [{"id": ids[a], "duplicate_of_id": ids[b]} for _, a, b in report.duplicate_pairs],
    )


def _upsert_contacts(session: Session, rows: list[_ContactRow]) -> None:
    if not rows:
        return
    exts = list(dict.fromkeys(e for e, *_ in rows))
    ids: dict[str, int] = {}
    for i in range(0, len(exts), 900):
        ids.update(
            session.execute(
                select(Account.external_id, Account.id).where(
                    Account.external_id.in_(exts[i : i + 900])
                )
            ).all()
        )
    existing = {
        (c.account_id, c.name): c
        for c in session.scalars(select(Contact).where(Contact.account_id.in_(list(ids.values()))))
    }
    for ext, name, email, phone in rows:
        aid = ids[ext]
        contact = existing.get((aid, name))
        if contact is None:
            contact = Contact(account_id=aid, name=name, email=email, phone=phone)
            session.add(contact)
            existing[(aid, name)] = contact
        else:
            if email is not None and contact.email != email:
                contact.email = email
            if phone is not None and contact.phone != phone:
                contact.phone = phone


# ------------------------------------------------------- rows → account values

#: A contact to file under an account: (external_id, name, email, phone).
_ContactRow = tuple[str, str, str | None, str | None]


def _stored_lookup(session: Session) -> Callable[[str], dict[str, str] | None]:
    """The stored account of an external id as text (asked only for rows with errors)."""
    memo: dict[str, dict[str, str] | None] = {}
    known: set[str] = set()

    def lookup(ext: str) -> dict[str, str] | None:
        if not known:  # one query for the ids the store holds, on the first error only
            known.update(session.scalars(select(Account.external_id)))
            known.add("")
        if ext not in known:
            return None
        if ext not in memo:
            stmt = select(Account.__table__).where(Account.external_id == ext)
            r = session.execute(stmt).mappings().first()
            memo[ext] = {k: ("" if v is None else str(v)) for k, v in r.items()} if r else None
        return memo[ext]

    return lookup


def _row_values(
    rownum: int,
    row: AccountRow,
    present: set[str],
    owners: _Owners,
    kept: dict[str, str] | None,
    old: dict[str, Any] | None,
) -> dict[str, Any]:
    """The account values a valid row sets (address and location come later)."""
    values: dict[str, Any] = {"_row": rownum}
    for f in _ACCOUNT_FIELDS:
        if f in present:
            if kept and f in kept:
                continue  # an unknown kind/stage does not overwrite the stored one
            v = getattr(row, f)
            if f in ("do_not_contact", "marketing_consent") and v is None:
                v = False
            if f == "visit_minutes" and v is None:
                v = 30
            values[f] = v
    if kept:
        merged = {**json.loads(old["import_values"] or "{}"), **kept} if old else kept
        values["import_values"] = json.dumps(merged, ensure_ascii=False, sort_keys=True)
    if "owner" in present:
        uid = owners.match(row.owner) if row.owner else None
        if uid is not None or not row.owner or old is None:
            values["owner_id"] = uid  # an unknown owner never unassigns a stored account
    separate = "contact_email" in present or "contact_phone" in present
    if separate or not row.contact_name:
        if "email" in present:
            values["email"] = row.email
        if "phone" in present:
            values["phone"] = row.phone
    return values


def _locate(
    values: dict[str, Any],
    row: AccountRow,
    present: set[str],
    old: dict[str, Any] | None,
    geo: Geo | None,
    report: ImportReport,
) -> None:
    cells = {k: getattr(row, k) for k in _LOCATION_CELLS if k in present}
    if locate(values, cells, old, geo) and values.get("lat") is not None:
        report.geocoded += 1


_LOCATION_CELLS = (
    "street", "housenumber", "postcode", "city", "country", "full_address", "address_extra",
    "lat", "lon",
)  # fmt: skip


class _Owners:
    """Match an owner cell to a user by username, e-mail or full name."""

    def __init__(self, session: Session) -> None:
        self._exact: dict[str, int] = {}
        self._loose: dict[str, int | None] = {}
        for uid, username, display, email in session.execute(
            select(User.id, User.username, User.display_name, User.email)
        ):
            self._exact[username] = uid
            for key in (username.casefold(), (email or "").casefold(), normalise_text(display)):
                if key:
                    # a name two users share matches neither
                    self._loose[key] = uid if self._loose.get(key, uid) == uid else None
        self.unknown: dict[str, int] = {}

    def match(self, text: str) -> int | None:
        """Return the user id an owner cell names, or ``None`` (counted as unknown)."""
        uid = self._exact.get(text)
        if uid is None:
            uid = self._loose.get(text.casefold()) or self._loose.get(normalise_text(text))
        if uid is None:
            self.unknown[text] = self.unknown.get(text, 0) + 1
        return uid

    def report(self, report: ImportReport) -> None:
        """List the unknown owners (with row counts) in a report."""
        report.unknown_owners = dict(sorted(self.unknown.items(), key=lambda kv: -kv[1]))
        for name, count in report.unknown_owners.items():
            report.warnings.append(
                f"owner {name!r} ({count} row(s)) matches no user by username, e-mail or "
                "full name: those accounts are left unassigned"
            )


def _split_persons(good: list[_Valid]) -> tuple[list[_Valid], list[_Valid]]:
    """Odoo exports contact persons as rows with ``Is a Company`` false."""
    companies: list[_Valid] = []
    persons: list[_Valid] = []
    for item in good:
        row, present = item[1], item[2]
        is_person = (
            "is_company" in present
            and bool(row.is_company)
            and not crm_layouts.is_true(row.is_company or "")
        )
        (persons if is_person else companies).append(item)
    return companies, persons


def _person_contacts(
    session: Session, persons: list[_Valid], companies: list[_Valid], report: ImportReport
) -> list[_ContactRow]:
    """File contact-person rows under their company (this file's or the store's)."""
    if not persons:
        return []
    by_name = {normalise_text(row.name): row.external_id or "" for _, row, _, _ in companies}
    out: list[_ContactRow] = []
    for rownum, row, _present, cells in persons:
        company, person = row.parent_name, row.name
        if company and person.startswith(f"{company}, "):
            person = person[len(company) + 2 :]
        elif not company and ", " in person:
            company, person = person.split(", ", 1)  # Odoo's "Company, Person"
        ext = by_name.get(normalise_text(company)) if company else None
        if ext is None and company:
            ext = session.scalar(
                select(Account.external_id).where(Account.name == company).limit(1)
            )
        if ext is None:
            reason = (
                f"a contact person (Is a Company is {row.is_company!r}) of company {company!r}, "
                "which is neither in this file nor in gcrm"
                if company
                else "a contact person (Is a Company is false) without a company"
            )
            report.rejects.append(RejectedRow(rownum, "parent_name", reason, cells))
            continue
        out.append((ext, person, row.email, row.phone))
        report.contacts += 1
    return out


def _count_precisions(
    report: ImportReport,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    existing: dict[str, dict[str, Any]],
) -> None:
    """Count the rows per location precision they end (or would end) up with."""
    counts: dict[str, int] = {}
    by_id = {v["id"]: v for v in existing.values()}
    for v in inserts:
        key = v.get("geocode_precision") or _NO_PRECISION
        counts[key] = counts.get(key, 0) + 1
    for v in updates:
        key = v.get("geocode_precision") or by_id[v["id"]]["geocode_precision"]
        counts[key] = counts.get(key, 0) + 1
    report.precisions = dict(sorted(counts.items()))
