"""Small geometry helpers shared by the geocoder, the road network and the maps.

One copy of each rule: great-circle distances (:func:`haversine_m`),
Earth-centred coordinates for nearest-neighbour trees (:func:`ecef`) and the
metric CRS of a place (the UTM zone of its centre: :func:`utm_crs`,
:func:`metric_crs`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm._errors import InputError

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["EARTH_RADIUS_M", "M_PER_DEG", "ecef", "haversine_m", "metric_crs", "utm_crs"]

#: Mean Earth radius (m) of the haversine distances.
EARTH_RADIUS_M = 6_371_008.8

#: Metres per degree of latitude (and of longitude at the equator) on that sphere.
M_PER_DEG = math.pi / 180.0 * EARTH_RADIUS_M


def haversine_m(
    lat1: float | np.ndarray, lon1: float | np.ndarray, lat2: Any, lon2: Any
) -> np.ndarray:
    """Return great-circle distances (m) on a sphere of radius :data:`EARTH_RADIUS_M`.

    Parameters
    ----------
    lat1, lon1
        One point or arrays (degrees).
    lat2, lon2
        Points or arrays (degrees), broadcast against the first.

    Returns
    -------
    numpy.ndarray
        Distances in metres (a 0-d array for four scalars: ``float()`` it).
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def ecef(lat: Any, lon: Any) -> np.ndarray:
    """Return Earth-centred coordinates (m) of points on the sphere.

    Straight-line distances between them are close to great-circle ones, so a
    k-d tree over them finds nearest neighbours anywhere on Earth.

    Parameters
    ----------
    lat, lon
        Arrays of degrees.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` metres.
    """
    la = np.radians(np.asarray(lat, dtype=float))
    lo = np.radians(np.asarray(lon, dtype=float))
    c = np.cos(la)
    r = EARTH_RADIUS_M
    return np.column_stack([r * c * np.cos(lo), r * c * np.sin(lo), r * np.sin(la)])


def utm_crs(lon: float, lat: float) -> str:
    """Return the WGS 84 UTM zone of a point, e.g. ``"EPSG:32635"`` for Helsinki.

    Parameters
    ----------
    lon, lat
        The point (degrees).

    Returns
    -------
    str
        ``"EPSG:326zz"`` north of the equator, ``"EPSG:327zz"`` south of it.
    """
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def metric_crs(geometry: Any) -> CRS:
    """Return a metric CRS for a place: the UTM zone of its centre.

    Parameters
    ----------
    geometry
        A GeoSeries/GeoDataFrame (EPSG:4326 when it has no CRS; another CRS
        is handled too), or one shapely geometry in lon/lat.

    Returns
    -------
    pyproj.CRS
        The UTM zone (e.g. EPSG:32635 for Helsinki) of the centre of the
        bounds of the non-empty geometries.

    Raises
    ------
    InputError
        If there is no geometry to place.
    """
    # pyproj on demand: the road network imports this module, and loading a
    # cached network must stay fast (benchmarks/matrix_bench.py).
    from pyproj import CRS, Transformer

    if isinstance(geometry, BaseGeometry):
        geoms = np.array([geometry], dtype=object)
        src: CRS | None = None
    else:
        series = geometry.geometry
        geoms = np.asarray(series.values, dtype=object)
        src = None if series.crs is None else CRS.from_user_input(series.crs)
    keep = np.array([g is not None for g in geoms], dtype=bool)
    geoms = geoms[keep]
    geoms = geoms[~shapely.is_empty(geoms)] if len(geoms) else geoms
    if len(geoms) == 0:
        msg = "cannot choose a metric CRS: no geometry"
        raise InputError(msg)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    if src is not None and not src.is_geographic:
        to_ll = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
        minx, miny, maxx, maxy = to_ll.transform_bounds(minx, miny, maxx, maxy)
        if minx > maxx:  # crossed the antimeridian
            maxx += 360.0
    lon = (float(minx) + float(maxx)) / 2.0
    lon = ((lon + 180.0) % 360.0) - 180.0
    return CRS.from_user_input(utm_crs(lon, (float(miny) + float(maxy)) / 2.0))
