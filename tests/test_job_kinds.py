"""Job kinds: call cycles, My day plans and imports run as jobs (inline thread and worker).

Each kind goes through the queue path (a worker claims it; on PostgreSQL as
well as SQLite) and the inline path (a background thread of the app process);
rights are checked when the job is submitted and when it runs; an import's
file travels in the job row and a failed import leaves the store unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

import gcrm.importer
from gcrm import jobs
from gcrm._errors import PermissionDeniedError
from gcrm.auth import actor_for
from gcrm.db import queue
from gcrm.db.models import Account, AuditEvent, Job
from gcrm.db.session import session_scope
from gcrm.import_report import RejectedRow, report_from_dict, report_to_dict
from gcrm.importer import ImportReport
from gcrm.routing import Plan
from gcrm.store import saved_cycles

ROOT = Path(__file__).resolve().parents[1]
MONDAY = "2027-01-04"
#: As other CRMs' exports look: one good row, three bad ones (name, e-mail, latitude).
CSV = (
    b"external_id,name,street,housenumber,city,email,lat,lon\n"
    b"JK1,Jobbers Oy,Mannerheimintie,5,Helsinki,info@jobbers.fi,,\n"
    b"JK2,,Aleksanterinkatu,1,Helsinki,,,\n"
    b"JK3,Bad Mail Oy,Bulevardi,2,Helsinki,not-an-email,,\n"
    b"JK4,Far Away Oy,X,1,,,95,24\n"
)


@pytest.fixture
def queued(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo, with jobs only queued (no inline thread): a worker must run them."""
    monkeypatch.setenv("GCRM_JOBS", "queue")
    return demo_db


def _wait(job_id: int, username: str, timeout_s: float = 300.0) -> queue.JobState:
    deadline = time.monotonic() + timeout_s
    while not (state := jobs.status(job_id, username)).finished:
        assert time.monotonic() < deadline, f"job {job_id} still {state.status}"
        time.sleep(0.1)
    return state


def _accounts() -> list[tuple[Any, ...]]:
    with session_scope() as s:
        rows = s.execute(
            select(Account.external_id, Account.name, Account.email, Account.lat).order_by(
                Account.id
            )
        ).all()
    return [tuple(r) for r in rows]


def test_cycles_are_planned_and_saved_by_a_worker(queued: str) -> None:
    """Plan and save for two reps is queued, then a worker plans and saves both."""
    payload = {"reps": ["rep1", "rep2"], "start": MONDAY, "weeks": 1, "iterations": 10}
    job = jobs.submit("cycles", payload, "manager")
    assert jobs.status(job, "manager").status == "queued"  # nothing ran in the page
    assert jobs.work(once=True) == 1
    state = jobs.status(job, "manager")
    assert state.status == "done", state.message
    assert state.result == {"reps": ["rep1", "rep2"], "start": MONDAY, "end": "2027-01-10"}
    with session_scope() as s:
        saved = saved_cycles(s, actor_for(s, "manager"))
    assert {c["rep"] for c in saved} == {"rep1", "rep2"}
    # An appointment re-plans its days in a worker too.
    plan = saved[0]["plan"]
    acc = int(next(iter(plan["accounts"])))
    when = dt.datetime(2027, 1, 5, 13, 0).isoformat()
    job = jobs.submit(
        "cycle_appointment", {"rep": saved[0]["rep"], "account_id": acc, "when": when}, "manager"
    )
    jobs.work(once=True)
    state = jobs.status(job, "manager")
    assert state.status == "done", state.message
    assert "2027-01-05" in state.result["changed"]


def test_cycle_rights_are_checked_when_the_job_runs(queued: str) -> None:
    """A rep may not plan another user's cycle: the job fails when it runs, naming
    that user; an analyst (no ``plan`` right) may not even queue it."""
    with pytest.raises(PermissionDeniedError):
        jobs.submit("cycles", {"reps": ["rep1"], "start": MONDAY}, "analyst")
    job = jobs.submit("cycles", {"reps": ["admin"], "start": MONDAY, "weeks": 1}, "rep1")
    jobs.work(once=True)
    state = jobs.status(job, "rep1")
    assert state.status == "failed"
    assert "admin" in (state.message or "")


