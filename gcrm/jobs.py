"""Heavy work outside the page thread: jobs, their handlers and the worker loop.

A page calls :func:`submit` and shows :func:`status` until the job is done; a
worker process (``python -m gcrm worker``, several per machine, on any machine
that reaches the database) claims jobs from the queue in the database
(:mod:`gcrm.db.queue`: PostgreSQL ``FOR UPDATE SKIP LOCKED``) and runs them.

With the default single-user SQLite set-up (``GCRM_JOBS=inline``) no worker
is needed: :func:`submit` runs the job in a background thread of the app
process, through the same table, so the page shows progress the same way.

The kinds (territory builds, report files, call-cycle plans, large or
multi-day My day plans, account imports) and their handlers are in
:mod:`gcrm.job_kinds`. An idle worker sleeps until PostgreSQL notifies it of a
new job (``LISTEN``/``NOTIFY``; the poll is the fallback), so a queued job
starts within milliseconds.

:func:`cancel` stops a job: a queued one never runs; a running one stops at its
next progress update (at most :data:`PROGRESS_EVERY_S` apart while it reports),
its handler's transaction rolls back (an import leaves the store unchanged),
and it ends as ``cancelled``. A job that finished before the request reached
it stays finished.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from typing import Any

from gcrm._errors import GcrmError, InputError, JobCancelledError, PermissionDeniedError
from gcrm.auth import Actor, actor_for, audit_event, require
from gcrm.db import queue
from gcrm.db.queue import JobState
from gcrm.db.session import session_scope
from gcrm.job_kinds import HANDLERS, PERMISSIONS
from gcrm.settings import get_settings

__all__ = [
    "HANDLERS",
    "PAGE_PLAN_MAX_STOPS",
    "PERMISSIONS",
    "cancel",
    "inline",
    "plan_in_page",
    "result_file",
    "run_one",
    "status",
    "submit",
    "work",
]

log = logging.getLogger(__name__)

#: My day plans one day of at most this many visits in the page (issue 14: Optimise to
#: route in <= 1.5 s for 25 stops; planning 25 stops costs about 0.2 CPU-s), anything
#: larger or over several days as a ``day_plan`` job.
PAGE_PLAN_MAX_STOPS = 40

#: A running job writes its progress to the database at most this often (seconds).
PROGRESS_EVERY_S = 0.5

#: Progress of the jobs this process runs, newest first-hand: on SQLite the job's own
#: transaction (an import) can keep the row's progress from being written until it ends.
_LIVE: dict[int, tuple[float, str]] = {}

#: A running job's worker says it is alive this often (seconds), progress or not.
HEARTBEAT_S = 60.0

#: Seconds between two purges of old finished jobs by one process.
PURGE_EVERY_S = 3600.0


def plan_in_page(*, days: int, stops: int) -> bool:
    """Whether My day plans this in the page (small, one day) rather than as a job.

    Parameters
    ----------
    days
        Days planned.
    stops
        Visits chosen.

    Returns
    -------
    bool
        ``True`` for one day of at most :data:`PAGE_PLAN_MAX_STOPS` visits.
    """
    return days == 1 and stops <= PAGE_PLAN_MAX_STOPS


def inline() -> bool:
    """Whether jobs run in the app process (``GCRM_JOBS=inline``, the SQLite default)."""
    mode = os.environ.get("GCRM_JOBS", "").strip().lower()
    if mode in ("inline", "queue"):
        return mode == "inline"
    return get_settings().resolved_database_url.startswith("sqlite")


def submit(kind: str, payload: dict[str, Any], username: str, *, file: bytes | None = None) -> int:
    """Queue a job for a user; in inline mode also start it in a background thread.

    Parameters
    ----------
    kind
        One of :data:`HANDLERS`.
    payload
        The job's arguments (JSON-serialisable).
    username
        Who asks (their permissions and scope apply when it runs).
    file
        The job's input file (an uploaded import): kept in the job row, so a worker
        on another machine reads it; cleared when the job ends.

    Returns
    -------
    int
        The job id, for :func:`status`.

    Raises
    ------
    InputError
        On an unknown kind.
    PermissionDeniedError
        When the user may not run this kind of job.
    """
    if kind not in HANDLERS:
        msg = f"unknown job kind {kind!r}: expected one of {', '.join(HANDLERS)}"
        raise InputError(msg)
    with session_scope() as session:
        require(actor_for(session, username), PERMISSIONS[kind])
    job_id = queue.enqueue(kind, payload, username, file=file)
    if inline():
        threading.Thread(target=_work_inline, daemon=True).start()
    return job_id


#: Inline jobs run one at a time per app process: SQLite writes one transaction at a time,
#: and two jobs writing side by side (an import, a plan being saved) would wait on each
#: other's locks until one gives up.
_INLINE_LOCK = threading.Lock()


def _work_inline() -> None:
    with _INLINE_LOCK:
        work(once=True)


def status(job_id: int, username: str) -> JobState:
    """Return the job's state, for the user who submitted it.

    Raises
    ------
    InputError
        When there is no such job of this user.
    """
    state = queue.get(job_id)
    if state is None or state.username != username:
        msg = f"job {job_id}: no such job of {username}"
        raise InputError(msg)
    live = _LIVE.get(job_id)
    if live is not None and state.status == "running":  # newer than the row (SQLite's lock)
        return dataclasses.replace(state, progress=live[0], message=live[1])
    return state


def result_file(job_id: int, username: str) -> bytes | None:
    """Return the file a finished job of this user produced (e.g. a report)."""
    status(job_id, username)
    return queue.result_file(job_id)


def cancel(job_id: int, actor: Actor) -> JobState:
    """Cancel a job: a queued one never runs, a running one stops at its next step.

    The job's owner may cancel it, an admin any job, a manager the jobs of the
    users of their region. The request is audited (``cancel``; a refusal as
    ``denied``).

    Parameters
    ----------
    job_id
        The job.
    actor
        Who cancels.

    Returns
    -------
    JobState
        The job afterwards: ``cancelled`` when it was queued, ``cancelling``
        while its worker winds it down, or the finished state it already had.

    Raises
    ------
    InputError
        When there is no such job.
    PermissionDeniedError
        When ``actor`` may not cancel this job (the message says who may).
    """
    state = queue.get(job_id)
    if state is None:
        msg = f"job {job_id}: no such job"
        raise InputError(msg)
    target = f"job:{job_id}"
    details = {"kind": state.kind, "owner": state.username, "status": state.status}
    if not _may_cancel(actor, state):
        msg = (
            f"user {actor.username!r} ({actor.role}) may not cancel job {job_id} of "
            f"{state.username!r}: only its owner, an admin or a manager of their region may"
        )
        audit_event(actor, "denied", target, {**details, "reason": msg})
        raise PermissionDeniedError(msg)
    if state.finished:
        return state
    queue.request_cancel(job_id)
    after = queue.get(job_id) or state
    audit_event(actor, "cancel", target, {**details, "now": after.status})
    return after


def _may_cancel(actor: Actor, state: JobState) -> bool:
    if actor.username == state.username or actor.can("admin"):
        return True
    if actor.role != "manager" or actor.region_id is None:
        return False
    with session_scope() as session:
        try:
            owner = actor_for(session, state.username)
        except GcrmError:  # the owner's user was removed meanwhile
            return False
    return owner.region_id == actor.region_id


def run_one(state: JobState) -> None:
    """Run one claimed job to the end, recording progress, result or error."""
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        _LIVE[state.id] = (fraction, message)  # what an app running the job inline shows
        # A write per call would cost a transaction per import chunk: at most every 0.5 s.
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            queue.report_progress(state.id, fraction, message)
            if queue.cancel_requested(state.id):  # raised inside the handler: it rolls back
                msg = f"job {state.id} ({state.kind}) was cancelled"
                raise JobCancelledError(msg)

    # A solver may run for many minutes without calling progress: a heartbeat every
    # minute keeps the job from looking abandoned (queue.STALE_AFTER) and run twice.
    running = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(state.id, running), daemon=True)
    beat.start()
    try:
        if queue.cancel_requested(state.id):  # cancelled while it was being claimed
            raise JobCancelledError(f"job {state.id} was cancelled")
        with session_scope() as session:
            require(actor_for(session, state.username), PERMISSIONS[state.kind])
        result, file = HANDLERS[state.kind](state, progress)
    except JobCancelledError:
        log.info("job %s (%s) cancelled", state.id, state.kind)
        queue.finish(state.id, cancelled=True)
    except GcrmError as exc:
        queue.finish(state.id, error=str(exc))
    except Exception as exc:  # a worker must survive any job's failure
        log.exception("job %s (%s) failed", state.id, state.kind)
        queue.finish(state.id, error=f"{type(exc).__name__}: {exc}")
    else:
        queue.finish(state.id, result=result, file=file)
    finally:
        running.set()
        _LIVE.pop(state.id, None)


_last_purge = [float("-inf")]


def _purge_now_and_then() -> None:
    # Old finished jobs go at most once an hour per process (see queue.KEEP_FINISHED).
    now = time.monotonic()
    if now - _last_purge[0] >= PURGE_EVERY_S:
        _last_purge[0] = now
        queue.purge()


def _heartbeat(job_id: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            queue.heartbeat(job_id)
        except Exception:  # a missed beat is no reason to stop the job
            log.warning("job %s: heartbeat not recorded", job_id, exc_info=True)


def work(*, once: bool = False, poll_s: float = 1.0, max_jobs: int | None = None) -> int:
    """Run the worker loop: claim and run jobs until told to stop.

    Parameters
    ----------
    once
        Stop when the queue is empty.
    poll_s
        Longest sleep when the queue is empty (on PostgreSQL a new job wakes the
        worker at once through ``LISTEN``/``NOTIFY``).
    max_jobs
        Stop after this many jobs.

    Returns
    -------
    int
        How many jobs were run.
    """
    name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    done = 0
    waker: queue.Waker | None = None
    try:
        while max_jobs is None or done < max_jobs:
            _purge_now_and_then()
            state = queue.claim(name)
            if state is None:
                if once:
                    break
                if waker is None:  # listen first, then look again: no job slips between
                    waker = queue.Waker()
                    continue
                try:
                    waker.wait(poll_s)
                except Exception:  # the listening connection broke: listen anew next time
                    log.warning("job notifications lost; listening again", exc_info=True)
                    waker.close()
                    waker = None
                    time.sleep(poll_s)
                continue
            run_one(state)
            done += 1
    finally:
        if waker is not None:
            waker.close()
    return done
