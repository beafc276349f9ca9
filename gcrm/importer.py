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
)

#: Columns a file must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("name",)

#: Accepted header spellings (compared after lower-casing, stripping accents
#: and turning spaces, dashes and dots into underscores).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "account_id", "customer_id", "customer_number", "ext_id", "crm_id"),
    "name": ("account_name", "company", "company_name", "business", "business_name", "nimi"),
    "kind": ("type", "account_type", "status_type"),
    "stage": ("pipeline_stage", "status", "pipeline"),
    "segment": ("category", "industry", "sector"),
    "street": ("street_name", "address", "address_line_1", "katu", "katuosoite", "addr_street"),
    "housenumber": ("house_number", "number", "street_number", "no", "nr", "addr_housenumber"),
    "postcode": ("zip", "zipcode", "zip_code", "postal_code", "post_code", "postinumero"),
    "city": ("town", "municipality", "locality", "kaupunki", "postitoimipaikka"),
    "country": ("country_code", "maa"),
    "lat": ("latitude", "y"),
    "lon": ("lng", "long", "longitude", "x"),
    "contact_name": ("contact", "contact_person", "person", "yhteyshenkilo"),
    "email": ("e_mail", "email_address", "mail", "sahkoposti"),
    "phone": ("telephone", "phone_number", "tel", "mobile", "puhelin"),
    "potential_value": ("potential", "value", "deal_value", "opportunity_value"),
    "annual_revenue": ("revenue", "turnover", "liikevaihto"),
    "opening_hours": ("hours", "opening_times", "aukioloajat"),
    "visit_minutes": ("visit_duration", "visit_duration_min", "duration", "service_minutes"),
    "visit_every_days": ("visit_frequency", "visit_frequency_days", "frequency_days"),
    "owner": ("rep", "account_owner", "sales_rep", "owner_username"),
    "do_not_contact": ("dnc", "donotcontact", "no_contact", "opt_out"),
    "marketing_consent": ("consent", "marketing_opt_in", "opt_in"),
    "last_visit": ("last_visited", "last_visit_date", "last_contact"),
}

_TRUE = {"1", "true", "yes", "y", "x", "kylla", "ja", "t", "on"}
_FALSE = {"0", "false", "no", "n", "ei", "nej", "f", "off", ""}
_SIMPLE_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_HEADER_SEPARATORS = re.compile(r"[\s\-./:]+")
_HEADER_JUNK = re.compile(r"[^a-z0-9_]")
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


def _norm_header(text: str) -> str:
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    t = _HEADER_SEPARATORS.sub("_", t.strip().lower())
    return _HEADER_JUNK.sub("", t).strip("_")


_HEADER_LOOKUP: dict[str, str] = {}
for _canon, _syns in HEADER_SYNONYMS.items():
    _HEADER_LOOKUP[_canon] = _canon
    for _s in _syns:
        _HEADER_LOOKUP[_norm_header(_s)] = _canon
for _canon in CANONICAL_COLUMNS:
    _HEADER_LOOKUP.setdefault(_canon, _canon)


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


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            msg = (
                f"{path.name}: the file starts with a UTF-8 marker but is not valid UTF-8 "
                f"(byte {exc.start})"
            )
            raise InputError(msg) from exc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        msg = f"{path.name}: cannot decode the file as utf-8 or cp1252 (byte {exc.start})"
        raise InputError(msg) from exc


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
    rows = [(i, cells) for i, cells in rows if any(c.strip() for c in cells)]
    if not rows:
        msg = f"{p.name}: the file is empty"
        raise InputError(msg)
    header_row, header = rows[0]
    while header and not header[-1].strip():
        header.pop()
    return header, [(i, cells) for i, cells in rows[1:] if i > header_row]


