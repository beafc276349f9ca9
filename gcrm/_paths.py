"""The private path engine: snap -> pack -> Dijkstra -> unpack.

Shared by :mod:`gcrm.matrix` (travel matrices, route geometry), :mod:`gcrm.network`
(snapping) and :mod:`gcrm.density` (drive times, isochrones).

1. *Index* a road graph once (:func:`graph_index`): node and edge arrays,
   edges projected to the local UTM zone, an STR-tree and each edge's reverse
   twin.
2. *Snap* locations to their nearest edge (:func:`snap_arrays`).
3. *Pack* both edge measures into one exact float64 per edge
   (:func:`packed`): ``primary * m + secondary``, so one Dijkstra minimises
   the primary measure and carries the secondary one of the same route (see
   :mod:`gcrm.matrix` for the bounds).
4. *Dijkstra* from the distinct ways out of the locations
   (:func:`options`, :func:`node_rows`, :func:`best_costs`), locations on one
   edge also going straight along it (:func:`same_edge_pairs`).
5. *Unpack* the sums into seconds and metres (:func:`unpack`).

:func:`place` runs steps 1-3 and the ways in and out for a list of locations.
"""

from __future__ import annotations

import hashlib
import math
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import shapely

from gcrm._errors import InputError
from gcrm.geometry import utm_crs
from gcrm.shared_arrays import shared_arrays

_BITS = 52  # packed sums stay below 2**52: exact in float64
_BASE_UNIT = {"time": 1e-3, "distance": 1e-3}  # coarsest usual unit: 1 ms, 1 mm
_FINEST_UNIT = 1e-6
_AT_NODE_M = 0.01  # a snap point this close to an edge end is at the node
_MAX_BLOCK = 20_000_000  # entries of one Dijkstra output block (160 MB)
_SHARED_LAYOUT = 1  # bump when the shared index or packed arrays change


# --------------------------------------------------------------------------- index


@dataclass
class GraphIndex:
    """Arrays of a graph for snapping and matrices (built once per graph).

    The numeric arrays (``nodes`` to ``twin``) are read-only memory maps shared
    by every process of the machine when the graph came from
    :func:`gcrm.network.load_network` (see :mod:`gcrm.shared_arrays`).
    """

    nodes: np.ndarray  # node ids, in graph order
    node_pos: Mapping[Any, int]  # node id -> position
    edges: Sequence[tuple[Any, Any, Any]]  # (u, v, key)
    eu: np.ndarray  # node positions of u
    ev: np.ndarray  # node positions of v
    length: np.ndarray  # m
    time: np.ndarray  # s
    twin: np.ndarray  # position of the reverse twin edge, -1 if none
    geoms: np.ndarray  # projected LineStrings (m)
    tree: Any  # shapely STRtree over geoms
    to_xy: Any  # pyproj Transformer lon/lat -> projected
    to_lonlat: Any  # and back
    signature: tuple[int, int]
    cache: dict[str, Any] = field(default_factory=dict)
    shared_key: str | None = None  # name prefix of its shared arrays, None if private


_INDEXES: weakref.WeakKeyDictionary[nx.MultiDiGraph, GraphIndex] = weakref.WeakKeyDictionary()


def graph_index(G: nx.MultiDiGraph) -> GraphIndex:
    """Return the (cached) arrays of ``G``; treat ``G`` as read-only once indexed."""
    sig = (len(G), G.number_of_edges())
    idx = _INDEXES.get(G)
    if idx is None or idx.signature != sig:
        idx = _build_index(G)
        _INDEXES[G] = idx
    return idx


class _NodePositions(Mapping[Any, int]):
    """Node id -> position, looked up in the shared, sorted node arrays (no dict per process)."""

    def __init__(self, nodes: np.ndarray, order: np.ndarray) -> None:
        self._nodes, self._order = nodes, order

    def __getitem__(self, node: Any) -> int:
        if not isinstance(node, (int, np.integer)):
            raise KeyError(node)
        j = int(np.searchsorted(self._nodes, node, sorter=self._order))
        if j >= len(self._order) or self._nodes[self._order[j]] != node:
            raise KeyError(node)
        return int(self._order[j])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._nodes.tolist())

    def __len__(self) -> int:
        return len(self._nodes)


