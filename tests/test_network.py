"""Tests of gcrm.network: building road graphs from OSM files, the cache, snapping."""

from __future__ import annotations

import bz2
import gzip
import math
import pickle
from pathlib import Path

import networkx as nx
import pytest

from gcrm import network
from gcrm._errors import InputError, OSMFileError
from gcrm.settings import get_settings

SHARED = Path(__file__).parents[1].parent / "shared"
ANDORRA = SHARED / "data" / "osm" / "andorra.osm.pbf"
BAYREUTH = SHARED / "data" / "osm" / "north-bayreuth.osm.gz"

# A tiny town: a two-way street 1-2-3 (maxspeed 40), a two-way tertiary 3-4
# (30 mph), a one-way street 4->5->6, a reversed one-way (oneway=-1) listed
# 1,6 so traffic runs 6->1, a roundabout 3-13-14-3, a footway 2-5, a driveway
# 5-7, a separate street 8-9, and a street 2-10-[missing 999]-11-12 that
# crosses a clipping gap.
_NODES = {
    1: (60.1700, 24.9400),
    2: (60.1700, 24.9420),
    3: (60.1700, 24.9440),
    4: (60.1710, 24.9440),
    5: (60.1710, 24.9420),
    6: (60.1710, 24.9400),
    7: (60.1715, 24.9420),
    8: (60.1750, 24.9500),
    9: (60.1750, 24.9520),
    10: (60.1690, 24.9420),
    11: (60.1680, 24.9420),
    12: (60.1670, 24.9420),
    13: (60.1695, 24.9450),
    14: (60.1705, 24.9455),
}
_WAYS = [
    (100, [1, 2, 3], {"highway": "residential", "maxspeed": "40", "name": "Eka"}),
    (101, [3, 4], {"highway": "tertiary", "maxspeed": "30 mph"}),
    (102, [4, 5, 6], {"highway": "residential", "oneway": "yes"}),
    (103, [1, 6], {"highway": "residential", "oneway": "-1"}),
    (104, [2, 5], {"highway": "footway"}),
    (105, [5, 7], {"highway": "service", "service": "driveway"}),
    (106, [8, 9], {"highway": "residential"}),
    (107, [2, 10, 999, 11, 12], {"highway": "residential"}),
    (108, [3, 13, 14, 3], {"highway": "primary", "junction": "roundabout"}),
    (109, [6, 1], {"building": "yes"}),
]


def _osm_xml(*, missing: bool = True) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in _NODES.items():
        tag = '<tag k="highway" v="traffic_signals"/>' if nid == 2 else ""
        lines.append(
            f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}">{tag}</node>'
            if tag
            else f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>'
        )
    for wid, way_refs, tags in _WAYS:
        refs = way_refs if missing else [r for r in way_refs if r in _NODES]
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{wid}" version="1">{body}</way>')
    lines.append("</osm>")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> Path:
    """The tiny town as an OSM XML file (with a clipping gap)."""
    path = tmp_path_factory.mktemp("osm") / "town.osm"
    path.write_text(_osm_xml())
    return path


@pytest.fixture(scope="module")
def helsinki() -> nx.MultiDiGraph:
    """The bundled Helsinki extract's drive network (built once, no cache)."""
    return network.build_network(None)


def _raw_graph(path: Path, profile: str = "drive") -> nx.MultiDiGraph:
    ways = network._read_ways(path, network.profile_filter(profile))
    return network._graph_from_paths(ways, profile)


