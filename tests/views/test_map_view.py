"""views.map_view: a map rendered once gives exactly what st_folium sends its component."""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
import pytest
import streamlit_folium
from shapely.geometry import box

from gcrm.maps import accounts_map, layer_map
from gcrm.maps import payload as mp
from views.map_view import render_payload


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
    ours = render_payload(layer_map(accounts, layer, territories=terr))
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
    ours = render_payload(accounts_map(accounts))
    assert (ours.script, ours.header, ours.html) == (args["script"], args["header"], args["html"])
    assert _bounds(ours) == args["default"]["bounds"]


def _bounds(p: mp.MapPayload) -> dict[str, dict[str, Any]]:
    (s, w), (n, e) = p.bounds
    return {"_southWest": {"lat": s, "lng": w}, "_northEast": {"lat": n, "lng": e}}


def test_inputs_that_cannot_be_digested_are_drawn_every_time(demo: dict) -> None:
    """A part pickle refuses (a lambda) draws the map uncached instead of failing."""
    from views.map_view import cached_render

    mp.clear()
    rows = demo["accounts"].head(20)
    first = cached_render("k", (rows, lambda: 1), lambda: layer_map(rows, "heat"))
    again = cached_render("k", (rows, lambda: 1), lambda: layer_map(rows, "heat"))
    assert first.script == again.script and first is not again
    assert mp.stats()["entries"] == 0
    kept = cached_render("k", (rows,), lambda: layer_map(rows, "heat"))
    assert kept.script == first.script and kept.widget == "k"
    assert kept.widget_hash == streamlit_folium.generate_js_hash(kept.script, "k", False)
    assert cached_render("k", (rows,), lambda: layer_map(rows, "heat")) is kept