class _EdgeList(Sequence[tuple[Any, Any, Any]]):
    """The ``(u, v, key)`` of each edge, read from the shared arrays (no tuples per process)."""

    def __init__(self, nodes: np.ndarray, eu: np.ndarray, ev: np.ndarray, key: np.ndarray) -> None:
        self._nodes, self._eu, self._ev, self._key = nodes, eu, ev, key

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return (
            self._nodes[self._eu[i]].item(),
            self._nodes[self._ev[i]].item(),
            int(self._key[i]),
        )

    def __len__(self) -> int:
        return len(self._eu)


def _shared_key(G: nx.MultiDiGraph, *arrays: np.ndarray) -> str | None:
    """Name prefix of a cached graph's shared arrays: its cache key and content hash.

    Only graphs :func:`gcrm.network.load_network` tagged (``gcrm_cache_key``)
    are shared, so test and synthetic graphs leave no files; the hash of the
    arrays keeps a graph changed after loading from mapping stale data.
    """
    key = G.graph.get("gcrm_cache_key")
    if not isinstance(key, str) or any(a.dtype.hasobject for a in arrays):
        return None
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.dtype, a.shape)).encode())
        h.update(np.ascontiguousarray(a).data)
    return f"paths{_SHARED_LAYOUT}-{key}-{h.hexdigest()[:16]}"


