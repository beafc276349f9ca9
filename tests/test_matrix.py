"""Tests of gcrm.matrix: travel-time and distance matrices, route geometry, the CSV entry point."""

from __future__ import annotations

import math
import random
from itertools import pairwise
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from gcrm import _paths, matrix, network
from gcrm._errors import InputError, OSMFileError

SHARED = Path(__file__).parents[1].parent / "shared"
ANDORRA = SHARED / "data" / "osm" / "andorra.osm.pbf"

_LAT0, _LON0 = 60.17, 24.94
_M_PER_DEG = 111_320.0


def _ll(east_m: float, north_m: float) -> tuple[float, float]:
    """(lat, lon) of a point ``east_m``, ``north_m`` metres from the origin."""
    return (
        _LAT0 + north_m / _M_PER_DEG,
        _LON0 + east_m / (_M_PER_DEG * math.cos(math.radians(_LAT0))),
    )


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_009 * math.asin(math.sqrt(a))


def _synthetic(
    edges: list[tuple[int, int]], pos: dict[int, tuple[float, float]]
) -> nx.MultiDiGraph:
    """A graph with straight edges between ``pos`` (metres), driven at 36 km/h (10 m/s)."""
    G = nx.MultiDiGraph(crs="epsg:4326")
    for n, (e, north) in pos.items():
        lat, lon = _ll(e, north)
        G.add_node(n, x=lon, y=lat)
    for u, v in edges:
        a, b = G.nodes[u], G.nodes[v]
        length = _haversine(a["y"], a["x"], b["y"], b["x"])
        G.add_edge(u, v, length=length, speed_kph=36.0, travel_time=length / 10.0)
    return G


@pytest.fixture(scope="module")
def square() -> nx.MultiDiGraph:
    """A one-way block 1->2->3->4->1 (100 m sides), a one-way dead end 2->5 and a
    two-way street 4-6."""
    pos = {1: (0, 0), 2: (100, 0), 3: (100, 100), 4: (0, 100), 5: (200, 0), 6: (0, 200)}
    return _synthetic([(1, 2), (2, 3), (3, 4), (4, 1), (2, 5), (4, 6), (6, 4)], pos)


@pytest.fixture(scope="module")
def helsinki() -> nx.MultiDiGraph:
    """The bundled Helsinki extract's drive network (built once, no cache)."""
    return network.build_network(None)


@pytest.fixture(scope="module")
def andorra() -> nx.MultiDiGraph:
    """The Andorra drive network (built once, no cache)."""
    if not ANDORRA.is_file():
        pytest.skip(f"{ANDORRA} is absent: these tests need ../shared/data/osm beside the project")
    return network.build_network(ANDORRA)


def _length(G: nx.MultiDiGraph, u: int, v: int) -> float:
    return min(d["length"] for d in G[u][v].values())


# --------------------------------------------------------------------------- synthetic


def test_same_one_way_edge_is_asymmetric(square: nx.MultiDiGraph) -> None:
    """Ahead on a one-way edge is a short hop; behind means going round the block."""
    p, q = _ll(25, 0), _ll(75, 0)
    tm = matrix.travel_matrix(square, [p[0], q[0]], [p[1], q[1]])
    ahead = _length(square, 1, 2) / 2
    around = ahead / 2 * 2 + sum(_length(square, a, b) for a, b in ((2, 3), (3, 4), (4, 1)))
    # sums are exact to the packing units (1 ms, 1 mm per edge); snap points
    # are exact to about a millimetre (the UTM projection of a parallel)
    assert tm.distances[0, 1] == pytest.approx(ahead, abs=0.01)
    assert tm.durations[0, 1] == pytest.approx(ahead / 10, abs=0.005)
    assert tm.distances[1, 0] == pytest.approx(around, abs=0.01)
    assert tm.durations[1, 0] == pytest.approx(around / 10, abs=0.005)
    assert np.all(np.diag(tm.durations) == 0) and np.all(np.diag(tm.distances) == 0)


def test_same_two_way_edge_is_symmetric(square: nx.MultiDiGraph) -> None:
    """Two points on a two-way street are the same distance apart both ways."""
    p, q = _ll(0, 130), _ll(0, 170)
    tm = matrix.travel_matrix(square, [p[0], q[0]], [p[1], q[1]])
    expected = _length(square, 4, 6) * 0.4
    assert tm.distances[0, 1] == pytest.approx(expected, rel=1e-3)
    assert tm.distances[1, 0] == pytest.approx(expected, rel=1e-3)


