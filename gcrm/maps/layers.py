"""Density layers (heat, hexagons, postcode and territory choropleths) and :func:`layer_map`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import HeatMap

from gcrm import density
from gcrm._errors import InputError
from gcrm.maps.accounts import PALETTE, add_accounts
from gcrm.maps.base import (
    MAX_ZOOM,
    _Areas,
    _format_number,
    _geojson_geometry,
    _lean,
    _ScaleLegend,
    _text,
    add_roads,
    base_map,
    escape_html,
)
from gcrm.maps.selection import add_draw

#: Sequential fill colours of hexagons and choropleths, light to dark (ColorBrewer YlOrRd).
SEQUENTIAL: tuple[str, ...] = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")


#: Fill of areas with no account.
EMPTY_COLOR = "#eeeeee"


#: Layers of :func:`layer_map` and :func:`gcrm.map_cli.write_map`.
LAYERS: tuple[str, ...] = ("markers", "heat", "hex", "postcode", "territory")


#: What :func:`add_hexagons` and :func:`add_areas` can colour by.
VALUES: dict[str, str] = {"count": "Accounts", "value": "Potential value", "coverage": "Coverage"}


#: Most markers :func:`layer_map` draws one by one; beyond, use heat or hex.
MAX_MARKERS = 20_000


def _format_share(value: float) -> str:
    return "" if not math.isfinite(value) else f"{100 * value:.0f} %"


def _breaks(values: Sequence[float], classes: int) -> list[float]:
    """Upper bounds of up to ``classes`` classes: the values, or mapclassify's quantiles."""
    import mapclassify  # heavy (pulls in scikit-learn): only when a scale is drawn

    arr = np.asarray(values, dtype=float)
    distinct = np.unique(arr)
    if distinct.size <= classes:
        return [float(v) for v in distinct]
    with warnings.catch_warnings():  # "not enough unique values": it lowers k itself
        warnings.simplefilter("ignore", UserWarning)
        bins = mapclassify.Quantiles(arr, k=classes).bins
    return sorted({float(b) for b in bins})


def _class_of(value: float, breaks: Sequence[float]) -> int:
    for i, b in enumerate(breaks):
        if value <= b:
            return i
    return len(breaks) - 1


