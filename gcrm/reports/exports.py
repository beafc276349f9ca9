"""Exports: the account list and the reports as files, scoped and audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
from sqlalchemy.orm import Session

from gcrm._errors import InputError
from gcrm.auth import Actor, require, sees_personal_data
from gcrm.network import load_network, road_lines
from gcrm.reports.figures import NO_TERRITORY, rep_report, territory_report
from gcrm.reports.files import (
    MIME,
    REPORT_FORMATS,
    ExportFormat,
    ReportFormat,
    tables_to_xlsx,
    territory_report_bytes,
    to_bytes,
)
from gcrm.store import AccountFilter, account_personal_fields, accounts_frame, audit

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
    personal = account_personal_fields(session, actor, ids)
    extra = pd.DataFrame.from_dict(personal, orient="index").reindex(ids)
    for col in _PERSONAL_EXPORT_COLUMNS:
        df[col] = extra[col].to_numpy() if col in extra.columns else None
    if not sees_personal_data(actor):
        given = extra["contact_pseudonym"] if "contact_pseudonym" in extra.columns else []
        df["contact_name"] = [v if isinstance(v, str) else None for v in given] or None
        for col in ("phone", "email", "contact_email", "contact_phone"):
            df[col] = None
    return df[list(ACCOUNT_EXPORT_COLUMNS)]


def account_list(
    session: Session, actor: Actor, flt: AccountFilter | None = None, *, fmt: str = "table"
) -> pd.DataFrame:
    """Return the account list as ``gcrm accounts list`` prints it, audited.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (``view``; ``export`` for CSV, which is an export).
    flt
        The filter.
    fmt
        The output format: ``csv`` is audited as an export, others as a view.

    Returns
    -------
    pandas.DataFrame
        The scoped accounts (no geometry column).
    """
    if fmt == "csv":
        require(actor, "export")
    df = accounts_frame(session, actor, flt).drop(columns="geometry")
    action = "export" if fmt == "csv" else "view"
    details = {"rows": len(df), "format": fmt, "command": "accounts list"}
    audit(session, actor, action, "accounts", details)
    return pd.DataFrame(df)


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
        mime=MIME[fmt],
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


def audited_export(
    session: Session,
    actor: Actor,
    data: bytes,
    filename: str,
    rows: int,
    columns: Sequence[str],
    details: dict[str, Any],
) -> Export:
    """Return a finished file as an :class:`Export` and record it in the audit log.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (its rights were checked by the caller).
    data
        The file's content.
    filename
        Its name (the suffix gives the MIME type).
    rows
        Rows it holds.
    columns
        Its columns.
    details
        More facts for the audit line (filter, format ...).

    Returns
    -------
    Export
        The file, its MIME type and SHA-256.
    """
    digest = hashlib.sha256(data).hexdigest()
    export = Export(
        data=data,
        filename=filename,
        mime=MIME.get(filename.rsplit(".", 1)[-1], "application/octet-stream"),
        rows=rows,
        columns=tuple(columns),
        sha256=digest,
    )
    audit(
        session,
        actor,
        "export",
        filename,
        {**details, "rows": rows, "columns": list(columns), "sha256": digest},
    )
    return export


def export_report(
    session: Session,
    actor: Actor,
    kind: Literal["territories", "reps", "accounts"],
    fmt: ReportFormat,
    *,
    territories: Sequence[str] | None = None,
    today: dt.date | None = None,
    graph: Any = "default",
) -> Export:
    """Build a report in a format, scoped and audited as the acting user.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``export``).
    kind
        ``territories`` (:func:`territory_report`), ``reps``
        (:func:`rep_report`) or ``accounts`` (the account list,
        :func:`account_table`).
    fmt
        One of :data:`REPORT_FORMATS`; ``geojson``/``gpkg`` for territories
        only, ``pdf`` for territories only.
    territories
        Only these territories.
    today
        Reference date.
    graph
        Road graph for drive times (``"default"``: the region's; ``None``:
        skip drive-time figures).

    Returns
    -------
    Export
        The file and what the audit log recorded.
    """
    require(actor, "export")
    if fmt not in REPORT_FORMATS:
        msg = f"format: {fmt!r} is not one of {', '.join(REPORT_FORMATS)}"
        raise InputError(msg)
    details: dict[str, Any] = {
        "report": kind,
        "format": fmt,
        "territories": list(territories or []),
    }
    if kind == "territories":
        if graph == "default":
            graph = load_network()
        report = territory_report(session, actor, territories, today=today, graph=graph)
        extra: dict[str, Any] = {}
        if fmt == "pdf":
            acc = accounts_frame(session, actor)
            acc["territory"] = acc["territory"].fillna(NO_TERRITORY)
            extra["accounts"] = acc
            if graph is not None:
                extra["roads"] = road_lines(graph)
        data = territory_report_bytes(report, fmt, **extra)
        table = report.summary
    elif kind in ("reps", "accounts"):
        if fmt in ("geojson", "gpkg", "pdf"):
            msg = f"format: the {kind} report comes as csv, xlsx, parquet or json"
            raise InputError(msg)
        if kind == "reps":
            table = rep_report(session, actor, today=today)
        else:
            flt = AccountFilter(territories=list(territories)) if territories else None
            table = account_table(session, actor, flt)
            details["pseudonymised"] = not sees_personal_data(actor)
        if fmt == "xlsx":
            data = tables_to_xlsx({kind: table})
        elif fmt == "parquet":
            buf = io.BytesIO()
            table.to_parquet(buf, index=False)
            data = buf.getvalue()
        else:
            data = to_bytes(table, fmt)  # type: ignore[arg-type]
    else:
        msg = f"report: {kind!r} is not one of territories, reps, accounts"
        raise InputError(msg)
    return audited_export(session, actor, data, f"{kind}.{fmt}", len(table), table.columns, details)
