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

from gcrm._errors import InputError
from gcrm.network import (
    MAX_SNAP_M,
    SnappedLocation,
    _graph_index,
    _GraphIndex,
    _snap_arrays,
    _snapped_locations,
    load_network,
)

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

_BITS = 52  # packed sums stay below 2**52: exact in float64
_BASE_UNIT = {"time": 1e-3, "distance": 1e-3}  # coarsest usual unit: 1 ms, 1 mm
_FINEST_UNIT = 1e-6
_AT_NODE_M = 0.01  # a snap point this close to an edge end is at the node
_MAX_BLOCK = 20_000_000  # entries of one Dijkstra output block (160 MB)


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


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class _Packed:
    """Integer-packed edge weights of one graph and one primary measure."""

    csr: Any  # scipy.sparse.csr_array of packed weights (best parallel edge)
    edge_w: np.ndarray  # packed weight of every graph edge
    best_edge: dict[tuple[int, int], int]  # node pair -> edge position used by csr
    m: float  # multiplier of the primary part
    unit_p: float  # primary: seconds or metres per unit
    unit_s: float  # secondary: metres or seconds per unit
    primary: str  # "time" or "distance"


def _weight_name(weight: str) -> str:
    try:
        return WEIGHTS[weight]
    except KeyError:
        msg = f"unknown weight {weight!r}: expected 'time' or 'distance'"
        raise InputError(msg) from None


def _packed(idx: _GraphIndex, primary: str) -> _Packed:
    key = f"packed:{primary}"
    if key not in idx.cache:
        idx.cache[key] = _build_packed(idx, primary)
    return idx.cache[key]  # type: ignore[no-any-return]


def _build_packed(idx: _GraphIndex, primary: str) -> _Packed:
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import connected_components, dijkstra

    if not np.isfinite(idx.time).all() or (idx.time < 0).any():
        msg = "every edge needs a non-negative 'travel_time' (use gcrm.network.load_network)"
        raise InputError(msg)
    n = len(idx.nodes)
    vals = {"time": idx.time, "distance": idx.length}
    secondary = "distance" if primary == "time" else "time"
    big_p, big_s = vals[primary], vals[secondary]
    loops = idx.eu == idx.ev

    def sparse(w: np.ndarray) -> Any:
        keep = ~loops
        order = np.lexsort((w[keep], idx.ev[keep], idx.eu[keep]))
        pos = np.flatnonzero(keep)[order]
        first = np.ones(len(pos), dtype=bool)
        first[1:] = (idx.eu[pos][1:] != idx.eu[pos][:-1]) | (idx.ev[pos][1:] != idx.ev[pos][:-1])
        pos = pos[first]  # the lightest of each group of parallel edges
        return csr_array((w[pos], (idx.eu[pos], idx.ev[pos])), shape=(n, n)), pos

    # Bound, in seconds or metres, the primary sum of any route (a shortest path
    # plus two partial edges) and the secondary sum along it.
    g_p, _ = sparse(big_p)
    n_comp, _ = connected_components(g_p, directed=True, connection="strong")
    if n_comp == 1:  # d(a, b) <= d(a, r) + d(r, b)
        bound_p = float(dijkstra(g_p, indices=0).max() + dijkstra(g_p.T.tocsr(), indices=0).max())
    else:  # a shortest path uses each edge at most once
        bound_p = float(big_p[~loops].sum())
    bound_p += 2 * float(big_p.max())
    moving = big_p > 0
    rho = float((big_s[moving] / big_p[moving]).max()) if moving.any() else 0.0
    still = float(big_s[~moving].max()) if (~moving).any() else 0.0
    base_p, base_s = _BASE_UNIT[primary], _BASE_UNIT[secondary]
    bound_s = rho * (bound_p + base_p * (n + 2)) + (n + 2) * still + 2 * float(big_s.max())
    slack = n + 4  # half a unit of rounding per edge, twice over, and then some

    def bits(bound: float, unit: float) -> int:
        return math.ceil(math.log2((bound / unit + slack) * 1.01 + 1))

    # 52 bits in all: the secondary at its base unit (1 mm or 1 ms), the primary
    # as fine as the rest allows (at most its base unit); on huge graphs the
    # secondary unit grows instead.
    unit_s = base_s
    bits_s = bits(bound_s, unit_s)
    unit_p = bound_p * 1.01 / max(2.0 ** (_BITS - bits_s) / 1.01 - slack, 1.0)
    unit_p = min(max(unit_p, _FINEST_UNIT), base_p)
    if bits(bound_p, unit_p) + bits_s > _BITS:
        unit_p = base_p
        bits_s = _BITS - bits(bound_p, unit_p)
        unit_s = bound_s * 1.01 / (2.0**bits_s / 1.01 - slack)
    m = 2.0**bits_s
    p_q = np.rint(big_p / unit_p)
    s_q = np.rint(big_s / unit_s)
    w = p_q * m + s_q
    csr, pos = sparse(w)
    best = {(int(a), int(b)): int(e) for a, b, e in zip(idx.eu[pos], idx.ev[pos], pos, strict=True)}
    return _Packed(
        csr=csr,
        edge_w=w,
        best_edge=best,
        m=m,
        unit_p=unit_p,
        unit_s=unit_s,
        primary=primary,
    )


