"""AppTest: the "Cancel" button beside a job's progress cancels it and the page says so.

A queued import is cancelled at once ("Cancelled", nothing imported, the job never
runs); a job a worker already holds shows "Cancelling…" until it has stopped.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from gcrm import jobs
from gcrm.db import queue
from tests.views.jobwait import account_count, progress_bars
from tests.views.test_map_pages import _page

CSV = (
    b"external_id,name,street,housenumber,city,email,lat,lon\n"
    b"PC1,Cancel Page Oy,Mannerheimintie,5,Helsinki,info@cancel.fi,60.17,24.94\n"
)


def _start_import(at: AppTest) -> int:
    at.file_uploader[0].set_value(("accounts.csv", CSV, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    assert not at.exception, at.exception
    assert progress_bars(at), "no progress shown while the import waits"
    return int(at.session_state["imp_job"])


def test_cancel_button_cancels_a_queued_import_at_once(queued: str) -> None:
    """Cancel: the bar goes, the page says "Cancelled", the job never runs."""
    before = account_count()
    at = _page("analyst", "views/import_accounts.py")
    job = _start_import(at)
    at.button(key="imp_job__cancel").click().run()
    assert not at.exception, at.exception
    assert not progress_bars(at)
    assert any(i.value.startswith("Cancelled") for i in at.info), [i.value for i in at.info]
    assert not at.error and not at.success
    assert jobs.status(job, "analyst").status == "cancelled"
    assert jobs.work(once=True) == 0
    assert account_count() == before
    at.run()  # the message was shown once; the page is idle again
    assert not any(i.value.startswith("Cancelled") for i in at.info)


def test_cancel_of_a_running_job_shows_cancelling_then_cancelled(queued: str) -> None:
    """A job a worker holds: "Cancelling…" with the button disabled, then "Cancelled"
    once the worker has stopped it; nothing is imported."""
    before = account_count()
    at = _page("analyst", "views/import_accounts.py")
    job = _start_import(at)
    state = queue.claim("page-test-worker")  # a worker holds it, not yet at a progress step
    assert state is not None and state.id == job
    at.button(key="imp_job__cancel").click().run()
    assert not at.exception, at.exception
    (bar,) = progress_bars(at)
    assert bar.text.startswith("Cancelling")
    assert at.button(key="imp_job__cancel").disabled
    jobs.run_one(state)  # the worker notices before it writes anything
    at.run()
    assert not progress_bars(at)
    assert any(i.value.startswith("Cancelled") for i in at.info)
    assert account_count() == before
