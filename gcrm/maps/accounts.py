"""Accounts as coloured, clustered circle markers with popups, legend and pin precision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
from folium.elements import MacroElement
from folium.plugins import MarkerCluster
from folium.template import Template

from gcrm._errors import InputError
from gcrm.density import located
from gcrm.maps.base import (
    _format_value,
    _js_value,
    _Legend,
    _text,
    add_roads,
    base_map,
    escape_html,
)
from gcrm.pins import PRECISION_LABELS

#: Marker colours by account kind.
KIND_COLORS: dict[str, str] = {"lead": "#f39c12", "prospect": "#2e86de", "customer": "#27ae60"}


#: Colours for other categories (``color_by``), in order of frequency.
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)


#: Colour of missing or less frequent categories.
OTHER_COLOR = "#7f7f7f"


class _AccountPoints(MacroElement):
    """Circle markers with tooltip and popup, built in one loop in the browser.

    One element for all accounts instead of one folium element per marker:
    the page is about ten times smaller and renders much faster. The HTML
    strings are escaped in Python (:func:`escape_html`) before they get here.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var rows = {{ this.rows_js }};
            var styles = {{ this.styles_js }};
            var layers = [];
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i];
                var marker = L.circleMarker([r[0], r[1]], Object.assign({
                    radius: 7, color: "#333333", weight: 1,
                    fillColor: r[2], fillOpacity: 0.9
                }, styles[r[5]] || {}));
                marker.bindTooltip(r[3]);
                var popup = document.createElement("div");
                popup.innerHTML = r[4];
                marker.bindPopup(popup, {maxWidth: 320});
                layers.push(marker);
            }
            var parent = {{ this._parent.get_name() }};
            if (typeof parent.addLayers === "function") {
                parent.addLayers(layers);
            } else {
                layers.forEach(function (layer) { parent.addLayer(layer); });
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]]) -> None:
        super().__init__()
        self._name = "AccountPoints"
        self.rows_js = _js_value(rows)
        self.styles_js = _js_value(PRECISION_STYLES)


def _is_missing(value: object) -> bool:
    return _text(value) == ""


def _format_date(value: object) -> str:
    """ISO date, ``"never"`` when missing."""
    if _is_missing(value):
        return "never"
    if hasattr(value, "date") and callable(value.date):
        value = value.date()
    return value.isoformat() if hasattr(value, "isoformat") else _text(value)


def _row_value(row: Any, column: str) -> object:
    return row[column] if column in row.index else None


def _popup_html(row: Any) -> str:
    """Return the popup of one account: a small table, every value escaped."""
    address = " ".join(
        t for t in (_text(_row_value(row, "street")), _text(_row_value(row, "housenumber"))) if t
    )
    place = " ".join(
        t for t in (_text(_row_value(row, "postcode")), _text(_row_value(row, "city"))) if t
    )
    fields = [
        ("Kind", _text(_row_value(row, "kind"))),
        ("Stage", _text(_row_value(row, "stage"))),
        ("Segment", _text(_row_value(row, "segment"))),
        ("Potential value", _format_value(_row_value(row, "potential_value"))),
        ("Last visit", _format_date(_row_value(row, "last_visit"))),
        ("Owner", _text(_row_value(row, "owner"))),
        ("Territory", _text(_row_value(row, "territory"))),
        ("Address", ", ".join(t for t in (address, place) if t)),
    ]
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:8px;font-weight:600'>{escape_html(k)}</th>"
        f"<td>{escape_html(v)}</td></tr>"
        for k, v in fields
        if v
    )
    return (
        "<div style='font:13px/1.4 sans-serif'>"
        f"<div style='font-weight:bold;font-size:14px;margin-bottom:4px'>"
        f"{escape_html(_row_value(row, 'name'))}</div>"
        f"<table>{cells}</table></div>"
    )


def _tooltip_html(row: Any) -> str:
    name = escape_html(_row_value(row, "name"))
    kind = escape_html(_row_value(row, "kind"))
    return f"<b>{name}</b>" + (f" · {kind}" if kind else "")


