"""folium map builders (no Streamlit here: ``views/`` shows these maps).

Every map comes from :func:`base_map`, which applies the settings (tiles,
local or CDN assets) and always credits OpenStreetMap. Builders return a
:class:`folium.Map`; :func:`standalone_html` turns one into a single HTML file
that works offline.

Density layers (:func:`add_heat`, :func:`add_hexagons`, :func:`add_areas` for
postcode and territory choropleths, :func:`add_accounts` for clustered
markers, :func:`add_draw` for selection tools, :func:`add_near_here`) draw
what :mod:`gcrm.density` computes; :func:`layer_map` puts one on a map and
:func:`write_map` writes it as a standalone file (the CLI's ``map``). Their
legends are plain HTML, not branca colour maps (which load d3 from a CDN).

All text that comes from users (account names, stages, owners, ...) goes
through :func:`escape_html` before it reaches a popup, tooltip or legend.
"""

from __future__ import annotations

import html
import json
import math
import warnings
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
from folium.elements import MacroElement
from folium.plugins import MarkerCluster
from folium.template import Template

from gcrm import assets, basemap
from gcrm._errors import GcrmError, GcrmWarning, InputError
from gcrm.settings import get_settings

if TYPE_CHECKING:
    import geopandas as gpd
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor

#: The credit OpenStreetMap's licence asks for; on every map.
CREDIT = "© <a href='https://www.openstreetmap.org/copyright'>OpenStreetMap</a> contributors"

#: Centre and zoom of the default region (central Helsinki).
DEFAULT_CENTER: tuple[float, float] = (60.17, 24.94)
DEFAULT_ZOOM = 14

#: Highest zoom level of every map (Leaflet needs one when there are no tiles).
MAX_ZOOM = 19

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

_OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

# Characters that html.escape leaves alone but that would break out of the
# JavaScript template literals folium puts Popup and Tooltip text into.
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def escape_html(value: object) -> str:
    """Escape a value for HTML, also inside folium's JavaScript template literals.

    Parameters
    ----------
    value : object
        Any value; ``None`` and NaN give ``""``, enums their value.

    Returns
    -------
    str
        Text with ``& < > " '`` and the backtick, dollar and backslash
        replaced by character references: safe as HTML text or attribute, and
        inside the backtick strings of ``folium.Popup``/``folium.Tooltip``.
    """
    return html.escape(_text(value), quote=True).translate(_TEMPLATE_LITERAL)


def _text(value: object) -> str:
    """Plain text of a cell: ``""`` for missing values."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    try:
        import pandas as pd

        if pd.isna(value):  # type: ignore[call-overload]
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _js_value(value: object) -> str:
    """JSON to embed in a ``<script>``: ``<`` escaped, so no ``</script>`` or ``<!--``."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


class _Credit(MacroElement):
    """Adds :data:`CREDIT` to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if ({{ this._parent.get_name() }}.attributionControl) {
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.credit }});
        }
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Credit"
        # Literal text (not \\u escapes) so that the credit reads as such in the HTML.
        self.credit = json.dumps(CREDIT, ensure_ascii=False)


class _Legend(MacroElement):
    """A Leaflet control listing colours and labels (labels escaped here)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "gcrm-legend");
                div.innerHTML = {{ this.html_js }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str, entries: Sequence[tuple[str, str, int]]) -> None:
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            "<div style='white-space:nowrap'>"
            f"<span style='display:inline-block;width:11px;height:11px;border-radius:50%;"
            f"background:{color};border:1px solid #333;margin-right:6px;"
            "vertical-align:middle'></span>"
            f"{escape_html(label)} <span style='color:#666'>({count})</span></div>"
            for label, color, count in entries
        )
        self.html = (
            "<div style='background:rgba(255,255,255,.92);padding:6px 9px;border-radius:4px;"
            "box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.5 sans-serif;color:#222'>"
            f"<div style='font-weight:bold;margin-bottom:2px'>{escape_html(title)}</div>"
            f"{rows}</div>"
        )
        self.html_js = _js_value(self.html)


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
            var layers = [];
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i];
                var marker = L.circleMarker([r[0], r[1]], {
                    radius: 7, color: "#333333", weight: 1,
                    fillColor: r[2], fillOpacity: 0.9
                });
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


