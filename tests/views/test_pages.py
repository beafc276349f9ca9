"""AppTest tests of the pages behind the login: accounts detail, import, admin, profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gcrm.auth import Actor, actor_for
from gcrm.db.models import Account, Interaction, User
from gcrm.db.session import session_scope

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _app(username: str) -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["actor"] = actor
    return at


def _page(username: str, page: str) -> AppTest:
    at = _app(username).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_account_page_opens_edits_and_logs(demo_copy: str) -> None:
    """A rep opens an account, sees contacts/history, saves an edit and logs a visit."""
    at = _page("rep1", "views/accounts.py")  # a rep lands on My day
    ids = at.selectbox(key="acc_open").options
    assert ids
    at.selectbox(key="acc_open").select_index(0).run()
    assert not at.exception
    assert len(at.header) >= 2  # filters header + the account's name
    account_name = at.header[-1].value
    # edit: an empty name is refused with a message naming the field
    next(t for t in at.text_input if t.label == "Name").input("")
    at.button(key="FormSubmitter:edit_account-Save").click().run()
    assert any("name" in e.value for e in at.error)
    next(t for t in at.text_input if t.label == "Name").input(account_name + " Oy")
    at.button(key="FormSubmitter:edit_account-Save").click().run()
    assert any("Saved" in s.value for s in at.success)
    with session_scope() as s:
        assert s.scalar(select(Account).where(Account.name == account_name + " Oy")) is not None
    before = _count(Interaction)
    next(t for t in at.text_input if t.label == "Outcome").input("order")
    at.button(key="FormSubmitter:log_interaction-Log").click().run()
    assert _count(Interaction) == before + 1


def _count(model) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_pages_by_role(demo_copy: str) -> None:
    """Reps get no Import or Admin page; analysts get Import; admins get Admin."""
    for username, expect_import, expect_admin in (
        ("rep1", False, False),
        ("analyst", True, False),
        ("admin", True, True),
    ):
        at = _app(username).run()
        if expect_import:
            at.switch_page("views/import_accounts.py").run()
            assert at.title[0].value == "Import accounts"
        else:
            with pytest.raises(Exception):  # noqa: B017 - the page is not registered
                at.switch_page("views/import_accounts.py").run()
                assert at.exception
        if expect_admin:
            at.switch_page("views/admin.py").run()
            assert at.title[0].value == "Admin"


def test_import_page_without_file_waits(demo_copy: str) -> None:
    """The import page shows the uploader and nothing else until a file arrives."""
    at = _page("analyst", "views/import_accounts.py")
    assert not at.error
    assert at.title[0].value == "Import accounts"


def test_admin_adds_and_changes_users(demo_copy: str) -> None:
    """An admin adds a user (bad input gives a message) and changes a role."""
    at = _page("admin", "views/admin.py")
    at.text_input(key="adm_new_username").input("new.rep")
    at.text_input(key="adm_new_password").input("short")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert any("password" in e.value for e in at.error)
    at.text_input(key="adm_new_password").input("a-long-password")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert any("Added" in s.value for s in at.success)
    at.selectbox(key="adm_user").select("rep2").run()
    at.selectbox(key="adm_role_rep2").select("manager")
    at.button(key="FormSubmitter:edit_user-Save").click().run()
    assert not at.exception
    with session_scope() as s:
        assert s.scalar(select(User.role).where(User.username == "rep2")) == "manager"
        assert s.scalar(select(User.id).where(User.username == "new.rep")) is not None
    assert len(at.dataframe) >= 2  # users and audit log


def test_profile_password_change(demo_copy: str) -> None:
    """A user changes their password; a wrong current password shows an error."""
    at = _page("rep1", "views/profile.py")
    at.text_input(key="pw_old").input("nope")
    at.text_input(key="pw_new").input("a-long-password")
    at.text_input(key="pw_again").input("a-long-password")
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert any("wrong" in e.value for e in at.error)
    at.text_input(key="pw_old").input("demo")
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert any("changed" in s.value for s in at.success)


def test_actor_type() -> None:
    """The session holds an immutable Actor, never an ORM object."""
    assert Actor.__dataclass_params__.frozen  # type: ignore[attr-defined]
