"""The base map (tiles, assets, OSM credit), escaping, legends, roads and standalone pages."""

from __future__ import annotations

import html
import json
import math
import warnings
from collections.abc import Sequence
from enum import Enum
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely
from folium.elements import MacroElement
from folium.template import Template

from gcrm import assets, basemap
from gcrm._errors import GcrmError, GcrmWarning, InputError
from gcrm.settings import get_settings

#: The credit OpenStreetMap's licence asks for; on every map.
CREDIT = "© <a href='https://www.openstreetmap.org/copyright'>OpenStreetMap</a> contributors"


#: Centre and zoom of the default region (central Helsinki).
DEFAULT_CENTER: tuple[float, float] = (60.17, 24.94)


DEFAULT_ZOOM = 14


#: Highest zoom level of every map (Leaflet needs one when there are no tiles).
MAX_ZOOM = 19


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
    """Return the region's basemap (built on first use), or ``None`` with a warning."""
    try:
        return basemap.ensure_basemap()
    except GcrmError as exc:
        warnings.warn(f"no offline basemap: {exc}", GcrmWarning, stacklevel=3)
        return None


def _format_value(value: object) -> str:
    """``12 345`` for a potential value, ``""`` when missing."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _text(value)
    if not math.isfinite(number):
        return ""
    return f"{number:,.0f}".replace(",", "\u202f")


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


def _lean(m: folium.Map) -> folium.Map:
    """Load only Leaflet itself for this map (no jQuery, Bootstrap, Font Awesome).

    The density layers need none of folium's other default files; leaving
    them out makes a standalone page about 2 MB smaller.
    """
    m.default_js = [(n, u) for n, u in type(m).default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in type(m).default_css if n == "leaflet_css"]
    return m


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


def _format_number(value: float) -> str:
    if not math.isfinite(value):
        return ""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:.2g}"


def _geojson_geometry(geometry: Any) -> dict[str, Any]:

    rounded = shapely.set_precision(geometry, 1e-6)
    return json.loads(shapely.to_geojson(rounded))  # type: ignore[no-any-return]