def base_map(
    center: Sequence[float] | None = None,
    zoom: int | None = None,
    *,
    bounds: Sequence[Sequence[float]] | None = None,
    tiles: str | None = None,
    attribution: str | None = None,
) -> folium.Map:
    """Return an empty map set up per the settings.

    Parameters
    ----------
    center : sequence of float, optional
        ``(lat, lon)``; :data:`DEFAULT_CENTER` when omitted.
    zoom : int, optional
        Initial zoom; :data:`DEFAULT_ZOOM` when omitted.
    bounds : sequence, optional
        ``[[south, west], [north, east]]`` to fit the view to.
    tiles : str, optional
        ``"offline"`` (the region's own vector basemap, :mod:`gcrm.basemap`),
        ``"openstreetmap"``, ``"none"`` (no tile layer) or a tile URL template
        with ``{z}``, ``{x}`` and ``{y}``
        (``http(s)://...`` or a path such as ``/app/static/tiles/...``);
        ``GCRM_MAP_TILES`` when omitted.
    attribution : str, optional
        Attribution of a tile URL template (HTML); :data:`CREDIT` when
        omitted. The OpenStreetMap credit is shown in every case.

    Returns
    -------
    folium.Map
        The map, with its maximum zoom set, the OpenStreetMap credit in its
        attribution control, and folium's scripts pointed at the vendored
        copies when ``GCRM_MAP_ASSETS=local``.

    Raises
    ------
    InputError
        When ``tiles`` is none of the above.
    """
    settings = get_settings()
    if settings.map_assets == "local":
        assets.use_local_assets()
    else:
        assets.use_cdn_assets()

    tiles = settings.map_tiles if tiles is None else tiles
    key = tiles.strip().lower()
    location = list(center) if center is not None else list(DEFAULT_CENTER)
    m = folium.Map(
        location=location,
        zoom_start=DEFAULT_ZOOM if zoom is None else zoom,
        tiles=None,
        control_scale=True,
    )
    # Without a tile layer Leaflet has no maxZoom, and MarkerCluster then fails
    # with "Map has no maxZoom specified".
    m.options["maxZoom"] = MAX_ZOOM
    if key == "offline":
        info = _offline_basemap()
        if info is not None:
            basemap.BasemapLayer(info).add_to(m)
    elif key == "openstreetmap":
        folium.TileLayer(_OSM_TILES, attr=CREDIT, name="OpenStreetMap", max_zoom=MAX_ZOOM).add_to(m)
    elif key != "none":
        template = tiles.strip()
        if not (
            all(part in template for part in ("{z}", "{x}", "{y}"))
            and template.startswith(("https://", "http://", "/"))
        ):
            msg = (
                f"map tiles {tiles!r}: use 'offline', 'openstreetmap', 'none' or a tile URL "
                "template "
                "with {z}, {x} and {y}"
            )
            raise InputError(msg)
        folium.TileLayer(
            template, attr=attribution or CREDIT, name="Tiles", max_zoom=MAX_ZOOM
        ).add_to(m)
    _Credit().add_to(m)
    if bounds is not None:
        m.fit_bounds([list(bounds[0]), list(bounds[1])], max_zoom=17)
    return m


def _offline_basemap() -> basemap.BasemapInfo | None:
    """The region's basemap (built on first use), or ``None`` with a warning if it cannot be."""
    try:
        return basemap.ensure_basemap()
    except GcrmError as exc:
        warnings.warn(f"no offline basemap: {exc}", GcrmWarning, stacklevel=3)
        return None


def _is_missing(value: object) -> bool:
    return _text(value) == ""


