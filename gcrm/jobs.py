"""Heavy work outside the page thread: jobs, their handlers and the worker loop.

A page calls :func:`submit` and shows :func:`status` until the job is done; a
worker process (``python -m gcrm worker``, several per machine, on any machine
that reaches the database) claims jobs from the queue in the database
(:mod:`gcrm.db.queue`: PostgreSQL ``FOR UPDATE SKIP LOCKED``) and runs them.

With the default single-user SQLite set-up (``GCRM_JOBS=inline``) no worker
is needed: :func:`submit` runs the job in a background thread of the app
process, through the same table, so the page shows progress the same way.

Kinds: ``territories`` (build and save balanced territories) and ``report``
(a report file, kept in the job row for download).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from gcrm import reports, territories
from gcrm._errors import GcrmError, InputError
from gcrm.auth import actor_for, require
from gcrm.db import queue
from gcrm.db.queue import JobState
from gcrm.db.session import session_scope
from gcrm.network import load_network
from gcrm.settings import get_settings

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
Handler = Callable[[dict[str, Any], str, Progress], tuple[Any, bytes | None]]


@functools.cache
def _road_graph() -> Any:
    # Loaded once per worker process and kept: jobs after the first skip the load.
    return load_network()


def _build_territories(
    payload: dict[str, Any], username: str, progress: Progress
) -> tuple[Any, bytes | None]:
    progress(0.1, "Loading the road network")
    G = _road_graph()
    progress(0.3, f"Building {int(payload['k'])} territories")
    with session_scope() as session:
        actor = actor_for(session, username)
        result = territories.build_and_save_territories(
            session,
            actor,
            int(payload["k"]),
            str(payload.get("balance", "workload")),
            G=G,
            set_owners=bool(payload.get("set_owners", False)),
        )
    progress(0.95, "Saved")
    return result, None


def _report_file(
    payload: dict[str, Any], username: str, progress: Progress
) -> tuple[Any, bytes | None]:
    kind, fmt = str(payload["kind"]), str(payload["fmt"])
    progress(0.1, "Loading the road network" if kind == "territories" else "Reading accounts")
    graph = _road_graph() if kind == "territories" else None
    progress(0.3, f"Writing the {kind} report ({fmt})")
    with session_scope() as session:
        actor = actor_for(session, username)
        export = reports.export_report(session, actor, kind, fmt, graph=graph)  # type: ignore[arg-type]
    meta = {
        "filename": export.filename,
        "mime": export.mime,
        "rows": export.rows,
        "sha256": export.sha256,
    }
    return meta, export.data


#: Job kinds and what runs them: ``(payload, username, progress) -> (result, file)``.
HANDLERS: dict[str, Handler] = {"territories": _build_territories, "report": _report_file}

#: Permission each kind needs (checked when the job is submitted and when it runs).
PERMISSIONS: dict[str, str] = {"territories": "territories", "report": "export"}


def inline() -> bool:
    """Whether jobs run in the app process (``GCRM_JOBS=inline``, the SQLite default)."""
    mode = os.environ.get("GCRM_JOBS", "").strip().lower()
    if mode in ("inline", "queue"):
        return mode == "inline"
    return get_settings().resolved_database_url.startswith("sqlite")


def submit(kind: str, payload: dict[str, Any], username: str) -> int:
    """Queue a job for a user; in inline mode also start it in a background thread.

    Parameters
    ----------
    kind
        One of :data:`HANDLERS`.
    payload
        The job's arguments (JSON-serialisable).
    username
        Who asks (their permissions and scope apply when it runs).

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
    job_id = queue.enqueue(kind, payload, username)
    if inline():
        threading.Thread(target=work, kwargs={"once": True}, daemon=True).start()
    return job_id


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
    return state


def result_file(job_id: int, username: str) -> bytes | None:
    """Return the file a finished job of this user produced (e.g. a report)."""
    status(job_id, username)
    return queue.result_file(job_id)


def run_one(state: JobState) -> None:
    """Run one claimed job to the end, recording progress, result or error."""

    def progress(fraction: float, message: str) -> None:
        queue.report_progress(state.id, fraction, message)

    try:
        with session_scope() as session:
            require(actor_for(session, state.username), PERMISSIONS[state.kind])
        result, file = HANDLERS[state.kind](state.payload, state.username, progress)
    except GcrmError as exc:
        queue.finish(state.id, error=str(exc))
    except Exception as exc:  # a worker must survive any job's failure
        log.exception("job %s (%s) failed", state.id, state.kind)
        queue.finish(state.id, error=f"{type(exc).__name__}: {exc}")
    else:
        queue.finish(state.id, result=result, file=file)


def work(*, once: bool = False, poll_s: float = 1.0, max_jobs: int | None = None) -> int:
    """Run the worker loop: claim and run jobs until told to stop.

    Parameters
    ----------
    once
        Stop when the queue is empty.
    poll_s
        Seconds to sleep when the queue is empty.
    max_jobs
        Stop after this many jobs.

    Returns
    -------
    int
        How many jobs were run.
    """
    name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    done = 0
    while max_jobs is None or done < max_jobs:
        state = queue.claim(name)
        if state is None:
            if once:
                break
            time.sleep(poll_s)
            continue
        run_one(state)
        done += 1
    return done
