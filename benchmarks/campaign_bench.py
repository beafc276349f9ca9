"""Campaigns: members of a drive-time segment over 100,000 accounts, and e-mail throughput.

Usage::

    python benchmarks/campaign_bench.py [--accounts 100000] [--minutes 3] [--messages 2000]

Builds the Helsinki demo in a temporary SQLite database and adds generated
accounts inside the region (``report_bench.populate``); about 70 % get
marketing consent and an e-mail, 5 % are do-not-contact. Then:

1. times :func:`gcrm.segments.members` of a drive-time segment (``--minutes``
   from the city centre, channel ``email``) as the manager: wall and CPU
   seconds (best of 3), against the same audience without the drive area
   (the store's scoped SQL query alone) as the in-run baseline. Target <= 2 s.
2. sends a campaign of ``--messages`` e-mails to a local aiosmtpd server
   (in-process, free port) with :func:`gcrm.campaigns.send_pending`: rendered
   and handed to SMTP per second, one outbox claim and one commit per message.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np


def _consent(url: str, seed: int = 5) -> None:
    from sqlalchemy import select, update

    from gcrm.db.models import Account
    from gcrm.db.session import session_scope

    rng = np.random.default_rng(seed)
    with session_scope(url) as s:
        ids = [a for (a,) in s.execute(select(Account.id))]
        flags = rng.random(len(ids))
        rows = [
            {
                "aid": a,
                "marketing_consent": bool(f < 0.7),
                "do_not_contact": bool(f > 0.95),
                "email": f"b{a}@example.com",
            }
            for a, f in zip(ids, flags, strict=True)
        ]
        from sqlalchemy import bindparam

        stmt = (
            update(Account.__table__)
            .where(Account.__table__.c.id == bindparam("aid"))
            .values(
                marketing_consent=bindparam("marketing_consent"),
                do_not_contact=bindparam("do_not_contact"),
                email=bindparam("email"),
            )
        )
        s.connection().execute(stmt, rows)


def _timed(fn, repeat: int = 3):  # type: ignore[no-untyped-def]
    best = (float("inf"), float("inf"), None)
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(
            best, (time.perf_counter() - w, time.process_time() - c, out), key=lambda b: b[0]
        )
    return best


def main() -> None:
    """Build the data, time the segment and the sender."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GCRM_DATA_DIR"] = tmp
        url = f"sqlite:///{tmp}/bench.db"
        os.environ["GCRM_DATABASE_URL"] = url
        from report_bench import populate

        from gcrm.auth import actor_for
        from gcrm.db.session import session_scope, upgrade_database
        from gcrm.demo import build_demo
        from gcrm.network import load_network
        from gcrm.segments import DriveArea, SegmentDefinition, members
        from gcrm.store import audience_frame

        upgrade_database(url)
        with session_scope(url) as s:
            build_demo(s)
        populate(url, args.accounts)
        _consent(url)
        G = load_network()
        d = SegmentDefinition(drive=DriveArea(60.1699, 24.9384, args.minutes))
        with session_scope(url) as s:
            mgr = actor_for(s, "manager")
            bw, bc, base = _timed(
                lambda: audience_frame(s, mgr, d.account_filter(), channel="email")
            )
            w, c, seg = _timed(lambda: members(s, mgr, d, channel="email", G=G))
        print(f"accounts: {args.accounts:,}; in scope and reachable by e-mail: {len(base):,}")
        print(f"baseline (scoped SQL audience, no drive area): {bw:.2f} s wall, {bc:.2f} s CPU")
        print(
            f"drive-time segment ({args.minutes:g} min): {len(seg):,} members in {w:.2f} s wall, "
            f"{c:.2f} s CPU (target <= 2 s); ratio to baseline {w / bw:.2f}"
        )
        _send(url, args.messages)


def _send(url: str, n: int) -> None:
    from aiosmtpd.controller import Controller

    from gcrm.auth import actor_for
    from gcrm.campaigns import create_campaign, launch, send_pending
    from gcrm.db.session import session_scope
    from gcrm.segments import SegmentDefinition, members, save_segment
    from gcrm.settings import get_settings

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            Sink.count += 1
            return "250 OK"

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["GCRM_SMTP_HOST"] = "127.0.0.1"
    os.environ["GCRM_SMTP_PORT"] = str(port)
    get_settings.cache_clear()
    try:
        with session_scope(url) as s:
            mgr = actor_for(s, "manager")
            ids = list(members(s, mgr, SegmentDefinition(), channel="email")["id"][:n])
            seg = save_segment(s, mgr, "bench", SegmentDefinition())
            c = create_campaign(
                s,
                mgr,
                name="bench",
                segment=seg.id,
                channels="email",
                subject="Hello {{ name }}",
                body="Dear {{ name }},\nnews for {{ postcode }} {{ city }}.",
            )
            cid = c.id
            launch(s, mgr, cid)
        from sqlalchemy import update

        from gcrm.db.models import OutboxMessage

        with session_scope(url) as s:  # keep n messages pending
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.campaign_id == cid, OutboxMessage.account_id.not_in(ids))
                .values(status="skipped")
            )
        w, c0 = time.perf_counter(), time.process_time()
        result = send_pending(cid)
        wall, cpu = time.perf_counter() - w, time.process_time() - c0
        print(
            f"e-mail: {result.sent:,} rendered and accepted by SMTP in {wall:.2f} s wall "
            f"({result.sent / wall:.0f}/s), {cpu:.2f} s CPU ({result.sent / cpu:.0f}/CPU-s); "
            f"server counted {Sink.count:,}"
        )
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