def _scale(values: Sequence[float], kind: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Colour of each value and the legend entries.

    Counts and values of 0 (and missing values) are "none"; a coverage of 0
    is a value like any other (only a missing coverage is "none").
    """

    def shown(v: float) -> bool:
        return math.isfinite(v) and (v >= 0 if kind == "coverage" else v > 0)

    present = [v for v in values if shown(v)]
    breaks = _breaks(present, len(SEQUENTIAL))
    # Few classes: colours spread over the whole ramp, so they stay apart.
    spread = np.linspace(0, len(SEQUENTIAL) - 1, len(breaks)).round().astype(int)
    palette = [SEQUENTIAL[i] for i in (spread if len(breaks) > 1 else [len(SEQUENTIAL) - 1])]
    fmt = _format_share if kind == "coverage" else _format_number
    colors = [palette[_class_of(v, breaks)] if shown(v) else EMPTY_COLOR for v in values]
    entries: list[tuple[str, str]] = []
    exact = len(set(present)) == len(breaks)  # one class per distinct value
    counts = [0] * len(breaks)
    for v in present:
        counts[_class_of(v, breaks)] += 1
    for i, b in enumerate(breaks):
        start = min(present) if i == 0 else breaks[i - 1]
        label = (
            fmt(b) if exact or start == b else f"{'' if i == 0 else '> '}{fmt(start)} – {fmt(b)}"
        )
        entries.append((f"{label} ({counts[i]})", palette[i]))
    if len(present) < len(values):
        entries.append((f"none ({len(values) - len(present)})", EMPTY_COLOR))
    return colors, entries


def _fit_to(m: folium.Map, frame: gpd.GeoDataFrame) -> None:
    if len(frame) == 0:
        return
    minx, miny, maxx, maxy = (float(b) for b in frame.total_bounds)
    if all(math.isfinite(b) for b in (minx, miny, maxx, maxy)):
        m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(30, 30), max_zoom=16)


def add_heat(
    m: folium.Map,
    accounts: gpd.GeoDataFrame,
    *,
    weight: str = "count",
    radius: int = 18,
    blur: int = 15,
    fit: bool = True,
    name: str = "Heat",
) -> folium.Map:
    """Add a heat map of accounts (Leaflet.heat), weighted by count or potential.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    accounts : geopandas.GeoDataFrame
        Accounts (rows without a location are skipped).
    weight : {"count", "potential"}
        Weight of each account (see :func:`gcrm.density.heat_points`); many
        accounts are aggregated on a grid first, so the page stays small.
    radius, blur : int
        Heat point radius and blur, in pixels.
    fit : bool, default True
        Fit the view to the accounts.
    name : str
        Name of the layer.

    Returns
    -------
    folium.Map
        ``m``. The layer holds no text.
    """
    data = density.heat_points(accounts, weight=weight)
    rows = [
        [round(float(a), 5), round(float(b), 5), float(f"{w:.4g}")] for a, b, w in data.tolist()
    ]
    if rows:
        HeatMap(
            rows, name=name, radius=radius, blur=blur, min_opacity=0.3, max_zoom=MAX_ZOOM
        ).add_to(m)
    _ScaleLegend(
        f"Heat: {'potential value' if weight != 'count' else 'accounts'}",
        [("low", "#0000ff"), ("", "#00ff00"), ("high", "#ff0000")],
    ).add_to(m)
    if fit:
        _fit_to(m, density.located(accounts))
    return m


def add_hexagons(
    m: folium.Map,
    accounts: gpd.GeoDataFrame,
    *,
    resolution: int | None = None,
    value: str = "count",
    fit: bool = True,
    name: str = "Hexagons",
    bins: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Add H3 hexagons coloured by account count or potential value, with a legend.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    accounts : geopandas.GeoDataFrame
        Accounts (rows without a location are skipped).
    resolution : int, optional
        H3 resolution; chosen from the extent when omitted
        (:func:`gcrm.density.hex_resolution`).
    value : {"count", "value"}
        What colours the hexagons.
    fit : bool, default True
        Fit the view to the hexagons.
    name : str
        Name of the layer.
    bins : geopandas.GeoDataFrame, optional
        Hexagons already counted (as :func:`gcrm.density.hex_bins` returns
        them, e.g. from database aggregates); ``accounts`` is then unused.

    Returns
    -------
    folium.Map
        ``m``. Tooltips give each hexagon's count and value; the legend is
        plain HTML (no branca colour map, which would load d3 from a CDN).
    """
    if value not in ("count", "value"):
        msg = f"hexagons are coloured by 'count' or 'value', not {value!r}"
        raise InputError(msg)
    if bins is None:
        bins = density.hex_bins(accounts, resolution=resolution)
    colors, entries = _scale([float(v) for v in bins[value]], value)
    features = []
    for (_, row), color in zip(bins.iterrows(), colors, strict=True):
        tip = (
            f"<b>{escape_html(_format_number(float(row['count'])))}</b> account(s)"
            f"<br>Potential value: {escape_html(_format_number(float(row['value'])))}"
        )
        features.append(
            {
                "type": "Feature",
                "geometry": _geojson_geometry(row.geometry),
                "properties": {"c": color, "t": tip},
            }
        )
    group = folium.FeatureGroup(name=name).add_to(m)
    _Areas(features, {"color": "#555555", "weight": 0.6, "fillOpacity": 0.65}).add_to(group)
    res = bins.attrs.get("resolution")
    _ScaleLegend(f"{VALUES[value]} per hexagon (H3 res {res})", entries).add_to(m)
    if fit:
        _fit_to(m, bins)
    return m


def add_areas(
    m: folium.Map,
    areas: gpd.GeoDataFrame,
    *,
    label: str,
    value: str = "count",
    title: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
    fit: bool = True,
    name: str = "Areas",
    categorical: bool = False,
) -> folium.Map:
    """Add a choropleth of areas (postcode areas, territories) with a legend.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    areas : geopandas.GeoDataFrame
        Polygons with the ``label`` column and the statistics of
        :func:`gcrm.density.area_stats` (``count``, ``value``, ``coverage``).
    label : str
        Column naming each area (shown escaped in its tooltip and popup).
    value : {"count", "value", "coverage"}
        What colours the areas.
    title : str, optional
        Legend title (default from ``label`` and ``value``).
    extra : sequence of (column, caption)
        More columns listed in the popup (e.g. ``("owner", "Owner")``).
    fit : bool, default True
        Fit the view to the areas.
    name : str
        Name of the layer.
    categorical : bool, default False
        Colour each area apart (territories: a colour per territory, not a
        scale) and write its name and account count on the map.

    Returns
    -------
    folium.Map
        ``m``.
    """
    if value not in VALUES:
        msg = f"areas are coloured by one of {', '.join(VALUES)}, not {value!r}"
        raise InputError(msg)
    frame = areas.to_crs(4326) if areas.crs is not None else areas
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]

    vals = [float(v) if not pd.isna(v) else math.nan for v in frame[value]]
    if categorical:
        frame = frame.sort_values(label, key=lambda c: c.astype(str))
        colors = [PALETTE[i % len(PALETTE)] for i in range(len(frame))]
        entries = [
            (f"{_text(n)} ({_format_number(float(c or 0)) or 0} accounts)", col)
            for n, c, col in zip(
                frame[label], frame.get("count", [0] * len(frame)), colors, strict=True
            )
        ]
    else:
        colors, entries = _scale(vals, value)
    features = []
    for (_, row), color in zip(frame.iterrows(), colors, strict=True):
        name_html = escape_html(row[label])
        facts = [
            ("Accounts", _format_number(float(row.get("count", 0) or 0))),
            ("Potential value", _format_number(float(row.get("value", 0) or 0))),
            ("Coverage", _format_share(float(row.get("coverage", math.nan)))),
            *((caption, _text(row.get(col))) for col, caption in extra),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left;padding-right:8px;font-weight:600'>"
            f"{escape_html(k)}</th><td>{escape_html(v)}</td></tr>"
            for k, v in facts
            if v
        )
        tip = f"<b>{name_html}</b>: {escape_html(facts[0][1] or '0')} account(s)"
        popup = (
            "<div style='font:13px/1.4 sans-serif'><div style='font-weight:bold;font-size:14px;"
            f"margin-bottom:4px'>{name_html}</div><table>{cells}</table></div>"
        )
        props: dict[str, Any] = {"c": color, "t": tip, "p": popup}
        if categorical:
            at = row.geometry.representative_point()
            props["lp"] = [round(at.y, 6), round(at.x, 6)]
            props["l"] = _area_label(name_html, facts[0][1] or "0")
        features.append(
            {"type": "Feature", "geometry": _geojson_geometry(row.geometry), "properties": props}
        )
    group = folium.FeatureGroup(name=name).add_to(m)
    opacity = 0.35 if categorical else 0.55
    _Areas(features, {"color": "#444444", "weight": 1.5, "fillOpacity": opacity}).add_to(group)
    legend = title or f"{VALUES[value]} per {label.replace('_', ' ')}"
    _ScaleLegend(legend, entries).add_to(m)
    if fit:
        _fit_to(m, frame)
    return m


