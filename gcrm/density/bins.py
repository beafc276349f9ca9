"""Heat-map points and H3 hexagon bins of accounts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from gcrm._errors import InputError
from gcrm.density.points import _lat_lon, located
from gcrm.geometry import EARTH_RADIUS_M, haversine_m

#: Above this many accounts, heat-map points are aggregated on a grid.
HEAT_MAX_POINTS = 20_000


#: H3 resolutions :func:`hex_resolution` chooses from.
HEX_RESOLUTIONS = range(4, 12)


def _weights(frame: pd.DataFrame, weight: str) -> np.ndarray:
    if weight == "count":
        return np.ones(len(frame))
    if weight in ("potential", "potential_value", "value"):
        values = pd.to_numeric(frame["potential_value"], errors="coerce").to_numpy(float)
        return np.nan_to_num(values, nan=0.0).clip(min=0.0)
    msg = f"unknown weight {weight!r}: expected 'count' or 'potential'"
    raise InputError(msg)


def heat_points(
    accounts: gpd.GeoDataFrame, *, weight: str = "count", max_points: int = HEAT_MAX_POINTS
) -> np.ndarray:
    """Return weighted points for a heat map, aggregated when there are many.

    Parameters
    ----------
    accounts
        Accounts (rows without a location are skipped).
    weight
        ``"count"`` (each account weighs 1) or ``"potential"`` (its
        potential value; missing counts 0).
    max_points
        Above this many accounts, accounts are summed on a square grid
        (in metres) coarse enough to give at most this many points, each at
        the weighted centre of its accounts.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)``: latitude, longitude, weight; points of zero weight are
        left out. The weights add up to the accounts' total.
    """
    pts = located(accounts)
    w = _weights(pts, weight)
    lat, lon = _lat_lon(pts)
    keep = w > 0
    lat, lon, w = lat[keep], lon[keep], w[keep]
    if len(w) <= max_points:
        return np.column_stack([lat, lon, w])
    # Local equirectangular metres are plenty for choosing grid cells.
    lat0 = float(np.mean(lat))
    x = np.radians(lon) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = np.radians(lat) * EARTH_RADIUS_M
    span = max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
    # Start fine (occupied cells are far fewer than the grid's) and coarsen.
    cell = span / math.sqrt(max_points) / 4
    while True:
        keys = np.floor(x / cell).astype(np.int64) * 1_000_003 + np.floor(y / cell).astype(np.int64)
        uniq, inv = np.unique(keys, return_inverse=True)
        if len(uniq) <= max_points:
            break
        cell *= 1.25
    total = np.bincount(inv, weights=w)
    c_lat = np.bincount(inv, weights=w * lat) / total
    c_lon = np.bincount(inv, weights=w * lon) / total
    return np.column_stack([c_lat, c_lon, total])


def hex_resolution(
    accounts: gpd.GeoDataFrame | Sequence[float], *, cells_across: float = 40.0
) -> int:
    """Choose an H3 resolution from the extent of the accounts.

    Parameters
    ----------
    accounts
        Accounts, or bounds ``(min_lon, min_lat, max_lon, max_lat)``.
    cells_across
        About how many hexagons should span the extent's longer side.

    Returns
    -------
    int
        The resolution in :data:`HEX_RESOLUTIONS` whose average hexagon width
        is closest (in log scale) to ``extent / cells_across``; 9 (about
        350 m wide) when there is no extent.
    """
    if isinstance(accounts, gpd.GeoDataFrame):
        pts = located(accounts)
        if pts.empty:
            return 9
        bounds = tuple(float(b) for b in pts.total_bounds)
    else:
        bounds = tuple(float(b) for b in accounts)
    min_lon, min_lat, max_lon, max_lat = bounds
    mid = (min_lat + max_lat) / 2
    width = float(haversine_m(mid, min_lon, np.array([mid]), np.array([max_lon]))[0])
    height = float(haversine_m(min_lat, min_lon, np.array([max_lat]), np.array([min_lon]))[0])
    extent = max(width, height)
    if extent <= 0:
        return 9
    target = extent / cells_across
    # A hexagon is about sqrt(3) edge lengths wide.
    return min(
        HEX_RESOLUTIONS,
        key=lambda r: abs(
            math.log(math.sqrt(3) * h3.average_hexagon_edge_length(r, unit="m") / target)
        ),
    )


def hex_bins(
    accounts: gpd.GeoDataFrame,
    *,
    resolution: int | None = None,
    value_column: str = "potential_value",
) -> gpd.GeoDataFrame:
    """Count accounts and sum their value in H3 hexagons.

    Parameters
    ----------
    accounts
        Accounts (rows without a location are skipped).
    resolution
        H3 resolution (0-15); chosen by :func:`hex_resolution` when omitted.
    value_column
        Column summed into ``value`` (missing values count 0).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per non-empty hexagon, most accounts first: ``h3`` (cell
        id), ``count``, ``value``, geometry (hexagon, EPSG:4326). The
        resolution is in ``.attrs["resolution"]``; ``count`` adds up to the
        number of located accounts.
    """
    pts = located(accounts)
    res = hex_resolution(pts) if resolution is None else int(resolution)
    if not 0 <= res <= 15:
        msg = f"H3 resolution must be between 0 and 15, got {res}"
        raise InputError(msg)
    lat, lon = _lat_lon(pts)
    cells = [h3.latlng_to_cell(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)]
    if value_column in pts.columns:
        values = pd.to_numeric(pts[value_column], errors="coerce").fillna(0.0).to_numpy(float)
    else:
        values = np.zeros(len(pts))
    frame = pd.DataFrame({"h3": cells, "value": values})
    grouped = (
        frame.groupby("h3", sort=False)
        .agg(count=("value", "size"), value=("value", "sum"))
        .reset_index()
        .sort_values(["count", "h3"], ascending=[False, True], ignore_index=True)
    )
    geoms = [shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(c)]) for c in grouped["h3"]]
    out = gpd.GeoDataFrame(grouped, geometry=geoms, crs=4326)
    out["count"] = out["count"].astype(int)
    out.attrs["resolution"] = res
    return out