def _shared(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is absent: these tests need ../shared/data/osm beside the project")
    return path


# --------------------------------------------------------------------------- filters


def test_profile_filter_follows_osmnx_drive_definition() -> None:
    """The drive filter keeps public drivable streets and drops what osmnx drops."""
    keep = network.profile_filter("drive")
    assert keep({"highway": "residential"})
    assert keep({"highway": "primary", "access": "yes"})
    assert not keep({"highway": "footway"})
    assert not keep({"highway": "service"})
    assert not keep({"highway": "residential", "access": "private"})
    assert not keep({"highway": "residential", "area": "yes"})
    assert not keep({"highway": "residential", "motorcar": "no"})
    assert not keep({"building": "yes"})


def test_profile_filter_walk_and_bike() -> None:
    """Walking keeps footways and drops motorways; cycling drops foot=only paths."""
    walk = network.profile_filter("walk")
    bike = network.profile_filter("bike")
    assert walk({"highway": "footway"}) and walk({"highway": "pedestrian"})
    assert not walk({"highway": "motorway"}) and not walk({"highway": "cycleway"})
    assert bike({"highway": "cycleway"}) and not bike({"highway": "footway"})
    assert not bike({"highway": "residential", "bicycle": "no"})


def test_unknown_profile_is_an_input_error() -> None:
    """An unknown profile names the accepted ones."""
    with pytest.raises(InputError, match="unknown network profile 'boat'"):
        network.profile_filter("boat")
    with pytest.raises(InputError, match="drive, drive_service, walk, bike"):
        network.build_network(None, profile="boat")


# --------------------------------------------------------------------------- building


def test_osmnx_one_way_rules_and_clipping_gap(town: Path) -> None:
    """Two-way, one-way, oneway=-1 and roundabouts follow osmnx; gaps split ways."""
    G = _raw_graph(town)
    pairs = set(G.edges())
    assert {(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3)} <= pairs
    assert (4, 5) in pairs and (5, 4) not in pairs
    assert (6, 1) in pairs and (1, 6) not in pairs  # oneway=-1 runs against node order
    assert (3, 13) in pairs and (13, 3) not in pairs  # roundabouts are one-way
    assert (2, 5) not in pairs and 7 not in G  # footway and driveway are not drivable
    assert (2, 10) in pairs and (11, 12) in pairs
    assert (10, 11) not in pairs and 999 not in G  # no edge across the missing node
    assert G.nodes[2]["highway"] == "traffic_signals"
    e = G.edges[6, 1, 0]
    assert e["oneway"] is True and e["reversed"] is False and e["osmid"] == 103


def test_same_graph_as_osmnx_graph_from_xml(town: Path, tmp_path: Path) -> None:
    """Without clipping gaps, the builder equals ``osmnx.graph_from_xml`` (drive ways only)."""
    ox = pytest.importorskip("osmnx")
    path = tmp_path / "town.osm"
    path.write_text(_osm_xml(missing=False).replace('<tag k="building" v="yes"/>', ""))
    # graph_from_xml keeps every way: give it the drivable ones only.
    xml = path.read_text()
    for wid in (104, 105, 109):
        start = xml.index(f'<way id="{wid}"')
        xml = xml[:start] + xml[xml.index("</way>", start) + len("</way>") :]
    path.write_text(xml)
    expected = ox.graph_from_xml(path, retain_all=True, simplify=True)
    expected.remove_nodes_from(list(nx.isolates(expected)))  # node 7 of the dropped driveway
    got = ox.simplify_graph(_raw_graph(path))
    _assert_same_graph(got, expected)


def _assert_same_graph(got: nx.MultiDiGraph, expected: nx.MultiDiGraph) -> None:
    def norm(d: dict) -> tuple:
        out = []
        for k, value in sorted(d.items()):
            if k == "geometry":
                out.append((k, value.wkt))
            elif k == "length":
                out.append((k, round(value, 6)))
            elif isinstance(value, list):
                out.append((k, tuple(sorted(map(str, value)))))
            else:
                out.append((k, value))
        return tuple(out)

    assert dict(got.nodes(data=True)) == dict(expected.nodes(data=True))
    assert set(got.edges()) == set(expected.edges())
    for u, v in set(got.edges()):
        a = sorted(norm(d) for d in got[u][v].values())
        b = sorted(norm(d) for d in expected[u][v].values())
        assert a == b, (u, v)


@pytest.mark.shared
def test_andorra_equals_osmnx_graph_from_xml(tmp_path: Path) -> None:
    """On a real extract, the builder equals osmnx on the same drivable ways."""
    ox = pytest.importorskip("osmnx")
    import osmium

    src = _shared(ANDORRA)
    keep = network.profile_filter("drive")
    wanted: set[int] = set()
    for w in osmium.FileProcessor(str(src), osmium.osm.WAY):
        if "highway" in w.tags and keep(dict(w.tags)):
            wanted.update(n.ref for n in w.nodes)
    xml = tmp_path / "andorra-drive.osm"
    writer = osmium.SimpleWriter(str(xml))
    for o in osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY):
        if o.is_node() and o.id in wanted:
            writer.add_node(o)
        elif o.is_way() and "highway" in o.tags and keep(dict(o.tags)):
            writer.add_way(o)
    writer.close()
    expected = ox.graph_from_xml(xml, retain_all=True, simplify=True)
    got = ox.simplify_graph(_raw_graph(src))
    _assert_same_graph(got, expected)


