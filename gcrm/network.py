"""Road networks: an osmnx-compatible graph from an OSM file, its cache, and snapping.

The graph is built from a local OSM file (PBF or XML, ``.gz``/``.bz2`` too;
by default the region of the settings) with osmnx's semantics: osmnx's
network-type filter (``drive`` by default), its one-way rules (``oneway``,
``-1``/``reverse``, roundabouts, bidirectional walking networks), edge lengths,
topological simplification, edge speeds and travel times. Ways are split where
a clipped extract misses a node, so that no edge jumps across the gap. Only the
largest strongly connected component is kept (every kept node can reach every
other one), and what was dropped is reported (:func:`network_report`).

The built graph is pickled under ``cache_dir("network")``, keyed by the file's
digest, the profile and the speed settings, so a region is built once.
Downloading a network with osmnx (:func:`download_network`) needs
``GCRM_ALLOW_NETWORK=true``.

Locations attach to the nearest *edge* (:func:`snap_points`): the snapped
location records the edge, the offset along it and the distance from the
location to the road.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely

from gcrm._errors import InputError, OSMFileError
from gcrm._paths import GraphIndex, graph_index, snap_arrays
from gcrm.osm import (
    RoadWays,
    cache_dir,
    file_digest,
    overpass_tag_filter,
    read_road_ways,
    resolve_osm_file,
)
from gcrm.settings import get_settings

log = logging.getLogger(__name__)

#: Network profiles: osmnx network types this module can build.
PROFILES: tuple[str, ...] = ("drive", "drive_service", "walk", "bike")

#: Typical speeds (km/h) per highway class, used for untagged edges of a class
#: when no edge of that class in the region has a ``maxspeed`` tag (osmnx's
#: per-class mean of the tagged edges wins otherwise).
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "road": 30.0,
    "busway": 30.0,
}

#: Speed (km/h) of edges whose class is neither tagged nor in the speed table.
FALLBACK_SPEED_KPH: float = 30.0

#: Constant speeds (km/h) of the profiles that ignore ``maxspeed``.
PROFILE_SPEEDS_KPH: dict[str, float] = {"walk": 4.8, "bike": 15.0}

#: Locations farther than this (m) from any road are flagged ``too_far``.
MAX_SNAP_M: float = 500.0

# Bump when the way the graph is built changes: old cache files are then ignored.
_BUILDER_VERSION = 1
_NODE_KEYS = ("highway", "junction", "railway", "ref")


@dataclass(frozen=True)
class NetworkReport:
    """What building a network kept and dropped.

    Attributes
    ----------
    source
        The OSM file (or download query) the network was built from.
    profile
        The network profile (``"drive"``, ``"walk"``, ...).
    ways
        OSM ways the profile's filter kept.
    missing_node_refs
        Node references of kept ways absent from the file (clipped extract);
        the ways were split there.
    raw_nodes, raw_edges
        Size of the graph before simplification.
    simplified_nodes, simplified_edges
        Size after simplification, before keeping the largest strongly
        connected component.
    nodes, edges
        Size of the final graph.
    components
        Strongly connected components of the simplified graph.
    dropped_nodes, dropped_edges
        Nodes and edges outside the largest strongly connected component.
    dropped_length_m
        Total length of the dropped edges.
    tagged_speed_edges
        Final edges whose speed comes from a ``maxspeed`` tag (drive profiles).
    build_seconds
        Time taken to build the graph.
    """

    source: str
    profile: str
    ways: int
    missing_node_refs: int
    raw_nodes: int
    raw_edges: int
    simplified_nodes: int
    simplified_edges: int
    nodes: int
    edges: int
    components: int
    dropped_nodes: int
    dropped_edges: int
    dropped_length_m: float
    tagged_speed_edges: int
    build_seconds: float

    def summary(self) -> str:
        """Return a one-line human-readable summary.

        Returns
        -------
        str
            E.g. ``"drive network: 2,519 nodes, 5,410 edges; dropped 40 nodes ..."``.
        """
        return (
            f"{self.profile} network: {self.nodes:,} nodes, {self.edges:,} edges; "
            f"dropped {self.dropped_nodes:,} nodes and {self.dropped_edges:,} edges "
            f"({self.dropped_length_m / 1000:,.1f} km) outside the largest strongly "
            f"connected component (of {self.components:,}); "
            f"{self.missing_node_refs:,} missing node references"
        )


@dataclass(frozen=True)
class SnappedLocation:
    """A location attached to the nearest edge of a road graph.

    Attributes
    ----------
    lat, lon
        The location.
    u, v, key
        The edge ``(u, v, key)`` of the graph it attaches to.
    offset_m
        Distance along the edge from ``u`` to the snap point (m).
    edge_length_m
        The edge's ``length`` (m).
    snap_distance_m
        Straight-line distance from the location to the snap point (m): the
        access leg.
    too_far
        Whether ``snap_distance_m`` exceeds the allowed distance.
    snap_lat, snap_lon
        The snap point on the edge.
    """

    lat: float
    lon: float
    u: int
    v: int
    key: int
    offset_m: float
    edge_length_m: float
    snap_distance_m: float
    too_far: bool
    snap_lat: float
    snap_lon: float

    @property
    def fraction(self) -> float:
        """Position of the snap point along the edge, 0 at ``u`` and 1 at ``v``."""
        if self.edge_length_m <= 0:
            return 0.0
        return min(1.0, max(0.0, self.offset_m / self.edge_length_m))


# --------------------------------------------------------------------------- filters


def profile_filter(profile: str) -> Callable[[Mapping[str, str]], bool]:
    """Return osmnx's way filter of a network type as a predicate on OSM tags.

    The predicate is compiled from osmnx's own Overpass filter, so it follows
    osmnx's definition of the network type exactly.

    Parameters
    ----------
    profile
        One of :data:`PROFILES`.

    Returns
    -------
    callable
        ``predicate(tags) -> bool``, true for the ways the network keeps.

    Raises
    ------
    InputError
        If the profile is unknown.
    """
    _check_profile(profile)
    from osmnx import _overpass  # heavy (~1-3 s): only to build a network

    return overpass_tag_filter(_overpass._get_network_filter(profile))


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        msg = f"unknown network profile {profile!r}: expected one of {', '.join(PROFILES)}"
        raise InputError(msg)


def _add_paths(G: nx.MultiDiGraph, paths: Iterable[dict[str, Any]], *, bidirectional: bool) -> None:
    """Add paths as edges with osmnx's one-way rules (``osmnx.graph._add_paths``)."""
    from osmnx import settings as ox_settings  # heavy: only to build a network

    oneway_values = {"yes", "true", "1", "-1", "reverse", "T", "F"}
    reversed_values = {"-1", "reverse", "T"}
    for path in paths:
        attrs = {k: v for k, v in path.items() if k != "nodes"}
        nodes = list(path["nodes"])
        if ox_settings.all_oneway:
            one_way = True
        elif bidirectional:
            one_way = False
        else:
            one_way = attrs.get("oneway") in oneway_values or attrs.get("junction") == "roundabout"
        if one_way and attrs.get("oneway") in reversed_values:
            nodes.reverse()
        if not ox_settings.all_oneway:
            attrs["oneway"] = one_way
        edges = list(pairwise(nodes))
        G.add_edges_from(edges, **attrs, reversed=False)
        if not one_way:
            G.add_edges_from([(v, u) for u, v in edges], **attrs, reversed=True)