def _read_csv(p: Path) -> tuple[list[str], list[tuple[int, list[str]]], str, str]:
    raw = p.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        msg = f"{p.name}: this is not a text file (it holds NUL bytes)"
        raise InputError(msg)
    text, encoding = _decode(raw, p)
    if not text.strip():
        msg = f"{p.name}: the file is empty"
        raise InputError(msg)
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        msg = f"{p.name}: cannot parse the file as CSV near line {reader.line_num}: {exc}"
        raise InputError(msg) from exc
    if not rows:
        msg = f"{p.name}: the file is empty"
        raise InputError(msg)
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
    if p.suffix.lower() in (".xlsx", ".xlsm"):
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
    records: list[list[str]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, str, dict[str, str]]] = []
    for rownum, cells in rows:
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
    return _Raw(header, records, numbers, malformed, encoding, delimiter)


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
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for header in raw.header:
        target = _HEADER_LOOKUP.get(_norm_header(str(header)))
        if target in taken:
            target = None
        if target:
            taken.add(target)
        out[str(header)] = target
    return out


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
    user_map = {_norm_header(k): v for k, v in (mapping or {}).items()}
    source_headers: dict[str, str] = {}
    ignored: list[str] = []
    keep_columns: list[tuple[int, str]] = []
    for j, header in enumerate(raw.header):
        key = _norm_header(header)
        target = user_map[key] if key in user_map else _HEADER_LOOKUP.get(key)
        if not target:
            ignored.append(header)
            continue
        if target in source_headers:
            msg = (
                f"{p.name}: columns {source_headers[target]!r} and {header!r} "
                f"both map to {target!r}"
            )
            raise InputError(msg)
        source_headers[target] = header
        keep_columns.append((j, target))
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

    @field_validator("email")
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

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if not v:
            return None
        if not _PHONE.fullmatch(v) or len(_NON_DIGITS.sub("", v)) < 5:
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


@dataclasses.dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do).

    ``inserted + updated + unchanged + rejected == rows`` always holds.
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

    def summary(self) -> dict[str, int]:
        """Return the counts of the one-line JSON summary."""
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
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


