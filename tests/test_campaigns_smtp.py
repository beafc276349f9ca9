"""Campaign e-mail against a real SMTP server (aiosmtpd on a free port, in-process):
recipients, rendering and escaping, unsubscribe, crash-and-restart, run-due."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gcrm.auth import actor_for
from gcrm.campaigns import create_campaign, launch, log_response, run_due, send_pending
from gcrm.cli import app
from gcrm.db import campaign_tables as tables
from gcrm.db.models import Account
from gcrm.db.session import session_scope
from gcrm.segments import SegmentDefinition, save_segment
from gcrm.settings import get_settings
from tests._campaign_world import PASSWORD, SmtpServer, build_world

ROOT = Path(__file__).resolve().parents[1]
BODY = "Hello {{ name }},\nwe opened a showroom near {{ street }} {{ postcode }}.\n"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with SmtpServer() as server:
        monkeypatch.setenv("GCRM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("GCRM_SMTP_PORT", str(server.port))
        monkeypatch.setenv("GCRM_SMTP_FROM", "shop@example.org")
        get_settings.cache_clear()
        yield server


@pytest.fixture
def world(db: str) -> dict:
    with session_scope() as s:
        w = build_world(s)
        mgr = actor_for(s, "mgr")
        save_segment(s, mgr, "north-all", SegmentDefinition())
    return w


def _campaign(name: str = "Showroom", **kw) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        mgr = actor_for(s, "mgr")
        c = create_campaign(
            s,
            mgr,
            name=name,
            segment="north-all",
            channels=kw.pop("channels", "email"),
            subject="Hi {{ name }}",
            body=kw.pop("body", BODY),
            **kw,
        )
        launch(s, mgr, c.id)
        return c.id


def test_right_recipients_rendered_and_escaped(smtp: SmtpServer, world: dict) -> None:
    """Only in-scope, consenting, contactable accounts get mail; HTML is escaped."""
    cid = _campaign()
    result = send_pending(cid)
    assert result.sent == 5
    got = {r.recipients[0] for r in smtp.received}
    assert got == world["mailable"]  # no do-not-contact, no non-consent, no other region
    by_to = {r.recipients[0]: r for r in smtp.received}
    hostile = by_to["a2@example.com"]
    assert hostile.message["Subject"] == "Hi <b>Café & Co</b>"
    assert "Hello <b>Café & Co</b>," in hostile.part("plain")
    html = hostile.part("html")
    assert "&lt;b&gt;Café &amp; Co&lt;/b&gt;" in html and "<b>Café" not in html
    # a name that looks like a template is data, not a template
    assert "Hello Ravintola {{ name }}," in by_to["a4@example.com"].part("plain")
    assert "00110" in by_to["a1@example.com"].part("plain")
    with session_scope() as s:
        outbox = tables.outbox_frame(s, cid)
    assert set(outbox["status"]) == {"sent"}
    assert {r.message_id for r in smtp.received} == set(outbox["message_id"])
    assert all("unsubscribe=" in r.message["List-Unsubscribe"] for r in smtp.received)


def _token(received) -> str:  # type: ignore[no-untyped-def]
    m = re.search(r"unsubscribe=([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", received.part("plain"))
    assert m
    return m.group(1)


def test_unsubscribe_link_turns_consent_off(smtp: SmtpServer, world: dict) -> None:
    cid = _campaign()
    send_pending(cid)
    msg = next(r for r in smtp.received if r.recipients[0] == "a3@example.com")
    token = _token(msg)
    runner = CliRunner()
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    bad = runner.invoke(app, ["campaigns", "unsubscribe", forged])
    assert bad.exit_code == 2 and "signature" in bad.output
    ok = runner.invoke(app, ["campaigns", "unsubscribe", token])
    assert ok.exit_code == 0, ok.output
    assert '"changed": true' in ok.stdout
    with session_scope() as s:
        acc = s.get(Account, world["ids"]["Kirja Oy"])
        assert acc is not None and acc.marketing_consent is False
        kinds = list(tables.responses_frame(s, cid)["kind"])
    assert kinds == ["unsubscribe"]
    # a second campaign no longer reaches the unsubscribed account
    cid2 = _campaign("Second")
    send_pending(cid2)
    second = [r.recipients[0] for r in smtp.received[5:]]
    assert sorted(second) == sorted(world["mailable"] - {"a3@example.com"})


def test_consent_withdrawn_after_queueing_is_not_sent(smtp: SmtpServer, world: dict) -> None:
    cid = _campaign()
    with session_scope() as s:
        acc = s.get(Account, world["ids"]["Kukka Ky"])
        assert acc is not None
        acc.do_not_contact = True
    result = send_pending(cid)
    assert (result.sent, result.skipped) == (4, 1)
    assert "a5@example.com" not in {r.recipients[0] for r in smtp.received}


def test_run_due_reminds_non_responders_once(smtp: SmtpServer, world: dict) -> None:
    cid = _campaign(reminder_after_days=7)
    send_pending(cid)
    with session_scope() as s:
        mgr = actor_for(s, "mgr")
        log_response(s, mgr, cid, world["ids"]["Café Aalto"], kind="reply")
    assert run_due(now=dt.datetime.now() + dt.timedelta(days=3))["Showroom"] == {
        "send": {"sent": 0, "skipped": 0, "failed": 0, "retry": 0, "uncertain": 0}
    }
    assert len(smtp.received) == 5
    later = dt.datetime.now() + dt.timedelta(days=8)
    first = run_due(now=later)
    assert first["Showroom"]["reminders"] == 4
    reminders = smtp.received[5:]
    assert {r.recipients[0] for r in reminders} == world["mailable"] - {"a1@example.com"}
    assert all(r.message["Subject"].startswith("Reminder: ") for r in reminders)
    second = run_due(now=later)
    assert second["Showroom"]["reminders"] == 0
    assert second["Showroom"]["send"]["sent"] == 0
    assert len(smtp.received) == 9


def _sender(db: str, port: int, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GCRM_DATABASE_URL": db,
        "GCRM_SMTP_HOST": "127.0.0.1",
        "GCRM_SMTP_PORT": str(port),
        "GCRM_PASSWORD": PASSWORD,
    }
    cmd = [sys.executable, "-m", "gcrm", "campaigns", "send", name, "--user", "mgr"]
    return subprocess.Popen(
        [*cmd, "--stale-after", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _more_mail(db: str, n_extra: int) -> None:
    with session_scope() as s:
        t1 = s.get(Account, 1)
        assert t1 is not None
        for i in range(n_extra):
            s.add(
                Account(
                    external_id=f"bulk{i}",
                    name=f"Bulk {i}",
                    territory_id=t1.territory_id,
                    email=f"bulk{i}@example.com",
                    marketing_consent=True,
                    lat=60.17,
                    lon=24.94,
                )
            )


@pytest.mark.parametrize(("phase", "k"), [("data", 4), ("rcpt", 7)])
def test_killed_sender_sends_each_message_once(
    smtp: SmtpServer, world: dict, db: str, phase: str, k: int
) -> None:
    """SIGKILL the sender at message k (after the server holds it, or before), restart:
    no message is received twice and none is lost."""
    _more_mail(db, 15)
    cid = _campaign()
    with session_scope() as s:
        n = len(tables.outbox_frame(s, cid))
    assert n == 20
    smtp.handler.kill_phase, smtp.handler.kill_at = phase, k
    proc = _sender(db, smtp.port, "Showroom")
    smtp.handler.kill_pid = proc.pid
    proc.wait(timeout=120)
    assert proc.returncode == -9, proc.stderr.read() if proc.stderr else ""
    smtp.handler.kill_pid = None
    before = len(smtp.received)
    assert before == (k if phase == "data" else k - 1)
    proc = _sender(db, smtp.port, "Showroom")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with session_scope() as s:
        counts = tables.outbox_counts(s, cid)
    assert counts["uncertain"] == 1 and counts["sent"] == n - 1
    if phase == "rcpt":
        # the uncertain one never reached the server: a person re-sends it
        runner = CliRunner()
        env = {"GCRM_PASSWORD": PASSWORD}
        res = runner.invoke(
            app, ["campaigns", "resolve", "Showroom", "--resend", "--user", "mgr"], env=env
        )
        assert res.exit_code == 0, res.output
        send_pending(cid, stale_after_s=0)
    else:
        runner = CliRunner()
        res = runner.invoke(
            app,
            ["campaigns", "resolve", "Showroom", "--mark-sent", "--user", "mgr"],
            env={"GCRM_PASSWORD": PASSWORD},
        )
        assert res.exit_code == 0, res.output
    ids = [r.message_id for r in smtp.received]
    assert len(ids) == len(set(ids)) == n
    with session_scope() as s:
        outbox = tables.outbox_frame(s, cid)
    assert set(outbox["status"]) == {"sent"}
    assert set(outbox["message_id"]) == set(ids)


def test_cli_create_preview_send_report(smtp: SmtpServer, world: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"GCRM_PASSWORD": PASSWORD}
    body = tmp_path / "body.txt"
    body.write_text(BODY, encoding="utf-8")
    ring = [[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.2], [24.9, 60.1]]
    area = json.dumps({"area": {"type": "Polygon", "coordinates": [ring]}})
    steps = [
        ["campaigns", "segment", "lasso", "--definition", area],
        ["campaigns", "create", "Cli", "--segment", "lasso", "--channels", "email,call",
         "--subject", "Hi {{ name }}", "--body-file", str(body)],
        ["campaigns", "preview", "Cli"],
        ["campaigns", "send", "Cli"],
        ["campaigns", "report", "Cli", "--by", "postcode"],
    ]  # fmt: skip
    outs = []
    for args in steps:
        res = runner.invoke(app, [*args, "--user", "mgr"], env=env)
        assert res.exit_code == 0, (args, res.output)
        outs.append(res.stdout)
    assert '"email": 5' in outs[2] and '"call": 7' in outs[2]
    assert '"sent": 5' in outs[3]
    assert {r.recipients[0] for r in smtp.received} == world["mailable"]
    typo = ["--subject", "{{ nmae }}", "--body-file", str(body), "--user", "mgr"]
    bad = runner.invoke(app, ["campaigns", "create", "X", "--segment", "lasso", *typo], env=env)
    assert bad.exit_code == 2 and "subject: template error" in bad.output
    denied = runner.invoke(app, ["campaigns", "send", "Cli", "--user", "rep"], env=env)
    assert denied.exit_code in (1, 3)


def _add_people(world: dict) -> dict[str, int]:
    """Contact persons at North accounts: each with their own consent and flags."""
    from gcrm.db.models import Contact

    ids = world["ids"]
    people = {
        "Pia": (ids["Café Aalto"], "pia@example.com", True, False),
        "Olli": (ids["Café Aalto"], "olli@example.com", False, False),  # no consent
        "Dina": (ids["Kirja Oy"], "dina@example.com", True, True),  # do not contact
        "Noel": (ids["No Consent Oy"], "noel@example.com", True, False),  # account: no consent
        "Ned": (ids["Never Ltd"], "ned@example.com", True, False),  # account: do not contact
        "Sam": (ids["Kukka Ky"], "A5@Example.com ", True, False),  # the account's own address
        "Sue": (ids["South Oy"], "sue@example.com", True, False),  # outside mgr's scope
    }
    with session_scope() as s:
        rows = {
            name: Contact(
                account_id=aid, name=name, email=mail, marketing_consent=ok, do_not_contact=dnc
            )
            for name, (aid, mail, ok, dnc) in people.items()
        }
        s.add_all(rows.values())
        s.flush()
        return {name: c.id for name, c in rows.items()}


def test_contact_persons_are_mailed_with_their_own_consent(smtp: SmtpServer, world: dict) -> None:
    """A consenting person is mailed (by name), even at an account without consent; a
    person without consent, do-not-contact, at a do-not-contact account or outside the
    scope is not; an address shared with the account gets one message; a person's
    unsubscribe turns off that person's consent only."""
    from gcrm.db.models import Contact

    people = _add_people(world)
    cid = _campaign(body="Dear {{ contact_name or name }},\nnews from {{ name }}.\n")
    result = send_pending(cid)
    got = sorted(r.recipients[0] for r in smtp.received)
    want = sorted(world["mailable"] | {"pia@example.com", "noel@example.com"})
    assert got == want and result.sent == len(want)
    pia = next(r for r in smtp.received if r.recipients[0] == "pia@example.com")
    assert pia.part("plain").startswith("Dear Pia,\r\nnews from Café Aalto.")
    with session_scope() as s:
        outbox = tables.outbox_frame(s, cid)
    by_person = outbox.dropna(subset=["contact_id"])
    assert set(by_person["contact_id"].astype(int)) == {people["Pia"], people["Noel"]}
    ok = CliRunner().invoke(app, ["campaigns", "unsubscribe", _token(pia)])
    assert ok.exit_code == 0, ok.output
    with session_scope() as s:
        person = s.get(Contact, people["Pia"])
        account = s.get(Account, world["ids"]["Café Aalto"])
        assert person is not None and person.marketing_consent is False
        assert account is not None and account.marketing_consent is True
    cid2 = _campaign("Second")
    send_pending(cid2)
    second = {r.recipients[0] for r in smtp.received[len(want) :]}
    assert "pia@example.com" not in second and "a1@example.com" in second


def test_person_who_withdraws_after_queueing_is_skipped(smtp: SmtpServer, world: dict) -> None:
    """The send-time re-check applies the person's rule too."""
    from gcrm.db.models import Contact

    people = _add_people(world)
    cid = _campaign()
    with session_scope() as s:
        person = s.get(Contact, people["Noel"])
        assert person is not None
        person.do_not_contact = True
    result = send_pending(cid)
    assert result.skipped == 1
    assert "noel@example.com" not in {r.recipients[0] for r in smtp.received}