def _format_value(value: object) -> str:
    """``12 345`` for a potential value, ``""`` when missing."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _text(value)
    if not math.isfinite(number):
        return ""
    return f"{number:,.0f}".replace(",", "\u202f")


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
    """The popup of one account: a small table, every value escaped."""
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
    from gcrm.density import located

    return located(gdf)


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame) -> folium.Map:
    """Draw road lines as a thin grey basemap layer under everything else.

    Meant for maps without tiles (offline): the road network makes the map
    readable. The lines take no clicks.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    roads : geopandas.GeoDataFrame
        Road geometries (LineString/MultiLineString; other types are
        skipped), any CRS.

    Returns
    -------
    folium.Map
        ``m``.
    """
    import shapely

    if roads.crs is not None and roads.crs.to_epsg() != 4326:
        roads = roads.to_crs(4326)
    lines = roads.geometry[
        roads.geometry.notna() & roads.geometry.geom_type.isin(["LineString", "MultiLineString"])
    ]
    # ~10 cm precision keeps the page small.
    lines = shapely.set_precision(lines.values, 1e-6)
    lines = lines[~shapely.is_empty(lines)]
    if len(lines) == 0:
        return m
    import geopandas as gpd

    frame = gpd.GeoDataFrame(geometry=list(lines), crs=4326)
    folium.map.CustomPane("gcrm-roads", z_index=350, pointer_events=False).add_to(m)
    folium.GeoJson(
        frame.to_json(drop_id=False),
        name="Roads",
        style_function=lambda _feature: {"color": "#8c8c8c", "weight": 1.2, "opacity": 0.9},
        control=False,
        pane="gcrm-roads",
        interactive=False,
    ).add_to(m)
    return m


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
    rows: list[list[Any]] = [
        [lat, lon, colors.get(label, OTHER_COLOR), _tooltip_html(row), _popup_html(row)]
        for (_, row), lat, lon, label in zip(points.iterrows(), lats, lons, labels, strict=True)
    ]

    layer: folium.FeatureGroup | MarkerCluster
    if cluster:
        layer = MarkerCluster(name=name, options={"chunkedLoading": True})
    else:
        layer = folium.FeatureGroup(name=name)
    layer.add_to(m)
    _AccountPoints(rows).add_to(layer)
    title = color_by.replace("_", " ").capitalize()
    _Legend(title, _legend_entries(labels, colors, color_by)).add_to(m)

    if rows and fit:
        m.fit_bounds(
            [[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30), max_zoom=16
        )
    return m


def standalone_html(m: folium.Map) -> str:
    """Render a map as one HTML page that works opened from disk, offline.

    Parameters
    ----------
    m : folium.Map
        A map from this module.

    Returns
    -------
    str
        The page with every script and stylesheet inlined
        (:func:`gcrm.assets.inline_assets`); with ``GCRM_MAP_ASSETS=cdn``
        the page keeps its CDN links instead. Tiles, if any, still come from
        the tile server.

    Raises
    ------
    gcrm.assets.AssetError
        When the assets have not been vendored (``python -m gcrm.assets``).
    """
    for child in list(m._children.values()):
        if isinstance(child, basemap.BasemapLayer) and not child.embed():
            warnings.warn(
                f"the basemap ({child.info.size_bytes} bytes) is too large to embed: "
                "the file shows it only when served by the app",
                GcrmWarning,
                stacklevel=2,
            )
    page = m.get_root().render()
    if get_settings().map_assets == "cdn":
        return page
    return assets.inline_assets(page)


# --------------------------------------------------------------------------- density layers

#: Sequential fill colours of hexagons and choropleths, light to dark (ColorBrewer YlOrRd).
SEQUENTIAL: tuple[str, ...] = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")

#: Fill of areas with no account.
EMPTY_COLOR = "#eeeeee"

#: Layers of :func:`layer_map` and :func:`write_map`.
LAYERS: tuple[str, ...] = ("markers", "heat", "hex", "postcode", "territory")

#: What :func:`add_hexagons` and :func:`add_areas` can colour by.
VALUES: dict[str, str] = {"count": "Accounts", "value": "Potential value", "coverage": "Coverage"}

#: Most markers :func:`layer_map` draws one by one; beyond, use heat or hex.
MAX_MARKERS = 20_000

_NEAR_COLOR = "#2e86de"

#: Outline of a kept selection and ring of selected accounts.
_SELECT_COLOR = "#e4007c"


class _ScaleLegend(MacroElement):
    """A Leaflet control with colour swatches and labels (escaped here)."""

    _template = _Legend._template

    def __init__(self, title: str, entries: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            "<div style='white-space:nowrap'>"
            f"<span style='display:inline-block;width:14px;height:11px;background:{color};"
            "border:1px solid #555;margin-right:6px;vertical-align:middle'></span>"
            f"{escape_html(label)}</div>"
            for label, color in entries
        )
        self.html = (
            "<div style='background:rgba(255,255,255,.92);padding:6px 9px;border-radius:4px;"
            "box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.5 sans-serif;color:#222'>"
            f"<div style='font-weight:bold;margin-bottom:2px'>{escape_html(title)}</div>"
            f"{rows}</div>"
        )
        self.html_js = _js_value(self.html)


class _Areas(MacroElement):
    """Filled polygons with pre-escaped tooltip and popup HTML, built in the browser.

    Each feature's properties hold ``c`` (fill colour), ``t`` (tooltip HTML)
    and ``p`` (popup HTML), and optionally ``l`` (a label drawn at ``lp``,
    ``[lat, lon]`` inside the area), escaped in Python; the text is set as HTML
    by Leaflet, never through folium's JavaScript template literals.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var style = {{ this.style_js }};
            var layer = L.geoJSON({{ this.data_js }}, {
                style: function (f) {
                    return Object.assign({}, style, {fillColor: f.properties.c});
                },
                onEachFeature: function (f, l) {
                    if (f.properties.l) {
                        L.marker(f.properties.lp, {
                            interactive: false, keyboard: false,
                            icon: L.divIcon({
                                className: "gcrm-area-label", html: f.properties.l,
                                iconSize: null
                            })
                        }).addTo({{ this._parent.get_name() }});
                    }
                    if (f.properties.t) { l.bindTooltip(f.properties.t, {sticky: true}); }
                    if (f.properties.p) {
                        var popup = document.createElement("div");
                        popup.innerHTML = f.properties.p;
                        l.bindPopup(popup, {maxWidth: 320});
                    }
                }
            });
            layer.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, features: list[dict[str, Any]], style: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Areas"
        self.data_js = _js_value({"type": "FeatureCollection", "features": features})
        self.style_js = _js_value(style)


