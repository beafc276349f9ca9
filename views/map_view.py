"""Drawing maps on a page: streamlit-folium's component fed a rendered, cached payload.

``st_folium`` builds and renders the folium map on every script run. Here a
map is rendered once (:func:`render_payload`) and, through
:func:`cached_render` / :func:`show_cached_map`, shared by every run and session of the process that
draws the same inputs; the component receives the same arguments either way.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import branca
import folium
import streamlit as st
from streamlit_folium import (
    _component_func,
    _get_header,
    _get_html,
    _get_map_string,
    generate_js_hash,
    get_full_id,
)

from gcrm.maps.payload import MapPayload, cached_payload, fingerprint


def _links(m: folium.Map) -> tuple[tuple[str, ...], tuple[str, ...]]:
    css: list[str] = []
    js: list[str] = []

    def walk(el: Any) -> Any:
        if isinstance(el, branca.colormap.ColorMap | folium.elements.JSCSSMixin):
            yield el
        for child in getattr(el, "_children", {}).values():
            yield from walk(child)

    for el in walk(m):
        if isinstance(el, branca.colormap.ColorMap):
            # As streamlit-folium does (our legends are plain HTML, so this stays unused).
            js.insert(0, "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js")
            js.insert(0, "https://d3js.org/d3.v4.min.js")
        css.extend(href for _, href in getattr(el, "default_css", []))
        js.extend(src for _, src in getattr(el, "default_js", []))
    return tuple(dict.fromkeys(css)), tuple(dict.fromkeys(js))


def render_payload(m: folium.Map) -> MapPayload:
    """Render a folium map into what the streamlit-folium component draws.

    Parameters
    ----------
    m
        A map from :func:`gcrm.maps.base_map` (it is rendered, and changed by
        rendering: build a new one to draw it again).

    Returns
    -------
    MapPayload
        The same script, header, HTML and links ``st_folium`` would send.
    """
    m.render()
    html = _get_html(m)
    header = _get_header(m)
    script = _get_map_string(m)
    try:
        bounds = m.get_bounds()
    except AttributeError:
        bounds = [[None, None], [None, None]]
    css, js = _links(m)
    return MapPayload(
        script=script,
        header=header,
        html=html,
        map_id=get_full_id(m),
        bounds=bounds,
        zoom=m.options.get("zoom"),
        css_links=css,
        js_links=js,
    )


def show_folium(m: folium.Map, *, key: str, height: int = 500) -> None:
    """Show a folium map, display only (rendered once, not cached).

    Parameters
    ----------
    m
        The map.
    key, height
        The widget key and the height in pixels.
    """
    show_payload(render_payload(m), key=key, height=height)


def show_cached_map(
    parts: tuple[object, ...], build: Callable[[], Any], *, key: str, height: int = 500
) -> None:
    """Show a display-only map drawn once per process for the same inputs.

    Parameters
    ----------
    parts
        Everything ``build`` draws from, as this user's page read it (scoped
        rows, layer, view...): see :func:`gcrm.maps.payload.cached_payload`.
    build
        Builds the folium map; called only when no session drew these inputs.
    key, height
        As :func:`show_map`.
    """
    show_payload(cached_render(key, parts, build), key=key, height=height)


def cached_render(name: str, parts: tuple[object, ...], build: Callable[[], Any]) -> MapPayload:
    """Return the rendered map of ``build``, drawn once per process for the same inputs.

    Parameters
    ----------
    name
        Which map of which page (its widget key).
    parts
        Everything ``build`` draws from, as this user's page read it (scoped
        rows, layer, view...): see :func:`gcrm.maps.payload.cached_payload`.
    build
        Builds the folium map; called only when no session drew these inputs.

    Returns
    -------
    MapPayload
        For :func:`show_payload`.
    """
    try:
        key = fingerprint(*parts)
    except (pickle.PicklingError, TypeError, AttributeError):  # inputs we cannot digest
        return render_payload(build())  # drawn every time, never shared

    def draw() -> MapPayload:
        drawn = render_payload(build())
        widget_hash = generate_js_hash(drawn.script, name, False)
        return dataclasses.replace(drawn, widget=name, widget_hash=widget_hash)

    return cached_payload((name, key), draw)


def show_payload(
    payload: MapPayload, *, key: str, height: int = 500, returned_objects: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Draw a rendered map with streamlit-folium's component, as ``st_folium`` does.

    Parameters
    ----------
    payload
        From :func:`render_payload` or :func:`cached_render`.
    key, height
        The widget key and height in pixels.
    returned_objects
        The map state sent back to the page (each change reruns it): ``()``
        for a display-only map.

    Returns
    -------
    dict or None
        The returned objects (their defaults before the user touched the map).
    """

    def bounds(pair: list[list[float | None]]) -> dict[str, dict[str, float | None]]:
        (south, west), (north, east) = pair
        return {
            "_southWest": {"lat": south, "lng": west},
            "_northEast": {"lat": north, "lng": east},
        }

    defaults: dict[str, Any] = {
        "last_clicked": None, "last_object_clicked": None,
        "last_object_clicked_count": None, "last_object_clicked_tooltip": None,
        "last_object_clicked_popup": None, "all_drawings": None,
        "last_active_drawing": None, "bounds": bounds(payload.bounds), "zoom": payload.zoom,
        "last_circle_radius": None, "last_circle_polygon": None, "selected_layers": None,
        "selected_tags": None, "last_geocoder_result": None,
    }  # fmt: skip
    wanted = list(returned_objects)
    # streamlit-folium's widget key runs regular expressions over the whole script (tens of
    # ms for a large map): a cached map carries it, computed once for its widget key.
    if payload.widget == key and payload.widget_hash:
        hash_key = payload.widget_hash
    else:
        hash_key = generate_js_hash(payload.script, key, False)

    def on_change() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})

    return _component_func(  # type: ignore[no-any-return]
        script=payload.script,
        header=payload.header,
        html=payload.html,
        id=payload.map_id,
        key=hash_key,
        height=height,
        width=None,
        returned_objects=wanted,
        default={k: v for k, v in defaults.items() if k in wanted},
        zoom=None,
        center=None,
        feature_group=None,
        return_on_hover=False,
        layer_control=None,
        pixelated=False,
        css_links=list(payload.css_links),
        js_links=list(payload.js_links),
        on_change=on_change,
        wrap_longitude=False,
    )
