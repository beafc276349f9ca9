"""Page actions (gcrm.actions): each runs in its own transaction, gives the page plain results."""

from __future__ import annotations

import pandas as pd
import pytest

from gcrm import store
from gcrm._errors import AuthenticationError, InputError
from gcrm.actions import accounts, admin, profile, territories
from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.store import AccountFilter


def _actor(username: str):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return actor_for(s, username)


def test_log_in_strips_the_typed_username_and_audits_a_failure(demo_copy: str) -> None:
    """ " rep1 " logs in as rep1; a wrong password raises and its audit line stays."""
    assert profile.log_in(" rep1 ", "demo").username == "rep1"
    with pytest.raises(AuthenticationError):
        profile.log_in("rep1", "not the password")
    log = admin.audit_log(_actor("admin"), action="login_failed")
    assert len(log) == 1


def test_account_list_pages_a_large_result_and_clamps_the_page(demo_copy: str) -> None:
    """The list is always one page (the last when asked past it); counts and value sum all."""
    rep = _actor("rep1")
    small = accounts.account_list(rep, AccountFilter(), page=1, per_page=1000)
    assert not small.large and len(small.accounts) == small.total > 10
    listed = accounts.account_list(rep, AccountFilter(), page=10_000, per_page=7)
    assert listed.large and listed.total == small.total
    assert listed.pages == (listed.total - 1) // 7 + 1 and listed.page == listed.pages
    assert len(listed.accounts) == listed.total - 7 * (listed.pages - 1)
    assert listed.value == pytest.approx(small.value)
    assert listed.needs_pin_total == small.needs_pin_total
    assert len(listed.needs_pin) == min(listed.needs_pin_total, 7)


def test_set_owners_is_one_transaction(demo_copy: str) -> None:
    """An unknown owner among several leaves every territory's owner as it was."""
    manager = _actor("manager")
    before = territories.overview(manager).territories.set_index("name")["owner"].to_dict()
    names = list(before)
    with pytest.raises(InputError):
        territories.set_owners(manager, {names[0]: "rep2", names[1]: "nobody-like-this"})
    after = territories.overview(manager).territories.set_index("name")["owner"].to_dict()
    assert after == before
    territories.set_owners(manager, {names[0]: None})
    now = territories.overview(manager).territories.set_index("name")["owner"].to_dict()
    assert pd.isna(now[names[0]]) and now[names[1]] == before[names[1]]


def test_account_edits_are_committed_and_visible_at_once(demo_copy: str) -> None:
    """An edit, a logged visit and a manual pin through the actions show in the next read."""
    rep = _actor("rep1")
    first = accounts.account_list(rep, AccountFilter(), page=1, per_page=50).accounts.iloc[0]
    aid = int(first["id"])
    accounts.update_account(rep, aid, {"stage": "negotiation"})
    accounts.log_interaction(rep, aid, kind="call", outcome="follow-up", notes=None)
    accounts.set_manual_pin(rep, aid, 60.17, 24.94)
    detail = accounts.account_detail(rep, aid)
    assert detail["account"]["stage"] == "negotiation"
    assert detail["account"]["geocode_precision"] == "manual"
    assert "call" in set(detail["interactions"]["kind"])
    with session_scope() as s:
        assert store.get_account(s, rep, aid).manual_pin
