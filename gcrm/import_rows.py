"""Parse and validate the rows of an import file.

Each cell is parsed by its column (numbers with either decimal separator,
day-first dates, coordinates, yes/no) and each row validated with pydantic
(:class:`AccountRow`); a rejected row lists all of its problems. Account types
and stages of other CRMs are mapped onto ours (:mod:`gcrm.crm_layouts`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import String

from gcrm import crm_layouts
from gcrm.db.models import STAGES, Account, AccountKind, Contact, User
from gcrm.import_read import Chunk, normalise_text
from gcrm.import_report import ImportReport, RejectedRow

_TRUE = {"1", "true", "yes", "y", "x", "kylla", "ja", "t", "on"}
_FALSE = {"0", "false", "no", "n", "ei", "nej", "f", "off", ""}
_SIMPLE_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_COORDINATE = re.compile(r"[+-]?\d{1,3}([.,]\d+)?")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_THOUSANDS_POINT = re.compile(r"-?\d{1,3}\.\d{3}")
_NON_DIGITS = re.compile(r"\D")
_PHONE = re.compile(r"^\+?[0-9 ()\-./]{5,25}$")
_KINDS = frozenset(k.value for k in AccountKind)
_KIND_SYNONYMS = {"client": "customer", "customers": "customer", "prospects": "prospect"}
_DECIMAL_COMMA = re.compile(r"\d,\d{1,2}$|\d,\d{4,}$|\.\d{3},")
_DECIMAL_POINT = re.compile(r"\d\.\d{1,2}$|\d\.\d{4,}$|,\d{3}\.")
#: Columns whose decimal separator is guessed from the whole file.
DECIMAL_COLUMNS = ("potential_value", "annual_revenue")


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
    """Parse a coordinate: it has no thousands separator, its one ``,`` or ``.`` is decimal."""
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
    out = {
        c.name: int(c.type.length)
        for c in Account.__table__.columns
        if isinstance(c.type, String) and c.type.length
    }
    out["contact_name"] = int(Contact.__table__.c.name.type.length)  # type: ignore[attr-defined]
    out["owner"] = int(User.__table__.c.username.type.length)  # type: ignore[attr-defined]
    return out


_MAX_LENGTH = _max_lengths()


def column_decimals(
    records: Iterable[list[str]], columns: list[str], delimiter: str | None
) -> dict[str, str]:
    """Guess each column's decimal separator from its unambiguous values.

    Parameters
    ----------
    records
        The cells of ``columns`` of every row of the file (read as a stream).
    columns
        The columns.
    delimiter
        The file's delimiter (``;`` files default to a decimal comma).

    Returns
    -------
    dict
        Column → ``","`` or ``"."``.
    """
    comma = [0] * len(columns)
    point = [0] * len(columns)
    for cells in records:
        for k, v in enumerate(cells):
            if v:
                comma[k] += 1 if _DECIMAL_COMMA.search(v) else 0
                point[k] += 1 if _DECIMAL_POINT.search(v) else 0
    tie = "," if delimiter == ";" else "."
    return {
        c: "," if comma[k] > point[k] else "." if point[k] > comma[k] else tie
        for k, c in enumerate(columns)
    }


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


def _auto_external_id(row: AccountRow) -> str:
    key = "|".join(
        normalise_text(x) for x in (row.name, row.street, row.housenumber, row.postcode, row.city)
    )
    return "auto-" + hashlib.sha1(key.encode()).hexdigest()[:16]


#: A validated row: (file row, the row, the file's columns, its cells).
Valid = tuple[int, AccountRow, set[str], dict[str, str]]


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


@dataclasses.dataclass
class Validation:
    """What validating a file's rows keeps across its chunks.

    Attributes
    ----------
    decimals
        Column → decimal separator (guessed from the whole file).
    delimiter
        The file's delimiter.
    stored
        The stored account of an external id as text (asked only for rows
        with errors), or ``None``.
    seen_ids
        External id → the file row that gave it (a later row repeating it is
        rejected).
    values
        The kind/stage mappings made.
    kept
        Row → field → text gcrm could not map (kept as given).
    keep_stored
        Row → fields that are invalid but equal the stored value (left as they are).
    """

    decimals: dict[str, str]
    stored: Callable[[str], dict[str, str] | None] | None = None
    seen_ids: dict[str, int] = dataclasses.field(default_factory=dict)
    values: _Values = dataclasses.field(default_factory=_Values)
    kept: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)
    keep_stored: dict[int, set[str]] = dataclasses.field(default_factory=dict)


def validate(
    chunk: Chunk, columns: list[str], report: ImportReport, state: Validation
) -> list[Valid]:
    """Parse and validate a chunk's rows; a rejected row lists all of its problems.

    Values gcrm cannot map (an unknown account type) are put in
    ``state.kept`` instead of rejecting the row. A cell that fails validation
    but equals what the store already holds for that ``external_id``
    (``state.stored``) is no reason to reject: the field is left as it is
    (``state.keep_stored``), so our own export re-imports.

    Parameters
    ----------
    chunk
        Rows of the file.
    columns
        The canonical column of each cell.
    report
        Rejected rows are added here.
    state
        What is kept across the file's chunks.

    Returns
    -------
    list of Valid
        The valid rows, in file order.
    """
    present = set(columns)
    good: list[Valid] = []
    for rownum, record in zip(chunk.row_numbers, chunk.records, strict=True):
        cells = dict(zip(columns, record, strict=True))
        row = _validate_row(rownum, cells, columns, report, state)
        if row is None:
            continue
        ext = row.external_id or _auto_external_id(row)
        row.external_id = ext
        if ext in state.seen_ids:
            report.rejects.append(
                RejectedRow(
                    rownum,
                    "external_id",
                    f"{ext!r} repeats row {state.seen_ids[ext]} of this file",
                    cells,
                )
            )
            state.kept.pop(rownum, None)
            continue
        state.seen_ids[ext] = rownum
        good.append((rownum, row, present, cells))
    return good


def _validate_row(
    rownum: int, cells: dict[str, str], columns: list[str], report: ImportReport, state: Validation
) -> AccountRow | None:
    """One row validated, or ``None`` (then its rejection is in ``report``)."""
    data: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for col, text in cells.items():
        try:
            data[col] = _parse_cell(col, text, state.decimals)
        except ValueError as exc:
            errors.append((col, str(exc)))
    row_kept: dict[str, str] = {}
    state.values.apply(data, row_kept)
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
        old = state.stored(ext_id) if state.stored is not None and ext_id else None
        same = {f for f, _ in errors if old is not None and f in old and cells.get(f) == old[f]}
        if same and len(same) == len(errors):
            errors = []
            state.keep_stored[rownum] = same
            row = AccountRow.model_validate({k: v for k, v in data.items() if k not in same})
    if errors or row is None:
        order = {c: i for i, c in enumerate(columns)}
        errors.sort(key=lambda e: order.get(e[0], len(order)))
        report.rejects.append(RejectedRow.of(rownum, errors, cells))
        return None
    if row_kept:
        state.kept[rownum] = row_kept
    return row
