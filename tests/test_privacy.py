"""Personal data: masking per role, audited exports, formula injection, erasure, subject access."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select, text

from gcrm._errors import PermissionDeniedError
from gcrm.auth import actor_for
from gcrm.db.models import Account, AuditEvent, Contact
from gcrm.db.session import get_engine, session_scope
from gcrm.reports import account_table, export_accounts
from gcrm.store import (
    account_detail,
    erase_account,
    erase_contact,
    log_interaction,
    subject_access,
    update_account,
)

PERSON = {"name": "Sirkka Salainen", "phone": "+358 40 7654321", "email": "sirkka@salainen.fi"}


def _person_account(s) -> tuple[int, int]:
    """Give one of rep1's accounts a known contact mentioned in notes; return (account, contact)."""
    rep1 = actor_for(s, "rep1")
    account = s.scalar(select(Account).where(Account.owner_id == rep1.id).order_by(Account.id))
    contact = Contact(account_id=account.id, **PERSON)
    s.add(contact)
    s.flush()
    log_interaction(
        s,
        rep1,
        account.id,
        kind="call",
        notes=f"Spoke with {PERSON['name']}, call {PERSON['phone']}",
    )
    update_account(s, rep1, account.id, {"email": PERSON["email"]})
    return account.id, contact.id


def _dump_all_tables() -> str:
    """Every cell of every table as text."""
    engine = get_engine()
    out = []
    with engine.connect() as conn:
        for table in ("accounts", "contacts", "interactions", "audit_log", "users"):
            for row in conn.execute(text(f"select * from {table}")):
                out.append(" | ".join(str(v) for v in row))
    return "\n".join(out)


def test_analyst_sees_pseudonyms_rep_sees_people(demo_copy: str) -> None:
    """Reps see contacts in clear; analysts get pseudonyms and no phone/e-mail/notes."""
    with session_scope() as s:
        aid, _ = _person_account(s)
    with session_scope() as s:
        rep = account_detail(s, actor_for(s, "rep1"), aid)
        ana = account_detail(s, actor_for(s, "analyst"), aid)
    names = [c["name"] for c in rep["contacts"]]
    assert PERSON["name"] in names
    assert PERSON["name"] not in [c["name"] for c in ana["contacts"]]
    assert all(c["phone"] is None and c["email"] is None for c in ana["contacts"])
    assert ana["account"]["email"] is None and rep["account"]["email"] == PERSON["email"]
    assert ana["interactions"]["notes"].isna().all()
    assert rep["interactions"]["notes"].str.contains("Sirkka").any()
    with session_scope() as s:
        views = s.scalars(select(AuditEvent).where(AuditEvent.action == "view")).all()
    assert {v.username for v in views} >= {"rep1", "analyst"}


def test_exports_are_audited_and_pseudonymised(demo_copy: str) -> None:
    """Every export is audited (who, rows, columns, hash); analysts get no personal data."""
    with session_scope() as s:
        _person_account(s)
    with session_scope() as s:
        export = export_accounts(s, actor_for(s, "analyst"), fmt="csv")
        with pytest.raises(PermissionDeniedError):
            export_accounts(s, actor_for(s, "rep1"))
    body = export.data.decode("utf-8-sig")
    assert PERSON["name"] not in body and PERSON["email"] not in body
    with session_scope() as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    details = json.loads(line.details)
    assert line.username == "analyst"
    assert details["rows"] == export.rows == len(pd.read_csv(io.BytesIO(export.data)))
    assert details["sha256"] == export.sha256 and "email" in details["columns"]
    assert details["pseudonymised"] is True


def test_formula_injection_is_neutralised(demo_copy: str) -> None:
    """Cells starting with = + - @ tab or CR export as inert text: quoted in CSV, typed
    string cells (never formulas) in XLSX."""
    evil = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with session_scope() as s:
        manager = actor_for(s, "manager")
        ids = [int(i) for i in s.scalars(select(Account.id).order_by(Account.id).limit(len(evil)))]
        for aid, name in zip(ids, evil, strict=True):
            update_account(s, manager, aid, {"name": name})
    with session_scope() as s:
        csv_export = export_accounts(s, actor_for(s, "manager"), fmt="csv")
        xlsx_export = export_accounts(s, actor_for(s, "manager"), fmt="xlsx")
    rows = list(csv.DictReader(io.StringIO(csv_export.data.decode("utf-8-sig"), newline="")))
    names = {r["name"] for r in rows}
    for name in evil:
        assert "'" + name in names
        assert name not in names
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_export.data)).active
    header = [c.value for c in ws[1]]
    col = header.index("name")
    cells = [row[col] for row in ws.iter_rows(min_row=2)]
    assert all(c.data_type != "f" for c in cells)
    # XLSX cells are typed strings: inert as they are, so no apostrophe is added (issue 12)
    by_value = {c.value: c for c in cells}
    for name in ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"):
        assert by_value[name].data_type == "s", name


def test_erasure_leaves_no_trace(demo_copy: str) -> None:
    """After erasing a person no table and no export holds their name, phone or e-mail."""
    with session_scope() as s:
        aid, cid = _person_account(s)
    assert PERSON["name"] in _dump_all_tables()
    with session_scope() as s:
        with pytest.raises(PermissionDeniedError):
            erase_contact(s, actor_for(s, "rep1"), cid)
        erase_contact(s, actor_for(s, "admin"), cid)
    dump = _dump_all_tables()
    for value in (PERSON["name"], PERSON["phone"]):
        assert value not in dump
    with session_scope() as s:
        export = export_accounts(s, actor_for(s, "manager"), fmt="csv")
        assert PERSON["name"] not in export.data.decode("utf-8-sig")
        contact = s.get(Contact, cid)
        assert contact is not None and contact.do_not_contact and contact.erased_at
        # the account keeps its aggregates
        assert s.get(Account, aid).potential_value is not None
    # the account itself still holds the e-mail (it is the account's): erase the account
    with session_scope() as s:
        erase_account(s, actor_for(s, "admin"), aid)
    dump = _dump_all_tables()
    for value in PERSON.values():
        assert value not in dump
    with session_scope() as s:
        acc = s.get(Account, aid)
        assert acc.do_not_contact and acc.name.startswith("Erased account")
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "erase")).all()


def test_subject_access_export(demo_copy: str) -> None:
    """An admin gets everything held on a person; others may not ask."""
    with session_scope() as s:
        _person_account(s)
    with session_scope() as s:
        with pytest.raises(PermissionDeniedError):
            subject_access(s, actor_for(s, "manager"), email=PERSON["email"])
        found = subject_access(s, actor_for(s, "admin"), name=PERSON["name"])
    assert found["contacts"][0]["email"] == PERSON["email"]
    assert any("Sirkka" in (i["notes"] or "") for i in found["interactions"])


def test_account_table_matches_scope(demo_copy: str) -> None:
    """The export of a rep-scoped manager holds the same ids as the store's list."""
    from gcrm.store import accounts_frame

    with session_scope() as s:
        manager = actor_for(s, "manager")
        assert set(account_table(s, manager)["id"]) == set(accounts_frame(s, manager)["id"])
