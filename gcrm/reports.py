"""Exports and reports: every file that leaves gcrm goes through here.

Exports are scoped (the store applies the acting user's scope), audited (who,
when, filter, row count, columns, file hash), pseudonymised for roles that do
not see personal data, and safe to open in a spreadsheet (formula injection
neutralised).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import Literal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gcrm._errors import InputError
from gcrm.auth import Actor, pseudonym, require, sees_personal_data
from gcrm.db.models import Account, Contact
from gcrm.importer import neutralise_formula
from gcrm.store import AccountFilter, accounts_frame, audit

ExportFormat = Literal["csv", "xlsx", "json"]

#: Columns of the account list export, in order.
ACCOUNT_EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "external_id",
    "name",
    "kind",
    "stage",
    "segment",
    "owner",
    "territory",
    "street",
    "housenumber",
    "postcode",
    "city",
    "lat",
    "lon",
    "geocode_precision",
    "potential_value",
    "annual_revenue",
    "visit_every_days",
    "last_visit",
    "do_not_contact",
    "marketing_consent",
    "phone",
    "email",
    "contact_name",
    "contact_email",
    "contact_phone",
)
_PERSONAL_EXPORT_COLUMNS = ("phone", "email", "contact_name", "contact_email", "contact_phone")


@dataclasses.dataclass(frozen=True)
class Export:
    """A finished export: its bytes and what the audit log recorded."""

    data: bytes
    filename: str
    mime: str
    rows: int
    columns: tuple[str, ...]
    sha256: str


def account_table(session: Session, actor: Actor, flt: AccountFilter | None = None) -> pd.DataFrame:
    """Return the account list export as a table (scoped, pseudonymised per role).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``view``).
    flt
        The filter (the one on screen).

    Returns
    -------
    pandas.DataFrame
        :data:`ACCOUNT_EXPORT_COLUMNS`; personal columns hold pseudonyms or
        nothing when the actor may not see personal data.
    """
    df = pd.DataFrame(accounts_frame(session, actor, flt).drop(columns="geometry"))
    ids = [int(i) for i in df["id"]]
    personal: dict[int, dict[str, object]] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        for aid, phone, email in session.execute(
            select(Account.id, Account.phone, Account.email).where(Account.id.in_(chunk))
        ):
            personal[aid] = {"phone": phone, "email": email}
        for c in session.scalars(
            select(Contact).where(Contact.account_id.in_(chunk)).order_by(Contact.id)
        ):
            row = personal.setdefault(c.account_id, {})
            if "contact_name" not in row:
                row.update(contact_name=c.name, contact_email=c.email, contact_phone=c.phone)
    extra = pd.DataFrame.from_dict(personal, orient="index").reindex(ids)
    for col in _PERSONAL_EXPORT_COLUMNS:
        df[col] = extra[col].to_numpy() if col in extra.columns else None
    if not sees_personal_data(actor):
        df["contact_name"] = [
            pseudonym(v) if isinstance(v, str) else None for v in df["contact_name"]
        ]
        for col in ("phone", "email", "contact_email", "contact_phone"):
            df[col] = None
    return df[list(ACCOUNT_EXPORT_COLUMNS)]


def to_bytes(df: pd.DataFrame, fmt: ExportFormat, *, sheet: str = "accounts") -> bytes:
    """Serialise a table safely: formulas neutralised in CSV and XLSX.

    Parameters
    ----------
    df
        The table.
    fmt
        ``csv``, ``xlsx`` or ``json``.
    sheet
        Sheet name for XLSX.

    Returns
    -------
    bytes
        The file's content.
    """
    if fmt == "json":
        return df.to_json(orient="records", date_format="iso", force_ascii=False).encode()
    safe = df.map(neutralise_formula)
    if fmt == "csv":
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
            # strings_to_formulas off: text stays text even without the quote
            writer.book.strings_to_formulas = False
            safe.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            header = writer.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
            for j, col in enumerate(safe.columns):
                ws.write(0, j, str(col), header)
                ws.set_column(j, j, max(10, min(40, len(str(col)) + 2)))
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(1, len(safe)), max(0, len(safe.columns) - 1))
        return buf.getvalue()
    msg = f"format: {fmt!r} is not one of csv, xlsx, json"
    raise InputError(msg)


_MIME = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_accounts(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    fmt: ExportFormat = "csv",
) -> Export:
    """Export the account list (the current filter), audited.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``export``).
    flt
        The filter.
    fmt
        ``csv``, ``xlsx`` or ``json``.

    Returns
    -------
    Export
        The file and its audit facts.
    """
    require(actor, "export")
    df = account_table(session, actor, flt)
    data = to_bytes(df, fmt)
    digest = hashlib.sha256(data).hexdigest()
    export = Export(
        data=data,
        filename=f"accounts.{fmt}",
        mime=_MIME[fmt],
        rows=len(df),
        columns=tuple(df.columns),
        sha256=digest,
    )
    audit(
        session,
        actor,
        "export",
        export.filename,
        {
            "filter": dataclasses.asdict(flt) if flt else {},
            "rows": export.rows,
            "columns": list(export.columns),
            "sha256": digest,
            "pseudonymised": not sees_personal_data(actor),
        },
    )
    return export