def _category_colors(values: Sequence[str], color_by: str) -> dict[str, str]:
    """Colour of each category label (``""`` is a missing value)."""
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    if color_by == "kind":
        colors = dict(KIND_COLORS)
        extra = [v for v in counts if v and v not in colors]
    else:
        colors = {}
        extra = sorted((v for v in counts if v), key=lambda v: (-counts[v], v))
    for i, value in enumerate(extra):
        colors[value] = PALETTE[i] if i < len(PALETTE) else OTHER_COLOR
    colors[""] = OTHER_COLOR
    return colors


def _legend_entries(
    values: Sequence[str], colors: dict[str, str], color_by: str
) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    labels = list(KIND_COLORS) if color_by == "kind" else []
    labels += sorted((v for v in counts if v and v not in labels), key=lambda v: (-counts[v], v))
    entries: list[tuple[str, str, int]] = []
    other = counts.get("", 0)
    for label in labels:
        if colors[label] == OTHER_COLOR:
            other += counts.get(label, 0)
        else:
            entries.append((label, colors[label], counts.get(label, 0)))
    if other:
        entries.append(("other / none", OTHER_COLOR, other))
    return entries


def _points_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows of ``gdf`` with a finite point location, in EPSG:4326."""
    return located(gdf)


def accounts_map(
    accounts: gpd.GeoDataFrame,
    *,
    cluster: bool = True,
    color_by: str = "kind",
    roads: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Map accounts as coloured circle markers, with popups and a legend.

    Parameters
    ----------
    accounts : geopandas.GeoDataFrame
        Accounts as :func:`gcrm.store.accounts_frame` returns them (points in
        EPSG:4326; columns ``name``, ``kind``, ``stage``, ``segment``,
        ``owner``, ``territory``, ``potential_value``, ``last_visit``,
        ``street``, ``housenumber``, ``postcode``, ``city``; missing ones are
        left out of the popup). Rows without a location are skipped.
    cluster : bool, default True
        Group nearby markers into clusters (Leaflet.markercluster).
    color_by : str, default "kind"
        Column that decides the marker colour: ``kind`` has fixed colours
        (:data:`KIND_COLORS`), other columns get :data:`PALETTE` by frequency.
    roads : geopandas.GeoDataFrame, optional
        Road lines drawn as a thin grey basemap (see :func:`add_roads`).

    Returns
    -------
    folium.Map
        The map, fitted to the accounts (the default region when there are
        none). Tooltips name the account; popups list kind, stage, segment,
        potential value, last visit, owner, territory and address.

    Raises
    ------
    InputError
        When ``color_by`` is not a column of ``accounts``.
    """
    m = base_map()
    if roads is not None:
        add_roads(m, roads)
    return add_accounts(m, accounts, cluster=cluster, color_by=color_by)


