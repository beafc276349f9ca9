"""Heavy work on a page: submit it as a job, show its progress, then its result.

The one way pages run a job (:mod:`gcrm.jobs`): :func:`start_job` queues it and
keeps its id in the session under a page's key; :func:`follow_job` draws a
progress bar that refreshes itself every second (a fragment: only the bar
reruns) and, when the job ends, hands the result to the page and redraws the
whole page with it, or shows why it failed. Leaving the page and coming back
resumes following the job. A "Cancel" button beside the bar cancels the job
(:func:`gcrm.jobs.cancel`): a queued one at once ("Cancelled"), a running one
at its next step ("Cancelling…" until its work has rolled back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.auth import Actor
from gcrm.db.queue import JobState
from gcrm.jobs import cancel, status, submit
from views.common import show_error

#: Seconds between two looks at a running job.
POLL_S = 0.5

#: A job still queued after this many seconds gets a word on the workers.
NO_WORKER_S = 30.0


def _failed_key(key: str) -> str:
    return f"{key}__failed"


def _cancelled_key(key: str) -> str:
    return f"{key}__cancelled"


def start_job(
    key: str, kind: str, payload: dict[str, Any], actor: Actor, *, file: bytes | None = None
) -> bool:
    """Queue a job for the page (see :func:`gcrm.jobs.submit`); show a refusal as an error.

    Parameters
    ----------
    key
        The page's session key of the job (one running job per key).
    kind, payload, file
        As for :func:`gcrm.jobs.submit`.
    actor
        Who asks (their rights are checked now and again when the job runs).

    Returns
    -------
    bool
        Whether the job was queued.
    """
    st.session_state.pop(_failed_key(key), None)
    st.session_state.pop(_cancelled_key(key), None)
    try:
        st.session_state[key] = submit(kind, payload, actor.username, file=file)
    except GcrmError as exc:
        show_error(exc)
        return False
    return True


def follow_job(key: str, actor: Actor, *, on_done: Callable[[JobState], None], failed: str) -> None:
    """Show the progress of the page's job, then hand its result to ``on_done``.

    While the job waits or runs, a progress bar with the job's message
    refreshes itself; when the job is done, ``on_done(state)`` stores what the
    page shows and the whole page is redrawn with it. A failed job's message is
    shown after ``failed`` (our own words) on that redraw.

    Parameters
    ----------
    key
        The page's session key of the job (as given to :func:`start_job`).
    actor
        The user following it (only their own jobs are shown).
    on_done
        Called once with the finished job's state (``state.result``).
    failed
        Words before a failed job's error (``"Nothing was imported: "``).
    """
    failure = st.session_state.pop(_failed_key(key), None)
    if failure is not None:
        show_error(failure, prefix=failed)
    if st.session_state.pop(_cancelled_key(key), False):
        st.info("Cancelled: the job stopped and changed nothing.")
    if st.session_state.get(key) is None:
        return  # nothing to follow: no fragment, so an idle page does not poll

    @st.fragment(run_every=POLL_S)
    def _progress() -> None:
        job_id = st.session_state.get(key)
        if job_id is None:
            return
        try:
            state = status(job_id, actor.username)
        except GcrmError as exc:  # e.g. purged, or the database was replaced meanwhile
            del st.session_state[key]
            st.session_state[_failed_key(key)] = str(exc)
            st.rerun()
        if not state.finished and _cancel_clicked(key, state):
            try:
                state = cancel(state.id, actor)
            except GcrmError as exc:
                show_error(exc)
        if not state.finished:
            text = state.message or (
                "Queued, waiting for a worker…" if state.status == "queued" else "Running…"
            )
            if state.status == "cancelling":
                text = "Cancelling… (the job stops at its next step and changes nothing)"
            bar, button = st.columns([5, 1], vertical_alignment="center")
            bar.progress(state.progress, text=text)
            button.button(
                "Cancel",
                key=f"{key}__cancel",
                disabled=state.status == "cancelling",
                help="Stop this job: a queued job never runs, a running one rolls back.",
            )
            if state.status == "queued" and state.waited_s > NO_WORKER_S:
                st.warning(
                    f"No worker has taken this job for {state.waited_s:.0f} s: the workers are "
                    "busy or none runs (`python -m gcrm worker`, see scripts/serve.sh)."
                )
            return
        del st.session_state[key]
        if state.status == "failed":
            st.session_state[_failed_key(key)] = state.message or "the job failed"
        elif state.status == "cancelled":
            st.session_state[_cancelled_key(key)] = True
        else:
            on_done(state)
        st.rerun()

    _progress()


def _cancel_clicked(key: str, state: JobState) -> bool:
    # The button's value from the click that reran this fragment (drawn below on each run).
    return bool(st.session_state.get(f"{key}__cancel")) and state.status != "cancelling"
