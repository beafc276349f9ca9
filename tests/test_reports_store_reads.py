"""The account export reads personal fields through the store, in the actor's scope."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from gcrm.auth import actor_for
from gcrm.db.models import Account, Contact
from gcrm.db.session import session_scope
from gcrm.reports import account_table
from gcrm.store import account_personal_fields, accounts_frame

REPORTS = Path(__file__).resolve().parents[1] / "gcrm" / "reports"


def test_personal_fields_stay_in_scope_and_take_the_first_contact(demo_copy: str) -> None:
    """A rep asking for every account id gets only the accounts in their scope back;
    each account's contact is its first by id, with a pseudonym."""
    with session_scope() as s:
        all_ids = list(s.scalars(select(Account.id).order_by(Account.id)))
        rep = actor_for(s, "rep1")
        visible = {int(i) for i in accounts_frame(s, rep)["id"]}
        assert 0 < len(visible) < len(all_ids)
        got = account_personal_fields(s, rep, all_ids)
        assert set(got) == visible
        admin = actor_for(s, "admin")
        everyone = account_personal_fields(s, admin, all_ids)
        assert set(everyone) == set(all_ids)
        first: dict[int, Contact] = {}
        for c in s.scalars(select(Contact).order_by(Contact.id)):
            first.setdefault(c.account_id, c)
        assert first, "the demo has contacts"
        for aid, c in first.items():
            row = everyone[aid]
            assert (row["contact_name"], row["contact_email"]) == (c.name, c.email)
            assert isinstance(row["contact_pseudonym"], str) and row["contact_pseudonym"]
        phones = dict(s.execute(select(Account.id, Account.phone)).all())
        assert all(everyone[a]["phone"] == phones[a] for a in all_ids)


def _same(a: object, b: object) -> bool:
    """Equal, or both missing (None in the store, NaN in a frame)."""
    return bool(pd.isna(a) and pd.isna(b)) if pd.isna(a) or pd.isna(b) else a == b


def test_account_table_matches_the_store_reads(demo_copy: str) -> None:
    """The export's personal columns are the store's values (admin) or pseudonyms (analyst)."""
    with session_scope() as s:
        admin, analyst = actor_for(s, "admin"), actor_for(s, "analyst")
        table = account_table(s, admin).set_index("id")
        fields = account_personal_fields(s, admin, [int(i) for i in table.index])
        for aid, row in fields.items():
            assert _same(table.at[aid, "email"], row["email"])
            assert _same(table.at[aid, "contact_name"], row.get("contact_name"))
        hidden = account_table(s, analyst).set_index("id")
        assert hidden["email"].isna().all() and hidden["contact_email"].isna().all()
        named = [a for a, r in fields.items() if "contact_pseudonym" in r]
        assert named
        assert all(hidden.at[a, "contact_name"] == fields[a]["contact_pseudonym"] for a in named)


def test_reports_package_issues_no_orm_statement() -> None:
    """No module of gcrm.reports imports SQLAlchemy's statement builders or runs one."""
    for path in REPORTS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy":
                names = {a.name for a in node.names}
                assert not names & {"select", "insert", "update", "delete"}, path.name
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "scalars", "scalar"):
                raise AssertionError(f"{path.name}:{node.lineno}: session.{node.attr}")
