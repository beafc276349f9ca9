"""A plan with nothing due, or a home base far from every road, says so."""

from __future__ import annotations

import datetime as dt

import networkx as nx
import pytest
from sqlalchemy import select

from gcrm import routing
from gcrm.auth import actor_for
from gcrm.db.models import User
from gcrm.db.session import session_scope
from gcrm.store import AccountFilter, accounts_frame


@pytest.fixture(scope="module")
def G(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """The Helsinki drive network."""
    return graph


def test_nothing_due_is_explained(demo_copy: str, G: nx.MultiDiGraph) -> None:
    """With no account due and none picked, the plan is empty and says nothing was due."""
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        plan = routing.plan_for_reps(s, rep1, ["rep1"], "2026-12-01", due=False, seconds=1, G=G)
    assert plan.routes == []
    (note,) = plan.stats["notes"]
    assert note.startswith("nothing to plan: no account of rep1 is due") and "01.12.2026" in note


def test_home_far_from_roads_is_named(demo_copy: str, G: nx.MultiDiGraph) -> None:
    """A home base 7 km out at sea: no "not enough time"; the note and the dropped
    visits name the home base and its distance to the road network."""
    with session_scope() as s:
        u = s.scalar(select(User).where(User.username == "rep1"))
        u.home_lat, u.home_lon = 60.10, 24.93
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        frame = accounts_frame(s, rep1, AccountFilter(include_do_not_contact=False))
        chosen = frame.dropna(subset=["lat"])["id"].astype(int).tolist()[:6]
        plan = routing.plan_for_reps(
            s, rep1, ["rep1"], dt.date(2026, 12, 1), due=False, selected=chosen, seconds=1,
            iterations=300, G=G,
        )  # fmt: skip
    notes = plan.stats["notes"]
    assert any("rep1's home base (60.10000, 24.93000) is" in n and "km from" in n for n in notes)
    reasons = {d.reason for d in plan.dropped}
    assert routing.REASON_FULL not in reasons
    if not plan.routes:
        assert any(r.startswith("home base far from the road network") for r in reasons)
