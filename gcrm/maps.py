"""folium map builders (no Streamlit here: ``views/`` shows these maps).

Every map comes from :func:`base_map`, which applies the settings (tiles,
local or CDN assets) and always credits OpenStreetMap. Builders return a
:class:`folium.Map`; :func:`standalone_html` turns one into a single HTML file
that works offline.

All text that comes from users (account names, stages, owners, ...) goes
through :func:`escape_html` before it reaches a popup, tooltip or legend.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

import folium
from folium.elements import MacroElement
from folium.plugins import MarkerCluster
from folium.template import Template

from gcrm import assets
from gcrm._errors import InputError
from gcrm.settings import get_settings

if TYPE_CHECKING:
    import geopandas as gpd

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
        ``"openstreetmap"``, ``"none"`` (no tile layer: works with no
        internet) or a tile URL template with ``{z}``, ``{x}`` and ``{y}``
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
    if key == "openstreetmap":
        folium.TileLayer(_OSM_TILES, attr=CREDIT, name="OpenStreetMap", max_zoom=MAX_ZOOM).add_to(m)
    elif key != "none":
        template = tiles.strip()
        if not (
            all(part in template for part in ("{z}", "{x}", "{y}"))
            and template.startswith(("https://", "http://", "/"))
        ):
            msg = (
                f"map tiles {tiles!r}: use 'openstreetmap', 'none' or a tile URL template "
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
    import numpy as np
    import shapely

    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    # get_type_id is -1 for missing geometries; get_x fails on empty points.
    keep = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    points = geoms[keep]
    keep[keep] = np.isfinite(shapely.get_x(points)) & np.isfinite(shapely.get_y(points))
    return gdf[keep]


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
    if color_by not in accounts.columns:
        msg = f"cannot colour accounts by {color_by!r}: no such column"
        raise InputError(msg)
    points = _points_frame(accounts)
    m = base_map()
    if roads is not None:
        add_roads(m, roads)

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
        layer = MarkerCluster(name="Accounts", options={"chunkedLoading": True})
    else:
        layer = folium.FeatureGroup(name="Accounts")
    layer.add_to(m)
    _AccountPoints(rows).add_to(layer)
    title = color_by.replace("_", " ").capitalize()
    _Legend(title, _legend_entries(labels, colors, color_by)).add_to(m)

    if rows:
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
    page = m.get_root().render()
    if get_settings().map_assets == "cdn":
        return page
    return assets.inline_assets(page)
