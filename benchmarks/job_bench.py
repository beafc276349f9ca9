"""The latency the job queue adds: from a page's submit to the job being done.

Usage::

    python benchmarks/job_bench.py                       # SQLite (inline thread) only
    python benchmarks/job_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python benchmarks/job_bench.py --postgres URL --jobs 40 --check

A job that does nothing (registered for this run only) isolates what the queue
costs: the insert, the claim (``FOR UPDATE SKIP LOCKED``), the result write, and
the wait of the worker. Scenarios, measured in the same run:

- ``inline``: ``GCRM_JOBS=inline`` on SQLite, the job in a thread of the app;
- ``queue+notify``: a worker waiting on PostgreSQL ``LISTEN``/``NOTIFY``;
- ``queue poll``: the same worker woken only by its 1 s poll (the state before
  NOTIFY): the baseline.

Jobs are submitted at random moments (as users click), one at a time; the time
is from calling :func:`gcrm.jobs.submit` to the job's row saying ``done``,
read every 5 ms. The page then sees it at its next look (every
:data:`views.jobs.POLL_S` seconds: on average half of that is added).

My day's one-day plans of up to :data:`gcrm.jobs.PAGE_PLAN_MAX_STOPS` stops do
not go through the queue at all (issue 14's 25-stop Optimise adds nothing).

``--check`` fails (exit 1) unless queue+notify's p95 is under 0.25 s and under
a quarter of the poll-only p50.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gcrm import job_kinds, jobs  # noqa: E402
from gcrm.db import queue  # noqa: E402
from gcrm.db.models import User  # noqa: E402
from gcrm.db.session import dispose_engines, session_scope, upgrade_database  # noqa: E402
from gcrm.settings import get_settings  # noqa: E402
from views.jobs import POLL_S  # noqa: E402

KIND = "bench_noop"


def _noop(job: Any, progress: Any) -> tuple[Any, bytes | None]:
    return {"ok": True}, None


def _use(url: str) -> None:
    os.environ["GCRM_DATABASE_URL"] = url
    get_settings.cache_clear()
    dispose_engines()
    upgrade_database(url)
    with session_scope() as s:
        s.add(User(username="bench", display_name="Bench", role="analyst"))


def _measure(n: int, username: str = "bench") -> list[float]:
    out = []
    for _ in range(n):
        time.sleep(random.uniform(0.05, 0.3))  # users click at random moments
        t0 = time.perf_counter()
        job = jobs.submit(KIND, {}, username)
        while not jobs.status(job, username).finished:
            time.sleep(0.005)
        out.append(time.perf_counter() - t0)
    return out


def _line(name: str, secs: list[float], cpu: float) -> dict[str, float]:
    q = statistics.quantiles(secs, n=20)
    p50, p95 = statistics.median(secs), q[18]
    print(f"{name:<14} n={len(secs):3d}  p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
          f"max {max(secs) * 1000:7.1f} ms  CPU {cpu * 1000 / len(secs):5.1f} ms/job")  # fmt: skip
    return {"p50": p50, "p95": p95}


def _with_worker(n: int, *, notify: bool) -> tuple[list[float], float]:
    os.environ["GCRM_JOBS"] = "queue"
    original = queue.Waker.wait

    def poll_only(self: queue.Waker, timeout_s: float) -> bool:
        time.sleep(timeout_s)
        return False

    if not notify:
        queue.Waker.wait = poll_only  # type: ignore[method-assign]
    # One worker that runs exactly the n jobs of this scenario, then ends.
    thread = threading.Thread(target=jobs.work, kwargs={"poll_s": 1.0, "max_jobs": n})
    thread.start()
    time.sleep(1.5)  # it found the queue empty and waits
    cpu0 = time.process_time()
    try:
        secs = _measure(n)
    finally:
        cpu = time.process_time() - cpu0
        thread.join(timeout=60)
        queue.Waker.wait = original  # type: ignore[method-assign]
    return secs, cpu


def main() -> int:
    """Run the scenarios and print one line each; return the exit code."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--postgres", help="a PostgreSQL server URL (a database is made and dropped)")
    ap.add_argument("--jobs", type=int, default=30, help="jobs per scenario")
    ap.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = ap.parse_args()
    random.seed(0)
    job_kinds.HANDLERS[KIND] = _noop
    job_kinds.PERMISSIONS[KIND] = "export"
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GCRM_DATA_DIR"] = tmp
        _use(f"sqlite:///{tmp}/bench.db")
        os.environ["GCRM_JOBS"] = "inline"
        cpu0 = time.process_time()
        secs = _measure(args.jobs)
        results["inline"] = _line("inline", secs, time.process_time() - cpu0)
        if args.postgres:
            name = f"gcrm_bench_{uuid.uuid4().hex[:10]}"
            admin_url = make_url(args.postgres).set(drivername="postgresql+psycopg")
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                _use(admin_url.set(database=name).render_as_string(hide_password=False))
                for label, notify in (("queue+notify", True), ("queue poll", False)):
                    secs, cpu = _with_worker(args.jobs, notify=notify)
                    results[label] = _line(label, secs, cpu)
                ratio = results["queue+notify"]["p50"] / results["queue poll"]["p50"]
                print(f"queue+notify p50 / poll-only p50 = {ratio:.3f} (same run)")
            finally:
                dispose_engines()
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    print(f"pages look every {POLL_S:.1f} s (views.jobs.POLL_S): + {POLL_S / 2:.2f} s on average")
    print(f"My day one-day plans of <= {jobs.PAGE_PLAN_MAX_STOPS} stops: in the page, + 0 s")
    if not args.check:
        return 0
    if "queue+notify" not in results:
        print("CHECK N/A: needs --postgres")
        return 0
    ok = (
        results["queue+notify"]["p95"] < 0.25
        and results["queue+notify"]["p95"] < results["queue poll"]["p50"] / 4
    )
    print(("PASS" if ok else "FAIL") + ": queue+notify p95 < 0.25 s and < poll-only p50 / 4")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
