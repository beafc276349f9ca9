"""folium map builders (no Streamlit here: ``views/`` shows these maps).

Every map comes from :func:`base_map`, which applies the settings (tiles,
local or CDN assets) and always credits OpenStreetMap. Builders return a
:class:`folium.Map`; :func:`standalone_html` turns one into a single HTML file
that works offline.

Density layers (:func:`add_heat`, :func:`add_hexagons`, :func:`add_areas` for
postcode and territory choropleths, :func:`add_accounts` for clustered
markers, :func:`add_draw` for selection tools, :func:`add_near_here`) draw
what :mod:`gcrm.density` computes; :func:`layer_map` puts one on a map
(:func:`gcrm.map_cli.write_map` writes it as a standalone file, the CLI's
``map``). Their legends are plain HTML, not branca colour maps (which load d3 from a CDN).

All text that comes from users (account names, stages, owners, ...) goes
through :func:`escape_html` before it reaches a popup, tooltip or legend.

Modules: :mod:`~gcrm.maps.base` (base map, tiles, credit, escaping, legends,
roads, standalone pages, fitting the view), :mod:`~gcrm.maps.accounts`
(account markers and pin precision), :mod:`~gcrm.maps.layers` (heat, hexagons,
postcode and territory choropleths, :func:`layer_map`),
:mod:`~gcrm.maps.selection` (draw tools, selection, near here) and
:mod:`~gcrm.maps.routes` (routes and suggested visits). Their public names are
importable from ``gcrm.maps``.
"""

from __future__ import annotations

from gcrm.maps.accounts import (
    KIND_COLORS,
    OTHER_COLOR,
    PALETTE,
    PRECISION_STYLES,
    accounts_map,
    add_accounts,
)
from gcrm.maps.base import (
    CREDIT,
    DEFAULT_CENTER,
    DEFAULT_ZOOM,
    MAX_ZOOM,
    _js_value,
    _lean,
    add_roads,
    base_map,
    escape_html,
    fit_view,
    standalone_html,
)
from gcrm.maps.layers import (
    EMPTY_COLOR,
    LAYERS,
    MAX_MARKERS,
    SEQUENTIAL,
    VALUES,
    add_areas,
    add_heat,
    add_hexagons,
    layer_map,
)
from gcrm.maps.routes import ROUTE_COLORS, fitted_route_map, route_map, suggested_visits_map
from gcrm.maps.selection import add_draw, add_near_here, add_selection

__all__ = [
    "CREDIT",
    "DEFAULT_CENTER",
    "DEFAULT_ZOOM",
    "EMPTY_COLOR",
    "KIND_COLORS",
    "LAYERS",
    "MAX_MARKERS",
    "MAX_ZOOM",
    "OTHER_COLOR",
    "PALETTE",
    "PRECISION_STYLES",
    "ROUTE_COLORS",
    "SEQUENTIAL",
    "VALUES",
    "_js_value",
    "_lean",
    "accounts_map",
    "add_accounts",
    "add_areas",
    "add_draw",
    "add_heat",
    "add_hexagons",
    "add_near_here",
    "add_roads",
    "add_selection",
    "base_map",
    "escape_html",
    "fit_view",
    "fitted_route_map",
    "layer_map",
    "route_map",
    "standalone_html",
    "suggested_visits_map",
]
