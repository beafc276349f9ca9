"""Job pages in tests: wait until queued jobs are done, read progress bars, count accounts."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from gcrm import jobs
from gcrm.db import queue
from gcrm.db.models import Account
from gcrm.db.session import session_scope


def finish_jobs(at: AppTest, *, timeout_s: float = 300.0) -> AppTest:
    """Let the queued jobs finish (inline thread or this process as worker); rerun ``at``."""
    if not jobs.inline():
        jobs.work(once=True)
    deadline = time.monotonic() + timeout_s
    while True:
        left = queue.counts()
        if left["queued"] == 0 and left["running"] == 0:
            break
        assert time.monotonic() < deadline, f"jobs still pending: {left}"
        time.sleep(0.2)
    return at.run()  # the page reruns itself once the job's result is there


def progress_bars(at: AppTest) -> list[Any]:
    """The progress bars on the page (their protos)."""
    return [p.proto for p in at.get("progress")]


def account_count() -> int:
    """How many accounts the store holds."""
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(Account)) or 0)