class _Lasso(MacroElement):
    """A free-hand lasso button; the drawn shape goes to Leaflet.draw's drawn items.

    The finished polygon is announced as a ``draw:created`` event, so the
    Draw control's feature group (and streamlit-folium's ``all_drawings``)
    receive it like any drawn polygon.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var active = false;
            function start() {
                if (active) { return; }
                active = true;
                var points = [], line = null;
                map.dragging.disable();
                map.getContainer().style.cursor = "crosshair";
                function down(e) {
                    points = [e.latlng];
                    line = L.polyline(points, {color: "#3388ff", weight: 2, dashArray: "4 4"});
                    line.addTo(map);
                    map.on("mousemove", move);
                }
                function move(e) { points.push(e.latlng); line.setLatLngs(points); }
                function up() {
                    map.off("mousedown", down); map.off("mousemove", move); map.off("mouseup", up);
                    map.dragging.enable();
                    map.getContainer().style.cursor = "";
                    active = false;
                    if (line) { map.removeLayer(line); }
                    if (points.length >= 3) {
                        var shape = L.polygon(points, {color: "#3388ff"});
                        map.fire("draw:created", {layer: shape, layerType: "polygon"});
                    }
                }
                map.on("mousedown", down);
                map.on("mouseup", up);
            }
            var Lasso = L.Control.extend({
                options: {position: "topleft"},
                onAdd: function () {
                    var div = L.DomUtil.create("div", "leaflet-bar leaflet-control gcrm-lasso");
                    var a = L.DomUtil.create("a", "", div);
                    a.href = "#";
                    a.title = "Lasso: drag to select";
                    a.setAttribute("role", "button");
                    a.innerHTML = "&#10551;";
                    a.style.fontSize = "16px";
                    L.DomEvent.on(a, "click", function (e) { L.DomEvent.stop(e); start(); });
                    L.DomEvent.disableClickPropagation(div);
                    return div;
                }
            });
            map.addControl(new Lasso());
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Lasso"


def _lean(m: folium.Map) -> folium.Map:
    """Load only Leaflet itself for this map (no jQuery, Bootstrap, Font Awesome).

    The density layers need none of folium's other default files; leaving
    them out makes a standalone page about 2 MB smaller.
    """
    m.default_js = [(n, u) for n, u in type(m).default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in type(m).default_css if n == "leaflet_css"]
    return m


def _format_number(value: float) -> str:
    if not math.isfinite(value):
        return ""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:.2g}"


def _format_share(value: float) -> str:
    return "" if not math.isfinite(value) else f"{100 * value:.0f} %"


def _breaks(values: Sequence[float], classes: int) -> list[float]:
    """Upper bounds of up to ``classes`` classes: the values, or mapclassify's quantiles."""
    import mapclassify
    import numpy as np

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
    import numpy as np

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


