"""Cancelling a job: a queued one never runs, a running one stops and changes nothing.

Who may cancel follows the roles: the job's owner, an admin, a manager for the
users of their region; anyone else is refused with a message saying who may.
The running case uses a real ``python -m gcrm worker`` process (SQLite and
PostgreSQL), importing a file large enough to still be writing when asked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gcrm import jobs
from gcrm._errors import InputError, PermissionDeniedError
from gcrm.auth import actor_for
from gcrm.cli import app
from gcrm.db import queue
from gcrm.db.models import Account, AuditEvent
from gcrm.db.session import session_scope

ROOT = Path(__file__).resolve().parents[1]
CSV = (
    b"external_id,name,street,housenumber,city,email,lat,lon\n"
    b"JC1,Cancel Me Oy,Mannerheimintie,5,Helsinki,info@cancel.fi,60.17,24.94\n"
)
DEMO = {"GCRM_PASSWORD": "demo"}


@pytest.fixture
def queued(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo, with jobs only queued (no inline thread): a worker must run them."""
    monkeypatch.setenv("GCRM_JOBS", "queue")
    return demo_db


def _actor(username: str) -> Any:
    with session_scope() as session:
        return actor_for(session, username)


def _accounts() -> tuple[int, int]:
    with session_scope() as session:
        n = session.scalar(select(func.count()).select_from(Account))
        biggest = session.scalar(select(func.max(Account.id)))
    return int(n or 0), int(biggest or 0)


def _audit(action: str, target: str) -> list[dict[str, Any]]:
    with session_scope() as session:
        rows = session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == action, AuditEvent.target == target
            )
        ).all()
    return [json.loads(d or "{}") for d in rows]


def test_a_cancelled_queued_job_never_runs(queued: str) -> None:
    """Cancel before any worker took it: cancelled at once, the worker skips it, the
    uploaded file is dropped, nothing is imported, and the cancel is audited."""
    before = _accounts()
    job = jobs.submit("import", {"name": "a.csv", "mapping": None}, "analyst", file=CSV)
    state = jobs.cancel(job, _actor("analyst"))
    assert state.status == "cancelled" and state.finished
    assert jobs.work(once=True) == 0  # nothing left to claim
    assert jobs.status(job, "analyst").status == "cancelled"
    assert queue.input_file(job) is None
    assert _accounts() == before
    (entry,) = _audit("cancel", f"job:{job}")
    assert entry["owner"] == "analyst" and entry["status"] == "queued"
    assert entry["now"] == "cancelled"
    # Cancelling again changes nothing and says how the job ended.
    assert jobs.cancel(job, _actor("analyst")).status == "cancelled"


def test_a_job_claimed_before_the_cancel_reached_it_does_not_run(queued: str) -> None:
    """A worker that claimed the job as the request came in ends it without running."""
    before = _accounts()
    job = jobs.submit("import", {"name": "a.csv", "mapping": None}, "analyst", file=CSV)
    state = queue.claim("w-test")
    assert state is not None and state.id == job
    assert jobs.cancel(job, _actor("analyst")).status == "cancelling"
    assert jobs.status(job, "analyst").status == "cancelling"
    jobs.run_one(state)
    assert jobs.status(job, "analyst").status == "cancelled"
    assert _accounts() == before


def test_a_finished_job_stays_finished(queued: str) -> None:
    """A job that ended before the request is left as it ended."""
    job = jobs.submit("import", {"name": "a.csv", "mapping": None}, "analyst", file=CSV)
    jobs.work(once=True)
    assert jobs.cancel(job, _actor("analyst")).status == "done"
    assert not _audit("cancel", f"job:{job}")


def test_only_the_owner_an_admin_or_their_manager_may_cancel(queued: str) -> None:
    """Another rep (or an analyst) is refused with a clear, audited message; the job
    stays queued. The rep's manager and an admin may cancel it."""
    payload = {"rep": "rep1", "day": "2027-01-05", "days": 2, "selected": []}
    job = jobs.submit("day_plan", payload, "rep1")
    for other in ("rep2", "analyst"):
        with pytest.raises(PermissionDeniedError, match=r"may not cancel job .* of 'rep1'"):
            jobs.cancel(job, _actor(other))
    assert jobs.status(job, "rep1").status == "queued"
    denied = _audit("denied", f"job:{job}")
    assert len(denied) == 2 and "only its owner" in denied[0]["reason"]
    assert jobs.cancel(job, _actor("manager")).status == "cancelled"
    second = jobs.submit("day_plan", payload, "rep1")
    assert jobs.cancel(second, _actor("admin")).status == "cancelled"
    with pytest.raises(InputError, match="no such job"):
        jobs.cancel(10**9, _actor("admin"))


def test_cli_jobs_cancel(queued: str) -> None:
    """``gcrm jobs cancel ID`` cancels one's own job; another rep gets exit 3."""
    payload = {"rep": "rep1", "day": "2027-01-05", "days": 2, "selected": []}
    job = jobs.submit("day_plan", payload, "rep1")
    runner = CliRunner()
    refused = runner.invoke(app, ["jobs", "cancel", str(job)], env={**DEMO, "GCRM_USER": "rep2"})
    assert refused.exit_code == 3
    assert "may not cancel job" in refused.stderr
    done = runner.invoke(app, ["jobs", "cancel", str(job)], env={**DEMO, "GCRM_USER": "rep1"})
    assert done.exit_code == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["job"], out["status"]) == (job, "cancelled")
    shown = runner.invoke(app, ["jobs", "status", str(job)], env={**DEMO, "GCRM_USER": "rep1"})
    assert json.loads(shown.stdout)["status"] == "cancelled"


def _big_csv(rows: int) -> bytes:
    lines = ["external_id,name,street,housenumber,city,lat,lon"]
    for i in range(rows):
        lat, lon = 60.15 + (i % 500) * 1e-4, 24.90 + (i // 500 % 500) * 1e-4
        lines.append(f"BIG{i},Big Shop {i} Oy,Mannerheimintie,{i % 90 + 1},Helsinki,{lat},{lon}")
    return ("\n".join(lines) + "\n").encode()


def test_a_running_import_in_a_worker_process_stops_and_changes_nothing(
    queued: str, tmp_path: Path
) -> None:
    """A worker process importing 60,000 rows is asked to stop while it writes: the job
    ends as cancelled, the worker goes on living, and the store is as before."""
    before = _accounts()
    job = jobs.submit(
        "import", {"name": "big.csv", "mapping": None}, "analyst", file=_big_csv(60_000)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "gcrm", "worker", "--once"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while (state := jobs.status(job, "analyst")).status == "queued":
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "no worker took the job"
            time.sleep(0.05)
        assert state.status == "running", state
        time.sleep(1.0)  # well into the file: rows are being written in its transaction
        assert jobs.cancel(job, _actor("analyst")).status == "cancelling"
        out, err = worker.communicate(timeout=300)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err[-2000:]
    assert "1 job(s) run" in out
    state = jobs.status(job, "analyst")
    assert state.status == "cancelled", state
    assert state.message == "Cancelled"
    assert _accounts() == before  # the rows written before the cancel rolled back
    assert queue.input_file(job) is None
    with session_scope() as session:
        n = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import")
        )
    assert n == 0
