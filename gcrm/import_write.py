"""Turn an import's valid rows into account inserts and updates.

Per chunk of rows: the values each row sets (owner matched to a user, unknown
values kept, the address located), the territory holding each located row (the
one rule of :mod:`gcrm.territory_rule`), inserts versus updates against the
stored accounts, likely duplicates (by normalised name at the same address) and
contact persons. All reads and writes go through :mod:`gcrm.store`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import deque
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session

from gcrm import crm_layouts, store
from gcrm.db.models import Precision
from gcrm.import_geo import Geo, locate
from gcrm.import_read import normalise_text
from gcrm.import_report import ImportReport, RejectedRow
from gcrm.import_rows import AccountRow, Valid
from gcrm.territory_rule import holding_territory

_NO_PRECISION = Precision.NONE.value

#: Account fields an actor without personal-data rights cannot see (the dry
#: run's oracle, issue 13: they always count as changed for such an actor).
HIDDEN_FIELDS: frozenset[str] = frozenset({"phone", "email", "notes"})

#: Account fields an import row may set (same names as the row's fields).
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

#: A contact to file under an account: (external_id, name, email, phone).
ContactRow = tuple[str, str, str | None, str | None]


class Territories:
    """The stored territories, clipped to their regions.

    For the one rule of :mod:`gcrm.territory_rule`.

    Parameters
    ----------
    session
        An open session.
    """

    def __init__(self, session: Session) -> None:
        rows = store.import_territories(session)
        self.ids = [r[0] for r in rows]
        self.names = [r[1] for r in rows]
        self.geoms = [r[2] for r in rows]

    def assign(self, rows: list[dict[str, Any]]) -> None:
        """Give every row with coordinates the territory that holds it.

        Parameters
        ----------
        rows
            Account values; ``territory_id`` is set where a territory holds the point.
        """
        located = [v for v in rows if v.get("lat") is not None and v.get("lon") is not None]
        if not self.ids or not located:
            return
        found = holding_territory(
            self.names, self.geoms, [v["lon"] for v in located], [v["lat"] for v in located]
        )
        for v, i in zip(located, found, strict=True):
            if i is not None:
                v["territory_id"] = self.ids[i]


class Owners:
    """Match an owner cell to a user by username, e-mail or full name."""

    def __init__(self, session: Session) -> None:
        self._exact: dict[str, int] = {}
        self._loose: dict[str, int | None] = {}
        for uid, username, display, email in store.import_user_names(session):
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


def row_values(
    rownum: int,
    row: AccountRow,
    present: set[str],
    owners: Owners,
    kept: dict[str, str] | None,
    old: dict[str, Any] | None,
) -> dict[str, Any]:
    """Return the account values a valid row sets (address and location come later).

    Parameters
    ----------
    rownum
        The file row.
    row
        The validated row.
    present
        The file's columns (a column the file lacks changes nothing).
    owners
        Matches the owner cell to a user.
    kept
        Fields whose text gcrm could not map (left as stored).
    old
        The stored account, or ``None`` for a new one.

    Returns
    -------
    dict
        Column → value, plus ``_row`` (the file row).
    """
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


def locate_row(
    values: dict[str, Any],
    row: AccountRow,
    present: set[str],
    old: dict[str, Any] | None,
    geo: Geo | None,
    report: ImportReport,
) -> None:
    """Set a row's location (given, kept or geocoded) and count geocoded rows.

    Parameters
    ----------
    values
        The row's account values (changed in place).
    row
        The validated row.
    present
        The file's columns.
    old
        The stored account, or ``None``.
    geo
        The geocoder, or ``None``.
    report
        Counts geocoded rows.
    """
    cells = {k: getattr(row, k) for k in _LOCATION_CELLS if k in present}
    if locate(values, cells, old, geo) and values.get("lat") is not None:
        report.geocoded += 1


_LOCATION_CELLS = (
    "street", "housenumber", "postcode", "city", "country", "full_address", "address_extra",
    "lat", "lon",
)  # fmt: skip


def split_persons(good: list[Valid]) -> tuple[list[Valid], list[Valid]]:
    """Split off contact persons: Odoo exports them as rows with ``Is a Company`` false.

    Parameters
    ----------
    good
        Valid rows.

    Returns
    -------
    tuple of list
        (companies, persons).
    """
    companies: list[Valid] = []
    persons: list[Valid] = []
    for item in good:
        row, present = item[1], item[2]
        is_person = (
            "is_company" in present
            and bool(row.is_company)
            and not crm_layouts.is_true(row.is_company or "")
        )
        (persons if is_person else companies).append(item)
    return companies, persons


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
FUZZY_POOL = 64


class _AddressNames:
    """The account names seen at one address: exact lookup plus a bounded fuzzy pool."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.recent: deque[tuple[str, str]] = deque(maxlen=FUZZY_POOL)

    def add(self, ext: str, name: str) -> None:
        self.exact.setdefault(name, ext)
        self.recent.append((ext, name))

    def match(self, ext: str, name: str) -> str | None:
        """Return the external id of a likely duplicate of ``name`` (token sort ratio >= 90)."""
        other = self.exact.get(name)
        if other is not None and other != ext:
            return other
        pool = [(e, n) for e, n in self.recent if e != ext]
        found = process.extractOne(
            name, [n for _, n in pool], scorer=fuzz.token_sort_ratio, score_cutoff=90
        )
        return pool[found[2]][0] if found is not None else None


