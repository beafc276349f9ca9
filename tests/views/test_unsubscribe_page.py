"""AppTest: the unsubscribe link of campaign e-mail (``/?unsubscribe=TOKEN``) works
without logging in, says plainly what happened, is audited, and refuses a forged or
cut token with a clear message and no change."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.campaigns import create_campaign, launch
from gcrm.db import campaign_tables as tables
from gcrm.db.models import Account, AuditEvent, Contact
from gcrm.db.session import session_scope
from gcrm.mailer import unsubscribe_token
from gcrm.segments import SegmentDefinition, save_segment
from tests._campaign_world import build_world

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def mailed(db: str) -> dict:
    """A launched e-mail campaign of ``mgr`` over the small campaign world, and a person."""
    with session_scope() as s:
        world = build_world(s)
        mgr = actor_for(s, "mgr")
        save_segment(s, mgr, "all", SegmentDefinition())
        person = Contact(
            account_id=world["ids"]["Kirja Oy"],
            name="Pia",
            email="pia@example.com",
            marketing_consent=True,
        )
        s.add(person)
        s.flush()
        c = create_campaign(s, mgr, name="Spring", segment="all", channels="email",
                            subject="Hi", body="Hello {{ name }}")  # fmt: skip
        launch(s, mgr, c.id)
        return {"campaign": c.id, "ids": world["ids"], "person": person.id}


def _open(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["unsubscribe"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def _consent(account_id: int) -> bool:
    with session_scope() as s:
        account = s.get(Account, account_id)
        assert account is not None
        return bool(account.marketing_consent)


def test_link_unsubscribes_without_login_and_is_audited(mailed: dict) -> None:
    aid = mailed["ids"]["Kirja Oy"]
    at = _open(unsubscribe_token(mailed["campaign"], aid))
    assert [s.value for s in at.success] == [
        "You are unsubscribed. This address will receive no more marketing e-mail from us."
    ]
    assert not at.text_input, "no login form on the unsubscribe page"
    assert _consent(aid) is False
    with session_scope() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.target == f"account:{aid}")).all()
        kinds = list(tables.responses_frame(s, mailed["campaign"])["kind"])
    assert [(a.action, a.username) for a in audit] == [("consent", "unsubscribe")]
    assert kinds == ["unsubscribe"]
    again = _open(unsubscribe_token(mailed["campaign"], aid))
    assert any("already unsubscribed" in i.value for i in again.info)


def test_person_link_unsubscribes_the_person_only(mailed: dict) -> None:
    aid = mailed["ids"]["Kirja Oy"]
    at = _open(unsubscribe_token(mailed["campaign"], aid, mailed["person"]))
    assert at.success
    with session_scope() as s:
        person = s.get(Contact, mailed["person"])
        assert person is not None and person.marketing_consent is False
    assert _consent(aid) is True


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),  # forged signature
        lambda t: t[: len(t) // 2],  # cut short by a mail client
        lambda t: t.split(".")[0],  # no signature at all
        lambda t: "<script>alert(1)</script>",
        lambda t: "",
    ],
)
def test_forged_or_broken_token_is_refused_and_changes_nothing(mailed: dict, mangle) -> None:  # type: ignore[no-untyped-def]
    aid = mailed["ids"]["Kirja Oy"]
    at = _open(mangle(unsubscribe_token(mailed["campaign"], aid)))
    assert [e.value for e in at.error] == [
        "This unsubscribe link is not valid: it may have been cut short or changed. "
        "Nothing was changed. Please open the whole link from the e-mail again, "
        "or reply to the e-mail and ask to be unsubscribed."
    ]
    assert not at.success
    assert _consent(aid) is True


def test_token_for_another_account_cannot_be_made_by_editing(mailed: dict) -> None:
    """The payload is signed: swapping in another account's id is refused."""
    import base64

    aid, other = mailed["ids"]["Kirja Oy"], mailed["ids"]["Café Aalto"]
    _, sig = unsubscribe_token(mailed["campaign"], aid).split(".")
    payload = f"u1:{mailed['campaign']}:{other}".encode()
    edited = base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + "." + sig
    at = _open(edited)
    assert at.error and not at.success
    assert _consent(other) is True