def _area_label(name_html: str, count: str) -> str:
    """Return a name and account count centred on a point, with a white halo (HTML)."""
    return (
        "<div style='transform:translate(-50%,-50%);white-space:nowrap;text-align:center;"
        "font:600 13px/1.2 sans-serif;color:#1b1b1b;text-shadow:0 0 3px #fff,0 0 3px #fff,"
        f"0 0 3px #fff'>{name_html}<br><span style='font-weight:400;font-size:11px'>"
        f"{escape_html(count)} accounts</span></div>"
    )


def layer_map(
    accounts: gpd.GeoDataFrame,
    layer: str = "markers",
    *,
    weight: str = "count",
    value: str = "count",
    resolution: int | None = None,
    areas: gpd.GeoDataFrame | None = None,
    territories: gpd.GeoDataFrame | None = None,
    draw: bool = False,
    roads: gpd.GeoDataFrame | None = None,
    tiles: str | None = None,
    lean: bool = True,
    max_markers: int = MAX_MARKERS,
) -> folium.Map:
    """Build a density map of accounts with one of :data:`LAYERS`.

    Parameters
    ----------
    accounts : geopandas.GeoDataFrame
        The (filtered) accounts.
    layer : {"markers", "heat", "hex", "postcode", "territory"}
        Clustered markers, heat map, H3 hexagons, or a choropleth of
        postcode areas or territories.
    weight : {"count", "potential"}
        Weight of the heat map.
    value : {"count", "value", "coverage"}
        What colours hexagons (count or value) and areas.
    resolution : int, optional
        H3 resolution of ``hex`` (default from the extent).
    areas : geopandas.GeoDataFrame, optional
        Postcode areas (:func:`gcrm.density.postcode_areas`), for
        ``postcode``.
    territories : geopandas.GeoDataFrame, optional
        Territories (:func:`gcrm.store.territories_frame`), for
        ``territory``.
    draw : bool, default False
        Add the selection tools (:func:`add_draw`).
    roads : geopandas.GeoDataFrame, optional
        Road lines drawn as a grey basemap (:func:`add_roads`).
    tiles : str, optional
        Tile setting of :func:`base_map`.
    lean : bool, default True
        Load only Leaflet and the layer's plugins, not folium's other
        default files (jQuery, Bootstrap, Font Awesome).
    max_markers : int
        Refuse ``markers`` beyond this many accounts (use heat or hex).

    Returns
    -------
    folium.Map
        The map, with the OpenStreetMap credit.

    Raises
    ------
    InputError
        On an unknown layer or option, a missing ``areas``/``territories``,
        or too many accounts for markers.
    """
    if layer not in LAYERS:
        msg = f"unknown layer {layer!r}: expected one of {', '.join(LAYERS)}"
        raise InputError(msg)
    m = base_map(tiles=tiles)
    if lean:
        _lean(m)
    if roads is not None:
        add_roads(m, roads)
    if layer == "markers":
        n = len(density.located(accounts))
        if n > max_markers:
            msg = (
                f"{n:,} accounts are too many for markers (at most {max_markers:,}): "
                "use heat or hex"
            )
            raise InputError(msg)
        add_accounts(m, accounts)
    elif layer == "heat":
        add_heat(m, accounts, weight=weight)
    elif layer == "hex":
        add_hexagons(m, accounts, resolution=resolution, value=value)
    elif layer == "postcode":
        if areas is None:
            raise InputError("the postcode layer needs postcode areas")
        stats = density.area_stats(accounts, areas, key="postcode")
        add_areas(m, stats, label="postcode", value=value, name="Postcode areas")
    else:
        if territories is None:
            raise InputError("the territory layer needs territories")
        stats = density.area_stats(accounts, territories, key="name", by_column="territory")
        add_areas(
            m,
            stats,
            label="name",
            value=value,
            title="Territories",
            extra=(("owner", "Owner"),),
            name="Territories",
            categorical=True,
        )
    if draw:
        add_draw(m)
    return m
