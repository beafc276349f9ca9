"""AppTest: the Campaigns page for a manager (create, preview, send, respond, report)
and for an analyst (report only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db import campaign_tables as tables
from gcrm.db.models import Account
from gcrm.db.session import session_scope
from gcrm.settings import get_settings
from tests._campaign_world import SmtpServer

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _page(username: str) -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/campaigns.py").run()
    assert not at.exception, at.exception
    return at


def test_manager_creates_previews_sends_and_logs(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer() as smtp:
        monkeypatch.setenv("GCRM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("GCRM_SMTP_PORT", str(smtp.port))
        get_settings.cache_clear()
        with session_scope() as s:  # the demo keeps e-mail on contacts; campaigns use the account's
            for account in s.scalars(select(Account)):
                account.email = f"acc{account.id}@example.com"
        at = _page("manager")
        at.text_input(key="cp_name").input("Spring <offer>")
        at.multiselect(key="cp_channels").set_value(["email", "visit"])
        at.button(key="FormSubmitter:cp_new-Create").click().run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        with session_scope() as s:
            c = tables.find_campaign(s, "Spring <offer>")
            assert c is not None
            cid = c.id
        assert "Spring <offer>" in list(at.dataframe[0].value["name"])
        at.button(key="cp_preview").click().run()
        assert not at.exception, at.exception
        assert any("To: " in t.value for t in at.text)
        at.button(key="cp_send").click().run()
        assert not at.exception, at.exception
        assert any("Done" in s.value for s in at.success)
        with session_scope() as s:
            counts = tables.outbox_counts(s, cid)
            tasks = tables.tasks_frame(s, campaign_id=cid)
            sent_to = set(tables.outbox_frame(s, cid)["account_id"])
        assert counts["sent"] == len(smtp.received) > 0
        assert len(tasks) > 0
        account = sorted(sent_to)[0]
        at.number_input(key="cp_acc").set_value(account)
        at.selectbox(key="cp_kind").set_value("order")
        at.checkbox(key="cp_conv").check()
        at.button(key="FormSubmitter:cp_respond-Log").click().run()
        assert any("Response logged" in s.value for s in at.success)
        report = at.dataframe[-1].value
        total = report[report["area"] == "(total)"].iloc[0]
        assert total["responded"] == 1 and total["converted"] == 1
        assert total["reached"] >= counts["sent"]


def test_analyst_reads_but_cannot_create(demo_copy: str) -> None:
    at = _page("analyst")
    assert not [b for b in at.button if b.key == "FormSubmitter:cp_new-Create"]
    assert any("No campaigns" in i.value for i in at.info)