def _geojson_geometry(geometry: Any) -> dict[str, Any]:
    import shapely

    rounded = shapely.set_precision(geometry, 1e-6)
    return json.loads(shapely.to_geojson(rounded))  # type: ignore[no-any-return]


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
    from folium.plugins import HeatMap

    from gcrm import density

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

    Returns
    -------
    folium.Map
        ``m``. Tooltips give each hexagon's count and value; the legend is
        plain HTML (no branca colour map, which would load d3 from a CDN).
    """
    from gcrm import density

    if value not in ("count", "value"):
        msg = f"hexagons are coloured by 'count' or 'value', not {value!r}"
        raise InputError(msg)
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
    import pandas as pd

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
    """A name and account count centred on a point, with a white halo (HTML)."""
    return (
        "<div style='transform:translate(-50%,-50%);white-space:nowrap;text-align:center;"
        "font:600 13px/1.2 sans-serif;color:#1b1b1b;text-shadow:0 0 3px #fff,0 0 3px #fff,"
        f"0 0 3px #fff'>{name_html}<br><span style='font-weight:400;font-size:11px'>"
        f"{escape_html(count)} accounts</span></div>"
    )


def add_draw(m: folium.Map, *, lasso: bool = True, circle: bool = True) -> folium.Map:
    """Add drawing tools for selecting accounts: rectangle, polygon, circle, lasso.

    Parameters
    ----------
    m : folium.Map
        The map.
    lasso : bool, default True
        Add a free-hand lasso button.
    circle : bool, default True
        Offer circles (streamlit-folium returns their radius in metres).

    Returns
    -------
    folium.Map
        ``m``. Drawn shapes reach streamlit-folium as GeoJSON features
        (``all_drawings``), which :func:`gcrm.density.select_accounts` turns
        into the selected accounts.
    """
    from folium.plugins import Draw

    shape = {"shapeOptions": {"color": "#3388ff"}}
    Draw(
        export=False,
        position="topleft",
        show_geometry_on_click=False,
        draw_options={
            "polyline": False,
            "marker": False,
            "circlemarker": False,
            "rectangle": shape,
            "polygon": {**shape, "allowIntersection": False},
            "circle": shape if circle else False,
        },
        edit_options={"edit": False},
    ).add_to(m)
    if lasso:
        _Lasso().add_to(m)
    return m


def _near_popup(row: Any) -> str:
    base = _popup_html(row)
    facts = [("Distance", f"{_format_number(float(row['distance_m']))} m")]
    if "drive_s" in row.index and not _is_missing(row["drive_s"]):
        facts.append(("Drive", f"{float(row['drive_s']) / 60:.1f} min"))
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:8px;font-weight:600'>{escape_html(k)}</th>"
        f"<td>{escape_html(v)}</td></tr>"
        for k, v in facts
    )
    return base.replace("<table>", f"<table>{cells}", 1)


def add_selection(
    m: folium.Map, drawn: Sequence[dict[str, Any]], selected: gpd.GeoDataFrame | None = None
) -> folium.Map:
    """Draw a kept selection: its shapes outlined and the selected accounts ringed.

    Parameters
    ----------
    m : folium.Map
        The map.
    drawn : sequence of dict
        GeoJSON features drawn earlier (streamlit-folium's ``all_drawings``),
        kept by the page so that the selection survives a redraw.
    selected : geopandas.GeoDataFrame, optional
        The accounts selected; each gets a highlight ring.

    Returns
    -------
    folium.Map
        ``m``.
    """
    group = folium.FeatureGroup(name="Selection").add_to(m)
    features = []
    for f in drawn:
        geom = f.get("geometry") if isinstance(f, dict) else None
        if not geom:
            continue
        radius = (f.get("properties") or {}).get("radius")
        if geom.get("type") == "Point" and radius:
            lon, lat = geom["coordinates"][:2]
            folium.Circle(
                [lat, lon], radius=float(radius), color=_SELECT_COLOR, weight=3,
                fill=False, dash_array="6 4", interactive=False,
            ).add_to(group)  # fmt: skip
            continue
        features.append({"type": "Feature", "geometry": geom, "properties": {"c": "none"}})
    if features:
        style = {"color": _SELECT_COLOR, "weight": 3, "dashArray": "6 4", "fillOpacity": 0}
        _Areas(features, style).add_to(group)
    if selected is not None and len(selected):
        points = _points_frame(selected)
        rings = [[round(float(g.y), 7), round(float(g.x), 7)] for g in points.geometry]
        _Rings(rings).add_to(group)
    return m


class _Rings(MacroElement):
    """Highlight rings around selected accounts (not interactive)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var pts = {{ this.points_js }};
            var parent = {{ this._parent.get_name() }};
            for (var i = 0; i < pts.length; i++) {
                L.circleMarker(pts[i], {
                    radius: 11, color: "{{ this.color }}", weight: 3, fill: false,
                    interactive: false, className: "gcrm-selected"
                }).addTo(parent);
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, points: list[list[float]]) -> None:
        super().__init__()
        self._name = "Rings"
        self.points_js = _js_value(points)
        self.color = _SELECT_COLOR


def add_near_here(
    m: folium.Map,
    lat: float,
    lon: float,
    *,
    radius_m: float | None = None,
    area: Any = None,
    results: gpd.GeoDataFrame | None = None,
    label: str = "Here",
    fit: bool = True,
) -> folium.Map:
    """Show a "near here" search: the place, its radius or isochrone, and the accounts found.

    Parameters
    ----------
    m : folium.Map
        The map.
    lat, lon : float
        The place searched from.
    radius_m : float, optional
        Draw this radius (m) around it.
    area : shapely geometry, optional
        Draw this area (e.g. :func:`gcrm.density.isochrone`, lon/lat).
    results : geopandas.GeoDataFrame, optional
        :func:`gcrm.density.near_here`'s result: markers whose popups add
        the distance and drive time.
    label : str
        Tooltip of the place (escaped).
    fit : bool, default True
        Fit the view to the circle, area and results.

    Returns
    -------
    folium.Map
        ``m``.
    """
    import shapely

    group = folium.FeatureGroup(name="Near here").add_to(m)
    bounds: list[list[Any]] = [[lat, lon]]
    if area is not None and not area.is_empty:
        feature = {
            "type": "Feature",
            "geometry": _geojson_geometry(area),
            "properties": {"c": _NEAR_COLOR, "t": escape_html(f"{label}: reachable area")},
        }
        _Areas([feature], {"color": _NEAR_COLOR, "weight": 2, "fillOpacity": 0.12}).add_to(group)
        minx, miny, maxx, maxy = shapely.bounds(area)
        bounds += [[miny, minx], [maxy, maxx]]
    if radius_m is not None:
        folium.Circle(
            [lat, lon],
            radius=float(radius_m),
            color=_NEAR_COLOR,
            weight=2,
            fill=True,
            fill_opacity=0.08,
            interactive=False,
        ).add_to(group)
        dlat = float(radius_m) / 111_195.0
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        bounds += [[lat - dlat, lon - dlon], [lat + dlat, lon + dlon]]
    if results is not None and len(results):
        points = _points_frame(results)
        rows = [
            [
                round(float(row.geometry.y), 7),
                round(float(row.geometry.x), 7),
                KIND_COLORS.get(_text(row.get("kind")), OTHER_COLOR),
                _tooltip_html(row),
                _near_popup(row),
            ]
            for _, row in points.iterrows()
        ]
        _AccountPoints(rows).add_to(group)
        bounds += [[r[0], r[1]] for r in rows]
    _AccountPoints(
        [
            [
                round(lat, 7),
                round(lon, 7),
                "#111111",
                f"<b>{escape_html(label)}</b>",
                escape_html(label),
            ]
        ]
    ).add_to(group)
    if fit and len(bounds) > 1:
        lats = [b[0] for b in bounds]
        lons = [b[1] for b in bounds]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30))
    return m


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
    from gcrm import density

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


