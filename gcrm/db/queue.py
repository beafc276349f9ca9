"""A job queue in the database: PostgreSQL ``FOR UPDATE SKIP LOCKED``, SQLite as fallback.

Rows of :class:`gcrm.db.models.Job` go ``queued`` → ``running`` → ``done`` or
``failed``; :func:`request_cancel` ends a queued job as ``cancelled`` at once and
marks a running one ``cancelling``: its worker notices at its next progress
update (:func:`cancel_requested`), its work rolls back, and it ends as
``cancelled``. On SQLite a job's own long transaction (an import) may hold the
one write lock: the request then waits for nothing and leaves a marker file
beside the database instead, which the worker (on the same machine, as SQLite
is) and :func:`get` read. Any number of worker processes, on any machine that reaches the
database, claim jobs with :func:`claim`: on PostgreSQL the candidate row is
locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` so two workers never wait on
or take the same job; on SQLite (one machine) a conditional ``UPDATE ... WHERE
status = 'queued'`` makes the claim atomic. A running job whose worker stopped
sending heartbeats is queued again. Each function opens and commits its own
short transaction, so progress is visible to the page at once.

Finished jobs are deleted after :data:`KEEP_FINISHED` (:func:`purge`, run by
the workers). A job may carry an input file (an uploaded import) in its row, so a worker on
another machine reads it from the database; it is cleared when the job ends.
On PostgreSQL :func:`enqueue` also sends ``NOTIFY gcrm_jobs``: an idle worker
waiting in :meth:`Waker.wait` (``LISTEN gcrm_jobs``) starts the job at once
instead of at its next poll.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import defer

from gcrm.db.models import Job
from gcrm.db.session import get_engine, session_scope
from gcrm.settings import get_settings

#: Job states.
STATES: tuple[str, ...] = ("queued", "running", "cancelling", "done", "failed", "cancelled")

#: States of a job that ended (nothing more happens to it).
FINISHED: tuple[str, ...] = ("done", "failed", "cancelled")

#: States of a job a worker holds (its progress and heartbeats are recorded).
HELD: tuple[str, ...] = ("running", "cancelling")

#: A running job with no heartbeat for this long is given to another worker.
STALE_AFTER = dt.timedelta(minutes=10)

#: Finished jobs (their results, report files and import reports) are kept this long.
KEEP_FINISHED = dt.timedelta(days=7)

#: The PostgreSQL channel :func:`enqueue` notifies and idle workers listen on.
CHANNEL = "gcrm_jobs"


@dataclasses.dataclass(frozen=True)
class JobState:
    """What a page shows of a job.

    Attributes
    ----------
    id, kind, username, status
        Identity, kind, who asked, and one of :data:`STATES`.
    progress
        0-1.
    message
        The latest progress message or error.
    payload, result
        Decoded JSON.
    has_file
        Whether a result file is stored (:func:`result_file`).
    created_at
        When it was queued (UTC, naive).
    """

    id: int
    kind: str
    username: str
    status: str
    progress: float
    message: str | None
    payload: dict[str, Any]
    result: Any
    has_file: bool
    created_at: dt.datetime | None = None

    @property
    def waited_s(self) -> float:
        """Seconds since the job was queued."""
        if self.created_at is None:
            return 0.0
        return (_now() - self.created_at).total_seconds()

    @property
    def finished(self) -> bool:
        """Whether the job is done, failed or cancelled."""
        return self.status in FINISHED


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _load(session: Any, job_id: int) -> JobState | None:
    # The files stay in the database: a page polls the state every second.
    row = session.execute(
        select(Job, Job.result_file.is_not(None))
        .options(defer(Job.result_file), defer(Job.input_file))
        .where(Job.id == job_id)
    ).first()
    if row is None:
        return None
    state = _state(row[0], has_file=bool(row[1]))
    if state.status in ("queued", "running") and _has_marker(session.get_bind().engine, job_id):
        state = dataclasses.replace(state, status="cancelling", message="Cancelling…")
    return state


def _state(job: Job, *, has_file: bool) -> JobState:
    return JobState(
        id=int(job.id),
        kind=job.kind,
        username=job.username,
        status=job.status,
        progress=float(job.progress or 0.0),
        message=job.message,
        payload=json.loads(job.payload or "{}"),
        result=json.loads(job.result) if job.result else None,
        has_file=has_file,
        created_at=job.created_at,
    )


def enqueue(
    kind: str,
    payload: dict[str, Any],
    username: str,
    *,
    file: bytes | None = None,
    url: str | None = None,
) -> int:
    """Queue a job (with its input ``file``, if any) and return its id.

    On PostgreSQL the commit also notifies :data:`CHANNEL`, waking an idle worker.
    """
    with session_scope(url) as session:
        job = Job(
            kind=kind,
            payload=json.dumps(payload, default=str),
            username=username,
            status="queued",
            progress=0.0,
            input_file=file,
            created_at=_now(),
        )
        session.add(job)
        session.flush()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
        return int(job.id)


def input_file(job_id: int, *, url: str | None = None) -> bytes | None:
    """Return the job's input file (``None`` once the job ended or if it had none)."""
    with session_scope(url) as session:
        return session.scalar(select(Job.input_file).where(Job.id == job_id))


