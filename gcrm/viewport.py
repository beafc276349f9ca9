"""Maps that scale with the screen: database aggregates in the viewport.

Above :data:`LARGE` accounts a page does not load every account; it asks the
database for grid clusters inside the visible box (:func:`gcrm.store.account_cells`),
sized from the zoom, and draws those: clusters refine as the user zooms in, and
no map carries more than :data:`MAX_FEATURES` features. Heat maps, H3
hexagons, postcode areas and territories are drawn from the same aggregates.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template
from sqlalchemy.orm import Session

from gcrm import density, maps
from gcrm._errors import InputError
from gcrm.auth import Actor
from gcrm.store import AccountFilter, account_cells, account_group_stats, accounts_frame

#: Above this many matching accounts, maps are drawn from viewport aggregates.
LARGE = 5_000

#: Most features one map may carry.
MAX_FEATURES = 5_000

#: Side of a cluster cell on screen, in pixels.
CELL_PX = 48

#: Map size the views are fitted to, in pixels.
VIEW_PX = (900, 560)


@dataclasses.dataclass(frozen=True)
class Viewport:
    """What the map shows: centre and zoom (the box follows from the map size).

    Attributes
    ----------
    lat, lon
        Centre, WGS84 degrees.
    zoom
        Web-mercator zoom level (0-19).
    """

    lat: float
    lon: float
    zoom: int

    @classmethod
    def fit(cls, bounds: Sequence[float], *, size: tuple[int, int] = VIEW_PX) -> Viewport:
        """Return the viewport that shows ``(min_lon, min_lat, max_lon, max_lat)`` whole."""
        min_lon, min_lat, max_lon, max_lat = (float(b) for b in bounds)
        lon_span = max(max_lon - min_lon, 1e-6)
        y0, y1 = _merc_y(min_lat), _merc_y(max_lat)
        zx = math.log2(size[0] / 256 * 360 / lon_span)
        zy = math.log2(size[1] / 256 * 2 * math.pi / max(abs(y1 - y0), 1e-9))
        zoom = int(max(1, min(maps.MAX_ZOOM - 1, math.floor(min(zx, zy)))))
        return cls((min_lat + max_lat) / 2, (min_lon + max_lon) / 2, zoom)

    def bbox(
        self, *, size: tuple[int, int] = VIEW_PX, pad: float = 0.25
    ) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` seen at ``size``, padded by ``pad``."""
        deg_per_px = 360 / (256 * 2**self.zoom)
        half_w = size[0] / 2 * deg_per_px * (1 + pad)
        y = _merc_y(self.lat)
        half_h = size[1] / 2 * (2 * math.pi / (256 * 2**self.zoom)) * (1 + pad)
        return (
            self.lon - half_w,
            _merc_lat(y - half_h),
            self.lon + half_w,
            _merc_lat(y + half_h),
        )

    def cell_deg(self) -> float:
        """Cluster cell side in degrees at this zoom (:data:`CELL_PX` on screen)."""
        return 360 / (256 * 2**self.zoom) * CELL_PX

    def moved(self, other: Viewport) -> bool:
        """Whether ``other`` shows a different zoom or a centre a quarter view away."""
        if other.zoom != self.zoom:
            return True
        deg_per_px = 360 / (256 * 2**self.zoom)
        far = VIEW_PX[1] / 4 * deg_per_px
        return abs(other.lon - self.lon) > far or abs(other.lat - self.lat) > far / 2


def _merc_y(lat: float) -> float:
    lat = max(min(lat, 85.0), -85.0)
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _merc_lat(y: float) -> float:
    return math.degrees(2 * math.atan(math.exp(y)) - math.pi / 2)


@dataclasses.dataclass
class ViewMap:
    """A map drawn from aggregates, and what it carries.

    Attributes
    ----------
    map
        The folium map.
    features
        Points, clusters or polygons drawn (at most :data:`MAX_FEATURES`).
    accounts
        Matching located accounts inside the queried box.
    viewport
        The view the map opens at.
    """

    map: folium.Map
    features: int
    accounts: int
    viewport: Viewport

    def __post_init__(self) -> None:
        """Refuse a map that would carry more than :data:`MAX_FEATURES` features."""
        if self.features > MAX_FEATURES:
            msg = f"a map carries {self.features:,} features, more than {MAX_FEATURES:,}"
            raise AssertionError(msg)