def _validate(table: Table, report: ImportReport) -> list[_Valid]:
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
    records = [
        dict(zip(columns, values, strict=True)) for values in frame.to_numpy(dtype=object).tolist()
    ]
    for rownum, cells in zip(table.row_numbers, records, strict=True):
        data: dict[str, Any] = {}
        error: tuple[str, str] | None = None
        for col, text in cells.items():
            try:
                if col in decimals:
                    data[col] = parse_number(text, decimals[col])
                elif col in ("lat", "lon"):
                    data[col] = _parse_coordinate(text)
                elif col in ("visit_minutes", "visit_every_days"):
                    num = parse_number(text)
                    if num is not None and num != int(num):
                        msg = f"{text!r} is not a whole number"
                        raise ValueError(msg)
                    data[col] = None if num is None else int(num)
                elif col in ("do_not_contact", "marketing_consent"):
                    data[col] = _parse_bool(text)
                elif col == "last_visit":
                    data[col] = parse_date(text)
                else:
                    data[col] = text or None
            except ValueError as exc:
                error = (col, str(exc))
                break
        if error is None:
            if data.get("name") is None:
                data["name"] = ""
            for col in ("kind", "stage"):
                if data.get(col) is None:
                    data.pop(col, None)
            try:
                row = AccountRow.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(x) for x in first["loc"]) or "row"
                if field == "row" and "lat/lon" in first["msg"]:
                    field = "lat/lon"
                reason = first["msg"].removeprefix("Value error, ")
                error = (field, reason)
        if error is not None:
            report.rejects.append(RejectedRow(rownum, error[0], error[1], cells))
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
        good.append((rownum, row, present, cells))
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
    if geocoder == "default":
        geocoder = _default_geocoder()
    report.ignored_columns = table.ignored_headers
    if progress:
        progress(0.05, "validating rows")
    good = _validate(table, report)

    users = dict(session.execute(select(User.username, User.id)).all())
    checked: list[_Valid] = []
    for rownum, row, present, cells in good:
        if row.owner and row.owner not in users:
            reason = f"unknown user {row.owner!r}"
            report.rejects.append(RejectedRow(rownum, "owner", reason, cells))
            continue
        checked.append((rownum, row, present, cells))
    report.rejected = len(report.rejects)
    report.rejects.sort(key=lambda r: r.row)

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
    contact_rows: list[tuple[str, AccountRow]] = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    prepared: list[tuple[AccountRow, dict[str, Any], dict[str, Any] | None]] = []
    for rownum, row, present, _cells in checked:
        values: dict[str, Any] = {"_row": rownum}
        for f in _ACCOUNT_FIELDS:
            if f in present:
                v = getattr(row, f)
                if f in ("do_not_contact", "marketing_consent") and v is None:
                    v = False
                if f == "visit_minutes" and v is None:
                    v = 30
                values[f] = v
        if "owner" in present:
            values["owner_id"] = users.get(row.owner) if row.owner else None
        if row.contact_name:
            contact_rows.append((row.external_id or "", row))
        else:
            if "email" in present:
                values["email"] = row.email
            if "phone" in present:
                values["phone"] = row.phone
        old = existing.get(row.external_id or "")
        manual = bool(old and old["manual_pin"])
        if not manual:
            if row.lat is not None and row.lon is not None:
                values.update(
                    lat=row.lat,
                    lon=row.lon,
                    geocode_precision=_PROVIDED,
                    geocode_score=1.0,
                    geocode_source="file",
                )
            elif (
                geocoder is not None
                and (row.street or row.postcode or row.city)
                and (old is None or old["lat"] is None or _address_changed(old, values))
            ):
                found = geocoder(row.street, row.housenumber, row.postcode, row.city)
                if found is not None:
                    lat, lon, precision, score = found
                    values.update(
                        lat=lat,
                        lon=lon,
                        geocode_precision=precision,
                        geocode_score=score,
                        geocode_source="osm",
                    )
                    report.geocoded += 1
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
    report.inserted = len(inserts)
    report.updated = len(updates)

    _flag_duplicates(session, report, inserts, updates, existing)
    assert report.inserted + report.updated + report.unchanged + report.rejected == report.rows

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


def _default_geocoder() -> Geocoder:
    """The region's offline geocoder, loaded on first use (finds nothing when the
    region's OSM file is unusable)."""
    from gcrm._errors import OSMFileError
    from gcrm.geocode import default_index

    state: dict[str, Any] = {}

    def lookup(
        street: str | None, housenumber: str | None, postcode: str | None, city: str | None
    ) -> tuple[float, float, str, float] | None:
        if "lookup" not in state:
            try:
                state["lookup"] = default_index().lookup
            except (OSMFileError, ImportError):
                state["lookup"] = None
        fn = state["lookup"]
        return fn(street, housenumber, postcode, city) if fn is not None else None

    return lookup


_ACCOUNTS_TABLE = cast("SATable", Account.__table__)
_PRIVATE_KEYS = ("_row", "_dup_key", "_duplicate_of_ext")


def _without_private(values: dict[str, Any]) -> dict[str, Any]:
    for key in _PRIVATE_KEYS:
        values.pop(key, None)
    return values


def _address_changed(old: dict[str, Any], values: dict[str, Any]) -> bool:
    keys = ("street", "housenumber", "postcode", "city")
    return any(k in values and old.get(k) != values[k] for k in keys)


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


def _upsert_contacts(session: Session, rows: list[tuple[str, AccountRow]]) -> None:
    if not rows:
        return
    exts = [e for e, _ in rows]
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
    for ext, row in rows:
        aid = ids[ext]
        contact = existing.get((aid, row.contact_name or ""))
        if contact is None:
            session.add(
                Contact(account_id=aid, name=row.contact_name, email=row.email, phone=row.phone)
            )
        else:
            if row.email is not None and contact.email != row.email:
                contact.email = row.email
            if row.phone is not None and contact.phone != row.phone:
                contact.phone = row.phone