# --------------------------------------------------------------------------- building


def build_network(
    osm: str | Path | None = None,
    *,
    profile: str = "drive",
    speeds: Mapping[str, float] | None = None,
    fallback_kph: float = FALLBACK_SPEED_KPH,
    impute: bool = True,
    simplify: bool = True,
) -> nx.MultiDiGraph:
    """Build a road network from an OSM file (no cache; see :func:`load_network`).

    Parameters
    ----------
    osm
        OSM file (PBF, XML, ``.osm.gz``, ``.osm.bz2``); ``None`` for the region
        of the settings.
    profile
        osmnx network type: ``"drive"`` (default), ``"drive_service"``,
        ``"walk"`` or ``"bike"``.
    speeds
        Speeds (km/h) per highway class for edges without ``maxspeed``, over
        :data:`DEFAULT_SPEEDS_KPH` (``{"residential": 25.0}`` changes that class
        only). For walk and bike, a ``{"walk": 5.0}`` or ``{"bike": 18.0}``
        entry sets the profile's constant speed (:data:`PROFILE_SPEEDS_KPH`).
    fallback_kph
        Speed of untagged edges whose class is neither tagged anywhere nor in
        ``speeds``.
    impute
        If true (default), untagged edges of a class that has tagged edges get
        the class's mean tagged speed (osmnx's imputation) and ``speeds`` only
        fills classes with no tagged edge; if false, ``speeds`` wins for every
        untagged edge of its classes.
    simplify
        Simplify the topology as osmnx does (default).

    Returns
    -------
    networkx.MultiDiGraph
        Nodes with ``x``, ``y``, ``street_count`` (and osmnx's node tags); edges
        with ``osmid``, ``highway``, ``oneway``, ``reversed``, ``length`` (m),
        ``speed_kph``, ``travel_time`` (s), ``geometry`` where simplified;
        ``G.graph["crs"] == "epsg:4326"`` and the build report in
        ``G.graph["gcrm_report"]`` (see :func:`network_report`).

    Raises
    ------
    OSMFileError
        If the file is missing, empty, unreadable or holds no road of the profile.
    InputError
        If the profile is unknown.
    """
    _check_profile(profile)
    t0 = time.perf_counter()
    path = resolve_osm_file(osm)
    ways = _read_ways(path, profile_filter(profile))
    if not ways.paths:
        msg = f"OSM file {path} holds no road usable by the {profile!r} profile"
        raise OSMFileError(msg)
    G = _graph_from_paths(ways, profile)
    return _finish(
        G,
        source=str(path),
        profile=profile,
        ways=ways.ways,
        missing_node_refs=ways.missing_node_refs,
        speeds=speeds,
        fallback_kph=fallback_kph,
        impute=impute,
        simplify=simplify,
        t0=t0,
    )