class _Clusters(MacroElement):
    """Count circles drawn in the browser from compact rows; a click zooms in.

    A group's count is a marker of its own (an ``L.divIcon`` the size of its
    circle, anchored at its centre), not a permanent tooltip: Leaflet places a
    tooltip from its measured size when it opens, and in streamlit-folium's
    iframe that happens before ``leaflet.css`` applies (the tooltip is then a
    full-width block), leaving every count half the map's width off its
    circle until the next zoom. An icon is placed from its fixed size alone.
    A single account is a red dot with its name on hover.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var group = L.featureGroup().addTo(map);
            var labelStyle = "display:flex;align-items:center;justify-content:center;" +
                "width:100%;height:100%;white-space:nowrap;color:#fff;" +
                "font:600 11px/1 sans-serif;text-shadow:0 0 2px #0b3566;";
            {{ this.rows_js }}.forEach(function (r) {
                var n = r[2], size = n > 1 ? Math.min(44, 18 + 6 * Math.log10(n)) : 7;
                var c = L.circleMarker([r[0], r[1]], {
                    radius: size / 2, color: "#1f5fa8", weight: 1.5,
                    fillColor: n > 1 ? "#4f8fd8" : "#e4572e", fillOpacity: 0.75
                });
                var text = document.createElement("span");
                text.textContent = r[3];
                if (n > 1) {
                    c.on("click", function () { map.setView([r[0], r[1]], map.getZoom() + 2); });
                    text.style.cssText = labelStyle;
                    var d = Math.round(size);
                    new L.Marker([r[0], r[1]], {
                        icon: L.divIcon({html: text, className: "gcrm-cluster-count",
                                         iconSize: [d, d], iconAnchor: [d / 2, d / 2]}),
                        interactive: false, keyboard: false
                    }).addTo(group);
                } else {
                    c.bindTooltip(text, {direction: "top", className: "gcrm-account-name"});
                }
                c.addTo(group);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]]) -> None:
        super().__init__()
        self._name = "Clusters"
        self.rows_js = maps._js_value(rows)


def _cells(
    session: Session, actor: Actor, flt: AccountFilter, view: Viewport, *, finer: int = 1
) -> pd.DataFrame:
    """Grid cells in the padded viewport, coarsened until they fit :data:`MAX_FEATURES`."""
    cell = view.cell_deg() / finer
    while True:
        cells = account_cells(session, actor, flt, cell_deg=cell, bbox=view.bbox())
        if len(cells) <= MAX_FEATURES:
            return cells
        cell *= 2


def _names(session: Session, actor: Actor, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    frame = accounts_frame(session, actor, AccountFilter(ids=list(ids)))
    return {int(i): str(n) for i, n in zip(frame["id"], frame["name"], strict=True)}


def _cluster_layer(
    m: folium.Map, session: Session, actor: Actor, flt: AccountFilter, view: Viewport
) -> tuple[int, int]:
    cells = _cells(session, actor, flt, view)
    single = cells.loc[cells["count"] == 1, "first_id"].astype(int).tolist()
    names = _names(session, actor, single)
    rows = [
        [
            round(float(r.lat), 6),
            round(float(r.lon), 6),
            int(r.count),
            f"{int(r.count):,}" if r.count > 1 else names.get(int(r.first_id), ""),
        ]
        for r in cells.itertuples()
    ]
    _Clusters(rows).add_to(m)
    return len(rows), int(cells["count"].sum())


def _heat_layer(
    m: folium.Map,
    session: Session,
    actor: Actor,
    flt: AccountFilter,
    view: Viewport,
    weight: str,
) -> tuple[int, int]:
    from folium.plugins import HeatMap

    cells = _cells(session, actor, flt, view, finer=4)
    w = cells["value"] if weight == "potential" else cells["count"]
    rows = [
        [round(float(a), 5), round(float(b), 5), float(f"{x:.4g}")]
        for a, b, x in zip(cells["lat"], cells["lon"], w, strict=True)
        if x > 0
    ]
    if rows:
        HeatMap(rows, name="Heat", radius=18, blur=15, min_opacity=0.3).add_to(m)
    return len(rows), int(cells["count"].sum())


def hex_bins_of_cells(cells: pd.DataFrame, resolution: int) -> gpd.GeoDataFrame:
    """Sum grid cells into H3 hexagons (each cell goes whole to its centre's hexagon).

    Parameters
    ----------
    cells
        As :func:`gcrm.store.account_cells` returns them.
    resolution
        H3 resolution (0-15).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`gcrm.density.hex_bins` returns it.
    """
    import h3

    ids = [
        h3.latlng_to_cell(a, b, resolution)
        for a, b in zip(cells["lat"].tolist(), cells["lon"].tolist(), strict=True)
    ]
    frame = pd.DataFrame({"h3": ids, "count": cells["count"], "value": cells["value"]})
    grouped = (
        frame.groupby("h3", sort=False)[["count", "value"]]
        .sum()
        .reset_index()
        .sort_values(["count", "h3"], ascending=[False, True], ignore_index=True)
    )
    geoms = [shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(c)]) for c in grouped["h3"]]
    out = gpd.GeoDataFrame(grouped, geometry=geoms, crs=4326)
    out["count"] = out["count"].astype(int)
    out.attrs["resolution"] = resolution
    return out


def _hex_layer(
    m: folium.Map,
    session: Session,
    actor: Actor,
    flt: AccountFilter,
    view: Viewport,
    value: str,
) -> tuple[int, int]:
    box = view.bbox(pad=0.0)
    res = density.hex_resolution(box, cells_across=VIEW_PX[0] / CELL_PX)
    cells = _cells(session, actor, flt, view, finer=2)
    bins = hex_bins_of_cells(cells, res)
    if len(bins) > MAX_FEATURES:
        bins = hex_bins_of_cells(cells, max(res - 1, 0))
    maps.add_hexagons(m, gpd.GeoDataFrame(), value=value, bins=bins, fit=False)
    return len(bins), int(cells["count"].sum())


def _area_layer(
    m: folium.Map,
    session: Session,
    actor: Actor,
    flt: AccountFilter,
    areas: gpd.GeoDataFrame,
    *,
    by: str,
    value: str,
) -> tuple[int, int]:
    key = "postcode" if by == "postcode" else "name"
    stats = account_group_stats(session, actor, flt, by=by).set_index("key")
    out = areas.copy()
    for col, fill in (("count", 0), ("value", 0.0), ("with_target", 0), ("covered", 0)):
        out[col] = out[key].map(stats[col]).fillna(fill).to_numpy()
    out["coverage"] = out[key].map(stats["coverage"]).to_numpy(float)
    if by == "postcode":
        maps.add_areas(m, out, label="postcode", value=value, name="Postcode areas", fit=False)
    else:
        maps.add_areas(
            m, out, label="name", value=value, title="Territories", extra=(("owner", "Owner"),),
            name="Territories", categorical=True, fit=False,
        )  # fmt: skip
    return len(out), int(out["count"].sum())


def viewport_map(
    session: Session,
    actor: Actor,
    flt: density.MapFilter | AccountFilter | None,
    layer: str,
    view: Viewport,
    *,
    weight: str = "count",
    value: str = "count",
    areas: gpd.GeoDataFrame | None = None,
    territories: gpd.GeoDataFrame | None = None,
    draw: bool = False,
    tiles: str | None = None,
) -> ViewMap:
    """Draw one of :data:`gcrm.maps.LAYERS` from database aggregates in a viewport.

    Parameters
    ----------
    session, actor
        An open session and the acting user (their scope applies).
    flt
        The density filter, or a store filter (every condition is applied in SQL).
    layer
        ``markers`` (grid clusters that refine with the zoom), ``heat``,
        ``hex``, ``postcode`` or ``territory``.
    view
        What the map shows (:meth:`Viewport.fit` for a first view).
    weight, value
        As :func:`gcrm.maps.layer_map`.
    areas, territories
        Polygons of the ``postcode`` and ``territory`` layers.
    draw
        Add the selection tools.
    tiles
        Tile setting of :func:`gcrm.maps.base_map`.

    Returns
    -------
    ViewMap
        The map and its feature count (checked against :data:`MAX_FEATURES`).

    Raises
    ------
    InputError
        On an unknown layer or missing polygons.
    """
    if layer not in maps.LAYERS:
        msg = f"unknown layer {layer!r}: expected one of {', '.join(maps.LAYERS)}"
        raise InputError(msg)
    if isinstance(flt, AccountFilter):
        account_filter = flt
    else:
        account_filter = (flt or density.MapFilter()).account_filter()
    m = maps.base_map((view.lat, view.lon), view.zoom, tiles=tiles)
    maps._lean(m)
    if layer == "markers":
        features, n = _cluster_layer(m, session, actor, account_filter, view)
    elif layer == "heat":
        features, n = _heat_layer(m, session, actor, account_filter, view, weight)
    elif layer == "hex":
        features, n = _hex_layer(m, session, actor, account_filter, view, value)
    else:
        polygons = areas if layer == "postcode" else territories
        if polygons is None:
            msg = f"the {layer} layer needs {'postcode areas' if areas is None else 'territories'}"
            raise InputError(msg)
        features, n = _area_layer(
            m, session, actor, account_filter, polygons, by=layer, value=value
        )
    if draw:
        maps.add_draw(m)
    return ViewMap(m, features, n, view)


def accounts_in_shapes(
    session: Session,
    actor: Actor,
    flt: density.MapFilter | None,
    drawn: Any,
    *,
    limit: int = 50_000,
) -> gpd.GeoDataFrame:
    """Return the matching accounts inside drawn shapes, read only from their box.

    Parameters
    ----------
    session, actor, flt
        As :func:`viewport_map`.
    drawn
        streamlit-folium ``all_drawings`` (see :func:`gcrm.density.select_accounts`).
    limit
        Read at most this many accounts from the box (a page shows them).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`gcrm.density.select_accounts` returns it.
    """
    feats = [f for f in (drawn or []) if isinstance(f, dict) and f.get("geometry")]
    if not feats:
        return accounts_frame(session, actor, AccountFilter(ids=[-1]))
    shapes = [shapely.geometry.shape(f["geometry"]) for f in feats]
    radius = max(float((f.get("properties") or {}).get("radius") or 0.0) for f in feats)
    bounds = np.array([s.bounds for s in shapes])
    pad = radius / 111_000 * 2
    box = (
        float(bounds[:, 0].min()) - pad,
        float(bounds[:, 1].min()) - pad,
        float(bounds[:, 2].max()) + pad,
        float(bounds[:, 3].max()) + pad,
    )
    base = (flt or density.MapFilter()).account_filter()
    frame = accounts_frame(
        session, actor, dataclasses.replace(base, bbox=box), limit=int(limit), offset=0
    )
    return density.select_accounts(frame, feats)


def accounts_around(
    session: Session,
    actor: Actor,
    flt: density.MapFilter | None,
    lat: float,
    lon: float,
    metres: float,
    *,
    limit: int = 50_000,
) -> gpd.GeoDataFrame:
    """Return the matching accounts in the box of ``metres`` around a point ("near here").

    Parameters
    ----------
    session, actor, flt
        As :func:`viewport_map`.
    lat, lon
        The centre, WGS84 degrees.
    metres
        Half the box side (a radius, or the farthest a drive time reaches).
    limit
        Read at most this many accounts.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`gcrm.store.accounts_frame` returns it, passed through
        ``flt`` (last-visit conditions included).
    """
    dlat = metres / 111_000
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    box = (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    flt = flt or density.MapFilter()
    base = dataclasses.replace(flt.account_filter(), bbox=box)
    return flt.apply(accounts_frame(session, actor, base, limit=int(limit), offset=0))


_ROW = re.compile(r"\[\s*-?\d{1,3}\.\d+,\s*-?\d{1,3}\.\d+,\s*(?:-?\d|\")")
_FEATURE = re.compile(r"\"type\":\s*\"Feature\"")
_MARKER = re.compile(r"\bL\.(?:marker|circleMarker|circle)\(")


def count_features(html: str) -> int:
    """Count the features a rendered map carries (to check :data:`MAX_FEATURES`).

    Counts GeoJSON features, ``[lat, lon, ...]`` rows (heat points,
    clusters, account points) and markers created one by one (``L.marker``,
    ``L.circleMarker``, ``L.circle``) in the map's HTML or script.

    Parameters
    ----------
    html
        A folium map's rendered HTML (or streamlit-folium's ``script``).

    Returns
    -------
    int
        The number of features.
    """
    return len(_ROW.findall(html)) + len(_FEATURE.findall(html)) + len(_MARKER.findall(html))