def add_accounts(
    m: folium.Map,
    accounts: gpd.GeoDataFrame,
    *,
    cluster: bool = True,
    color_by: str = "kind",
    fit: bool = True,
    name: str = "Accounts",
) -> folium.Map:
    """Add accounts as coloured circle markers (clustered by default) with a legend.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    accounts : geopandas.GeoDataFrame
        Accounts, as for :func:`accounts_map`.
    cluster : bool, default True
        Group nearby markers into clusters (Leaflet.markercluster).
    color_by : str, default "kind"
        Column that decides the marker colour (see :func:`accounts_map`).
    fit : bool, default True
        Fit the view to the accounts.
    name : str, default "Accounts"
        Name of the layer.

    Returns
    -------
    folium.Map
        ``m``. Tooltips name the account; popups list name, kind, stage,
        segment, potential value, last visit, owner, territory and address,
        every value escaped.

    Raises
    ------
    InputError
        When ``color_by`` is not a column of ``accounts``.
    """
    if color_by not in accounts.columns:
        msg = f"cannot colour accounts by {color_by!r}: no such column"
        raise InputError(msg)
    points = _points_frame(accounts)
    labels = [_text(v) for v in points[color_by]]
    colors = _category_colors(labels, color_by)
    lats = [round(float(y), 7) for y in points.geometry.y]
    lons = [round(float(x), 7) for x in points.geometry.x]
    precisions = _precisions(points)
    rows: list[list[Any]] = [
        [lat, lon, colors.get(label, OTHER_COLOR), _tooltip_html(row),
         _popup_html(row) + _precision_html(p), p]
        for (_, row), lat, lon, label, p in zip(
            points.iterrows(), lats, lons, labels, precisions, strict=True
        )
    ]  # fmt: skip

    layer: folium.FeatureGroup | MarkerCluster
    if cluster:
        layer = MarkerCluster(name=name, options={"chunkedLoading": True})
    else:
        layer = folium.FeatureGroup(name=name)
    layer.add_to(m)
    _AccountPoints(rows).add_to(layer)
    title = color_by.replace("_", " ").capitalize()
    _Legend(title, _legend_entries(labels, colors, color_by)).add_to(m)
    if "geocode_precision" in accounts.columns:
        _PrecisionLegend(_precision_counts(accounts)).add_to(m)

    if rows and fit:
        m.fit_bounds(
            [[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30), max_zoom=16
        )
    return m


#: How sure a pin is, from most to least, with its marker style: a less sure
#: pin is larger, fainter and more broken-edged (it covers where the place may
#: be); a hand-placed pin has a heavy edge. ``none`` is not on the map.
PRECISION_STYLES: dict[str, dict[str, Any]] = {
    "manual": {"radius": 7, "weight": 3, "color": "#000000", "fillOpacity": 0.95},
    "provided": {"radius": 7, "weight": 1, "fillOpacity": 0.9},
    "address": {"radius": 7, "weight": 1, "fillOpacity": 0.9},
    "interpolated": {"radius": 8, "weight": 2, "dashArray": "4 2", "fillOpacity": 0.75},
    "street": {"radius": 10, "weight": 2, "dashArray": "2 3", "fillOpacity": 0.5},
    "postcode": {"radius": 13, "weight": 2, "dashArray": "1 4", "fillOpacity": 0.3},
    "city": {"radius": 16, "weight": 2, "dashArray": "1 6", "fillOpacity": 0.15},
    "none": {},
}


def _precisions(points: gpd.GeoDataFrame) -> list[str]:
    """Each located row's precision (``address`` when the frame has none)."""
    if "geocode_precision" not in points.columns:
        return ["address"] * len(points)
    return [_text(v) or "none" for v in points["geocode_precision"]]


def _legend_label(precision: str) -> str:
    label = PRECISION_LABELS.get(precision, precision)
    return f"{label}, not shown" if precision == "none" else label


def _precision_counts(accounts: gpd.GeoDataFrame) -> list[tuple[str, int]]:
    counts = accounts["geocode_precision"].fillna("none").astype(str).value_counts()
    return [(p, int(counts[p])) for p in PRECISION_STYLES if counts.get(p, 0)]


def _precision_html(precision: str) -> str:
    """Return a popup line saying how sure the pin is."""
    label = PRECISION_LABELS.get(precision, precision)
    sure = precision in ("manual", "provided", "address")
    color = "#2a7a2a" if sure else "#a15c00"
    return (
        f"<div style='font:12px sans-serif;margin-top:4px;color:{color}'>"
        f"Pin: {escape_html(label)}</div>"
    )


class _PrecisionLegend(MacroElement):
    """A legend of the marker styles of :data:`PRECISION_STYLES` with counts."""

    _template = _Legend._template

    def __init__(self, counts: Sequence[tuple[str, int]]) -> None:
        super().__init__()
        self._name = "PrecisionLegend"
        rows = []
        for precision, count in counts:
            st = PRECISION_STYLES[precision]
            if st:
                r = int(st["radius"])
                dash = f" stroke-dasharray='{st['dashArray']}'" if "dashArray" in st else ""
                icon = (
                    f"<svg width='34' height='34' style='vertical-align:middle'>"
                    f"<circle cx='17' cy='17' r='{r}' fill='#4477aa' "
                    f"fill-opacity='{st['fillOpacity']}' stroke='{st.get('color', '#333')}' "
                    f"stroke-width='{st['weight']}'{dash}/></svg>"
                )
            else:
                icon = "<span style='display:inline-block;width:34px;text-align:center'>–</span>"
            rows.append(
                f"<div style='white-space:nowrap' data-precision='{precision}'>{icon} "
                f"{escape_html(_legend_label(precision))} "
                f"<span style='color:#666'>({count})</span></div>"
            )
        self.html = (
            "<div style='background:rgba(255,255,255,.92);padding:6px 9px;border-radius:4px;"
            "box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.3 sans-serif;color:#222'>"
            "<div style='font-weight:bold;margin-bottom:2px'>How sure each pin is</div>"
            f"{''.join(rows)}</div>"
        )
        self.html_js = _js_value(self.html)