def test_a_multi_day_plan_runs_in_a_worker(queued: str) -> None:
    """My day's plan of two days is a job; its result is the plan, for the page."""
    with session_scope() as s:
        ids = [
            int(i)
            for i in s.scalars(
                select(Account.id)
                .join(Account.owner)
                .where(Account.lat.is_not(None), Account.do_not_contact.is_(False))
                .where(Account.owner.has(username="rep1"))
                .order_by(Account.id)
                .limit(8)
            )
        ]
    payload = {"rep": "rep1", "day": "2027-01-05", "days": 2, "selected": ids}
    job = jobs.submit("day_plan", payload, "rep1")
    jobs.work(once=True)
    state = jobs.status(job, "rep1")
    assert state.status == "done", state.message
    plan = Plan.from_dict(state.result)
    assert {r.rep for r in plan.routes} == {"rep1"}
    planned = {s.account_id for r in plan.routes for s in r.stops}
    assert planned | {d.account_id for d in plan.dropped} >= set(ids)
    # A rep plans only their own day: asking for another rep's fails when it runs.
    job = jobs.submit("day_plan", {**payload, "rep": "rep2"}, "rep1")
    jobs.work(once=True)
    assert jobs.status(job, "rep1").status == "failed"


def test_plan_in_page_rule() -> None:
    """One day of up to 40 visits stays in the page; more, or several days, is a job."""
    assert jobs.plan_in_page(days=1, stops=25)
    assert jobs.plan_in_page(days=1, stops=jobs.PAGE_PLAN_MAX_STOPS)
    assert not jobs.plan_in_page(days=1, stops=jobs.PAGE_PLAN_MAX_STOPS + 1)
    assert not jobs.plan_in_page(days=2, stops=5)


def test_import_file_travels_in_the_job_row(queued: str) -> None:
    """The uploaded bytes are stored in the job (no local path in the payload); the
    worker imports them, reports each rejected row with row and field, and clears
    the stored file; a dry run first writes nothing."""
    before = _accounts()
    payload = {"name": "accounts.csv", "mapping": None, "dry_run": True}
    job = jobs.submit("import", payload, "analyst", file=CSV)
    assert queue.input_file(job) == CSV
    assert "/" not in str(jobs.status(job, "analyst").payload)
    jobs.work(once=True)
    dry = report_from_dict(jobs.status(job, "analyst").result)
    assert dry.dry_run and (dry.rows, dry.inserted, dry.rejected) == (4, 1, 3)
    assert _accounts() == before
    assert queue.input_file(job) is None  # the personal data does not stay in the queue

    job = jobs.submit("import", {**payload, "dry_run": False}, "analyst", file=CSV)
    jobs.work(once=True)
    state = jobs.status(job, "analyst")
    assert state.status == "done", state.message
    report = report_from_dict(state.result)
    assert (report.inserted, report.rejected) == (1, 3)
    rejects = report.rejects_frame().set_index("row")
    assert {int(r): f for r, f in rejects["field"].items()} == {3: "name", 4: "email", 5: "lat"}
    assert len(_accounts()) == len(before) + 1
    with session_scope() as s:
        n = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import")
        )
    assert n == 1