def _unpack(w: np.ndarray, pk: _Packed) -> tuple[np.ndarray, np.ndarray]:
    """Split packed sums into (seconds, metres); ``inf`` stays ``inf``."""
    hi = np.floor(w * (1.0 / pk.m))  # m is a power of two: exact
    with np.errstate(invalid="ignore"):
        lo = w - hi * pk.m  # inf - inf: nan, fixed below
    lo[np.isnan(lo)] = np.inf
    hi *= pk.unit_p
    lo *= pk.unit_s
    return (hi, lo) if pk.primary == "time" else (lo, hi)


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class _Options:
    """Ways in and out of the road graph for each location.

    A location on edge ``e`` at fraction ``f`` sits on two directed edges when
    the street is two-way: ``e`` and its reverse twin (at ``1 - f``). Each
    placement gives a way out (to the edge's head) and in (from its tail);
    a snap point on a node also leaves and arrives there directly. Unused
    slots cost ``inf``.
    """

    out_node: np.ndarray  # (N, 4) node positions
    out_w: np.ndarray  # (N, 4) packed cost from the snap point to that node
    out_edge: np.ndarray  # (N, 4) edge used (-1: already at the node)
    in_node: np.ndarray
    in_w: np.ndarray
    in_edge: np.ndarray
    place_edge: np.ndarray  # (N, 2) edge and twin (-1: none)
    place_frac: np.ndarray  # (N, 2) position along them


def _options(idx: _GraphIndex, pk: _Packed, edge: np.ndarray, frac: np.ndarray) -> _Options:
    n_loc = len(edge)
    twin = idx.twin[edge]
    has = twin >= 0
    t = np.where(has, twin, edge)  # placeholder where there is no twin
    length = idx.length[edge]
    out_node = np.zeros((n_loc, 4), dtype=np.int64)
    in_node = np.zeros((n_loc, 4), dtype=np.int64)
    out_w = np.full((n_loc, 4), np.inf)
    in_w = np.full((n_loc, 4), np.inf)
    out_edge = np.full((n_loc, 4), -1, dtype=np.int64)
    in_edge = np.full((n_loc, 4), -1, dtype=np.int64)
    # slot 0: along the edge to its head / from its tail
    out_node[:, 0], out_w[:, 0], out_edge[:, 0] = idx.ev[edge], _parts(pk, edge, 1 - frac), edge
    in_node[:, 0], in_w[:, 0], in_edge[:, 0] = idx.eu[edge], _parts(pk, edge, frac), edge
    # slot 1: along the twin (where the snap point is at 1 - frac)
    out_node[:, 1], in_node[:, 1] = idx.ev[t], idx.eu[t]
    out_w[has, 1], in_w[has, 1] = _parts(pk, t[has], frac[has]), _parts(pk, t[has], 1 - frac[has])
    out_edge[has, 1] = in_edge[has, 1] = t[has]
    # slots 2, 3: a snap point on an end node leaves or arrives there at no cost
    at_u = frac * length <= _AT_NODE_M
    at_v = (1 - frac) * length <= _AT_NODE_M
    out_node[:, 2], in_node[:, 2] = idx.eu[edge], idx.ev[edge]
    out_w[at_u, 2], in_w[at_v, 2] = 0.0, 0.0
    out_node[:, 3], in_node[:, 3] = idx.ev[edge], idx.eu[edge]
    out_w[at_v, 3], in_w[at_u, 3] = 0.0, 0.0
    place_edge = np.column_stack([edge, np.where(has, twin, -1)])
    place_frac = np.column_stack([frac, 1 - frac])
    return _Options(out_node, out_w, out_edge, in_node, in_w, in_edge, place_edge, place_frac)


