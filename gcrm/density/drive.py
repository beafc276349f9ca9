"""Drive times, isochrones and the accounts near a point or an account."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from gcrm import _paths
from gcrm._errors import InputError, NotFoundError
from gcrm.density.points import _lat_lon, located
from gcrm.geometry import haversine_m
from gcrm.matrix import ACCESS_SPEED_KPH

if TYPE_CHECKING:
    import networkx as nx


def drive_times(
    G: nx.MultiDiGraph,
    origin_lats: Iterable[float],
    origin_lons: Iterable[float],
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    access_speed_kph: float | None = None,
) -> np.ndarray:
    """Travel times (s) from a few origins to many locations.

    The routes and times are exactly those of
    :func:`gcrm.matrix.travel_matrix` over the origins and the locations
    together (snapping, access legs, one-way streets), but only the origin
    rows are computed: one Dijkstra run per distinct way out of an origin.

    Parameters
    ----------
    G
        Road graph with travel times (:func:`gcrm.network.load_network`).
    origin_lats, origin_lons
        The K origins (WGS 84).
    lats, lons
        The N destinations.
    access_speed_kph
        Speed of the legs between a location and its road; default
        :data:`gcrm.matrix.ACCESS_SPEED_KPH`.

    Returns
    -------
    numpy.ndarray
        ``(K, N)`` seconds, ``inf`` where unreachable.
    """
    speed = ACCESS_SPEED_KPH if access_speed_kph is None else float(access_speed_kph)
    if speed <= 0:
        msg = f"access_speed_kph must be positive, got {speed}"
        raise InputError(msg)
    o_lat = np.asarray(list(origin_lats), dtype=float)
    o_lon = np.asarray(list(origin_lons), dtype=float)
    d_lat = np.asarray(list(lats), dtype=float)
    d_lon = np.asarray(list(lons), dtype=float)
    k, n = len(o_lat), len(d_lat)
    if k == 0 or n == 0:
        return np.zeros((k, n))
    at = _paths.place(G, np.concatenate([o_lat, d_lat]), np.concatenate([o_lon, d_lon]))
    best = _paths.best_costs(at.pk, at.opts, rows=slice(0, k), cols=slice(k, k + n))
    seconds, _ = _paths.unpack(best, at.pk)
    seconds += (at.access[:k, None] + at.access[None, k:]) / (speed / 3.6)
    return seconds


def nearest_drive_times(
    G: nx.MultiDiGraph,
    origin_lats: Iterable[float],
    origin_lons: Iterable[float],
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    access_speed_kph: float | None = None,
    exact_limit: int = 0,
) -> np.ndarray:
    """Travel time (s) to each location from its nearest origin.

    Problems with origins x locations <= ``exact_limit`` (default none) take
    the minimum of :func:`drive_times`; the default path gives the same times
    in time linear in the number of locations: the cheapest arrival at every
    graph node from any origin is computed once (one Dijkstra per distinct
    origin node), then each location takes its best way in; locations sharing
    a street with origins are then solved exactly against those origins (the
    direct way along the street).

    Parameters
    ----------
    G
        Road graph with travel times.
    origin_lats, origin_lons
        The origins (e.g. customers).
    lats, lons
        The locations.
    access_speed_kph
        Walking speed of the access legs (default the matrix's).
    exact_limit
        Largest origins x locations sent through the full matrix instead.

    Returns
    -------
    numpy.ndarray
        Seconds per location; ``inf`` where no origin reaches it.
    """
    o_lat = np.asarray(list(origin_lats), dtype=float)
    o_lon = np.asarray(list(origin_lons), dtype=float)
    d_lat = np.asarray(list(lats), dtype=float)
    d_lon = np.asarray(list(lons), dtype=float)
    k, n = len(o_lat), len(d_lat)
    if k == 0 or n == 0:
        return np.full(n, np.inf)
    if k * n <= exact_limit:
        return drive_times(G, o_lat, o_lon, d_lat, d_lon, access_speed_kph=access_speed_kph).min(
            axis=0
        )
    speed = (ACCESS_SPEED_KPH if access_speed_kph is None else float(access_speed_kph)) / 3.6
    at = _paths.place(G, np.concatenate([o_lat, d_lat]), np.concatenate([o_lon, d_lon]))
    pk, opts, access = at.pk, at.opts, at.access
    n_nodes = pk.csr.shape[0]
    # cheapest start (s) at each node from any origin, access leg included
    start = np.full(n_nodes, np.inf)
    out_s, _ = _paths.unpack(opts.out_w[:k].copy(), pk)
    out_s += access[:k, None] / speed
    np.minimum.at(start, opts.out_node[:k].ravel(), out_s.ravel())
    sources = np.flatnonzero(np.isfinite(start))
    rows, _ = _paths.unpack(_paths.node_rows(pk, sources, np.arange(n_nodes)), pk)
    arrive = (start[sources, None] + rows).min(axis=0)
    in_s, _ = _paths.unpack(opts.in_w[k:].copy(), pk)
    best = (arrive[opts.in_node[k:]] + in_s).min(axis=1) + access[k:] / speed
    # an origin on the location's own street may reach it directly along the edge:
    # on a directed edge of T seconds, origin at fraction g_o <= g_t costs
    # (g_t - g_o) * T + its access leg; keep, per edge, the running minimum of
    # (access - g_o * T) over origins sorted by g_o.
    edge_s, _ = _paths.unpack(pk.edge_w.astype(float).copy(), pk)
    pe, pf = opts.place_edge, opts.place_frac
    o_x, o_g = pe[:k].ravel(), pf[:k].ravel()
    o_acc = np.repeat(access[:k] / speed, pe.shape[1])
    keep = o_x >= 0
    o_x, o_g, o_acc = o_x[keep], o_g[keep], o_acc[keep]
    order = np.lexsort((o_g, o_x))
    o_x, o_g, o_acc = o_x[order], o_g[order], o_acc[order]
    run = pd.Series(o_acc - o_g * edge_s[o_x]).groupby(o_x).cummin().to_numpy()
    t_x, t_g = pe[k:].ravel(), pf[k:].ravel()
    t_i = np.repeat(np.arange(n), pe.shape[1])
    ok = t_x >= 0
    t_x, t_g, t_i = t_x[ok], t_g[ok], t_i[ok]
    key_o = o_x * 2.0 + o_g
    j = np.searchsorted(key_o, t_x * 2.0 + t_g, side="right") - 1
    hit = (j >= 0) & (o_x[np.clip(j, 0, None)] == t_x) if len(o_x) else np.zeros(len(t_x), bool)
    if hit.any():
        direct = run[j[hit]] + t_g[hit] * edge_s[t_x[hit]] + access[k:][t_i[hit]] / speed
        np.minimum.at(best, t_i[hit], direct)
    return best


def _node_times(G: nx.MultiDiGraph, lat: float, lon: float, speed_kph: float) -> dict[str, Any]:
    """Seconds from a location to every node, with its snapped edge (for isochrones)."""
    at = _paths.place(G, np.array([lat]), np.array([lon]))
    idx, opts, access = at.idx, at.opts, at.access
    seconds, _ = _paths.unpack(_paths.costs_to_nodes(at.pk, opts, 0), at.pk)
    leg = float(access[0]) / (speed_kph / 3.6)
    return {
        "idx": idx,
        "node_s": seconds + leg,
        "leg_s": leg,
        "placements": [
            (int(e), float(f))
            for e, f in zip(opts.place_edge[0], opts.place_frac[0], strict=True)
            if e >= 0
        ],
    }


def isochrone(
    G: nx.MultiDiGraph,
    lat: float,
    lon: float,
    minutes: float,
    *,
    buffer_m: float = 40.0,
    access_speed_kph: float | None = None,
) -> BaseGeometry:
    """Return the area reachable within N minutes on the road network.

    The roads (and parts of roads) reachable in time, buffered by
    ``buffer_m``: the area one can drive to, for display.

    Parameters
    ----------
    G
        Road graph with travel times.
    lat, lon
        Start (WGS 84); its access leg to the road counts.
    minutes
        Time budget.
    buffer_m
        Half-width of the band drawn around reachable roads.
    access_speed_kph
        Speed of the access leg; default :data:`gcrm.matrix.ACCESS_SPEED_KPH`.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        In EPSG:4326 (lon/lat); empty when not even the road is reachable.
    """
    if minutes < 0:
        msg = f"minutes must not be negative, got {minutes}"
        raise InputError(msg)
    speed = ACCESS_SPEED_KPH if access_speed_kph is None else float(access_speed_kph)
    info = _node_times(G, float(lat), float(lon), speed)
    idx = info["idx"]
    budget = minutes * 60.0
    start = np.asarray(info["node_s"])[idx.eu]
    spare = budget - start
    reach = spare > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(idx.time > 0, spare / idx.time, 1.0)
    frac = np.clip(frac, 0.0, 1.0)
    pieces = []
    for e in np.flatnonzero(reach):
        line = idx.geoms[e]
        f = float(frac[e])
        pieces.append(line if f >= 1 else substring(line, 0, f, normalized=True))
    rest = budget - info["leg_s"]
    if rest > 0:
        for e, f0 in info["placements"]:
            t = float(idx.time[e])
            f1 = 1.0 if t <= 0 else min(1.0, f0 + rest / t)
            pieces.append(substring(idx.geoms[e], f0, f1, normalized=True))
    if not pieces:
        return shapely.Polygon()
    area = shapely.union_all(shapely.buffer(np.asarray(pieces, dtype=object), buffer_m))
    area = shapely.simplify(area, buffer_m / 8)

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        lo, la = idx.to_lonlat.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lo, la])

    return shapely.transform(area, to_lonlat)


def _origin(accounts: gpd.GeoDataFrame, origin: Any) -> tuple[float, float, Any]:
    """``(lat, lon, account id or None)`` of a point or an account id."""
    if isinstance(origin, tuple | list) and len(origin) == 2:
        lat, lon = float(origin[0]), float(origin[1])
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            msg = f"origin ({lat}, {lon}) is not a valid latitude/longitude"
            raise InputError(msg)
        return lat, lon, None
    pts = located(accounts)
    match = pts[pts["id"] == origin]
    if match.empty:
        msg = f"account {origin!r} is not among the located accounts"
        raise NotFoundError(msg)
    geom = match.geometry.iloc[0]
    return float(geom.y), float(geom.x), origin


def near_here(
    accounts: gpd.GeoDataFrame,
    origin: tuple[float, float] | int,
    *,
    radius_m: float | None = None,
    minutes: float | None = None,
    G: nx.MultiDiGraph | None = None,
    include_origin: bool = False,
) -> gpd.GeoDataFrame:
    """Return the accounts within a radius or within N minutes' drive of a place.

    Parameters
    ----------
    accounts
        Accounts (rows without a location are skipped).
    origin
        ``(lat, lon)`` or the ``id`` of an account.
    radius_m
        Keep accounts at most this far (haversine distance).
    minutes
        Keep accounts reachable within this many minutes (needs ``G``); the
        times are those of :func:`gcrm.matrix.travel_matrix`.
    G
        Road graph for ``minutes``.
    include_origin
        Keep the origin account itself (distance and time 0).

    Returns
    -------
    geopandas.GeoDataFrame
        The accounts with ``distance_m`` (and ``drive_s`` when ``minutes``
        is given), nearest first: by drive time when ``minutes`` is given,
        else by distance.

    Raises
    ------
    InputError
        If neither ``radius_m`` nor ``minutes`` is given, or ``minutes``
        without ``G``.
    NotFoundError
        If the origin account is not among the located accounts.
    """
    if radius_m is None and minutes is None:
        msg = "near here needs a radius (m) or a drive time (minutes)"
        raise InputError(msg)
    if minutes is not None and G is None:
        msg = "a drive-time search needs the road network"
        raise InputError(msg)
    lat, lon, origin_id = _origin(accounts, origin)
    pts = located(accounts).copy()
    plat, plon = _lat_lon(pts)
    pts["distance_m"] = haversine_m(lat, lon, plat, plon)
    keep = np.ones(len(pts), dtype=bool)
    is_origin = np.zeros(len(pts), dtype=bool)
    if origin_id is not None:
        is_origin = (pts["id"] == origin_id).to_numpy()
    if radius_m is not None:
        keep &= pts["distance_m"].to_numpy() <= radius_m
    sort = ["distance_m"]
    if minutes is not None:
        assert G is not None
        times = drive_times(G, [lat], [lon], plat, plon)[0] if len(pts) else np.zeros(0)
        times[is_origin] = 0.0
        pts["drive_s"] = times
        keep &= times <= minutes * 60.0
        sort = ["drive_s", "distance_m"]
    pts.loc[is_origin, "distance_m"] = 0.0
    if not include_origin:
        keep &= ~is_origin
    return pts[keep].sort_values([*sort, "id"], kind="stable")
