"""The Accounts page shows how sure each pin is and lists the accounts that need one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db.models import Account
from gcrm.db.session import session_scope

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_accounts_page_lists_accounts_that_need_a_pin(demo_copy: str) -> None:
    """An account at street precision appears under "Needs a pin"; the table shows
    each account's precision."""
    with session_scope() as s:
        acc = s.scalars(select(Account).order_by(Account.id)).first()
        acc.geocode_precision = "street"
        name = acc.name
        actor = actor_for(s, "admin")
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/accounts.py").run()
    assert not at.exception, at.exception
    assert any(e.label.startswith("Needs a pin (1)") for e in at.expander)
    tables = [d.value for d in at.dataframe]
    assert any("geocode_precision" in t.columns for t in tables)
    pins = next(t for t in tables if "meaning" in t.columns)
    assert list(pins["name"]) == [name]