def _placements(opts: _Options, i: int) -> list[tuple[int, float]]:
    return [
        (int(x), float(g))
        for x, g in zip(opts.place_edge[i], opts.place_frac[i], strict=True)
        if x >= 0
    ]


def _part(pk: _Packed, x: int, share: float) -> float:
    """Packed cost of a share (0..1) of edge ``x``."""
    w = pk.edge_w[x]
    hi = math.floor(w / pk.m)
    lo = w - hi * pk.m
    return float(round(hi * share) * pk.m + round(lo * share))


def _parts(pk: _Packed, x: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_part`."""
    w = pk.edge_w[x]
    hi = np.floor(w / pk.m)
    lo = w - hi * pk.m
    out: np.ndarray = np.rint(hi * share) * pk.m + np.rint(lo * share)
    return out


def _same_edge_pairs(opts: _Options) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of locations on one directed edge ``x`` with ``j`` ahead of ``i``.

    Returns ``i``, ``j``, ``x`` and the share of ``x`` between them.
    """
    valid = opts.place_edge.ravel() >= 0
    loc = np.repeat(np.arange(len(opts.place_edge)), 2)[valid]
    edge = opts.place_edge.ravel()[valid]
    frac = opts.place_frac.ravel()[valid]
    order = np.argsort(edge, kind="stable")
    loc, edge, frac = loc[order], edge[order], frac[order]
    starts = np.flatnonzero(np.r_[True, edge[1:] != edge[:-1]])
    sizes = np.diff(np.r_[starts, len(edge)])
    multi = sizes > 1
    if not multi.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    # all ordered pairs within each group of placements sharing an edge
    s, n = starts[multi], sizes[multi]
    first = np.repeat(s, n * n) + np.concatenate([np.repeat(np.arange(k), k) for k in n])
    second = np.repeat(s, n * n) + np.concatenate([np.tile(np.arange(k), k) for k in n])
    keep = (loc[first] != loc[second]) & (frac[second] >= frac[first])
    first, second = first[keep], second[keep]
    return loc[first], loc[second], edge[first], frac[second] - frac[first]


def _node_rows(pk: _Packed, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Packed shortest-path sums, ``sources x targets``, in blocks of Dijkstra calls."""
    from scipy.sparse.csgraph import dijkstra

    n = pk.csr.shape[0]
    block = max(1, _MAX_BLOCK // max(n, 1))
    out = np.empty((len(sources), len(targets)))
    for start in range(0, len(sources), block):
        rows = dijkstra(pk.csr, directed=True, indices=sources[start : start + block])
        out[start : start + block] = rows[:, targets]
    return out


def _distinct(nodes: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct nodes of the usable options, and each option's index among them."""
    usable = np.isfinite(w)
    distinct, inverse = np.unique(nodes[usable], return_inverse=True)
    index = np.zeros(nodes.shape, dtype=np.int64)  # unusable options cost inf anyway
    index[usable] = inverse
    return distinct, index


def _packed_matrix(pk: _Packed, opts: _Options) -> np.ndarray:
    """Best packed cost between every pair of locations (zero on the diagonal)."""
    src, src_inv = _distinct(opts.out_node, opts.out_w)
    tgt, tgt_inv = _distinct(opts.in_node, opts.in_w)
    d = _node_rows(pk, src, tgt)
    n_loc, k = opts.out_node.shape
    # to_loc[s, j]: best cost from source node s into location j (over j's ways in)
    to_loc = np.full((len(src), n_loc), np.inf)
    for b in range(k):
        cols = np.flatnonzero(np.isfinite(opts.in_w[:, b]))
        if len(cols) == n_loc:
            np.minimum(to_loc, d[:, tgt_inv[:, b]] + opts.in_w[:, b], out=to_loc)
        elif len(cols):
            part = d[:, tgt_inv[cols, b]] + opts.in_w[cols, b]
            to_loc[:, cols] = np.minimum(to_loc[:, cols], part)
    best = np.full((n_loc, n_loc), np.inf)
    for a in range(k):
        rows = np.flatnonzero(np.isfinite(opts.out_w[:, a]))
        if len(rows) == n_loc:
            np.minimum(best, to_loc[src_inv[:, a]] + opts.out_w[:, a, None], out=best)
        elif len(rows):
            part = to_loc[src_inv[rows, a]] + opts.out_w[rows, a, None]
            best[rows] = np.minimum(best[rows], part)
    # Two locations on the same directed edge, the second ahead of the first.
    i, j, x, share = _same_edge_pairs(opts)
    if len(i):
        np.minimum.at(best, (i, j), _parts(pk, x, share))
    np.fill_diagonal(best, 0.0)
    return best


# --------------------------------------------------------------------------- matrices


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
    idx = _graph_index(G)
    pk = _packed(idx, primary)
    snapped = _snap_arrays(idx, lat, lon)
    snaps = tuple(_snapped_locations(idx, lat, lon, snapped, max_snap_m))
    edge, frac = snapped[0], _fractions(idx, snapped[0], snapped[1])
    empty = np.zeros((len(lat), len(lat)))
    if len(lat) == 0:
        return TravelMatrix(id_list, empty, empty, snaps, primary, _resolution(pk))
    opts = _options(idx, pk, edge, frac)
    packed = _packed_matrix(pk, opts)
    durations, distances = _unpack(packed, pk)
    access = np.array([s.snap_distance_m for s in snaps])
    leg_d = access[:, None] + access[None, :]
    durations += leg_d / (access_speed_kph / 3.6)
    distances += leg_d
    np.fill_diagonal(durations, 0.0)
    np.fill_diagonal(distances, 0.0)
    return TravelMatrix(id_list, durations, distances, snaps, primary, _resolution(pk))


def _fractions(idx: _GraphIndex, edge: np.ndarray, offset: np.ndarray) -> np.ndarray:
    length = idx.length[edge]
    frac = np.divide(offset, length, out=np.zeros(len(edge)), where=length > 0)
    out: np.ndarray = np.clip(frac, 0.0, 1.0)
    return out


def _resolution(pk: _Packed) -> dict[str, float]:
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
    idx = _graph_index(G)
    pk = _packed(idx, primary)
    try:
        s = np.array([idx.node_pos[n] for n in sources], dtype=np.int64)
        t = s if targets is None else np.array([idx.node_pos[n] for n in targets], dtype=np.int64)
    except KeyError as exc:
        msg = f"node {exc.args[0]!r} is not in the graph"
        raise InputError(msg) from None
    return _unpack(_node_rows(pk, s, t), pk)


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
    import shapely

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
    from scipy.sparse.csgraph import dijkstra

    primary = _weight_name(weight)
    lat = np.asarray(list(lats), dtype=float)
    lon = np.asarray(list(lons), dtype=float)
    idx = _graph_index(G)
    pk = _packed(idx, primary)
    edge, offset, _, slat, slon = _snap_arrays(idx, lat, lon)
    if len(lat) == 0:
        return []
    opts = _options(idx, pk, edge, _fractions(idx, edge, offset))
    src = np.unique(opts.out_node[np.isfinite(opts.out_w)])
    dist, pred = dijkstra(pk.csr, directed=True, indices=src, return_predecessors=True)
    row_of = {int(s): r for r, s in enumerate(src)}

    xy: list[np.ndarray] = []
    for i in range(len(lat) - 1):
        j = i + 1
        start = np.array([[lon[i], lat[i]]]) if access_legs else np.empty((0, 2))
        xy.append(np.vstack([start, [[slon[i], slat[i]]]]))
        best, a_best, b_best, direct = math.inf, -1, -1, None
        for x, gi in _placements(opts, i):
            for y, gj in _placements(opts, j):
                if x == y and gj >= gi and _part(pk, x, gj - gi) < best:
                    best, direct = _part(pk, x, gj - gi), (x, gi, gj)
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


def _frac_on(opts: _Options, i: int, x: int) -> float:
    for e, g in _placements(opts, i):
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


def _edge_part(idx: _GraphIndex, x: int, g0: float, g1: float) -> np.ndarray:
    """(lon, lat) vertices of edge ``x`` between fractions ``g0`` and ``g1``."""
    import shapely
    from shapely.ops import substring

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
