"""Selection tools (draw, lasso), a kept selection and the near-here rings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import shapely
from folium.elements import MacroElement
from folium.plugins import Draw
from folium.template import Template

from gcrm.maps.accounts import (
    KIND_COLORS,
    OTHER_COLOR,
    _AccountPoints,
    _is_missing,
    _points_frame,
    _popup_html,
    _tooltip_html,
)
from gcrm.maps.base import (
    _Areas,
    _format_number,
    _geojson_geometry,
    _js_value,
    _text,
    escape_html,
)

_NEAR_COLOR = "#2e86de"


#: Outline of a kept selection and ring of selected accounts.
_SELECT_COLOR = "#e4007c"


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
