"""AppTest: the cached map path draws each user's own map, as the uncached path did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit_folium import generate_js_hash

import views.map_view as map_view
from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.maps import payload

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _drawn(username: str, page: str, calls: list[dict[str, Any]]) -> tuple[str, int, int]:
    """Open ``page`` as ``username`` in a new browser session.

    Returns the script of the page's first map and the cache's hits and misses
    while the page ran (the landing page before it not counted).
    """
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["actor"] = actor
    at.run()
    calls.clear()
    before = payload.stats()
    at.switch_page(page).run()
    after = payload.stats()
    assert not at.exception, at.exception
    assert calls, f"no map drawn on {page} for {username}"
    # The widget key the component gets is streamlit-folium's own for this script.
    widget = {"views/prospect_map.py": "pm_map", "views/accounts.py": "accounts_map"}[page]
    assert calls[0]["key"] == generate_js_hash(calls[0]["script"], widget, False)
    return (
        str(calls[0]["script"]),
        after["hits"] - before["hits"],
        after["misses"] - before["misses"],
    )


@pytest.mark.parametrize("page", ["views/prospect_map.py", "views/accounts.py"])
def test_rep_never_gets_the_managers_cached_map(
    demo_copy: str, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Manager first, then a rep: the rep's map is drawn from the rep's own rows.

    Both maps equal what each user got with the cache off; a second manager
    session reuses the manager's map (a hit), the rep's run is a miss.
    """
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(map_view, "_component_func", lambda **kw: calls.append(kw) or {})
    monkeypatch.setattr(payload, "MAX_ENTRIES", 0)  # the cache keeps nothing: every map fresh
    payload.clear()
    fresh = {u: _drawn(u, page, calls)[0] for u in ("rep1", "manager")}
    monkeypatch.setattr(payload, "MAX_ENTRIES", 64)
    payload.clear()
    # Accounts with more than one page of matches (the demo: 1,406) draws viewport
    # clusters from scoped SQL aggregates on every run: nothing is kept to share.
    cached = page != "views/accounts.py"
    manager = _drawn("manager", page, calls)[0]
    assert (payload.stats()["entries"] >= 1) is cached
    rep, hits, missed = _drawn("rep1", page, calls)
    # drawn for the rep, not served from the manager's entry
    assert (hits, missed) == ((0, 1) if cached else (0, 0))
    again, hits, missed = _drawn("manager", page, calls)
    # another manager session: the same map, not redrawn
    assert (hits, missed) == ((1, 0) if cached else (0, 0))
    assert rep == fresh["rep1"]
    assert manager == again == fresh["manager"]
    assert rep != manager
    assert len(rep) < len(manager)  # the rep sees fewer accounts than the whole region