def _read_ways(path: Path, keep: Callable[[Mapping[str, str]], bool]) -> RoadWays:
    """Read the ways ``keep`` accepts with the tags osmnx keeps on ways and nodes."""
    import osmnx as ox  # heavy (~1-3 s): only to build a network

    return read_road_ways(
        path,
        keep,
        way_tags=tuple(ox.settings.useful_tags_way),
        node_tags=tuple(ox.settings.useful_tags_node),
    )


def _graph_from_paths(ways: RoadWays, profile: str) -> nx.MultiDiGraph:
    import osmnx as ox  # heavy (~1-3 s): only to build or download a network

    G = nx.MultiDiGraph(
        created_date=ox.utils.ts(),
        created_with=f"gcrm via OSMnx {ox.__version__}",
        crs=ox.settings.default_crs,
    )
    G.add_nodes_from(ways.nodes.items())
    _add_paths(G, ways.paths, bidirectional=profile in ox.settings.bidirectional_network_types)
    return ox.distance.add_edge_lengths(G)


def _finish(
    G: nx.MultiDiGraph,
    *,
    source: str,
    profile: str,
    ways: int,
    missing_node_refs: int,
    speeds: Mapping[str, float] | None,
    fallback_kph: float,
    impute: bool,
    simplify: bool,
    t0: float,
) -> nx.MultiDiGraph:
    """Simplify, keep the largest strongly connected component, add speeds and report."""
    import osmnx as ox  # heavy (~1-3 s): only to build or download a network

    raw_nodes, raw_edges = len(G), G.number_of_edges()
    if simplify and not G.graph.get("simplified"):
        G = ox.simplify_graph(G)
    simplified_nodes, simplified_edges = len(G), G.number_of_edges()
    components = nx.number_strongly_connected_components(G)
    total_length = sum(d for _, _, d in G.edges(data="length", default=0.0))
    street_count = ox.stats.count_streets_per_node(G)  # before trimming, as osmnx does
    G = ox.truncate.largest_component(G, strongly=True)
    nx.set_node_attributes(G, {n: street_count[n] for n in G}, "street_count")
    kept_length = sum(d for _, _, d in G.edges(data="length", default=0.0))
    tagged = _add_speeds(G, profile, speeds, fallback_kph, impute=impute)
    ox.add_edge_travel_times(G)
    report = NetworkReport(
        source=source,
        profile=profile,
        ways=ways,
        missing_node_refs=missing_node_refs,
        raw_nodes=raw_nodes,
        raw_edges=raw_edges,
        simplified_nodes=simplified_nodes,
        simplified_edges=simplified_edges,
        nodes=len(G),
        edges=G.number_of_edges(),
        components=components,
        dropped_nodes=simplified_nodes - len(G),
        dropped_edges=simplified_edges - G.number_of_edges(),
        dropped_length_m=float(total_length - kept_length),
        tagged_speed_edges=tagged,
        build_seconds=time.perf_counter() - t0,
    )
    G.graph["gcrm_profile"] = profile
    G.graph["gcrm_report"] = asdict(report)
    log.info("%s (%s)", report.summary(), source)
    return G


