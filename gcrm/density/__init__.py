"""Prospect density: heat, hexagon bins, area statistics, near-here, selection and white space.

Every function here works on an accounts GeoDataFrame shaped like
:func:`gcrm.store.accounts_frame`'s (points in EPSG:4326) and returns plain
tables or GeoDataFrames; :mod:`gcrm.maps` draws them. Only
:func:`filtered_accounts` reads the database (through :mod:`gcrm.store`, so
the acting user's scope applies).

- :class:`MapFilter` selects accounts by kind, stage, segment, owner,
  territory, potential value and last visit.
- :func:`heat_points` gives weighted points for a heat map (aggregated on a
  grid when there are many), :func:`hex_bins` H3 hexagons with counts and
  value at a resolution chosen from the extent (:func:`hex_resolution`).
- :func:`postcode_areas` turns OSM address points into postcode areas:
  Voronoi cells of the points, dissolved by postcode and clipped to the
  region, so the areas tile the region. :func:`area_stats` counts accounts
  per area (postcode or territory) and :func:`coverage` gives the share of
  accounts visited within their frequency target.
- :func:`near_here` lists accounts within a radius (haversine) or within N
  minutes' drive (:func:`drive_times`, the same routes as
  :func:`gcrm.matrix.travel_matrix`) of a point or an account;
  :func:`isochrone` draws the area reachable in N minutes.
- :func:`select_accounts` returns the accounts inside shapes drawn on a map
  (GeoJSON from Leaflet.draw / streamlit-folium).
- :func:`white_space` finds prospects far, in drive time, from every rep's
  home base and from every customer.

Areas and distances are computed in a metric CRS (the local UTM zone,
:func:`metric_crs`).

Modules: :mod:`~gcrm.density.filters` (the filter), :mod:`~gcrm.density.bins`
(heat and hexagons), :mod:`~gcrm.density.areas` (postcode areas, area
statistics, coverage), :mod:`~gcrm.density.selection`,
:mod:`~gcrm.density.drive` (drive times, isochrones, near here),
:mod:`~gcrm.density.white_space` and :mod:`~gcrm.density.points` (shared
point and polygon helpers). Their public names are importable from
``gcrm.density``.
"""

from __future__ import annotations

from gcrm.density.areas import address_points, area_stats, coverage, coverage_mask, postcode_areas
from gcrm.density.bins import (
    HEAT_MAX_POINTS,
    HEX_RESOLUTIONS,
    heat_points,
    hex_bins,
    hex_resolution,
)
from gcrm.density.drive import drive_times, isochrone, near_here, nearest_drive_times
from gcrm.density.filters import MapFilter, filtered_accounts
from gcrm.density.points import located, voronoi_cells
from gcrm.density.selection import select_accounts
from gcrm.density.white_space import white_space

# Geometry helpers that callers have long imported from here (their home is gcrm.geometry).
from gcrm.geometry import EARTH_RADIUS_M, haversine_m, metric_crs

__all__ = [
    "EARTH_RADIUS_M",
    "HEAT_MAX_POINTS",
    "HEX_RESOLUTIONS",
    "MapFilter",
    "address_points",
    "area_stats",
    "coverage",
    "coverage_mask",
    "drive_times",
    "filtered_accounts",
    "haversine_m",
    "heat_points",
    "hex_bins",
    "hex_resolution",
    "isochrone",
    "located",
    "metric_crs",
    "near_here",
    "nearest_drive_times",
    "postcode_areas",
    "select_accounts",
    "voronoi_cells",
    "white_space",
]