def write_map(
    session: Session,
    actor: Actor,
    layer: str,
    output: str | Path,
    *,
    flt: Any = None,
    weight: str = "count",
    value: str = "count",
    resolution: int | None = None,
    tiles: str | None = None,
    roads: bool = False,
    osm: str | Path | None = None,
) -> dict[str, Any]:
    """Write a standalone HTML density map of the actor's accounts (the CLI's ``map``).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies. The ``markers`` layer lists
        accounts one by one and needs the ``export`` right; every map written
        is audited as an export.
    layer
        One of :data:`LAYERS`.
    output
        The HTML file to write (scripts and styles inlined: works offline,
        except for tiles, which ``tiles="none"`` with ``roads=True`` avoids).
    flt
        A :class:`gcrm.density.MapFilter` (or ``None``).
    weight, value, resolution, tiles
        See :func:`layer_map`.
    roads
        Draw the region's drive network as a grey basemap.
    osm
        OSM file of the region (postcode areas, roads); default the settings'.

    Returns
    -------
    dict
        ``output``, ``layer``, ``accounts`` (on the map) and ``bytes``.
    """
    from gcrm import density
    from gcrm.auth import require
    from gcrm.store import audit, region_geometry, territories_frame

    require(actor, "export" if layer == "markers" else "view")
    accounts = density.filtered_accounts(session, actor, flt)
    areas = territories = None
    if layer == "postcode":
        region = region_geometry(session, actor)
        if region is None:
            import shapely

            pts = density.located(accounts)
            if pts.empty:
                raise InputError("no region and no located account to draw postcode areas for")
            hull = shapely.convex_hull(shapely.union_all(pts.geometry.values))
            region = hull.buffer(0.002)
        areas = density.postcode_areas(density.address_points(osm), region)
    elif layer == "territory":
        territories = territories_frame(session, actor)
    road_lines = _road_lines(osm) if roads else None
    m = layer_map(
        accounts,
        layer,
        weight=weight,
        value=value,
        resolution=resolution,
        areas=areas,
        territories=territories,
        roads=road_lines,
        tiles=tiles,
    )
    page = standalone_html(m)
    path = Path(output)
    path.write_text(page, encoding="utf-8")
    shown = len(density.located(accounts))
    audit(
        session,
        actor,
        "export",
        path.name,
        {"format": "html map", "layer": layer, "accounts": shown},
    )
    return {"output": str(path), "layer": layer, "accounts": shown, "bytes": len(page.encode())}


