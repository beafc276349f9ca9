"""AppTest: the territory page shows the new state right after each action."""

from __future__ import annotations

from gcrm.auth import login
from gcrm.db.session import session_scope
from gcrm.store import territories_frame
from tests.views.jobwait import finish_jobs
from tests.views.test_map_pages import _page


def _table(at):  # type: ignore[no-untyped-def]
    return at.dataframe[0].value.set_index("name")


def test_save_owners_updates_the_table_at_once(demo_copy: str) -> None:
    """After Save owners, the same run shows the new owner and says so."""
    at = _page("manager", "views/territories.py")
    first = _table(at).index[0]
    current = _table(at).at[first, "owner"]
    box = next(s for s in at.selectbox if s.label == first)
    new = next(o for o in box.options if o not in (current, "(nobody)"))
    box.select(new)
    at.button(key="FormSubmitter:assign_reps-Save owners").click().run()
    assert not at.exception, at.exception
    assert _table(at).at[first, "owner"] == new
    assert any("Owners saved" in s.value for s in at.success)
    with session_scope() as s:
        saved = territories_frame(s, login(s, "manager", "demo")).set_index("name")
    assert saved.at[first, "owner"] == new


def test_build_replaces_the_map_and_table_at_once(demo_copy: str) -> None:
    """After Build, the table lists the built territories, not the old ones."""
    at = _page("manager", "views/territories.py")
    at.button(key="FormSubmitter:build-Build and save").click().run()
    assert not at.exception, at.exception
    finish_jobs(at)
    assert not at.exception, at.exception
    with session_scope() as s:
        saved = set(territories_frame(s, login(s, "manager", "demo"))["name"])
    assert set(_table(at).index) == saved
    assert any("Built and saved 3 territories" in s.value for s in at.success)
