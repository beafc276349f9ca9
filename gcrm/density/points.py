"""Point and polygon helpers of the density computations (located rows, Voronoi cells)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm._errors import InputError

# Grid (m) that polygons are snapped to before they are merged, so that cells
# sharing an edge merge without slivers.
_GRID_M = 1e-3


def located(accounts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the rows that have a finite point location, in EPSG:4326.

    Parameters
    ----------
    accounts
        Any GeoDataFrame of points (any CRS; missing or empty geometries
        allowed).

    Returns
    -------
    geopandas.GeoDataFrame
        The located rows, in order, in EPSG:4326.
    """
    if accounts.crs is not None and accounts.crs.to_epsg() != 4326:
        accounts = accounts.to_crs(4326)
    return accounts[_located_mask(accounts)]


def _located_mask(accounts: gpd.GeoDataFrame) -> np.ndarray:
    """Which rows hold a finite point (in whatever CRS they are)."""
    geoms = np.asarray(accounts.geometry.values, dtype=object)
    keep = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    pts = geoms[keep]
    keep[keep] = np.isfinite(shapely.get_x(pts)) & np.isfinite(shapely.get_y(pts))
    out: np.ndarray = keep
    return out


def _lat_lon(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    return shapely.get_y(geoms).astype(float), shapely.get_x(geoms).astype(float)


def voronoi_cells(xy: np.ndarray, region: BaseGeometry) -> np.ndarray:
    """Return the Voronoi cell of each point, clipped to a region (planar, metric).

    Parameters
    ----------
    xy
        ``(n, 2)`` distinct point coordinates in a metric CRS.
    region
        The polygon to clip to, in the same CRS.

    Returns
    -------
    numpy.ndarray
        ``n`` geometries (Polygon, MultiPolygon, or empty where a cell misses
        the region), snapped to a 1 mm grid so that neighbours share their
        edges exactly; together they tile ``region``.
    """
    n = len(xy)
    region = shapely.make_valid(region)
    if n == 0:
        return np.array([], dtype=object)
    if n == 1:
        return np.array([shapely.set_precision(region, _GRID_M)], dtype=object)
    pts = shapely.multipoints(xy)
    extent = shapely.union(region.envelope, pts.envelope).buffer(1.0)
    diagram = shapely.voronoi_polygons(pts, extend_to=extent, ordered=True)
    cells = np.asarray(shapely.get_parts(diagram), dtype=object)
    if len(cells) != n:  # pragma: no cover - GEOS drops no cell of distinct points
        msg = f"Voronoi diagram has {len(cells)} cells for {n} points"
        raise InputError(msg)
    cells = shapely.set_precision(cells, _GRID_M)
    clipped = shapely.intersection(cells, shapely.set_precision(region, _GRID_M))
    return np.asarray(_polygonal(clipped), dtype=object)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygons of each geometry (intersections can add lines)."""
    out = np.array(geoms, dtype=object)
    types = shapely.get_type_id(out)
    for i in np.flatnonzero(types == 7):  # GeometryCollection
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out
