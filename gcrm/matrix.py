"""Travel-time and distance matrices between locations, and route geometry.

Locations are snapped to the nearest edge of a road graph
(:func:`gcrm.network.snap_points`). A trip from location ``i`` to ``j``
counts the access leg from ``i`` to its road (at ``access_speed_kph``), the
rest of ``i``'s edge in a direction the edge allows, the shortest path between
edge ends, the start of ``j``'s edge and ``j``'s access leg; two locations on
the same edge may also go straight along it. One-way streets therefore make
matrices asymmetric, and pairs with no route are ``inf``.

All sources run in one compiled multi-source Dijkstra call
(``scipy.sparse.csgraph.dijkstra``) on a CSR matrix holding, per pair of
nodes, the best of its parallel edges (a plain ``csr_matrix`` would sum them).
To get both the duration and the distance of the *same* route from that one
call, each edge weight packs the two into one integer held exactly in a
float64: ``primary * M + secondary``, the measure the routes minimise (time or
distance) in the high part and the other one in the low part, so the search
minimises the first and breaks ties by the second. ``M`` and the units come
from bounds of the graph so that every sum stays below 2**52: the secondary
unit is 1 mm (or 1 ms), the primary one as fine as the remaining bits allow
and at most 1 ms (or 1 mm); on very large graphs the secondary unit grows.
The units are in :attr:`TravelMatrix.resolution`; each edge adds at most half
a unit of rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from gcrm import _paths
from gcrm._errors import InputError
from gcrm.network import MAX_SNAP_M, SnappedLocation, load_network, snapped_locations

#: Speed (km/h) of the access leg between a location and its road.
ACCESS_SPEED_KPH: float = 5.0

#: Weights a matrix can minimise, and their aliases.
WEIGHTS: dict[str, str] = {
    "time": "time",
    "travel_time": "time",
    "duration": "time",
    "distance": "distance",
    "length": "distance",
}


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Durations and distances between locations.

    Attributes
    ----------
    ids
        Location ids, in matrix order.
    durations
        ``durations[i, j]``: seconds from ``i`` to ``j``; ``inf`` if unreachable.
    distances
        ``distances[i, j]``: metres of that same route; ``inf`` if unreachable.
    snaps
        Where each location attaches to the road graph.
    weight
        What the routes minimise: ``"time"`` or ``"distance"``.
    resolution
        Units of the route sums: ``{"time": s, "distance": m}`` per unit.
    """

    ids: tuple[str, ...]
    durations: np.ndarray
    distances: np.ndarray
    snaps: tuple[SnappedLocation, ...]
    weight: str
    resolution: dict[str, float]

    @property
    def too_far(self) -> np.ndarray:
        """Boolean mask of the locations flagged as too far from any road."""
        return np.array([s.too_far for s in self.snaps], dtype=bool)

    @property
    def snap_distances(self) -> np.ndarray:
        """Distance (m) from each location to its road."""
        return np.array([s.snap_distance_m for s in self.snaps], dtype=float)

    def to_npz(self, path: str | Path) -> Path:
        """Write ``ids``, ``durations``, ``distances`` (and snap data) to a ``.npz`` file.

        Parameters
        ----------
        path
            Output file.

        Returns
        -------
        pathlib.Path
            The written file (numpy adds ``.npz`` if the name lacks it).
        """
        p = Path(path)
        np.savez(
            p,
            ids=np.array(self.ids, dtype=str),
            durations=self.durations,
            distances=self.distances,
            snap_distance_m=self.snap_distances,
            too_far=self.too_far,
        )
        return p if p.suffix == ".npz" else p.with_name(p.name + ".npz")


# --------------------------------------------------------------------------- matrices


def _weight_name(weight: str) -> str:
    try:
        return WEIGHTS[weight]
    except KeyError:
        msg = f"unknown weight {weight!r}: expected 'time' or 'distance'"
        raise InputError(msg) from None


