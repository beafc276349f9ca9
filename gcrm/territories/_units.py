"""The builder's units: distinct account locations with their Voronoi cells and neighbours."""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm.density import voronoi_cells
from gcrm.geometry import haversine_m

#: Speed (km/h) of straight-line drive estimates when no road graph is given.
CROW_FLY_KPH = 25.0

MIN_SHARED_EDGE_M = 0.01  # cells sharing less than this touch at a point only


@dataclasses.dataclass
class Units:
    """Distinct account locations inside the region, with their cells."""

    xy: np.ndarray  # (S, 2) metric
    lat: np.ndarray
    lon: np.ndarray
    cells: np.ndarray  # main piece of each unit's cell (Polygon)
    orphans: list[BaseGeometry]  # other pieces of clipped cells
    neighbours: list[dict[int, float]]  # adjacent unit -> shared edge length (m)
    site_of: np.ndarray  # unit of each inside account


def make_units(pts: gpd.GeoDataFrame, region_m: BaseGeometry, crs: Any) -> Units:
    proj = pts.to_crs(crs)
    xy = np.round(shapely.get_coordinates(np.asarray(proj.geometry.values, dtype=object)), 2)
    uniq, site_of = np.unique(xy, axis=0, return_inverse=True)
    site_of = site_of.ravel()
    cells = voronoi_cells(uniq, region_m)
    main = np.empty(len(uniq), dtype=object)
    orphans: list[BaseGeometry] = []
    site_pts = shapely.points(uniq)
    for s, cell in enumerate(cells):
        parts = [p for p in shapely.get_parts(cell) if p.area > 0]
        if not parts:
            main[s] = shapely.Polygon()
            continue
        inside = [p for p in parts if p.covers(site_pts[s])]
        keep = inside[0] if inside else max(parts, key=lambda p: p.area)
        main[s] = keep
        orphans.extend(p for p in parts if p is not keep)
    neighbours: list[dict[int, float]] = [{} for _ in range(len(uniq))]
    tree = shapely.STRtree(main)
    a, b = tree.query(main, predicate="intersects")
    pairs = (a < b) & ~shapely.is_empty(main[a]) & ~shapely.is_empty(main[b])
    a, b = a[pairs], b[pairs]
    shared = shapely.length(shapely.intersection(main[a], main[b]))
    edge = shared > MIN_SHARED_EDGE_M
    for i, j, length in zip(a[edge].tolist(), b[edge].tolist(), shared[edge].tolist(), strict=True):
        neighbours[i][j] = length
        neighbours[j][i] = length
    lon, lat = shapely.get_coordinates(
        gpd.GeoSeries(shapely.points(uniq), crs=crs).to_crs(4326).values
    ).T
    return Units(uniq, lat, lon, main, orphans, neighbours, site_of)


def seed_units_of(units: Units, seeds: pd.DataFrame, drive_s: np.ndarray, crs: Any) -> list[int]:
    """Return the unit each territory starts from: the one holding its home, else the nearest."""
    home_xy = shapely.get_coordinates(
        gpd.GeoSeries(gpd.points_from_xy(seeds["lon"], seeds["lat"]), crs=4326).to_crs(crs).values
    )
    chosen: list[int] = []
    for t in range(len(seeds)):
        home = shapely.Point(home_xy[t])
        holder = [s for s in range(len(units.cells)) if units.cells[s].covers(home)]
        order = holder + [int(s) for s in np.argsort(drive_s[t], kind="stable")]
        chosen.append(next(s for s in order if s not in chosen))
    return chosen


def extra_seeds(units: Units, seeds: pd.DataFrame, k: int) -> pd.DataFrame:
    """Add seeds at the units farthest from every seed so far (deterministic)."""
    lat, lon = units.lat, units.lon
    rows = seeds.reset_index(drop=True).to_dict("records")
    if not rows:  # the first seed: the unit nearest the units' centre
        first = int(np.argmin(np.hypot(*(units.xy - units.xy.mean(axis=0)).T)))
        rows.append({"owner": None, "lat": float(lat[first]), "lon": float(lon[first])})
    dist = np.min([haversine_m(r["lat"], r["lon"], lat, lon) for r in rows], axis=0)
    while len(rows) < k:
        s = int(np.argmax(dist))
        rows.append({"owner": None, "lat": float(lat[s]), "lon": float(lon[s])})
        dist = np.minimum(dist, haversine_m(lat[s], lon[s], lat, lon))
    return pd.DataFrame(rows)


def crow_fly_s(seeds: pd.DataFrame, units: Units) -> np.ndarray:
    return np.vstack(
        [
            haversine_m(a, b, units.lat, units.lon) / (CROW_FLY_KPH / 3.6)
            for a, b in zip(seeds["lat"], seeds["lon"], strict=True)
        ]
    )
