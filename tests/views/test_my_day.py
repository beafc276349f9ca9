"""AppTest tests of My day: plan, itinerary, downloads, log a stop, re-plan."""

from __future__ import annotations

from pathlib import Path

import gpxpy
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db.models import Account, Interaction
from gcrm.db.session import session_scope
from gcrm.routing import to_gpx

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _my_day(username: str) -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/my_day.py").run()
    assert not at.exception, at.exception
    return at


def test_rep_plans_the_day_and_gets_an_itinerary(demo_copy: str) -> None:
    """Optimise plans the chosen visits; the itinerary lists them in time order; the GPX
    has a waypoint per stop; do-not-contact accounts are never offered."""
    at = _my_day("rep1")
    offered = set(at.multiselect[0].options)
    with session_scope() as s:
        dnc = {
            f"{a.name} ({a.street or ''} {a.housenumber or ''})"
            for a in s.scalars(select(Account).where(Account.do_not_contact.is_(True)))
        }
    assert dnc and not (dnc & offered)
    at.number_input(key="md_n").set_value(8).run()
    at.button(key="md_optimise").click().run()
    assert not at.exception, at.exception
    plan = at.session_state["md_plan"]
    stops = plan.routes[0].stops
    assert 1 <= len(stops) <= 8
    starts = [s.start for s in stops]
    assert starts == sorted(starts)
    table = at.dataframe[0].value
    assert list(table["#"]) == list(range(1, len(stops) + 1))
    gpx = gpxpy.parse(to_gpx(plan))
    assert len(gpx.waypoints) >= len(stops)
    at.button(key="md_print").click().run()
    assert not at.exception, at.exception
    page_html, page_pdf = at.session_state["md_print_files"]
    assert page_pdf.startswith(b"%PDF") and stops[0].name.split()[0] in page_html


def test_log_a_stop_and_replan(demo_copy: str) -> None:
    """Logging a stop writes a visit; re-planning from it keeps it as done."""
    at = _my_day("rep2")
    at.number_input(key="md_n").set_value(5).run()
    at.button(key="md_optimise").click().run()
    assert not at.exception, at.exception
    before = _visits()
    at.button(key="FormSubmitter:log_stop-Log visit").click().run()
    assert not at.exception, at.exception
    assert _visits() == before + 1
    first = at.session_state["md_plan"].routes[0].stops[0].visit_id
    at.button(key="FormSubmitter:replan-Re-plan from here").click().run()
    assert not at.exception, at.exception
    statuses = {s.visit_id: s.status for s in at.session_state["md_plan"].routes[0].stops}
    assert statuses.get(first) == "done"


def test_optimise_without_visits_says_so(demo_copy: str) -> None:
    """With nothing chosen, Optimise explains instead of failing."""
    at = _my_day("rep3")
    at.multiselect[0].set_value([]).run()
    at.button(key="md_optimise").click().run()
    assert any("at least one visit" in e.value for e in at.error)


def test_analyst_has_no_my_day(demo_copy: str) -> None:
    """Analysts do not plan routes: the page is not in their navigation."""
    with session_scope() as s:
        actor = actor_for(s, "analyst")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    try:
        at.switch_page("views/my_day.py").run()
    except Exception:
        return
    assert at.exception or any("does not plan" in e.value for e in at.error)


def _visits() -> int:
    with session_scope() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(Interaction).where(Interaction.kind == "visit")
            )
        )
