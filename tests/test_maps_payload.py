"""gcrm.maps.payload: rendered maps cached per distinct input, within a budget."""

from __future__ import annotations

from typing import Any

import pytest

from gcrm.maps import layer_map
from gcrm.maps import payload as mp
from views.map_view import render_payload


def test_cache_draws_once_per_distinct_input(demo: dict) -> None:
    """Equal inputs reuse the rendered map; other rows, layer or view draw afresh."""
    mp.clear()
    a = demo["accounts"].head(100)
    b = demo["accounts"].iloc[100:200]
    builds: list[str] = []

    def build(rows: Any, layer: str) -> mp.MapPayload:
        builds.append(layer)
        return render_payload(layer_map(rows, layer))

    first = mp.cached_payload(("k", mp.fingerprint(a, "markers")), lambda: build(a, "markers"))
    again = mp.cached_payload(
        ("k", mp.fingerprint(a.copy(), "markers")), lambda: build(a, "markers")
    )
    assert again is first and builds == ["markers"]
    other = mp.cached_payload(("k", mp.fingerprint(b, "markers")), lambda: build(b, "markers"))
    heat = mp.cached_payload(("k", mp.fingerprint(a, "heat")), lambda: build(a, "heat"))
    assert builds == ["markers", "markers", "heat"]
    assert other.script != first.script and heat.script != first.script
    changed = a.copy()
    changed.loc[changed.index[0], "name"] = "Renamed Oy"
    renamed = mp.cached_payload(
        ("k", mp.fingerprint(changed, "markers")), lambda: build(changed, "markers")
    )
    assert "Renamed Oy" in renamed.script and "Renamed Oy" not in first.script
    assert mp.stats()["hits"] == 1 and mp.stats()["misses"] == 4


def test_cache_stays_within_its_budget(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old maps are dropped when the entries or characters exceed the budget."""
    mp.clear()
    monkeypatch.setattr(mp, "MAX_ENTRIES", 2)
    rows = demo["accounts"].head(20)
    for i in range(4):
        mp.cached_payload(("k", i), lambda: render_payload(layer_map(rows, "heat")))
    assert mp.stats()["entries"] == 2
    one = mp.cached_payload(("k", 9), lambda: render_payload(layer_map(rows, "heat"))).size
    monkeypatch.setattr(mp, "MAX_TOTAL_CHARS", one * 4)
    mp.cached_payload(("k", 10), lambda: render_payload(layer_map(rows, "heat")))
    assert mp.stats()["chars"] <= one * 4
    assert mp.stats()["chars"] == one * mp.stats()["entries"]


def test_map_settings_are_part_of_the_key(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switching to CDN scripts (another process's settings) never reuses a local-asset map."""
    from gcrm.settings import get_settings

    mp.clear()
    rows = demo["accounts"].head(20)
    local = mp.cached_payload(("k", 1), lambda: render_payload(layer_map(rows, "heat")))
    monkeypatch.setenv("GCRM_MAP_ASSETS", "cdn")
    get_settings.cache_clear()
    try:
        cdn = mp.cached_payload(("k", 1), lambda: render_payload(layer_map(rows, "heat")))
    finally:
        monkeypatch.delenv("GCRM_MAP_ASSETS")
        get_settings.cache_clear()
    assert cdn is not local and cdn.js_links != local.js_links
    assert any(u.startswith("https://") for u in cdn.js_links)
    assert not any(u.startswith("https://") for u in local.js_links)