class Waker:
    """Lets an idle worker sleep until a job is queued.

    On PostgreSQL it holds one connection that listens on :data:`CHANNEL` and
    returns from :meth:`wait` as soon as :func:`enqueue` notifies (or when the
    timeout passes: the poll stays the fallback); elsewhere :meth:`wait` sleeps.

    Parameters
    ----------
    url
        Database URL (default: the settings').
    """

    def __init__(self, *, url: str | None = None) -> None:
        db_url = get_engine(url).url
        self._conn: Any = None
        if db_url.get_backend_name() == "postgresql":
            # Only with PostgreSQL: its driver is not needed on SQLite.
            import psycopg

            # Its own connection (not the pool's): it stays in LISTEN while the worker lives.
            dsn = db_url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._conn = psycopg.connect(dsn, autocommit=True)
            self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` seconds; return whether a job was announced."""
        if self._conn is None:
            time.sleep(max(0.0, timeout_s))
            return False
        woke = False
        for _ in self._conn.notifies(timeout=timeout_s, stop_after=1):
            woke = True
        if woke:  # drop what else arrived meanwhile: one claim loop serves them all
            for _ in self._conn.notifies(timeout=0.0):
                pass
        return woke

    def close(self) -> None:
        """Stop listening and give the connection back."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # already broken: nothing to give back
                return


def claim(worker: str, *, kinds: tuple[str, ...] = (), url: str | None = None) -> JobState | None:
    """Take the oldest queued job (or a stale running one) for ``worker``.

    Returns
    -------
    JobState or None
        The claimed job, now ``running``; ``None`` when nothing waits.
    """
    with session_scope(url) as session:
        stale = _now() - STALE_AFTER
        session.execute(
            update(Job)
            .where(Job.status == "running", Job.heartbeat_at < stale)
            .values(status="queued", worker=None)
        )
        session.execute(  # its worker died while asked to stop: nothing more will run
            update(Job)
            .where(Job.status == "cancelling", Job.heartbeat_at < stale)
            .values(status="cancelled", message="Cancelled", finished_at=_now(), input_file=None)
        )
        stmt = select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(1)
        if kinds:
            stmt = stmt.where(Job.kind.in_(kinds))
        job_id = session.scalar(stmt.with_for_update(skip_locked=True))
        if job_id is None:
            return None
        taken = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="running", worker=worker, heartbeat_at=_now(), progress=0.0)
        )
        if getattr(taken, "rowcount", 0) != 1:
            return None
        return _load(session, job_id)


def report_progress(job_id: int, progress: float, message: str, *, url: str | None = None) -> bool:
    """Record a running job's progress (0-1) and message; also its heartbeat.

    On SQLite the job's own work may hold the one write lock (an import writes in
    one long transaction): then this gives up at once and returns ``False``
    instead of waiting for a lock that is only freed when the job ends.
    """
    values = {
        "progress": min(max(float(progress), 0.0), 1.0),
        "message": message[:500],
        "heartbeat_at": _now(),
    }
    return _write_if_free(job_id, values, url=url)


def heartbeat(job_id: int, *, url: str | None = None) -> bool:
    """Record that a running job's worker is alive (see :data:`STALE_AFTER`).

    Returns ``False`` when SQLite's write lock was taken (see :func:`report_progress`).
    """
    return _write_if_free(job_id, {"heartbeat_at": _now()}, url=url)


def _write_if_free(job_id: int, values: dict[str, Any], *, url: str | None) -> bool:
    stmt = update(Job).where(Job.id == job_id, Job.status.in_(HELD)).values(**values)
    engine = get_engine(url)
    if engine.dialect.name != "sqlite":  # row locks: the job's own transaction is no obstacle
        with session_scope(url) as session:
            session.execute(stmt)
        return True
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            conn.execute(stmt)
            conn.commit()
        except OperationalError:  # "database is locked": skip this one
            conn.rollback()
            return False
        finally:
            wait_ms = int(get_settings().sqlite_busy_timeout_s * 1000)
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
    return True


def finish(
    job_id: int,
    *,
    result: Any = None,
    file: bytes | None = None,
    error: str | None = None,
    cancelled: bool = False,
    url: str | None = None,
) -> None:
    """Mark a job done (with its result and file), failed (with the error) or cancelled."""
    values: dict[str, Any] = {"finished_at": _now(), "heartbeat_at": _now(), "input_file": None}
    if cancelled:
        values.update(status="cancelled", progress=0.0, message="Cancelled")
    elif error is None:
        values.update(
            status="done",
            progress=1.0,
            message="Done",
            result=json.dumps(result, default=str),
            result_file=file,
        )
    else:
        values.update(status="failed", message=error[:500])
    with session_scope(url) as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
    marker = _marker(get_engine(url), job_id)
    if marker is not None:
        marker.unlink(missing_ok=True)


def request_cancel(job_id: int, *, url: str | None = None) -> str:
    """Cancel a queued job now, or ask the worker of a running one to stop.

    Permissions are the caller's concern (:func:`gcrm.jobs.cancel`).

    Returns
    -------
    str
        The job's status afterwards: ``cancelled`` (it was queued: it never
        runs), ``cancelling`` (its worker stops at its next progress update),
        or the finished status it already had.
    """
    now = _now()
    stmts = [
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="cancelled", message="Cancelled", finished_at=now, input_file=None),
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(status="cancelling", message="Cancelling…"),
    ]
    engine = get_engine(url)
    if engine.dialect.name != "sqlite":
        with session_scope(url) as session:
            for stmt in stmts:
                session.execute(stmt)
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout = 0")
            try:
                for stmt in stmts:
                    conn.execute(stmt)
                conn.commit()
            except OperationalError:  # a job's transaction holds the write lock
                conn.rollback()
                _write_marker(engine, job_id)
            finally:
                wait_ms = int(get_settings().sqlite_busy_timeout_s * 1000)
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
    state = get(job_id, url=url)
    return "cancelled" if state is None else state.status


def cancel_requested(job_id: int, *, url: str | None = None) -> bool:
    """Whether the job was asked to stop (its worker checks at each progress update)."""
    engine = get_engine(url)
    if _has_marker(engine, job_id):
        return True
    with session_scope(url) as session:
        return session.scalar(select(Job.status).where(Job.id == job_id)) == "cancelling"


def _marker(engine: Any, job_id: int) -> Path | None:
    # SQLite only: a file beside the database, seen by every process on its machine.
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    db = Path(engine.url.database)
    return db.with_name(f"{db.name}.cancel") / str(job_id)


def _has_marker(engine: Any, job_id: int) -> bool:
    marker = _marker(engine, job_id)
    return marker is not None and marker.exists()


def _write_marker(engine: Any, job_id: int) -> None:
    marker = _marker(engine, job_id)
    if marker is None:
        msg = f"job {job_id}: the database is busy and has no folder for a cancel request"
        raise OperationalError(msg, None, Exception(msg))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def get(job_id: int, *, url: str | None = None) -> JobState | None:
    """Return the job's current state, ``None`` if there is no such job."""
    with session_scope(url) as session:
        return _load(session, job_id)


def result_file(job_id: int, *, url: str | None = None) -> bytes | None:
    """Return the job's result file, if it has one."""
    with session_scope(url) as session:
        return session.scalar(select(Job.result_file).where(Job.id == job_id))


def purge(*, older_than: dt.timedelta = KEEP_FINISHED, url: str | None = None) -> int:
    """Delete jobs that finished longer ago than ``older_than``; return how many.

    Their results hold account data (report files, rejected import rows), so
    they do not stay in the queue for ever; queued and running jobs stay.
    """
    with session_scope(url) as session:
        gone = session.execute(
            delete(Job).where(Job.status.in_(FINISHED), Job.finished_at < _now() - older_than)
        )
        return int(getattr(gone, "rowcount", 0) or 0)


def counts(*, url: str | None = None) -> dict[str, int]:
    """How many jobs are in each state."""
    with session_scope(url) as session:
        rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    out = dict.fromkeys(STATES, 0)
    out.update({str(status): int(n) for status, n in rows})
    return out