def travel_matrix(
    G: nx.MultiDiGraph,
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    ids: Iterable[Any] | None = None,
    weight: str = "time",
    max_snap_m: float = MAX_SNAP_M,
    access_speed_kph: float = ACCESS_SPEED_KPH,
) -> TravelMatrix:
    """Compute the N x N durations and distances between locations.

    Parameters
    ----------
    G
        A road graph with ``length`` and ``travel_time`` on its edges, e.g.
        from :func:`gcrm.network.load_network`.
    lats, lons
        Coordinates of the N locations (WGS 84).
    ids
        Location ids (default ``"0"``, ``"1"``, ...).
    weight
        ``"time"`` (fastest routes, default) or ``"distance"`` (shortest);
        both matrices describe the same routes.
    max_snap_m
        Locations farther than this from any road are flagged (see
        :attr:`TravelMatrix.too_far`); they are still routed from their
        nearest road.
    access_speed_kph
        Speed of the access legs between locations and their roads.

    Returns
    -------
    TravelMatrix
        ``durations`` (s) and ``distances`` (m), ``inf`` where unreachable,
        zero on the diagonal.

    Raises
    ------
    InputError
        For an unknown weight, invalid coordinates, ids of the wrong length,
        or a graph without travel times.
    """
    primary = _weight_name(weight)
    lat = np.asarray(list(lats), dtype=float)
    lon = np.asarray(list(lons), dtype=float)
    id_list = _ids(ids, len(lat))
    if access_speed_kph <= 0:
        msg = f"access_speed_kph must be positive, got {access_speed_kph}"
        raise InputError(msg)
    if len(lat) == 0:
        idx = _paths.graph_index(G)
        snaps = tuple(snapped_locations(idx, lat, lon, _paths.snap_arrays(idx, lat, lon), 0.0))
        empty = np.zeros((0, 0))
        res = _resolution(_paths.packed(idx, primary))
        return TravelMatrix(id_list, empty, empty, snaps, primary, res)
    at = _paths.place(G, lat, lon, primary)
    pk = at.pk
    snapped = (at.edge, at.offset, at.access, at.snap_lat, at.snap_lon)
    snaps = tuple(snapped_locations(at.idx, lat, lon, snapped, max_snap_m))
    packed = _paths.best_costs(pk, at.opts)
    np.fill_diagonal(packed, 0.0)
    durations, distances = _paths.unpack(packed, pk)
    access = np.array([s.snap_distance_m for s in snaps])
    leg_d = access[:, None] + access[None, :]
    durations += leg_d / (access_speed_kph / 3.6)
    distances += leg_d
    np.fill_diagonal(durations, 0.0)
    np.fill_diagonal(distances, 0.0)
    return TravelMatrix(id_list, durations, distances, snaps, primary, _resolution(pk))


def _resolution(pk: _paths.Packed) -> dict[str, float]:
    if pk.primary == "time":
        return {"time": pk.unit_p, "distance": pk.unit_s}
    return {"time": pk.unit_s, "distance": pk.unit_p}


def _ids(ids: Iterable[Any] | None, n: int) -> tuple[str, ...]:
    out = tuple(str(i) for i in range(n)) if ids is None else tuple(str(i) for i in ids)
    if len(out) != n:
        msg = f"got {len(out)} ids for {n} locations"
        raise InputError(msg)
    return out


def node_matrix(
    G: nx.MultiDiGraph,
    sources: Sequence[Any],
    targets: Sequence[Any] | None = None,
    *,
    weight: str = "time",
) -> tuple[np.ndarray, np.ndarray]:
    """Compute durations and distances between graph nodes (no snapping).

    Parameters
    ----------
    G
        A road graph with ``length`` and ``travel_time`` on its edges.
    sources
        Node ids of the rows.
    targets
        Node ids of the columns; default ``sources``.
    weight
        ``"time"`` (default) or ``"distance"``: what the routes minimise.

    Returns
    -------
    durations, distances
        ``len(sources) x len(targets)`` arrays (s, m) of the same routes,
        ``inf`` where unreachable.

    Raises
    ------
    InputError
        If a node is not in the graph or the weight is unknown.
    """
    primary = _weight_name(weight)
    idx = _paths.graph_index(G)
    pk = _paths.packed(idx, primary)
    try:
        s = np.array([idx.node_pos[n] for n in sources], dtype=np.int64)
        t = s if targets is None else np.array([idx.node_pos[n] for n in targets], dtype=np.int64)
    except KeyError as exc:
        msg = f"node {exc.args[0]!r} is not in the graph"
        raise InputError(msg) from None
    return _paths.unpack(_paths.node_rows(pk, s, t), pk)


# --------------------------------------------------------------------------- geometry


