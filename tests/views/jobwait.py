"""Wait in a test until queued jobs are done, then redraw the page."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from gcrm import jobs
from gcrm.db import queue


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