def _add_speeds(
    G: nx.MultiDiGraph,
    profile: str,
    speeds: Mapping[str, float] | None,
    fallback_kph: float,
    *,
    impute: bool,
) -> int:
    """Set ``speed_kph`` on every edge; return how many came from a ``maxspeed`` tag."""
    import osmnx as ox  # heavy (~1-3 s): only to build or download a network

    if profile in PROFILE_SPEEDS_KPH:
        kph = float((speeds or {}).get(profile, PROFILE_SPEEDS_KPH[profile]))
        nx.set_edge_attributes(G, kph, "speed_kph")
        return 0
    table = {**DEFAULT_SPEEDS_KPH, **(speeds or {})}
    tagged_classes: set[str] = set()
    tagged = 0
    for _, _, d in G.edges(data=True):
        if _parse_maxspeed(d.get("maxspeed")) is not None:
            tagged += 1
            tagged_classes.add(_first(d.get("highway")))
    hwy_speeds = {k: v for k, v in table.items() if not (impute and k in tagged_classes)}
    ox.add_edge_speeds(G, hwy_speeds=hwy_speeds or None, fallback=fallback_kph)
    return tagged


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?\s*$")


def _parse_maxspeed(value: Any) -> float | None:
    """Parse a ``maxspeed`` value (or list of values) into km/h; ``None`` if unknown."""
    if isinstance(value, list):
        parsed = [p for p in (_parse_maxspeed(v) for v in value) if p is not None]
        return sum(parsed) / len(parsed) if parsed else None
    if not isinstance(value, str):
        return None
    m = _SPEED.match(value)
    if m is None:
        return None
    kph = float(m.group(1))
    return kph * 1.609344 if m.group(2) else kph


# --------------------------------------------------------------------------- cache


def load_network(
    osm: str | Path | None = None,
    *,
    profile: str = "drive",
    speeds: Mapping[str, float] | None = None,
    fallback_kph: float = FALLBACK_SPEED_KPH,
    impute: bool = True,
    use_cache: bool = True,
) -> nx.MultiDiGraph:
    """Return the road network of an OSM file, from the disk cache when possible.

    The cache file lives in ``cache_dir("network")``; its name holds the
    file's SHA-256 digest and a hash of the profile and speed settings, so a
    changed file or setting builds a new graph.

    Parameters
    ----------
    osm
        OSM file; ``None`` for the region of the settings.
    profile, speeds, fallback_kph, impute
        As for :func:`build_network`.
    use_cache
        Read and write the cache (default); if false, always build.

    Returns
    -------
    networkx.MultiDiGraph
        As :func:`build_network` returns it.

    Raises
    ------
    OSMFileError
        If the file is missing, empty, unreadable or holds no road of the profile.

    Notes
    -----
    The cache is a pickle, read back as trusted data: keep ``GCRM_DATA_DIR``
    a folder only gcrm writes to. An unreadable cache file is rebuilt. The app
    should hold the returned graph once per process (``st.cache_resource``):
    snapping and matrices keep their index on the graph object. The graph
    carries ``G.graph["gcrm_cache_key"]``, under which the path engine's
    arrays are memory-mapped once per machine (:mod:`gcrm.shared_arrays`).
    """
    _check_profile(profile)
    path = resolve_osm_file(osm)
    if not use_cache:
        return build_network(
            path, profile=profile, speeds=speeds, fallback_kph=fallback_kph, impute=impute
        )
    cache_file = network_cache_file(
        path, profile=profile, speeds=speeds, fallback_kph=fallback_kph, impute=impute
    )
    if cache_file.is_file():
        try:
            with cache_file.open("rb") as f:
                G = pickle.load(f)
        except Exception as exc:  # a truncated or foreign cache file: rebuild it
            log.warning("ignoring unreadable network cache %s: %s", cache_file, exc)
        else:
            if isinstance(G, nx.MultiDiGraph):
                G.graph["gcrm_cache_key"] = cache_file.stem
                return G
    G = build_network(
        path, profile=profile, speeds=speeds, fallback_kph=fallback_kph, impute=impute
    )
    _write_atomic(cache_file, G)
    G.graph["gcrm_cache_key"] = cache_file.stem  # shares its path-engine arrays (gcrm._paths)
    return G