def test_unreachable_pairs_are_inf(square: nx.MultiDiGraph) -> None:
    """Nothing leaves the one-way dead end: its row is inf, its column finite."""
    pts = [_ll(200, 0), _ll(50, 0), _ll(0, 150)]
    tm = matrix.travel_matrix(square, [p[0] for p in pts], [p[1] for p in pts])
    assert np.isinf(tm.durations[0, 1:]).all() and np.isinf(tm.distances[0, 1:]).all()
    assert np.isfinite(tm.durations[1:, 0]).all()
    off = ~np.eye(3, dtype=bool)
    assert (tm.durations[off] > 0).all() and (tm.distances[off] > 0).all()
    assert tm.durations[1, 0] == pytest.approx((50 + _length(square, 2, 5)) / 10, rel=1e-3)


def test_access_leg_is_counted(square: nx.MultiDiGraph) -> None:
    """A location 20 m off the road adds 20 m (at the access speed) at each end."""
    on, off = _ll(0, 120), _ll(-20, 180)
    tm = matrix.travel_matrix(square, [on[0], off[0]], [on[1], off[1]], access_speed_kph=7.2)
    snap = tm.snap_distances
    assert snap[0] == pytest.approx(0, abs=0.01) and snap[1] == pytest.approx(20, rel=0.01)
    along = _length(square, 4, 6) * 0.6
    assert tm.distances[0, 1] == pytest.approx(along + snap[1], rel=1e-3)
    assert tm.durations[0, 1] == pytest.approx(along / 10 + snap[1] / 2.0, rel=1e-3)
    assert tm.durations[1, 0] == pytest.approx(tm.durations[0, 1], rel=1e-6)


def test_far_locations_are_flagged(square: nx.MultiDiGraph) -> None:
    """Locations beyond max_snap_m are flagged but still routed from their road."""
    far = _ll(0, 900)
    near = _ll(0, 150)
    tm = matrix.travel_matrix(
        square, [far[0], near[0]], [far[1], near[1]], ids=["far", "near"], max_snap_m=500
    )
    assert tm.too_far.tolist() == [True, False]
    assert tm.ids == ("far", "near")
    assert np.isfinite(tm.durations).all()


def test_weight_distance_minimises_length() -> None:
    """A fast detour wins on time, the short slow road on distance; both report one route."""
    G = _synthetic(
        [(1, 2), (2, 1), (1, 3), (3, 1), (3, 2), (2, 3)], {1: (0, 0), 2: (400, 0), 3: (200, 300)}
    )
    for u, v in ((1, 2), (2, 1)):  # the short road is slow: 5 m/s
        G.edges[u, v, 0]["travel_time"] = G.edges[u, v, 0]["length"] / 5.0
    for u, v in ((1, 3), (3, 1), (3, 2), (2, 3)):  # the detour is fast: 20 m/s
        G.edges[u, v, 0]["travel_time"] = G.edges[u, v, 0]["length"] / 20.0
    dur_t, dist_t = matrix.node_matrix(G, [1], [2], weight="time")
    dur_d, dist_d = matrix.node_matrix(G, [1], [2], weight="distance")
    detour = _length(G, 1, 3) + _length(G, 3, 2)
    assert dist_t[0, 0] == pytest.approx(detour, abs=0.002)
    assert dur_t[0, 0] == pytest.approx(detour / 20, abs=0.002)
    assert dist_d[0, 0] == pytest.approx(_length(G, 1, 2), abs=0.002)
    assert dur_d[0, 0] == pytest.approx(_length(G, 1, 2) / 5, abs=0.002)


def test_parallel_edges_use_the_best_one() -> None:
    """scipy would sum parallel edges: the matrix takes the cheapest instead."""
    G = _synthetic([(1, 2), (2, 1)], {1: (0, 0), 2: (100, 0)})
    slow = dict(G.edges[1, 2, 0])
    slow["travel_time"] *= 5
    G.add_edge(1, 2, **slow)
    G.add_edge(1, 2, **slow)
    dur, _ = matrix.node_matrix(G, [1, 2])
    assert dur[0, 1] == pytest.approx(G.edges[1, 2, 0]["travel_time"], abs=0.001)


def test_huge_sums_coarsen_the_secondary_unit() -> None:
    """Sums beyond 2**53 packed units lower the secondary resolution, not correctness."""
    G = _synthetic([(1, 2), (2, 3), (3, 2), (2, 1)], {1: (0, 0), 2: (100, 0), 3: (200, 0)})
    for _, _, d in G.edges(data=True):
        d["travel_time"] = 3.0e8  # ten years per edge
        d["length"] = 4.0e7
    dur, dist = matrix.node_matrix(G, [1], [3])
    pk = _paths.packed(_paths.graph_index(G), "time")
    assert pk.unit_s > 1e-3
    assert dur[0, 0] == pytest.approx(6.0e8, rel=1e-12)
    assert dist[0, 0] == pytest.approx(8.0e7, abs=2 * pk.unit_s)