def _road_lines(osm: str | Path | None) -> gpd.GeoDataFrame:
    """The region's drive network as lines (EPSG:4326)."""
    from gcrm.network import load_network, road_lines

    return road_lines(load_network(osm))


#: Colours of the routes of a plan (one per rep and day).
ROUTE_COLORS: tuple[str, ...] = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def route_map(routes: Sequence[Any], *, tiles: str | None = None) -> folium.Map:
    """Draw planned routes: the street route, numbered stops, start and end.

    Parameters
    ----------
    routes : sequence of gcrm.routing.RoutePlan
        Routes with their stops and (optionally) street ``geometry``
        (``[lat, lon]`` pairs).
    tiles : str, optional
        Tile setting of :func:`base_map`.

    Returns
    -------
    folium.Map
        One layer per route; stop markers carry their number (1, 2, ...),
        with the name and times in an escaped tooltip; the OSM credit.
    """
    points = [(s.lat, s.lon) for r in routes for s in r.stops] + [
        (r.start_lat, r.start_lon) for r in routes
    ]
    if points:
        lats, lons = zip(*points, strict=True)
        bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
        m = base_map(bounds=bounds, tiles=tiles)
    else:
        m = base_map(tiles=tiles)
    for i, r in enumerate(routes):
        color = ROUTE_COLORS[i % len(ROUTE_COLORS)]
        layer = folium.FeatureGroup(name=escape_html(f"{r.rep} {r.date}"))
        line = r.geometry or [[r.start_lat, r.start_lon], *[[s.lat, s.lon] for s in r.stops]]
        if len(line) >= 2:
            folium.PolyLine(line, color=color, weight=4, opacity=0.8).add_to(layer)
        folium.CircleMarker(
            [r.start_lat, r.start_lon], radius=7, color="#000", fill=True, fill_color="#fff",
            tooltip=escape_html(f"Start: {r.rep}"),
        ).add_to(layer)  # fmt: skip
        for n, s in enumerate(r.stops, start=1):
            done = getattr(s, "status", "planned") == "done"
            icon = folium.DivIcon(
                html=(
                    "<div class='gcrm-stop' style='background:"
                    f"{'#999' if done else color};color:#fff;border-radius:50%;width:24px;"
                    "height:24px;line-height:24px;text-align:center;font:bold 12px sans-serif;"
                    f"border:2px solid #fff;box-shadow:0 0 2px #000'>{n}</div>"
                ),
                icon_size=(24, 24),
                icon_anchor=(12, 12),
            )
            tip = escape_html(
                f"{n}. {s.name} — {s.start:%H:%M}–{s.end:%H:%M}" + (" (done)" if done else "")
            )
            folium.Marker([s.lat, s.lon], icon=icon, tooltip=tip).add_to(layer)
        layer.add_to(m)
    _route_legend(routes).add_to(m)
    if len(routes) > 1:
        folium.LayerControl(collapsed=False).add_to(m)
    return m


def _route_legend(routes: Sequence[Any]) -> MacroElement:
    """Legend of a route map: each route's colour and stop count, start and done stops."""
    entries = [
        (f"{r.rep} {r.date}: {len(r.stops)} stops", ROUTE_COLORS[i % len(ROUTE_COLORS)])
        for i, r in enumerate(routes)
    ]
    entries += [("start (home base)", "#ffffff"), ("visit done", "#999999")]
    return _ScaleLegend("Route", entries)