def test_town_network_keeps_largest_strongly_connected_part(town: Path) -> None:
    """The final graph is strongly connected; the report counts what was dropped."""
    G = network.build_network(town)
    assert nx.is_strongly_connected(G)
    # 5 and 6 are inside the simplified one-way street 4->1; 8-9 and 11-12 are dropped
    assert set(G.nodes) == {1, 2, 3, 4, 10}
    rep = network.network_report(G)
    assert (rep.nodes, rep.edges) == (len(G), G.number_of_edges())
    assert rep.missing_node_refs == 1
    assert rep.dropped_nodes == rep.simplified_nodes - rep.nodes > 0
    assert rep.dropped_edges == rep.simplified_edges - rep.edges > 0
    assert rep.dropped_length_m > 0 and rep.components >= 3
    assert rep.ways == 7  # everything but the footway, the driveway and the building
    assert "dropped" in rep.summary()


def test_speeds_tagged_imputed_and_default(town: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """maxspeed where tagged, the class mean where the class is tagged, else the table."""
    G = network.build_network(town)

    def speed(u: int, v: int) -> float:
        return min(d["speed_kph"] for d in G[u][v].values())

    assert speed(1, 2) == pytest.approx(40.0)  # tagged
    assert speed(3, 4) == pytest.approx(30 * 1.609344, rel=1e-4)  # mph converted
    assert speed(4, 1) == pytest.approx(40.0)  # untagged residential: the class mean
    assert speed(3, 3) == pytest.approx(network.DEFAULT_SPEEDS_KPH["primary"])  # roundabout
    for _, _, d in G.edges(data=True):
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
    assert network.network_report(G).tagged_speed_edges == 6

    custom = network.build_network(town, speeds={"residential": 25.0}, impute=False)
    assert min(d["speed_kph"] for d in custom[4][1].values()) == pytest.approx(25.0)
    assert min(d["speed_kph"] for d in custom[1][2].values()) == pytest.approx(40.0)
    assert min(d["speed_kph"] for d in custom[3][3].values()) == pytest.approx(
        network.DEFAULT_SPEEDS_KPH["primary"]
    )
    monkeypatch.delitem(network.DEFAULT_SPEEDS_KPH, "primary")
    fallback = network.build_network(town, fallback_kph=17.0)
    assert min(d["speed_kph"] for d in fallback[3][3].values()) == pytest.approx(17.0)


def test_walk_profile_is_bidirectional_at_walking_speed(town: Path) -> None:
    """Walking networks ignore one-way tags, include footways and use one speed."""
    G = network.build_network(town, profile="walk")
    assert (2, 5) in G.edges or (5, 2) in G.edges or 5 in G
    for u, v, d in G.edges(data=True):
        assert G.has_edge(v, u)
        assert d["speed_kph"] == network.PROFILE_SPEEDS_KPH["walk"]
    fast = network.build_network(town, profile="walk", speeds={"walk": 6.0})
    assert {d["speed_kph"] for *_, d in fast.edges(data=True)} == {6.0}


def test_bike_profile_keeps_one_way_rules(town: Path) -> None:
    """Cycling networks respect one-way streets and ride at the profile's speed."""
    G = network.build_network(town, profile="bike")
    assert G.has_edge(4, 5) and not G.has_edge(5, 4)
    assert {d["speed_kph"] for *_, d in G.edges(data=True)} == {network.PROFILE_SPEEDS_KPH["bike"]}


def test_compressed_xml_is_read(town: Path, tmp_path: Path) -> None:
    """``.osm.gz`` and ``.osm.bz2`` give the same graph as the plain XML."""
    gz = tmp_path / "town.osm.gz"
    gz.write_bytes(gzip.compress(town.read_bytes()))
    bz = tmp_path / "town.osm.bz2"
    bz.write_bytes(bz2.compress(town.read_bytes()))
    plain = network.build_network(town)
    for path in (gz, bz):
        G = network.build_network(path)
        assert set(G.edges(keys=True)) == set(plain.edges(keys=True))


def test_helsinki_drive_network_is_osmnx_compatible(helsinki: nx.MultiDiGraph) -> None:
    """The bundled extract builds despite clipping, with osmnx's graph attributes."""
    ox = pytest.importorskip("osmnx")
    G = helsinki
    ox._validate._validate_graph(G)  # raises if osmnx would reject the graph
    assert G.graph["crs"] == "epsg:4326" and G.graph["simplified"] is True
    assert nx.is_strongly_connected(G) and len(G) > 100
    for _, d in G.nodes(data=True):
        assert {"x", "y", "street_count"} <= d.keys()
    for _, _, d in G.edges(data=True):
        assert d["length"] >= 0 and d["speed_kph"] > 0 and d["travel_time"] >= 0
        assert {"osmid", "highway", "oneway", "reversed"} <= d.keys()
    assert any("geometry" in d for *_, d in G.edges(data=True))
    rep = network.network_report(G)
    assert rep.missing_node_refs > 0 and rep.profile == "drive"
    gdf = ox.graph_to_gdfs(G, nodes=False)  # osmnx tools accept it
    assert len(gdf) == G.number_of_edges()


def test_helsinki_walk_network_is_larger(helsinki: nx.MultiDiGraph) -> None:
    """Central Helsinki is mostly pedestrian: the walk network is much larger."""
    walk = network.build_network(None, profile="walk")
    assert len(walk) > 5 * len(helsinki)


# --------------------------------------------------------------------------- errors


def test_missing_empty_and_corrupt_files(tmp_path: Path) -> None:
    """Unusable OSM files raise OSMFileError with a clear message."""
    with pytest.raises(OSMFileError, match="not found"):
        network.build_network(tmp_path / "nope.osm.pbf")
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    with pytest.raises(OSMFileError, match="empty"):
        network.load_network(empty)
    corrupt = tmp_path / "corrupt.osm.pbf"
    corrupt.write_bytes(b"\x00\x00\x00\x0dnot a pbf file at all" * 50)
    with pytest.raises(OSMFileError, match="cannot read OSM file"):
        network.build_network(corrupt)
    bad_xml = tmp_path / "bad.osm"
    bad_xml.write_text("<osm><node id='1' lat='x'")
    with pytest.raises(OSMFileError, match="cannot read OSM file"):
        network.build_network(bad_xml)


def test_file_without_roads(tmp_path: Path) -> None:
    """A readable file with no road of the profile says so."""
    path = tmp_path / "no-roads.osm"
    path.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" version="1" lat="60.1" lon="24.9"/>'
        '<node id="2" version="1" lat="60.2" lon="24.9"/>'
        '<way id="1" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>'
        "</osm>"
    )
    with pytest.raises(OSMFileError, match="no road usable by the 'drive' profile"):
        network.build_network(path)