def test_bad_arguments(square: nx.MultiDiGraph) -> None:
    """Unknown weights, mismatched ids and bad nodes are input errors."""
    with pytest.raises(InputError, match="unknown weight 'fuel'"):
        matrix.travel_matrix(square, [60.17], [24.94], weight="fuel")
    with pytest.raises(InputError, match="got 2 ids for 1 locations"):
        matrix.travel_matrix(square, [60.17], [24.94], ids=["a", "b"])
    with pytest.raises(InputError, match="node 99 is not in the graph"):
        matrix.node_matrix(square, [1, 99])
    G = _synthetic([(1, 2)], {1: (0, 0), 2: (100, 0)})
    del G.edges[1, 2, 0]["travel_time"]
    with pytest.raises(InputError, match="travel_time"):
        matrix.node_matrix(G, [1, 2])
    assert matrix.travel_matrix(square, [], []).durations.shape == (0, 0)


def test_route_goes_round_the_one_way_block(square: nx.MultiDiGraph) -> None:
    """The drawn route follows the streets: behind on a one-way means round the block."""
    p, q = _ll(75, 0), _ll(25, 0)
    coords = matrix.route_coords(square, [p[0], q[0]], [p[1], q[1]])
    assert coords[0] == pytest.approx(p) and coords[-1] == pytest.approx(q)
    corners = [(square.nodes[n]["y"], square.nodes[n]["x"]) for n in (2, 3, 4, 1)]
    found = [any(c == pytest.approx(k) for c in coords) for k in corners]
    assert all(found)
    line = matrix.route_geometry(square, [p[0], q[0]], [p[1], q[1]])
    assert line.coords[0] == pytest.approx((p[1], p[0]))  # (lon, lat)


# --------------------------------------------------------------------------- real networks


def _check_against_networkx(G: nx.MultiDiGraph, k: int, seed: int) -> None:
    nodes = random.Random(seed).sample(sorted(G.nodes), k)
    lat = [G.nodes[n]["y"] for n in nodes]
    lon = [G.nodes[n]["x"] for n in nodes]
    by_time = matrix.travel_matrix(G, lat, lon, weight="time")
    by_length = matrix.travel_matrix(G, lat, lon, weight="distance")
    nodes_t, _ = matrix.node_matrix(G, nodes, weight="time")
    for i, a in enumerate(nodes):
        t = nx.single_source_dijkstra_path_length(G, a, weight="travel_time")
        d = nx.single_source_dijkstra_path_length(G, a, weight="length")
        for j, b in enumerate(nodes):
            if i == j:
                continue
            assert by_time.durations[i, j] == pytest.approx(t[b], rel=1e-3), (a, b)
            assert nodes_t[i, j] == pytest.approx(t[b], rel=1e-3), (a, b)
            assert by_length.distances[i, j] == pytest.approx(d[b], rel=1e-3), (a, b)
            # the fastest route is never shorter than the shortest one
            assert by_time.distances[i, j] >= d[b] - 0.05


def test_helsinki_matches_networkx(helsinki: nx.MultiDiGraph) -> None:
    """Entries equal networkx's shortest-path lengths between the same nodes."""
    _check_against_networkx(helsinki, 25, seed=1)


@pytest.mark.shared
def test_andorra_matches_networkx(andorra: nx.MultiDiGraph) -> None:
    """Entries equal networkx's shortest-path lengths on a regional network."""
    _check_against_networkx(andorra, 40, seed=2)


def _one_way_edges(G: nx.MultiDiGraph) -> list[tuple[int, int]]:
    return sorted((u, v) for u, v, d in G.edges(data=True) if d["oneway"] and not G.has_edge(v, u))


@pytest.mark.parametrize("name", ["helsinki", pytest.param("andorra", marks=pytest.mark.shared)])
def test_one_way_streets_make_asymmetric_entries(name: str, request) -> None:
    """Across a one-way street, the two directions differ and match networkx."""
    G = request.getfixturevalue(name)
    u, v = _one_way_edges(G)[0]
    lat = [G.nodes[n]["y"] for n in (u, v)]
    lon = [G.nodes[n]["x"] for n in (u, v)]
    tm = matrix.travel_matrix(G, lat, lon)
    forward = nx.shortest_path_length(G, u, v, weight="travel_time")
    back = nx.shortest_path_length(G, v, u, weight="travel_time")
    assert tm.durations[0, 1] == pytest.approx(forward, rel=1e-3)
    assert tm.durations[1, 0] == pytest.approx(back, rel=1e-3)
    assert tm.durations[1, 0] > tm.durations[0, 1]
    assert not np.allclose(tm.durations, tm.durations.T)


