"""AppTest tests of the Streamlit app: login gate and the accounts page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gcrm.auth import Actor

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _logged_in(actor: Actor) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = actor
    return at


def _accounts(actor: Actor) -> AppTest:
    """Logged in, on the Accounts page (a rep lands on My day)."""
    at = _logged_in(actor).run()
    return at.switch_page("views/accounts.py").run()


@pytest.fixture
def rep1(demo_copy: str) -> Actor:
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope

    with session_scope() as s:
        return actor_for(s, "rep1")


def test_login_page_renders_and_rejects_a_wrong_password(demo_copy: str) -> None:
    """Anonymous users see the login form; a wrong password shows an error, not a traceback."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    at.text_input(key="login_username").input("rep1")
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert not at.exception
    assert any("wrong username or password" in e.value for e in at.error)
    assert "actor" not in at.session_state


def test_login_then_accounts_page(demo_copy: str) -> None:
    """The right password logs in; a rep lands on My day; Accounts lists the rep's accounts."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="login_username").input("rep1")
    at.text_input(key="login_password").input("demo")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["actor"].username == "rep1"
    assert at.title[0].value == "My day"
    at.switch_page("views/accounts.py").run()
    assert at.title[0].value == "Accounts"
    total = int(next(m.value for m in at.metric if m.label == "Accounts"))
    assert 300 < total < 700  # the rep's own, counted in the database
    assert len(at.dataframe[0].value) == 200  # one page of rows


def test_accounts_page_filters(rep1: Actor) -> None:
    """Sidebar filters narrow the table; a filter matching nothing says so."""
    at = _accounts(rep1)
    assert not at.exception
    total = len(at.dataframe[0].value)
    at.multiselect(key="acc_kind").select("customer").run()
    customers = at.dataframe[0].value
    assert 0 < len(customers) < total
    assert set(customers["kind"]) == {"customer"}
    at.text_input(key="acc_text").input("no such business anywhere").run()
    assert not at.exception
    assert any("No account matches" in i.value for i in at.info)


def test_two_sessions_do_not_share_data(demo_copy: str) -> None:
    """Two browser sessions as different reps each see only their own territory."""
    from gcrm.auth import actor_for
    from gcrm.db.session import session_scope

    with session_scope() as s:
        a, b = actor_for(s, "rep1"), actor_for(s, "rep3")
    one = _accounts(a)
    two = _accounts(b)
    names_one = set(one.dataframe[0].value["territory"].dropna())
    names_two = set(two.dataframe[0].value["territory"].dropna())
    assert names_one == {"Helsinki West"}
    assert names_two == {"Helsinki East"}