def test_download_needs_network_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Online download is refused while GCRM_ALLOW_NETWORK is off (the default)."""
    monkeypatch.delenv("GCRM_ALLOW_NETWORK", raising=False)
    get_settings.cache_clear()
    with pytest.raises(InputError, match="GCRM_ALLOW_NETWORK"):
        network.download_network("Helsinki, Finland")


# --------------------------------------------------------------------------- cache


def test_cache_is_written_then_reused(town: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first load builds and writes the cache; the next one never rebuilds."""
    cache = network.network_cache_file(town)
    assert cache.parent == get_settings().cache_dir / "network"
    assert not cache.exists()
    G = network.load_network(town)
    assert cache.is_file()

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt despite the cache")

    monkeypatch.setattr(network, "build_network", fail)
    again = network.load_network(town)
    assert set(again.edges(keys=True)) == set(G.edges(keys=True))
    assert network.network_report(again) == network.network_report(G)


def test_cache_key_depends_on_file_profile_and_speeds(town: Path, tmp_path: Path) -> None:
    """A changed file, profile or speed setting uses another cache file."""
    base = network.network_cache_file(town)
    assert network.network_cache_file(town, profile="walk") != base
    assert network.network_cache_file(town, speeds={"residential": 20.0}) != base
    assert network.network_cache_file(town, impute=False) != base
    copy = tmp_path / "town.osm"
    copy.write_text(town.read_text().replace('v="Eka"', 'v="Toka"'))
    assert network.network_cache_file(copy) != base
    assert network.network_cache_file(town) == base