def test_route_length_matches_matrix(helsinki: nx.MultiDiGraph) -> None:
    """The drawn route through several stops is as long as the matrix says."""
    rng = np.random.default_rng(3)
    nodes = list(helsinki.nodes)
    picks = [nodes[i] for i in rng.choice(len(nodes), 4, replace=False)]
    lat = [helsinki.nodes[n]["y"] + 1e-4 for n in picks]  # about 11 m north of a node
    lon = [helsinki.nodes[n]["x"] for n in picks]
    tm = matrix.travel_matrix(helsinki, lat, lon)
    coords = matrix.route_coords(helsinki, lat, lon)
    assert coords[0] == pytest.approx((lat[0], lon[0]))
    assert coords[-1] == pytest.approx((lat[-1], lon[-1]))
    drawn = sum(_haversine(*a, *b) for a, b in pairwise(coords))
    legs = sum(tm.distances[i, i + 1] for i in range(3))
    assert drawn == pytest.approx(legs, rel=0.01)


# --------------------------------------------------------------------------- files


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_matrix_from_points_file(helsinki: nx.MultiDiGraph, tmp_path: Path) -> None:
    """POINTS.csv -> OUT.npz with ids, durations and distances (N x N floats)."""
    nodes = sorted(helsinki.nodes)[:5]
    rows = "\n".join(
        f"c{i},{helsinki.nodes[n]['y'] + 2e-4},{helsinki.nodes[n]['x']}"
        for i, n in enumerate(nodes)
    )
    csv = _write(tmp_path / "points.csv", "id,lat,lon,name\n" + rows.replace("\n", ",x\n") + ",x\n")
    out = tmp_path / "out.npz"
    tm = matrix.matrix_from_points_file(None, csv, out, weight="time")
    with np.load(out) as data:
        assert data["ids"].tolist() == [f"c{i}" for i in range(5)]
        for key in ("durations", "distances"):
            arr = data[key]
            assert arr.shape == (5, 5) and arr.dtype == np.float64
            off = ~np.eye(5, dtype=bool)
            assert (arr[off] > 0).all() and (np.diag(arr) == 0).all()
        np.testing.assert_array_equal(data["durations"], tm.durations)
    assert tm.snaps[0].snap_distance_m > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,lat\n1,60.17\n", "lacks column\\(s\\) lon"),
        ("name,x,y\n", "lacks column\\(s\\) id, lat, lon"),
        ("id,lat,lon\n", "has no rows"),
        ("", "cannot read points file"),
        (
            "id,lat,lon\na,60.17,24.94\nb,sixty,24.95\n",
            "line 3 \\(id 'b'\\): lat 'sixty' is not a number",
        ),
        ("id,lat,lon\na,60.17,24.94\nb,60.18,\n", "line 3 \\(id 'b'\\): lon '' is not a number"),
        ("id,lat,lon\na,160.17,24.94\n", "line 2 \\(id 'a'\\): lat '160.17'"),
        ("id,lat,lon\na,60.17,24.94\na,60.18,24.95\n", "line 3: duplicate id 'a'"),
        ("id,lat,lon\n,60.17,24.94\n", "line 2: empty id"),
    ],
)
def test_bad_points_csv(tmp_path: Path, text: str, message: str) -> None:
    """Bad CSV files are input errors that name the problem and the line."""
    csv = _write(tmp_path / "points.csv", text)
    with pytest.raises(InputError, match=message):
        matrix.matrix_from_points_file(None, csv, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_points_csv_tolerates_bom_case_and_spaces(tmp_path: Path) -> None:
    """A BOM, capitalised headers and padded values are accepted."""
    csv = tmp_path / "points.csv"
    csv.write_bytes("\ufeffID, Lat ,LON\n a , 60.17 , 24.94 \n".encode())
    df = matrix.read_points_csv(csv)
    assert df.to_dict("records") == [{"id": "a", "lat": 60.17, "lon": 24.94}]


def test_points_file_with_corrupt_osm(tmp_path: Path) -> None:
    """A corrupt OSM file is an OSMFileError, and a missing CSV an InputError."""
    osm = tmp_path / "bad.osm.pbf"
    osm.write_bytes(b"garbage" * 100)
    csv = _write(tmp_path / "points.csv", "id,lat,lon\na,60.17,24.94\n")
    with pytest.raises(OSMFileError):
        matrix.matrix_from_points_file(osm, csv, tmp_path / "out.npz")
    with pytest.raises(InputError, match="points file not found"):
        matrix.matrix_from_points_file(osm, tmp_path / "nope.csv", tmp_path / "out.npz")