def route_coords(
    G: nx.MultiDiGraph,
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    weight: str = "time",
    access_legs: bool = True,
) -> list[tuple[float, float]]:
    """Return the street-following route through locations in the given order.

    Parameters
    ----------
    G
        A road graph with ``length`` and ``travel_time`` on its edges.
    lats, lons
        The stops, in visiting order.
    weight
        ``"time"`` (default) or ``"distance"``, as for :func:`travel_matrix`.
    access_legs
        Include the straight legs between each stop and its road (default).

    Returns
    -------
    list of (lat, lon)
        The route's vertices, without consecutive duplicates. A leg with no
        route is drawn as a straight line between its stops.

    Raises
    ------
    InputError
        For an unknown weight or invalid coordinates.
    """
    return [(lat, lon) for lon, lat in _route_lonlat(G, lats, lons, weight, access_legs)]


def route_geometry(
    G: nx.MultiDiGraph,
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    weight: str = "time",
    access_legs: bool = True,
) -> Any:
    """Return the route through locations in order as a shapely ``LineString``.

    Parameters
    ----------
    G, lats, lons, weight, access_legs
        As for :func:`route_coords`.

    Returns
    -------
    shapely.LineString
        In (lon, lat) order (x, y), as shapely and GeoJSON expect; empty for
        fewer than two distinct points.
    """
    coords = _route_lonlat(G, lats, lons, weight, access_legs)
    if len(coords) < 2:
        return shapely.LineString()
    return shapely.LineString(coords)


def _route_lonlat(
    G: nx.MultiDiGraph,
    lats: Iterable[float],
    lons: Iterable[float],
    weight: str,
    access_legs: bool,
) -> list[tuple[float, float]]:
    primary = _weight_name(weight)
    lat = np.asarray(list(lats), dtype=float)
    lon = np.asarray(list(lons), dtype=float)
    at = _paths.place(G, lat, lon, primary)
    if len(lat) == 0:
        return []
    idx, pk, opts, slat, slon = at.idx, at.pk, at.opts, at.snap_lat, at.snap_lon
    src = np.unique(opts.out_node[np.isfinite(opts.out_w)])
    dist, pred = dijkstra(pk.csr, directed=True, indices=src, return_predecessors=True)
    row_of = {int(s): r for r, s in enumerate(src)}

    xy: list[np.ndarray] = []
    for i in range(len(lat) - 1):
        j = i + 1
        start = np.array([[lon[i], lat[i]]]) if access_legs else np.empty((0, 2))
        xy.append(np.vstack([start, [[slon[i], slat[i]]]]))
        best, a_best, b_best, direct = math.inf, -1, -1, None
        for x, gi in _paths.placements(opts, i):
            for y, gj in _paths.placements(opts, j):
                if x == y and gj >= gi and _paths.part(pk, x, gj - gi) < best:
                    best, direct = _paths.part(pk, x, gj - gi), (x, gi, gj)
        for a in range(opts.out_node.shape[1]):
            if not np.isfinite(opts.out_w[i, a]):
                continue
            r = row_of[int(opts.out_node[i, a])]
            for b in range(opts.in_node.shape[1]):
                c = opts.out_w[i, a] + dist[r, opts.in_node[j, b]] + opts.in_w[j, b]
                if c < best:
                    best, a_best, b_best, direct = c, a, b, None
        if direct is not None:
            x, gi, gj = direct
            xy.append(_edge_part(idx, x, gi, gj))
        elif math.isfinite(best):
            r = row_of[int(opts.out_node[i, a_best])]
            if opts.out_edge[i, a_best] >= 0:
                x = int(opts.out_edge[i, a_best])
                xy.append(_edge_part(idx, x, _frac_on(opts, i, x), 1.0))
            nodes = _walk_back(pred[r], int(opts.out_node[i, a_best]), int(opts.in_node[j, b_best]))
            for p, q in pairwise(nodes):
                xy.append(_edge_part(idx, pk.best_edge[(p, q)], 0.0, 1.0))
            if opts.in_edge[j, b_best] >= 0:
                y = int(opts.in_edge[j, b_best])
                xy.append(_edge_part(idx, y, 0.0, _frac_on(opts, j, y)))
        end = np.array([[lon[j], lat[j]]]) if access_legs else np.empty((0, 2))
        xy.append(np.vstack([[[slon[j], slat[j]]], end]))
    if len(lat) == 1:
        xy.append(np.array([[lon[0], lat[0]]]))
    pts = np.vstack(xy)
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(pts, axis=0)) > 1e-9, axis=1)
    return [(float(x), float(y)) for x, y in pts[keep]]


def _frac_on(opts: _paths.Options, i: int, x: int) -> float:
    for e, g in _paths.placements(opts, i):
        if e == x:
            return g
    return 0.0  # pragma: no cover - x is always one of i's placements