def test_unreadable_cache_is_rebuilt(town: Path) -> None:
    """A truncated cache file is replaced by a fresh build."""
    cache = network.network_cache_file(town)
    cache.write_bytes(b"\x80\x05 truncated")
    G = network.load_network(town)
    assert len(G) == 5
    with cache.open("rb") as f:
        assert isinstance(pickle.load(f), nx.MultiDiGraph)


@pytest.mark.shared
def test_cached_andorra_loads_fast() -> None:
    """A cached regional network loads in well under a second."""
    import time

    src = _shared(ANDORRA)
    network.load_network(src)
    t0 = time.perf_counter()
    G = network.load_network(src)
    assert time.perf_counter() - t0 < 1.0
    assert nx.is_strongly_connected(G) and len(G) > 1000


# --------------------------------------------------------------------------- snapping


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        lat + north_m / 111_320.0,
        lon + east_m / (111_320.0 * math.cos(math.radians(lat))),
    )


def test_snap_to_nearest_edge_with_offset(town: Path) -> None:
    """A point beside a street snaps onto it, with its offset and distance."""
    G = network.build_network(town)
    lat, lon = _offset(60.1700, 24.9410, -30.0, 0.0)  # 30 m south of the middle of 1-2
    (s,) = network.snap_points(G, [lat], [lon])
    assert {s.u, s.v} == {1, 2}
    assert s.snap_distance_m == pytest.approx(30.0, rel=0.01)
    assert not s.too_far
    from_1 = s.offset_m if s.u == 1 else s.edge_length_m - s.offset_m
    assert from_1 == pytest.approx(G.edges[1, 2, 0]["length"] / 2, rel=0.01)
    assert s.snap_lat == pytest.approx(60.17, abs=1e-6)
    assert 0.0 <= s.fraction <= 1.0


def test_snap_at_node_and_too_far(helsinki: nx.MultiDiGraph) -> None:
    """A point on a node snaps with zero distance; far points are flagged."""
    n = next(iter(helsinki.nodes))
    y, x = helsinki.nodes[n]["y"], helsinki.nodes[n]["x"]
    far_lat, far_lon = _offset(y, x, 5000.0, 0.0)
    at, far = network.snap_points(helsinki, [y, far_lat], [x, far_lon], max_snap_m=500.0)
    assert at.snap_distance_m < 0.01 and n in (at.u, at.v)
    assert at.offset_m < 0.01 or at.edge_length_m - at.offset_m < 0.01
    assert far.too_far and far.snap_distance_m > 4000
    (near,) = network.snap_points(helsinki, [far_lat], [far_lon], max_snap_m=1e6)
    assert not near.too_far


def test_snap_rejects_bad_coordinates(helsinki: nx.MultiDiGraph) -> None:
    """Non-finite or out-of-range coordinates are input errors naming the location."""
    with pytest.raises(InputError, match="location 1 has invalid coordinates"):
        network.snap_points(helsinki, [60.17, float("nan")], [24.94, 24.94])
    with pytest.raises(InputError, match="same length"):
        network.snap_points(helsinki, [60.17, 60.18], [24.94])
    with pytest.raises(InputError, match="invalid coordinates"):
        network.snap_points(helsinki, [95.0], [24.94])
    assert network.snap_points(helsinki, [], []) == []


@pytest.mark.shared
def test_bayreuth_gz_extract_builds() -> None:
    """The gzipped XML extract builds into a strongly connected drive network."""
    G = network.build_network(_shared(BAYREUTH))
    assert nx.is_strongly_connected(G) and len(G) > 500
