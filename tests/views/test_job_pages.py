"""AppTest: pages that run heavy work as jobs show its progress, then its result.

With ``GCRM_JOBS=queue`` and no worker running, the page can only show the
queued job's progress bar; once a worker (this test process) has run the job,
the next redraw shows the result without any click; a failed job shows why.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from gcrm import jobs
from gcrm.db import queue
from gcrm.db.models import Account, Job
from gcrm.db.session import session_scope
from tests.views.jobwait import account_count, finish_jobs, progress_bars
from tests.views.test_map_pages import _page

CSV = (
    b"external_id,name,street,housenumber,city,email,lat,lon\n"
    b"PG1,Page Oy,Mannerheimintie,5,Helsinki,info@page.fi,,\n"
    b"PG2,,Aleksanterinkatu,1,Helsinki,,,\n"
    b"PG3,Bad Mail Oy,Bulevardi,2,Helsinki,not-an-email,,\n"
)


def test_visit_plan_shows_progress_then_the_saved_cycles(queued: str) -> None:
    """Plan and save: a progress bar while the job waits, then the saved cycles."""
    at = _page("manager", "views/visit_plan.py")
    at.date_input(key="vp_start").set_value(dt.date(2027, 1, 4))
    at.number_input(key="vp_weeks").set_value(1)
    at.number_input(key="vp_iter").set_value(10)
    at.button(key="FormSubmitter:vp_plan-Plan and save").click().run()
    assert not at.exception, at.exception
    (bar,) = progress_bars(at)
    assert "waiting for a worker" in bar.text
    assert not at.success and any("No saved call cycle" in i.value for i in at.info)
    assert not at.warning
    with session_scope() as s:  # nobody took it for a minute: the page says why it waits
        s.execute(update(Job).values(created_at=dt.datetime(2000, 1, 1)))
    at.run()
    assert any("No worker has taken this job" in w.value for w in at.warning)
    finish_jobs(at)
    assert not at.exception, at.exception
    assert not progress_bars(at)
    assert any("Saved call cycles for 3 reps, 2027-01-04" in s.value for s in at.success)
    assert at.selectbox(key="vp_pick").options  # the calendar of a saved cycle is shown


def test_import_page_previews_and_imports_as_jobs(queued: str) -> None:
    """Preview, then Import: each shows progress, then the report with rejected rows
    (row and field); only the import writes."""
    before = account_count()
    at = _page("analyst", "views/import_accounts.py")
    at.file_uploader[0].set_value(("accounts.csv", CSV, "text/csv")).run()
    assert not at.exception, at.exception
    at.button(key="imp_dry").click().run()
    assert progress_bars(at), "no progress shown while the preview waits"
    finish_jobs(at)
    assert not at.exception, at.exception
    assert any("nothing has been written" in i.value for i in at.info)
    rejected = next(
        d.value for d in at.dataframe if {"row", "reason"} <= set(getattr(d.value, "columns", []))
    )
    assert dict(zip(rejected["row"], rejected["field"], strict=True)) == {3: "name", 4: "email"}
    assert account_count() == before
    at.button(key="imp_commit").click().run()
    assert progress_bars(at)
    finish_jobs(at)
    assert not at.exception, at.exception
    assert any("Imported accounts" in s.value for s in at.success)  # (Markdown-escaped name)
    assert account_count() == before + 1


def test_failed_import_job_says_why_and_writes_nothing(queued: str) -> None:
    """Two columns mapped to one field fail the import job: the page names the file and
    both columns, and nothing is written. A file with an unclosed quote is refused on
    upload, naming its row, before any job."""
    before = account_count()
    at = _page("analyst", "views/import_accounts.py")
    at.file_uploader[0].set_value(("accounts.csv", CSV, "text/csv")).run()
    next(b for b in at.selectbox if b.label == "street").select("name").run()
    at.button(key="imp_commit").click().run()
    assert progress_bars(at)
    finish_jobs(at)
    assert not at.exception, at.exception
    (error,) = [e.value for e in at.error]
    # (the page escapes Markdown in messages; the file is named as the user gave it)
    assert error.replace("\\", "").startswith("Nothing was imported: accounts.csv: columns")
    assert "'name' and 'street' both map to 'name'" in error.replace("\\", "")
    assert not at.success and not progress_bars(at)
    assert account_count() == before

    broken = CSV + b'PG4,"Unclosed Oy,Bulevardi,3,Helsinki,,,\n' + b"PG5,Five Oy,Bulevardi,4,,,,\n"
    at.file_uploader[0].set_value(("broken.csv", broken, "text/csv")).run()
    assert any(e.value.replace("\\", "").startswith("broken.csv: row 5") for e in at.error)
    assert not at.button  # no Preview or Import for a file that cannot be read
    assert queue.counts()["queued"] == 0 and account_count() == before


def _rep1_ids(n: int) -> list[int]:
    with session_scope() as s:
        return [
            int(i)
            for i in s.scalars(
                select(Account.id)
                .where(Account.owner.has(username="rep1"), Account.lat.is_not(None))
                .where(Account.do_not_contact.is_(False))
                .order_by(Account.id)
                .limit(n)
            )
        ]


def test_my_day_plans_one_short_day_in_the_page_and_more_as_a_job(queued: str) -> None:
    """One day of 12 visits: planned in the page (no job). Two days: a job, with
    progress, then the route and itinerary without another click."""
    at = _page("rep1", "views/my_day.py")
    at.button(key="md_optimise").click().run()
    assert not at.exception, at.exception
    assert queue.counts() == dict.fromkeys(queue.STATES, 0)
    assert any(s.value.startswith("Itinerary") for s in at.subheader)
    at.number_input(key="md_days").set_value(2).run()
    (box,) = [m for m in at.multiselect if m.key.startswith("md_visits_")]
    box.set_value(_rep1_ids(6)).run()
    at.button(key="md_optimise").click().run()
    assert not at.exception, at.exception
    assert queue.counts()["queued"] == 1
    assert progress_bars(at)
    finish_jobs(at)
    assert not at.exception, at.exception
    assert any("Route planned" in s.value for s in at.success)
    plan = at.session_state["md_plan"]
    day = at.date_input(key="md_date").value
    assert {r.date for r in plan.routes} <= {day, day + dt.timedelta(days=1)}
    assert jobs.plan_in_page(days=1, stops=12) and not jobs.plan_in_page(days=2, stops=6)


def test_a_job_that_is_gone_is_reported_once(queued: str) -> None:
    """A followed job that no longer exists (purged, another user's) ends with a message."""
    at = _page("manager", "views/visit_plan.py")
    at.session_state["vp_job"] = 999_999
    at.run()
    assert not at.exception, at.exception
    assert any("Planning failed" in e.value and "no such job" in e.value for e in at.error)
    at.run()
    assert not at.error and not progress_bars(at)
