"""The rendered map payload: the same as streamlit-folium's, cached per distinct input."""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
import pytest
import streamlit_folium
from shapely.geometry import box

from gcrm.maps import accounts_map, layer_map
from gcrm.maps import payload as mp


def _st_folium_args(m: folium.Map, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``st_folium`` hands its component for ``m`` (the component itself not called)."""
    seen: dict[str, Any] = {}

    def capture(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(streamlit_folium, "_component_func", capture)
    # Every returned object asked for: the defaults then carry the bounds and zoom.
    streamlit_folium.st_folium(m, key="k", height=400, returned_objects=None)
    return seen


@pytest.mark.parametrize("layer", ["markers", "heat", "hex", "territory"])
def test_payload_is_what_st_folium_sends(
    demo: dict, layer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendering once gives st_folium's script, header, HTML, links and bounds exactly."""
    accounts = demo["accounts"].head(300)
    terr = None
    if layer == "territory":
        terr = gpd.GeoDataFrame(
            {"name": ["North", "South <b>"], "owner": ["rep1", None]},
            geometry=[box(24.90, 60.17, 24.97, 60.20), box(24.90, 60.14, 24.97, 60.17)],
            crs=4326,
        )
    args = _st_folium_args(layer_map(accounts, layer, territories=terr), monkeypatch)
    ours = mp.render_payload(layer_map(accounts, layer, territories=terr))
    assert ours.script == args["script"]
    assert ours.header == args["header"]
    assert ours.html == args["html"]
    assert list(ours.css_links) == args["css_links"]
    assert list(ours.js_links) == args["js_links"]
    assert ours.zoom == args["default"]["zoom"]
    assert _bounds(ours) == args["default"]["bounds"]
    assert len(ours.script) > 1000


def test_accounts_map_matches_too(demo: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Marker popups (user text, escaped) come out byte for byte the same."""
    accounts = demo["accounts"].head(50)
    args = _st_folium_args(accounts_map(accounts), monkeypatch)
    ours = mp.render_payload(accounts_map(accounts))
    assert (ours.script, ours.header, ours.html) == (args["script"], args["header"], args["html"])
    assert _bounds(ours) == args["default"]["bounds"]


def _bounds(p: mp.MapPayload) -> dict[str, dict[str, Any]]:
    (s, w), (n, e) = p.bounds
    return {"_southWest": {"lat": s, "lng": w}, "_northEast": {"lat": n, "lng": e}}


def test_cache_draws_once_per_distinct_input(demo: dict) -> None:
    """Equal inputs reuse the rendered map; other rows, layer or view draw afresh."""
    mp.clear()
    a = demo["accounts"].head(100)
    b = demo["accounts"].iloc[100:200]
    builds: list[str] = []

    def build(rows: Any, layer: str) -> folium.Map:
        builds.append(layer)
        return layer_map(rows, layer)

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
        mp.cached_payload(("k", i), lambda: layer_map(rows, "heat"))
    assert mp.stats()["entries"] == 2
    one = mp.cached_payload(("k", 9), lambda: layer_map(rows, "heat")).size
    monkeypatch.setattr(mp, "MAX_TOTAL_CHARS", one * 4)
    mp.cached_payload(("k", 10), lambda: layer_map(rows, "heat"))
    assert mp.stats()["chars"] <= one * 4
    assert mp.stats()["chars"] == one * mp.stats()["entries"]
