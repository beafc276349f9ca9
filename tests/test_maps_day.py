"""My day's maps: suggested visits before planning, the route fitted to its view."""

from __future__ import annotations

import datetime as dt
import json
import re

from gcrm import maps
from gcrm.routing import PlannedStop, RoutePlan


def _bounds(html: str) -> list[list[float]]:
    found = re.search(r"L\.latLngBounds\((\[\[.*?\]\])\)", html)
    assert found, "no fitted bounds in the map"
    return json.loads(found.group(1))


def test_suggested_visits_are_drawn_and_fitted() -> None:
    """One numbered marker per suggested visit (escaped tooltip), and the view refits to
    them and the home base whenever the map's box resizes."""
    visits = [
        {"lat": 60.16, "lon": 24.93, "name": "<b>Kiosk</b>", "address": "Katu 1"},
        {"lat": 60.18, "lon": 24.95, "name": "Cafe", "potential_value": 1200},
    ]
    html = maps.suggested_visits_map(visits, home=(60.15, 24.90), tiles="none").get_root().render()
    assert html.count("gcrm-suggested") == 2
    assert "<b>Kiosk</b>" not in html and "&lt;b&gt;Kiosk" in html
    (s, w), (n, e) = _bounds(html)
    assert (s, w, n, e) == (60.15, 24.90, 60.18, 24.95)
    assert "ResizeObserver" in html and "invalidateSize" in html


def test_route_map_fits_stops_and_street_geometry() -> None:
    """The fitted bounds hold the start, the end, every stop and every geometry vertex."""
    t = dt.datetime(2026, 12, 1, 9)
    stop = PlannedStop("a", 1, "A", "", 60.17, 24.94, t, 0, t, t, t, 60, 500)
    route = RoutePlan(
        "rep1", "Rep", t.date(), 60.16, 24.92, 60.165, 24.925, t, t, [stop], None, 60, 500,
        geometry=[[60.16, 24.92], [60.19, 24.96], [60.17, 24.94]],
    )  # fmt: skip
    html = maps.fitted_route_map([route], tiles="none").get_root().render()
    (s, w), (n, e) = _bounds(html)
    assert (s, w, n, e) == (60.16, 24.92, 60.19, 24.96)
    assert html.count("gcrm-stop") == 1