def network_cache_file(
    osm: str | Path | None = None,
    *,
    profile: str = "drive",
    speeds: Mapping[str, float] | None = None,
    fallback_kph: float = FALLBACK_SPEED_KPH,
    impute: bool = True,
) -> Path:
    """Return the cache file :func:`load_network` uses for these arguments.

    Parameters
    ----------
    osm
        OSM file; ``None`` for the region of the settings.
    profile, speeds, fallback_kph, impute
        As for :func:`build_network`.

    Returns
    -------
    pathlib.Path
        ``<cache>/network/<file stem>-<profile>-<key>.pickle`` (may not exist yet).

    Notes
    -----
    The key covers the file's digest, these arguments, the osmnx version and
    this module's builder version, not ``osmnx.settings`` changed at run time
    (useful tags, ``default_access``): after changing those, build with
    ``load_network(..., use_cache=False)`` or delete the cache file.
    """
    path = resolve_osm_file(osm)
    settings = {
        "builder": _BUILDER_VERSION,
        "osmnx": _osmnx_version(),
        "digest": file_digest(path),
        "profile": profile,
        "speeds": sorted({**DEFAULT_SPEEDS_KPH, **(speeds or {})}.items()),
        "profile_speeds": sorted(PROFILE_SPEEDS_KPH.items()),
        "fallback_kph": fallback_kph,
        "impute": impute,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    stem = path.name.split(".")[0] or "osm"
    return cache_dir("network") / f"{stem}-{profile}-{key}.pickle"


def _osmnx_version() -> str:
    # importlib.metadata, not ``osmnx.__version__``: importing osmnx takes ~1 s,
    # which loading a cached graph does not need.
    return package_version("osmnx")


def _write_atomic(target: Path, G: nx.MultiDiGraph) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(G, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def network_report(G: nx.MultiDiGraph) -> NetworkReport:
    """Return the report of a graph built by this module.

    Parameters
    ----------
    G
        A graph from :func:`build_network`, :func:`load_network` or
        :func:`download_network`.

    Returns
    -------
    NetworkReport
        What was kept and dropped.

    Raises
    ------
    InputError
        If the graph carries no report.
    """
    data = G.graph.get("gcrm_report")
    if not isinstance(data, dict):
        msg = "this graph was not built by gcrm.network (no 'gcrm_report' attribute)"
        raise InputError(msg)
    return NetworkReport(**data)


def download_network(
    query: str | Any,
    *,
    profile: str = "drive",
    speeds: Mapping[str, float] | None = None,
    fallback_kph: float = FALLBACK_SPEED_KPH,
    impute: bool = True,
) -> nx.MultiDiGraph:
    """Download a network with osmnx (Overpass); needs ``GCRM_ALLOW_NETWORK=true``.

    Parameters
    ----------
    query
        A place name for ``osmnx.graph_from_place`` or a shapely polygon (lon/lat)
        for ``osmnx.graph_from_polygon``.
    profile, speeds, fallback_kph, impute
        As for :func:`build_network`.

    Returns
    -------
    networkx.MultiDiGraph
        Processed like :func:`build_network`'s graphs (largest strongly
        connected component, speeds, travel times, report).

    Raises
    ------
    InputError
        If online access is off in the settings, or the profile is unknown.
    """
    _check_profile(profile)
    if not get_settings().allow_network:
        msg = "downloading a road network needs online access: set GCRM_ALLOW_NETWORK=true"
        raise InputError(msg)
    import osmnx as ox  # heavy (~1-3 s): only to build or download a network

    t0 = time.perf_counter()
    if isinstance(query, str):
        G = ox.graph_from_place(query, network_type=profile, simplify=True, retain_all=True)
        source = f"osmnx:{query}"
    else:
        G = ox.graph_from_polygon(query, network_type=profile, simplify=True, retain_all=True)
        source = "osmnx:polygon"
    return _finish(
        G,
        source=source,
        profile=profile,
        ways=len({_first(o) for _, _, o in G.edges(data="osmid")}),
        missing_node_refs=0,
        speeds=speeds,
        fallback_kph=fallback_kph,
        impute=impute,
        simplify=True,
        t0=t0,
    )


# --------------------------------------------------------------------------- snapping


def snap_points(
    G: nx.MultiDiGraph,
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    max_snap_m: float = MAX_SNAP_M,
) -> list[SnappedLocation]:
    """Attach each location to the nearest edge of the graph.

    Parameters
    ----------
    G
        A road graph (unprojected, ``x``/``y`` in degrees), e.g. from
        :func:`load_network`.
    lats, lons
        Coordinates of the locations (WGS 84).
    max_snap_m
        Locations farther than this from every edge are flagged ``too_far``
        (they are still snapped).

    Returns
    -------
    list of SnappedLocation
        One per location, in order.

    Raises
    ------
    InputError
        If the coordinates are not finite numbers or the lists differ in length.
    """
    lat = np.asarray(list(lats), dtype=float)
    lon = np.asarray(list(lons), dtype=float)
    idx = graph_index(G)
    return snapped_locations(idx, lat, lon, snap_arrays(idx, lat, lon), max_snap_m)


def snapped_locations(
    idx: GraphIndex,
    lat: np.ndarray,
    lon: np.ndarray,
    snapped: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    max_snap_m: float,
) -> list[SnappedLocation]:
    """Turn :func:`gcrm._paths.snap_arrays` output into :class:`SnappedLocation` records.

    Parameters
    ----------
    idx
        The graph's index.
    lat, lon
        The locations.
    snapped
        Edge position, offset (m), distance (m), snap latitude and longitude.
    max_snap_m
        Locations farther than this from their road are flagged ``too_far``.

    Returns
    -------
    list of SnappedLocation
        One per location, in order.
    """
    e, offset, dist, slat, slon = snapped
    out = []
    for i in range(len(lat)):
        u, v, k = idx.edges[e[i]]
        out.append(
            SnappedLocation(
                lat=float(lat[i]),
                lon=float(lon[i]),
                u=u,
                v=v,
                key=k,
                offset_m=float(offset[i]),
                edge_length_m=float(idx.length[e[i]]),
                snap_distance_m=float(dist[i]),
                too_far=bool(dist[i] > max_snap_m),
                snap_lat=float(slat[i]),
                snap_lon=float(slon[i]),
            )
        )
    return out


def road_lines(G: nx.MultiDiGraph) -> Any:
    """Return a graph's edges as lines, for drawing roads on maps.

    Parameters
    ----------
    G
        A road graph (osmnx-compatible; simplified edges carry ``geometry``).

    Returns
    -------
    geopandas.GeoDataFrame
        One line per directed edge (EPSG:4326); edges without a geometry
        are straight lines between their nodes.
    """
    import geopandas as gpd  # heavy: only to draw roads

    lines = []
    for u, v, data in G.edges(data=True):
        geom = data.get("geometry")
        if geom is None:
            a, b = G.nodes[u], G.nodes[v]
            geom = shapely.LineString([(a["x"], a["y"]), (b["x"], b["y"])])
        lines.append(geom)
    return gpd.GeoDataFrame(geometry=lines, crs=4326)