class Duplicates:
    """Flags new rows whose normalised name and address match another account.

    Linear in the rows, however many share an address (see
    :class:`_AddressNames`); the stored accounts are read once, at the first
    chunk that needs them (before this import wrote any of its rows at an
    address), and the file's own rows are remembered across its chunks.

    Parameters
    ----------
    session
        An open session.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._candidates: dict[str, _AddressNames] | None = None

    def _load(self) -> dict[str, _AddressNames]:
        candidates: dict[str, _AddressNames] = {}
        for r in store.import_address_rows(self._session):
            k = _dup_key(r)
            if k:
                if k not in candidates:
                    candidates[k] = _AddressNames()
                candidates[k].add(r["external_id"], normalise_text(r["name"]))
        return candidates

    def flag(self, report: ImportReport, inserts: list[dict[str, Any]]) -> None:
        """Flag a chunk's new rows (``_duplicate_of_ext``) and list them in the report.

        Parameters
        ----------
        report
            Counts and lists the likely duplicates.
        inserts
            The chunk's new accounts, in file order.
        """
        keyed = [(v, k) for v in inserts if (k := _dup_key(v))]
        if not keyed:
            return
        if self._candidates is None:
            self._candidates = self._load()
        candidates = self._candidates
        for v, k in keyed:
            name = normalise_text(v["name"])
            if k not in candidates:
                candidates[k] = _AddressNames()
            other_ext = candidates[k].match(v["external_id"], name)
            if other_ext is not None:
                report.duplicates += 1
                report.duplicate_pairs.append((v["_row"], v["external_id"], other_ext))
            candidates[k].add(v["external_id"], name)


def person_contacts(
    session: Session, persons: list[Valid], companies: dict[str, str], report: ImportReport
) -> list[ContactRow]:
    """File contact-person rows under their company (this file's or the store's).

    Parameters
    ----------
    session
        An open session.
    persons
        The file's contact-person rows.
    companies
        The file's companies: normalised name → external id.
    report
        Counts the contacts; rejects persons of an unknown company.

    Returns
    -------
    list of ContactRow
        The contacts to file.
    """
    out: list[ContactRow] = []
    for rownum, row, _present, cells in persons:
        company, person = row.parent_name, row.name
        if company and person.startswith(f"{company}, "):
            person = person[len(company) + 2 :]
        elif not company and ", " in person:
            company, person = person.split(", ", 1)  # Odoo's "Company, Person"
        ext = companies.get(normalise_text(company)) if company else None
        if ext is None and company:
            ext = store.import_company_external_id(session, company)
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


@dataclasses.dataclass
class Changes:
    """A chunk's accounts to insert and update, and its contacts to file."""

    inserts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    updates: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    contacts: list[ContactRow] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Preparer:
    """Turns a chunk's valid rows into :class:`Changes` (the same for a dry run).

    Attributes
    ----------
    session
        An open session.
    source
        The ``source`` of new accounts (``import:<file>``).
    hidden
        Fields that always count as changed (personal values the actor may
        not see: the dry run gives no answer that depends on them).
    geo
        The geocoder, or ``None``.
    kept, keep_stored
        See :class:`gcrm.import_rows.Validation`.
    """

    session: Session
    source: str
    hidden: frozenset[str]
    geo: Geo | None
    kept: dict[int, dict[str, str]]
    keep_stored: dict[int, set[str]]
    owners: Owners = dataclasses.field(init=False)
    territories: Territories = dataclasses.field(init=False)
    precisions: dict[str, int] = dataclasses.field(default_factory=dict)
    now: dt.datetime = dataclasses.field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None)
    )

    def __post_init__(self) -> None:
        """Read the users and territories once per import."""
        self.owners = Owners(self.session)
        self.territories = Territories(self.session)

    def prepare(
        self, checked: list[Valid], existing: dict[str, dict[str, Any]], report: ImportReport
    ) -> Changes:
        """Return a chunk's inserts, updates and contacts; count unchanged rows.

        Parameters
        ----------
        checked
            The chunk's valid company rows.
        existing
            The stored accounts of their external ids.
        report
            Counts unchanged and geocoded rows.

        Returns
        -------
        Changes
            What to write.
        """
        out = Changes()
        prepared: list[tuple[AccountRow, dict[str, Any], dict[str, Any] | None]] = []
        for rownum, row, present, _cells in checked:
            old = existing.get(row.external_id or "")
            values = row_values(rownum, row, present, self.owners, self.kept.pop(rownum, None), old)
            for f in self.keep_stored.pop(rownum, ()):
                values.pop(f, None)  # invalid but already stored as it is: left alone
            if row.contact_name:
                separate = "contact_email" in present or "contact_phone" in present
                out.contacts.append(
                    (
                        row.external_id or "",
                        row.contact_name,
                        row.contact_email if separate else row.email,
                        row.contact_phone if separate else row.phone,
                    )
                )
            locate_row(values, row, present, old, self.geo, report)
            prepared.append((row, values, old))
        self.territories.assign([v for _, v, _ in prepared if "lat" in v])
        for row, values, old in prepared:
            if old is None:
                out.inserts.append(self._new(row, values))
                continue
            changed = {
                k: v
                for k, v in values.items()
                if not k.startswith("_") and (k in self.hidden or old.get(k) != v)
            }
            if changed:
                changed["id"] = old["id"]
                changed["updated_at"] = self.now
                out.updates.append(changed)
                self._count(changed.get("geocode_precision") or old["geocode_precision"])
            else:
                report.unchanged += 1
        return out

    def _new(self, row: AccountRow, values: dict[str, Any]) -> dict[str, Any]:
        values["external_id"] = row.external_id
        values.setdefault("geocode_precision", _NO_PRECISION)
        values.setdefault("visit_minutes", 30)
        values.setdefault("kind", row.kind)
        values.setdefault("stage", row.stage)
        values.setdefault("do_not_contact", False)
        values.setdefault("marketing_consent", False)
        values["manual_pin"] = False
        values["source"] = self.source
        values["created_at"] = self.now
        values["updated_at"] = self.now
        self._count(values.get("geocode_precision") or _NO_PRECISION)
        return values

    def _count(self, precision: str) -> None:
        self.precisions[precision] = self.precisions.get(precision, 0) + 1


def without_private(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the importer's own keys (``_row``) from account values before writing.

    Parameters
    ----------
    rows
        Account values (changed in place).

    Returns
    -------
    list of dict
        The same rows.
    """
    for values in rows:
        values.pop("_row", None)
    return rows