def _walk_back(pred_row: np.ndarray, source: int, target: int) -> list[int]:
    nodes = [target]
    while nodes[-1] != source:
        p = int(pred_row[nodes[-1]])
        if p < 0:  # pragma: no cover - only called for reachable targets
            break
        nodes.append(p)
    return nodes[::-1]


def _edge_part(idx: _paths.GraphIndex, x: int, g0: float, g1: float) -> np.ndarray:
    """(lon, lat) vertices of edge ``x`` between fractions ``g0`` and ``g1``."""
    geom = idx.geoms[x]
    part = geom if g0 <= 0 and g1 >= 1 else substring(geom, g0, g1, normalized=True)
    xy = shapely.get_coordinates(part)
    lo, la = idx.to_lonlat.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lo, la])


# --------------------------------------------------------------------------- files


def read_points_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV of locations with columns ``id``, ``lat``, ``lon``.

    Parameters
    ----------
    path
        The CSV file (UTF-8, a header row; other columns are ignored).

    Returns
    -------
    pandas.DataFrame
        Columns ``id`` (str), ``lat``, ``lon`` (float), in file order.

    Raises
    ------
    InputError
        If the file is missing or unreadable, lacks a column, has an empty or
        duplicate id, or a non-numeric or out-of-range coordinate (the message
        names the line).
    """
    p = Path(path)
    if not p.is_file():
        msg = f"points file not found: {p}"
        raise InputError(msg)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = f"cannot read points file {p}: {exc}"
        raise InputError(msg) from exc
    df = df.fillna("")  # short rows
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("id", "lat", "lon") if c not in df.columns]
    if missing:
        msg = f"points file {p} lacks column(s) {', '.join(missing)} (needs id, lat, lon)"
        raise InputError(msg)
    if df.empty:
        msg = f"points file {p} has no rows"
        raise InputError(msg)
    out = pd.DataFrame({"id": df["id"].str.strip()})
    for col, limit in (("lat", 90.0), ("lon", 180.0)):
        raw = df[col].str.strip()
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() | ~np.isfinite(values) | (values.abs() > limit)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (
                f"points file {p}, line {i + 2} (id {out['id'].iat[i]!r}): "
                f"{col} {raw.iat[i]!r} is not a number between -{limit:g} and {limit:g}"
            )
            raise InputError(msg)
        out[col] = values.astype(float)
    empty = out["id"] == ""
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        msg = f"points file {p}, line {i + 2}: empty id"
        raise InputError(msg)
    dup = out["id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        msg = f"points file {p}, line {i + 2}: duplicate id {out['id'].iat[i]!r}"
        raise InputError(msg)
    return out


def matrix_from_points_file(
    osm: str | Path | None,
    points_csv: str | Path,
    output_npz: str | Path,
    *,
    weight: str = "time",
    profile: str = "drive",
    max_snap_m: float = MAX_SNAP_M,
) -> TravelMatrix:
    """Compute the matrix of a CSV of locations and write it to a ``.npz`` file.

    Parameters
    ----------
    osm
        OSM file of the region; ``None`` for the region of the settings.
    points_csv
        CSV with columns ``id``, ``lat``, ``lon``.
    output_npz
        Output file: arrays ``ids``, ``durations`` (s), ``distances`` (m),
        ``snap_distance_m`` and ``too_far``; ``inf`` where unreachable.
    weight
        ``"time"`` (default) or ``"distance"``.
    profile
        Network profile (``"drive"``, ``"walk"``, ``"bike"``, ...).
    max_snap_m
        Distance beyond which a location is flagged as too far from any road.

    Returns
    -------
    TravelMatrix
        The matrix that was written.

    Raises
    ------
    InputError
        For a bad CSV (see :func:`read_points_csv`) or an unknown weight.
    OSMFileError
        If the OSM file is missing, empty or unreadable.
    """
    _weight_name(weight)
    pts = read_points_csv(points_csv)
    G = load_network(osm, profile=profile)
    tm = travel_matrix(
        G, pts["lat"], pts["lon"], ids=pts["id"], weight=weight, max_snap_m=max_snap_m
    )
    tm.to_npz(output_npz)
    return tm


__all__ = [
    "ACCESS_SPEED_KPH",
    "WEIGHTS",
    "TravelMatrix",
    "matrix_from_points_file",
    "node_matrix",
    "read_points_csv",
    "route_coords",
    "route_geometry",
    "travel_matrix",
]
