"""The job queue: claims are exclusive, failures are recorded, work leaves the page."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update

from gcrm import job_kinds, jobs
from gcrm._errors import InputError, PermissionDeniedError
from gcrm.db import queue
from gcrm.db.models import Job, Territory
from gcrm.db.session import session_scope


@pytest.fixture
def queued(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo, with jobs only queued (no inline thread): a worker must run them."""
    monkeypatch.setenv("GCRM_JOBS", "queue")
    return demo_db


def test_two_workers_never_take_the_same_job(queued: str) -> None:
    """Eight claimers racing for 20 jobs take each exactly once."""
    ids = {queue.enqueue("report", {"kind": "reps", "fmt": "csv"}, "analyst") for _ in range(20)}
    taken: list[int] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        while (state := queue.claim(f"w{n}")) is not None:
            with lock:
                taken.append(state.id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(ids)
    assert queue.counts()["running"] == 20


def test_a_worker_builds_territories_with_progress(queued: str) -> None:
    """A territory build submitted from a page is done by the worker, result kept."""
    job = jobs.submit("territories", {"k": 2, "balance": "workload"}, "manager")
    assert jobs.status(job, "manager").status == "queued"  # nothing ran in the page
    assert jobs.work(once=True) == 1
    state = jobs.status(job, "manager")
    assert state.status == "done" and state.progress == 1.0
    assert state.result["territories"] == 2
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Territory)) == 2


def test_report_file_is_stored_for_its_owner_only(queued: str) -> None:
    """A report job keeps its file; only the user who asked can read it."""
    job = jobs.submit("report", {"kind": "reps", "fmt": "csv"}, "analyst")
    jobs.work(once=True)
    state = jobs.status(job, "analyst")
    data = jobs.result_file(job, "analyst")
    assert state.status == "done"
    assert data is not None and b"," in data
    assert state.result["rows"] >= 1
    with pytest.raises(InputError, match="no such job"):
        jobs.status(job, "manager")


def test_failures_and_permissions(queued: str) -> None:
    """A rep may not queue a build; a bad payload fails the job with its message."""
    with pytest.raises(PermissionDeniedError):
        jobs.submit("territories", {"k": 2}, "rep1")
    with pytest.raises(InputError, match="unknown job kind"):
        jobs.submit("mine bitcoin", {}, "manager")
    job = jobs.submit("report", {"kind": "reps", "fmt": "docx"}, "analyst")
    jobs.work(once=True)
    state = jobs.status(job, "analyst")
    assert state.status == "failed" and "docx" in (state.message or "")
    assert jobs.work(once=True) == 0  # the worker survived and the queue is empty


def test_a_stale_running_job_is_taken_again(queued: str) -> None:
    """A job whose worker died (no heartbeat for long) goes to the next worker."""
    job = queue.enqueue("report", {"kind": "reps", "fmt": "csv"}, "analyst")
    assert queue.claim("dead-worker") is not None
    assert queue.claim("other") is None
    with session_scope() as s:
        old = dt.datetime(2000, 1, 1)
        s.execute(update(Job).where(Job.id == job).values(heartbeat_at=old))
    again = queue.claim("other")
    assert again is not None and again.id == job


def test_inline_mode_runs_without_a_worker(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The single-user default runs the job in a background thread of the app."""
    monkeypatch.setenv("GCRM_JOBS", "inline")
    job = jobs.submit("report", {"kind": "reps", "fmt": "csv"}, "analyst")
    deadline = dt.datetime.now() + dt.timedelta(seconds=120)
    while not jobs.status(job, "analyst").finished:
        assert dt.datetime.now() < deadline
        threading.Event().wait(0.1)
    assert jobs.status(job, "analyst").status == "done"


def test_a_long_job_keeps_its_heartbeat(queued: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler that never reports progress still looks alive to other workers."""
    seen: list[dt.datetime] = []

    def slow(job: queue.JobState, progress: object) -> tuple[object, None]:
        with session_scope() as s:
            first = s.scalar(select(Job.heartbeat_at).where(Job.id == job.id))
        threading.Event().wait(0.6)
        with session_scope() as s:
            later = s.scalar(select(Job.heartbeat_at).where(Job.id == job.id))
        seen.extend([first, later])
        return {"ok": True}, None

    monkeypatch.setattr(jobs, "HEARTBEAT_S", 0.1)
    monkeypatch.setitem(job_kinds.HANDLERS, "slow", slow)
    monkeypatch.setitem(job_kinds.PERMISSIONS, "slow", "export")
    job = jobs.submit("slow", {}, "analyst")
    jobs.work(once=True)
    assert jobs.status(job, "analyst").status == "done"
    first, later = seen
    assert later > first


def test_old_finished_jobs_are_purged(queued: str) -> None:
    """Finished jobs older than a week go (their results hold account data); newer,
    queued and running ones stay."""
    old, recent, waiting = (queue.enqueue("report", {}, "analyst") for _ in range(3))
    for job in (old, recent):
        queue.finish(job, result={"rows": 1})
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == old).values(finished_at=dt.datetime(2000, 1, 1)))
    assert queue.purge() == 1
    with session_scope() as s:
        assert set(s.scalars(select(Job.id))) == {recent, waiting}