def test_a_failed_import_job_changes_nothing(queued: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable file fails the job with the file and row in the message; a failure
    after the accounts were written rolls the whole import back."""
    before = _accounts()
    broken = CSV + b'JK5,"Unclosed Oy,Bulevardi,3,Helsinki,,,\nJK6,Six Oy,Bulevardi,4,Helsinki,,,\n'
    job = jobs.submit("import", {"name": "broken.csv", "mapping": None}, "analyst", file=broken)
    jobs.work(once=True)
    state = jobs.status(job, "analyst")
    assert state.status == "failed"
    assert (state.message or "").startswith("broken.csv: row 6")  # the user's file name
    assert _accounts() == before

    def fail(session: Any, rows: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gcrm.importer, "_upsert_contacts", fail)
    job = jobs.submit("import", {"name": "accounts.csv", "mapping": None}, "analyst", file=CSV)
    jobs.work(once=True)
    state = jobs.status(job, "analyst")
    assert state.status == "failed" and "disk on fire" in (state.message or "")
    assert _accounts() == before
    with pytest.raises(PermissionDeniedError):  # a rep may not import
        jobs.submit("import", {"name": "a.csv"}, "rep1", file=CSV)


def test_import_progress_never_waits_for_its_own_transaction(
    queued: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every progress call writes (no throttle): on SQLite the import's own transaction
    holds the write lock, and the progress write must skip, not wait for it and fail."""
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_S", 0.0)
    job = jobs.submit("import", {"name": "a.csv", "mapping": None}, "analyst", file=CSV)
    jobs.work(once=True)
    state = jobs.status(job, "analyst")
    assert state.status == "done", state.message
    assert state.result["inserted"] == 1


def test_every_new_kind_runs_inline_without_a_worker(
    demo_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The single-user default: the app runs each kind in a background thread."""
    monkeypatch.setenv("GCRM_JOBS", "inline")
    ids = {
        "cycles": jobs.submit(
            "cycles", {"reps": ["rep1"], "start": MONDAY, "weeks": 1, "iterations": 10}, "manager"
        ),
        "import": jobs.submit("import", {"name": "a.csv", "mapping": None}, "analyst", file=CSV),
    }
    assert _wait(ids["cycles"], "manager").status == "done"
    assert _wait(ids["import"], "analyst").result["inserted"] == 1
    with session_scope() as s:
        account_ids = [
            int(i)
            for i in s.scalars(
                select(Account.id)
                .where(Account.owner.has(username="rep1"), Account.lat.is_not(None))
                .limit(4)
            )
        ]
    job = jobs.submit(
        "day_plan",
        {"rep": "rep1", "day": "2027-01-05", "days": 2, "selected": account_ids},
        "rep1",
    )
    assert Plan.from_dict(_wait(job, "rep1").result).routes


def test_import_report_round_trips_through_json() -> None:
    """An import report read back from the job's JSON equals the report written."""
    report = ImportReport(
        file="a.csv",
        rows=3,
        rejected=1,
        rejects=[RejectedRow.of(2, [("email", "bad"), ("lat", "out of range")], {"a": "1"})],
        duplicate_pairs=[(3, "X1", "X2")],
        value_mappings=[("stage", "Lead", "lead", 2)],
        skipped=[(9, "footer")],
    )
    assert report_from_dict(json.loads(json.dumps(report_to_dict(report)))) == report


@pytest.mark.postgres
def test_a_worker_process_imports_from_the_database(
    queued: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m gcrm worker`` in another process (another working folder and temp
    folder, as on another machine) imports the file it reads from the job row."""
    if not queued.startswith("postgresql"):
        pytest.skip("the cross-process worker is shown on PostgreSQL")
    job = jobs.submit("import", {"name": "accounts.csv", "mapping": None}, "analyst", file=CSV)
    elsewhere = tmp_path / "other-machine"
    elsewhere.mkdir()
    env = {**os.environ, "TMPDIR": str(elsewhere), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "gcrm", "worker", "--once"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    state = jobs.status(job, "analyst")
    assert state.status == "done", state.message
    assert state.result["inserted"] == 1


@pytest.mark.postgres
def test_an_idle_worker_wakes_on_notify(queued: str) -> None:
    """On PostgreSQL a waiting worker starts a new job at once (NOTIFY), long before
    its next poll (here 10 minutes away)."""
    if not queued.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    worker = threading.Thread(target=jobs.work, kwargs={"poll_s": 600.0, "max_jobs": 1})
    worker.start()
    time.sleep(1.0)  # the worker found the queue empty and listens
    job = jobs.submit("report", {"kind": "reps", "fmt": "csv"}, "analyst")
    worker.join(timeout=300)
    assert not worker.is_alive(), "the worker slept through the notification"
    assert jobs.status(job, "analyst").status == "done"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


@pytest.mark.postgres
def test_a_worker_survives_losing_its_listening_connection(queued: str) -> None:
    """If the server drops the LISTEN connection, the worker listens anew and runs jobs."""
    if not queued.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    worker = threading.Thread(target=jobs.work, kwargs={"poll_s": 0.5, "max_jobs": 1})
    worker.start()
    time.sleep(1.0)
    with session_scope() as s:
        killed = s.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query = 'LISTEN gcrm_jobs' AND datname = current_database()"
            )
        )
    assert killed == 1
    job = jobs.submit("report", {"kind": "reps", "fmt": "csv"}, "analyst")
    worker.join(timeout=300)
    assert not worker.is_alive()
    assert jobs.status(job, "analyst").status == "done"
