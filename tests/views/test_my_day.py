"""AppTest tests of My day: the landing page, suggestions, plan, stop actions, downloads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import gpxpy
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.day_actions import audit_download, local_now
from gcrm.db.models import Account, AuditEvent, Interaction, User
from gcrm.db.session import session_scope
from gcrm.reports import rep_report
from gcrm.routing.export import to_gpx

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _login(username: str) -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["actor"] = actor
    at.run()
    assert not at.exception, at.exception
    return at


def _my_day(username: str) -> AppTest:
    at = _login(username)
    at.switch_page("views/my_day.py").run()
    assert not at.exception, at.exception
    return at


def _optimise(at: AppTest, n: int) -> None:
    at.number_input(key="md_n").set_value(n).run()
    at.button(key="md_optimise").click().run()
    assert not at.exception, at.exception


def _count(model, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)))


def test_a_rep_lands_on_my_day_with_suggestions(demo_copy: str) -> None:
    """rep1's first page is My day (no page switch), with suggested visits chosen; a
    manager still lands on Accounts."""
    at = _login("rep1")
    assert [t.value for t in at.title] == ["My day"]
    chosen = at.multiselect[0].value
    assert 1 <= len(chosen) <= 12
    assert any("as Reports counts them" in c.value for c in at.caption)
    manager = _login("manager")
    assert [t.value for t in manager.title] != ["My day"]


def test_my_day_and_reports_agree_on_the_due_count(demo_copy: str) -> None:
    """The due count on My day for today equals the Reports page's figure for the rep."""
    at = _login("rep1")
    caption = next(c.value for c in at.caption if "as Reports counts them" in c.value)
    due = int(caption.split()[0])
    with session_scope() as s:
        report = rep_report(s, actor_for(s, "rep1"), today=local_now().date())
    assert due == int(report.set_index("rep").loc["rep1", "overdue"])


def test_suggestions_skip_accounts_closed_that_day(demo_copy: str) -> None:
    """An account closed on the chosen day is not pre-selected, even when due and valuable."""
    with session_scope() as s:
        acc = s.scalars(
            select(Account)
            .join(Account.owner)
            .where(Account.do_not_contact.is_(False), Account.lat.is_not(None))
            .order_by(Account.potential_value.desc())
        ).first()
        assert acc is not None
        acc.opening_hours = "Tu-Su 09:00-17:00"  # closed on Mondays
        acc.visit_every_days = 7
        acc.last_visit = None
        acc.potential_value = 10**9
        owner, aid = acc.owner.username, acc.id
    monday = local_now().date() + dt.timedelta(days=(7 - local_now().weekday()) % 7 or 7)
    at = _my_day(owner)
    at.date_input(key="md_date").set_value(monday).run()
    assert aid not in at.multiselect[0].value
    at.date_input(key="md_date").set_value(monday + dt.timedelta(days=1)).run()
    assert aid in at.multiselect[0].value  # Tuesday: open, due and the most valuable


def test_rep_plans_the_day_and_gets_an_itinerary(demo_copy: str) -> None:
    """Optimise plans the chosen visits: a card per stop in time order, lunch and return
    rows; do-not-contact accounts are never offered."""
    at = _my_day("rep1")
    offered = set(at.multiselect[0].options)
    with session_scope() as s:
        dnc = {a.id for a in s.scalars(select(Account).where(Account.do_not_contact.is_(True)))}
    assert dnc and not (dnc & offered)
    _optimise(at, 8)
    plan = at.session_state["md_plan"]
    stops = plan.routes[0].stops
    assert 1 <= len(stops) <= 8
    assert [s.start for s in stops] == sorted(s.start for s in stops)
    text = " ".join(m.value for m in at.markdown)
    for n, s in enumerate(stops, start=1):
        assert f"**{n}. {s.start:%H:%M}–{s.end:%H:%M} · {s.name}**" in text
    assert "Back at the end location" in text
    if plan.routes[0].lunch is not None:
        assert "Lunch break" in text
    gpx = gpxpy.parse(to_gpx(plan))
    assert len(gpx.waypoints) == len(stops)


def test_stop_actions_show_their_result_at_once(demo_copy: str) -> None:
    """Move, pin, skip and done change the plan in the same run and say so."""
    at = _my_day("rep2")
    _optimise(at, 6)
    route = at.session_state["md_plan"].routes[0]
    first, second = route.stops[0].visit_id, route.stops[1].visit_id
    at.button(key=f"md_move1_{first}").click().run()
    order = [s.visit_id for s in at.session_state["md_plan"].routes[0].stops]
    assert order[:2] == [second, first]
    assert any("times recomputed" in m.value for m in at.success)
    at.button(key=f"md_pin_{first}").click().run()
    pinned = next(s for s in at.session_state["md_plan"].routes[0].stops if s.visit_id == first)
    assert pinned.fixed and any("Pinned" in m.value for m in at.success)
    visits = _count(Interaction, Interaction.kind == "visit")
    at.button(key=f"md_done_{second}").click().run()
    assert not at.exception, at.exception
    assert _count(Interaction, Interaction.kind == "visit") == visits + 1
    done = next(s for s in at.session_state["md_plan"].routes[0].stops if s.visit_id == second)
    assert done.status == "done" and any("Done:" in m.value for m in at.success)
    third = at.session_state["md_plan"].routes[0].stops[-1].visit_id
    at.button(key=f"md_skip_{third}").click().run()
    plan = at.session_state["md_plan"]
    assert third not in {s.visit_id for s in plan.routes[0].stops}
    assert any(d.visit_id == third and "skipped" in d.reason for d in plan.dropped)


def test_log_a_stop_and_replan(demo_copy: str) -> None:
    """Logging a stop writes a visit; re-planning from it keeps it as done."""
    at = _my_day("rep2")
    _optimise(at, 5)
    before = _count(Interaction, Interaction.kind == "visit")
    at.button(key="FormSubmitter:log_stop-Log visit").click().run()
    assert not at.exception, at.exception
    assert _count(Interaction, Interaction.kind == "visit") == before + 1
    first = at.session_state["md_plan"].routes[0].stops[0].visit_id
    at.button(key="FormSubmitter:replan-Re-plan from here").click().run()
    assert not at.exception, at.exception
    statuses = {s.visit_id: s.status for s in at.session_state["md_plan"].routes[0].stops}
    assert statuses.get(first) == "done"


def test_download_audit_line(demo_copy: str) -> None:
    """``audit_download`` (called by every My day download) writes an export line with the
    file's name, format, row count and SHA-256."""
    at = _my_day("rep1")
    _optimise(at, 4)
    before = _count(AuditEvent, AuditEvent.action == "export")
    plan = at.session_state["md_plan"]
    with session_scope() as s:
        digest = audit_download(
            s, actor_for(s, "rep1"), plan, filename="route.gpx", data=to_gpx(plan)
        )
    assert _count(AuditEvent, AuditEvent.action == "export") == before + 1
    with session_scope() as s:
        line = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert line is not None and line.target == "route.gpx"
        assert digest in (line.details or "") and '"format": "gpx"' in (line.details or "")


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


def test_home_far_from_roads_is_explained_on_the_page(demo_copy: str) -> None:
    """A home base out at sea: Optimise shows the note naming the home base and its
    distance to the roads, not a silent plan with no visits."""
    with session_scope() as s:
        u = s.scalar(select(User).where(User.username == "rep1"))
        u.home_lat, u.home_lon = 60.10, 24.93
    at = _my_day("rep1")
    _optimise(at, 3)
    warnings = [w.value for w in at.warning]
    assert any("home base" in w and "km from" in w for w in warnings), warnings