class _FitView(MacroElement):
    """Fit the map to bounds once drawn, and again whenever its box resizes.

    folium's ``fit_bounds`` runs once, at the iframe's first size; in
    streamlit-folium (and on a phone) the box is resized afterwards and the
    view no longer holds every point. This refits after each resize.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = L.latLngBounds({{ this.bounds }});
            function fit() {
                map.invalidateSize();
                map.fitBounds(bounds, {padding: [{{ this.padding }}, {{ this.padding }}],
                                       maxZoom: {{ this.max_zoom }}});
            }
            fit();
            setTimeout(fit, 250);
            if (window.ResizeObserver) {
                new ResizeObserver(fit).observe(map.getContainer());
            }
            map.getContainer().dataset.gcrmFit = "1";
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]], padding: int, max_zoom: int) -> None:
        super().__init__()
        self._name = "FitView"
        self.bounds = json.dumps(bounds)
        self.padding = int(padding)
        self.max_zoom = int(max_zoom)


def fit_view(
    m: folium.Map, points: Sequence[Sequence[float]], *, padding: int = 28, max_zoom: int = 17
) -> folium.Map:
    """Keep every point in the map's view, whatever size the map ends up.

    Parameters
    ----------
    m : folium.Map
        The map.
    points : sequence of (lat, lon)
        What must be visible (e.g. a route's stops and street geometry).
    padding : int
        Margin in pixels inside the map's edge.
    max_zoom : int
        Closest zoom used (a single point would otherwise zoom all the way).

    Returns
    -------
    folium.Map
        The same map.
    """
    pts = [(float(p[0]), float(p[1])) for p in points]
    if not pts:
        return m
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
    m.fit_bounds(bounds, max_zoom=max_zoom)
    _FitView(bounds, padding, max_zoom).add_to(m)
    return m


def fitted_route_map(routes: Sequence[Any], *, tiles: str | None = None) -> folium.Map:
    """:func:`route_map` with the view fitted to the whole route (stops and streets)."""
    m = route_map(routes, tiles=tiles)
    pts: list[Sequence[float]] = []
    for r in routes:
        pts += [(r.start_lat, r.start_lon), (r.end_lat, r.end_lon)]
        pts += [(s.lat, s.lon) for s in r.stops]
        pts += [tuple(p) for p in r.geometry]
    return fit_view(m, pts)


def suggested_visits_map(
    visits: Sequence[dict[str, Any]],
    *,
    home: tuple[float, float] | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """Today's suggested visits on a map, before any route is planned.

    Parameters
    ----------
    visits : sequence of dict
        ``lat``, ``lon``, ``name`` and optionally ``address`` and
        ``potential_value`` of each suggested account, in suggestion order.
    home : (lat, lon), optional
        Where the rep's day starts.
    tiles : str, optional
        Tile setting of :func:`base_map`.

    Returns
    -------
    folium.Map
        A marker per visit (class ``gcrm-suggested``; an escaped tooltip with
        the name, address and value), the home base, the view fitted to all.
    """
    m = base_map(tiles=tiles)
    layer = folium.FeatureGroup(name="Suggested visits")
    pts: list[tuple[float, float]] = []
    for n, v in enumerate(visits, start=1):
        lat, lon = float(v["lat"]), float(v["lon"])
        pts.append((lat, lon))
        icon = folium.DivIcon(
            html=(
                "<div class='gcrm-suggested' style='background:#fff;color:#1f6fd1;"
                "border:2px solid #1f6fd1;border-radius:50%;width:20px;height:20px;"
                f"line-height:18px;text-align:center;font:bold 11px sans-serif'>{n}</div>"
            ),
            icon_size=(20, 20),
            icon_anchor=(10, 10),
        )
        value = _format_value(v.get("potential_value"))
        tip = " — ".join(
            x for x in (str(v.get("name") or ""), str(v.get("address") or ""), value) if x
        )
        folium.Marker([lat, lon], icon=icon, tooltip=escape_html(tip)).add_to(layer)
    if home is not None:
        pts.append((float(home[0]), float(home[1])))
        folium.CircleMarker(
            list(home), radius=7, color="#000", fill=True, fill_color="#fff", tooltip="Start"
        ).add_to(layer)
    layer.add_to(m)
    return fit_view(m, pts)
