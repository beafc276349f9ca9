"""Planned routes and suggested visits on a map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
from folium.elements import MacroElement

from gcrm.maps.base import (
    _format_value,
    _ScaleLegend,
    base_map,
    escape_html,
    fit_view,
)

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