def _arrays(
    key: str | None, part: str, build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Arrays of one part of the index: shared (memory-mapped) under ``key``, else private."""
    if key is None:
        return build()
    return shared_arrays(f"{key}-{part}", build)


def _build_index(G: nx.MultiDiGraph) -> GraphIndex:
    # pyproj on demand: gcrm.network imports this module and loading a cached
    # graph must stay fast (benchmarks/matrix_bench.py, <= 1 s with imports).
    from pyproj import Transformer

    if len(G) == 0 or G.number_of_edges() == 0:
        msg = "the road graph has no edges"
        raise InputError(msg)
    nodes = np.array(list(G.nodes))
    node_pos = {n: i for i, n in enumerate(nodes.tolist())}
    xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), float, len(G))
    ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), float, len(G))
    crs = utm_crs(float(np.median(xs)), float(np.median(ys)))
    to_xy = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    px, py = to_xy.transform(xs, ys)

    edges: list[tuple[Any, Any, Any]] = []
    length: list[float] = []
    ttime: list[float] = []
    given: list[Any] = []
    for u, v, k, d in G.edges(keys=True, data=True):
        edges.append((u, v, k))
        length.append(float(d.get("length", 0.0)))
        ttime.append(float(d.get("travel_time", np.nan)))
        given.append(d.get("geometry"))
    eu = np.fromiter((node_pos[e[0]] for e in edges), np.int64, len(edges))
    ev = np.fromiter((node_pos[e[1]] for e in edges), np.int64, len(edges))
    geom_arr = _edge_geoms(to_xy, px, py, eu, ev, given)
    length_arr, time_arr = np.asarray(length), np.asarray(ttime)
    keys = [e[2] for e in edges]
    int_keys = all(type(k) is int for k in keys)
    key = _shared_key(G, nodes, eu, ev, length_arr, time_arr) if int_keys else None
    arr = _arrays(
        key,
        "index",
        lambda: {
            "nodes": nodes,
            "order": np.argsort(nodes, kind="stable"),
            "eu": eu,
            "ev": ev,
            "key": np.asarray(keys, dtype=np.int64),
            "length": length_arr,
            "time": time_arr,
            "twin": _find_twins(len(edges), eu, ev, length_arr, geom_arr),
        },
    )
    if key is not None:  # views over the shared arrays instead of per-process copies
        node_pos = _NodePositions(arr["nodes"], arr["order"])  # type: ignore[assignment]
        edges = _EdgeList(arr["nodes"], arr["eu"], arr["ev"], arr["key"])  # type: ignore[assignment]
    return GraphIndex(
        nodes=arr["nodes"],
        node_pos=node_pos,
        edges=edges,
        eu=arr["eu"],
        ev=arr["ev"],
        length=arr["length"],
        time=arr["time"],
        twin=arr["twin"],
        geoms=geom_arr,
        tree=shapely.STRtree(geom_arr),
        to_xy=to_xy,
        to_lonlat=to_lonlat,
        signature=(len(G), G.number_of_edges()),
        shared_key=key,
    )


def _edge_geoms(
    to_xy: Any, px: np.ndarray, py: np.ndarray, eu: np.ndarray, ev: np.ndarray, given: list[Any]
) -> np.ndarray:
    """Projected LineString of every edge (its geometry, or straight between its nodes)."""
    # Project every vertex in one call: simplified edges' geometries, and the
    # two end nodes of straight edges.
    has = np.array([g is not None for g in given], dtype=bool)
    straight = np.flatnonzero(~has)
    all_x = [px[np.column_stack([eu[straight], ev[straight]]).ravel()]]
    all_y = [py[np.column_stack([eu[straight], ev[straight]]).ravel()]]
    all_i = [np.repeat(straight, 2)]
    if has.any():
        lines = np.array([g for g in given if g is not None], dtype=object)
        xy, which = shapely.get_coordinates(lines, return_index=True)
        gx, gy = to_xy.transform(xy[:, 0], xy[:, 1])
        all_x.append(np.asarray(gx))
        all_y.append(np.asarray(gy))
        all_i.append(np.flatnonzero(has)[which])
    ids = np.concatenate(all_i)
    order = np.argsort(ids, kind="stable")  # keeps each line's vertex order
    coords = np.column_stack([np.concatenate(all_x), np.concatenate(all_y)])[order]
    geoms = shapely.linestrings(coords, indices=ids[order])
    return np.array(geoms, dtype=object)


def _find_twins(
    n_edges: int,
    eu: np.ndarray,
    ev: np.ndarray,
    length: np.ndarray,
    geoms: np.ndarray,
) -> np.ndarray:
    """Pair each edge with the edge running the same street backwards, if any."""
    by_pair: dict[tuple[int, int], list[int]] = {}
    for i, (a, b) in enumerate(zip(eu.tolist(), ev.tolist(), strict=True)):
        by_pair.setdefault((a, b), []).append(i)
    twin = np.full(n_edges, -1, dtype=np.int64)
    for i, (a, b) in enumerate(zip(eu.tolist(), ev.tolist(), strict=True)):
        if twin[i] >= 0:
            continue
        for j in by_pair.get((b, a), ()):
            if j == i or twin[j] >= 0:
                continue
            if abs(length[i] - length[j]) > 1e-6 * max(1.0, length[i]):
                continue
            if not shapely.equals_exact(geoms[i], shapely.reverse(geoms[j]), tolerance=1e-3):
                continue
            twin[i], twin[j] = j, i
            break
    return twin


def snap_arrays(
    idx: GraphIndex, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised snapping: edge position, offset (m), distance (m), snap lat, lon."""
    if lat.shape != lon.shape or lat.ndim != 1:
        msg = "latitudes and longitudes must be two lists of the same length"
        raise InputError(msg)
    bad = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"location {i} has invalid coordinates ({lat[i]}, {lon[i]})"
        raise InputError(msg)
    if len(lat) == 0:
        empty = np.zeros(0)
        return np.zeros(0, dtype=np.int64), empty, empty, empty, empty
    px, py = idx.to_xy.transform(lon, lat)
    pts = shapely.points(px, py)
    hits, dist = idx.tree.query_nearest(pts, return_distance=True, all_matches=False)
    e = np.empty(len(lat), dtype=np.int64)
    d = np.empty(len(lat))
    e[hits[0]] = hits[1]
    d[hits[0]] = dist
    geoms = idx.geoms[e]
    along = shapely.line_locate_point(geoms, pts)
    glen = shapely.length(geoms)
    frac = np.divide(along, glen, out=np.zeros_like(along), where=glen > 0)
    frac = np.clip(frac, 0.0, 1.0)
    snapped = shapely.line_interpolate_point(geoms, along)
    sx, sy = shapely.get_x(snapped), shapely.get_y(snapped)
    slon, slat = idx.to_lonlat.transform(sx, sy)
    return e, frac * idx.length[e], d, np.asarray(slat), np.asarray(slon)


class BestEdges:
    """Edge position the packed CSR uses for each node pair: ``best[(a, b)]``.

    A lookup over the CSR's own arrays (each row's columns are sorted), so no
    per-process dictionary of every edge is needed.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, pos: np.ndarray) -> None:
        self._indptr, self._indices, self._pos = indptr, indices, pos

    def __getitem__(self, pair: tuple[int, int]) -> int:
        """Return the edge position of the pair; ``KeyError`` if no edge joins them."""
        a, b = pair
        lo, hi = int(self._indptr[a]), int(self._indptr[a + 1])
        j = lo + int(np.searchsorted(self._indices[lo:hi], b))
        if j >= hi or int(self._indices[j]) != b:
            raise KeyError(pair)
        return int(self._pos[j])

    def __len__(self) -> int:
        """Return the number of node pairs joined by an edge."""
        return len(self._pos)


@dataclass(frozen=True)
class Packed:
    """Integer-packed edge weights of one graph and one primary measure."""

    csr: Any  # scipy.sparse.csr_array of packed weights (best parallel edge)
    edge_w: np.ndarray  # packed weight of every graph edge
    best_edge: BestEdges  # node pair -> edge position used by csr
    m: float  # multiplier of the primary part
    unit_p: float  # primary: seconds or metres per unit
    unit_s: float  # secondary: metres or seconds per unit
    primary: str  # "time" or "distance"


def packed(idx: GraphIndex, primary: str) -> Packed:
    key = f"packed:{primary}"
    if key not in idx.cache:
        arr = _arrays(idx.shared_key, f"packed-{primary}", lambda: _build_packed(idx, primary))
        idx.cache[key] = _packed_from(arr, len(idx.nodes), primary)
    return idx.cache[key]  # type: ignore[no-any-return]


def _packed_from(arr: dict[str, np.ndarray], n: int, primary: str) -> Packed:
    from scipy.sparse import csr_array  # on demand, as in _build_packed

    csr = csr_array((arr["data"], arr["indices"], arr["indptr"]), shape=(n, n))
    m, unit_p, unit_s = (float(x) for x in arr["scalars"])
    return Packed(
        csr=csr,
        edge_w=arr["edge_w"],
        best_edge=BestEdges(arr["indptr"], arr["indices"], arr["pos"]),
        m=m,
        unit_p=unit_p,
        unit_s=unit_s,
        primary=primary,
    )


def _build_packed(idx: GraphIndex, primary: str) -> dict[str, np.ndarray]:
    """Return the packed weights: CSR ``data``, ``indices``, ``indptr``; ``pos``, ``edge_w``."""
    # scipy on demand (~0.6 s to import): not needed to load or snap to a graph.
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
    index_type = np.int32 if max(n, len(idx.eu)) < 2**31 - 1 else np.int64

    def sparse(w: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        # The lightest of each group of parallel edges, in CSR order (rows by
        # u, columns by v): data, indices and indptr are built directly, so
        # entry j of the CSR is edge pos[j].
        keep = ~loops
        order = np.lexsort((w[keep], idx.ev[keep], idx.eu[keep]))
        pos = np.flatnonzero(keep)[order]
        first = np.ones(len(pos), dtype=bool)
        first[1:] = (idx.eu[pos][1:] != idx.eu[pos][:-1]) | (idx.ev[pos][1:] != idx.ev[pos][:-1])
        pos = pos[first]
        indptr = np.searchsorted(idx.eu[pos], np.arange(n + 1)).astype(index_type)
        indices = idx.ev[pos].astype(index_type)
        return csr_array((w[pos], indices, indptr), shape=(n, n)), pos, indptr

    # Bound, in seconds or metres, the primary sum of any route (a shortest path
    # plus two partial edges) and the secondary sum along it.
    g_p, _, _ = sparse(big_p)
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
    csr, pos, _ = sparse(w)
    return {
        "data": csr.data,
        "indices": csr.indices,
        "indptr": csr.indptr,
        "pos": pos,
        "edge_w": w,
        "scalars": np.array([m, unit_p, unit_s]),
    }


def unpack(w: np.ndarray, pk: Packed) -> tuple[np.ndarray, np.ndarray]:
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
class Options:
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


def options(idx: GraphIndex, pk: Packed, edge: np.ndarray, frac: np.ndarray) -> Options:
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
    out_node[:, 0], out_w[:, 0], out_edge[:, 0] = idx.ev[edge], parts(pk, edge, 1 - frac), edge
    in_node[:, 0], in_w[:, 0], in_edge[:, 0] = idx.eu[edge], parts(pk, edge, frac), edge
    # slot 1: along the twin (where the snap point is at 1 - frac)
    out_node[:, 1], in_node[:, 1] = idx.ev[t], idx.eu[t]
    out_w[has, 1], in_w[has, 1] = parts(pk, t[has], frac[has]), parts(pk, t[has], 1 - frac[has])
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
    return Options(out_node, out_w, out_edge, in_node, in_w, in_edge, place_edge, place_frac)


def placements(opts: Options, i: int) -> list[tuple[int, float]]:
    return [
        (int(x), float(g))
        for x, g in zip(opts.place_edge[i], opts.place_frac[i], strict=True)
        if x >= 0
    ]


def part(pk: Packed, x: int, share: float) -> float:
    """Packed cost of a share (0..1) of edge ``x``."""
    w = pk.edge_w[x]
    hi = math.floor(w / pk.m)
    lo = w - hi * pk.m
    return float(round(hi * share) * pk.m + round(lo * share))


def parts(pk: Packed, x: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Vectorised :func:`part`."""
    w = pk.edge_w[x]
    hi = np.floor(w / pk.m)
    lo = w - hi * pk.m
    out: np.ndarray = np.rint(hi * share) * pk.m + np.rint(lo * share)
    return out


def same_edge_pairs(opts: Options) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def node_rows(pk: Packed, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Packed shortest-path sums, ``sources x targets``, in blocks of Dijkstra calls."""
    from scipy.sparse.csgraph import dijkstra  # on demand, as in _build_packed

    n = pk.csr.shape[0]
    block = max(1, _MAX_BLOCK // max(n, 1))
    out = np.empty((len(sources), len(targets)))
    for start in range(0, len(sources), block):
        rows = dijkstra(pk.csr, directed=True, indices=sources[start : start + block])
        out[start : start + block] = rows[:, targets]
    return out


def distinct(nodes: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct nodes of the usable options, and each option's index among them."""
    usable = np.isfinite(w)
    distinct, inverse = np.unique(nodes[usable], return_inverse=True)
    index = np.zeros(nodes.shape, dtype=np.int64)  # unusable options cost inf anyway
    index[usable] = inverse
    return distinct, index


def fractions(idx: GraphIndex, edge: np.ndarray, offset: np.ndarray) -> np.ndarray:
    length = idx.length[edge]
    frac = np.divide(offset, length, out=np.zeros(len(edge)), where=length > 0)
    out: np.ndarray = np.clip(frac, 0.0, 1.0)
    return out


# --------------------------------------------------------------------------- engine


def best_costs(
    pk: Packed, opts: Options, rows: slice = slice(None), cols: slice = slice(None)
) -> np.ndarray:
    """Best packed cost from each location of ``rows`` to each location of ``cols``.

    Over every way out of the first and into the second, plus the direct way
    along a shared edge. The diagonal of a square matrix is not zeroed.
    """
    n_loc, k = opts.out_node.shape
    r_idx, c_idx = np.arange(n_loc)[rows], np.arange(n_loc)[cols]
    out_w, in_w = opts.out_w[r_idx], opts.in_w[c_idx]
    src, src_inv = distinct(opts.out_node[r_idx], out_w)
    tgt, tgt_inv = distinct(opts.in_node[c_idx], in_w)
    d = node_rows(pk, src, tgt)
    n_r, n_c = len(r_idx), len(c_idx)
    # to_loc[s, j]: best cost from source node s into location j (over j's ways in)
    to_loc = np.full((len(src), n_c), np.inf)
    for b in range(k):
        cs = np.flatnonzero(np.isfinite(in_w[:, b]))
        if len(cs) == n_c:
            np.minimum(to_loc, d[:, tgt_inv[:, b]] + in_w[:, b], out=to_loc)
        elif len(cs):
            to_loc[:, cs] = np.minimum(to_loc[:, cs], d[:, tgt_inv[cs, b]] + in_w[cs, b])
    best = np.full((n_r, n_c), np.inf)
    for a in range(k):
        rs = np.flatnonzero(np.isfinite(out_w[:, a]))
        if len(rs) == n_r:
            np.minimum(best, to_loc[src_inv[:, a]] + out_w[:, a, None], out=best)
        elif len(rs):
            best[rs] = np.minimum(best[rs], to_loc[src_inv[rs, a]] + out_w[rs, a, None])
    # Two locations on the same directed edge, the second ahead of the first.
    i, j, x, share = same_edge_pairs(opts)
    pos_r = np.full(n_loc, -1, dtype=np.int64)
    pos_c = np.full(n_loc, -1, dtype=np.int64)
    pos_r[r_idx], pos_c[c_idx] = np.arange(n_r), np.arange(n_c)
    pair = (pos_r[i] >= 0) & (pos_c[j] >= 0)
    if pair.any():
        np.minimum.at(best, (pos_r[i[pair]], pos_c[j[pair]]), parts(pk, x[pair], share[pair]))
    return best


def costs_to_nodes(pk: Packed, opts: Options, i: int) -> np.ndarray:
    """Best packed cost from location ``i`` to every node of the graph."""
    src, src_inv = distinct(opts.out_node[i : i + 1], opts.out_w[i : i + 1])
    n_nodes = pk.csr.shape[0]
    d = node_rows(pk, src, np.arange(n_nodes))
    best = np.full(n_nodes, np.inf)
    for a in range(opts.out_node.shape[1]):
        np.minimum(best, d[src_inv[0, a]] + opts.out_w[i, a], out=best)
    return best


@dataclass(frozen=True)
class Placed:
    """Locations attached to a road graph, ready for :func:`best_costs`."""

    idx: GraphIndex
    pk: Packed
    edge: np.ndarray  # snapped edge position per location
    offset: np.ndarray  # m along it
    access: np.ndarray  # m from the location to its road
    snap_lat: np.ndarray
    snap_lon: np.ndarray
    opts: Options


def place(G: nx.MultiDiGraph, lat: np.ndarray, lon: np.ndarray, primary: str = "time") -> Placed:
    """Index ``G``, pack its weights by ``primary``, snap the locations and find their ways."""
    idx = graph_index(G)
    pk = packed(idx, primary)
    edge, offset, access, slat, slon = snap_arrays(idx, lat, lon)
    opts = options(idx, pk, edge, fractions(idx, edge, offset))
    return Placed(idx, pk, edge, offset, access, slat, slon, opts)
