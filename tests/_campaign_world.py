"""Shared helpers of the campaign tests: a small world and a recording SMTP server."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import signal
import socket
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from gcrm.auth import hash_password
from gcrm.db.models import Account, Region, Territory, User

PASSWORD = "campaign-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None
        return str(body.get_content())


class Recorder:
    """aiosmtpd handler keeping every accepted message; can SIGKILL a sender."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.kill_pid: int | None = None
        self.kill_at: int | None = None
        self.kill_phase = "data"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        n = len(self.received) + 1
        if self.kill_phase == "rcpt" and self.kill_pid and n == self.kill_at:
            os.kill(self.kill_pid, signal.SIGKILL)
            return "451 sender gone"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        if self.kill_phase == "data" and self.kill_pid and len(self.received) == self.kill_at:
            # the server holds the message, the sender never hears the 250
            os.kill(self.kill_pid, signal.SIGKILL)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.handler = Recorder()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def build_world(session: Session) -> dict[str, Any]:
    """Region North (manager ``mgr``, rep ``rep``, territory T1) and region South.

    Accounts (all located in Helsinki): five consenting with e-mail in North,
    one of them with a hostile name; one do-not-contact, one without consent,
    one without e-mail; one consenting in South (outside ``mgr``'s scope).
    """
    north, south = Region(name="North"), Region(name="South")
    session.add_all([north, south])
    session.flush()
    pw = hash_password(PASSWORD)
    mgr = User(username="mgr", role="manager", region_id=north.id, password_hash=pw)
    rep = User(username="rep", role="rep", region_id=north.id, password_hash=pw)
    other = User(username="mgr2", role="manager", region_id=south.id, password_hash=pw)
    analyst = User(username="ana", role="analyst", password_hash=pw)
    session.add_all([mgr, rep, other, analyst])
    session.flush()
    t1 = Territory(name="T1", region_id=north.id, owner_id=rep.id)
    t2 = Territory(name="T2", region_id=south.id, owner_id=None)
    session.add_all([t1, t2])
    session.flush()

    def acc(i: int, name: str, terr: Territory, **kw: Any) -> Account:
        values: dict[str, Any] = {
            "external_id": f"x{i}",
            "name": name,
            "territory_id": terr.id,
            "owner_id": rep.id if terr is t1 else None,
            "lat": 60.165 + i * 0.001,
            "lon": 24.935 + i * 0.001,
            "postcode": f"00{100 + 10 * (i % 3)}",
            "city": "Helsinki",
            "email": f"a{i}@example.com",
            "marketing_consent": True,
        }
        values.update(kw)
        return Account(**values)

    accounts = [
        acc(1, "Café Aalto", t1),
        acc(2, "<b>Café & Co</b>", t1),
        acc(3, "Kirja Oy", t1),
        acc(4, "Ravintola {{ name }}", t1),
        acc(5, "Kukka Ky", t1),
        acc(6, "Never Ltd", t1, do_not_contact=True),
        acc(7, "No Consent Oy", t1, marketing_consent=False),
        acc(8, "No Mail Oy", t1, email=None),
        acc(9, "South Oy", t2),
    ]
    session.add_all(accounts)
    session.flush()
    return {
        "ids": {a.name: a.id for a in accounts},
        "mailable": {f"a{i}@example.com" for i in range(1, 6)},
    }
