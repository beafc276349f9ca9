"""Read-only data built once per machine and memory-mapped by every process (issue 19)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from gcrm import _paths, network
from gcrm.settings import get_settings
from gcrm.shared_arrays import shared_arrays, shared_folder

ROOT = Path(__file__).resolve().parents[1]

# Loads the region's road graph, the path engine's arrays and the geocoder, then
# reports which shared files the process maps (device:inode and path) and a
# digest of every array it uses.
_PROBE = r"""
import hashlib, json, sys
import numpy as np
from gcrm import _paths, geocode, network
from gcrm.matrix import travel_matrix

G = network.load_network()
idx = _paths.graph_index(G)
pk = _paths.packed(idx, "time")
data = geocode.default_index()._d
arrays = {
    "nodes": idx.nodes, "eu": idx.eu, "ev": idx.ev, "length": idx.length, "time": idx.time,
    "twin": idx.twin, "csr_data": pk.csr.data, "csr_indices": pk.csr.indices,
    "csr_indptr": pk.csr.indptr, "edge_w": pk.edge_w, "pt_lat": data.pt_lat,
    "pt_lon": data.pt_lon, "tree_data": data.tree.data,
}
m = travel_matrix(G, [60.168, 60.170, 60.165], [24.94, 24.945, 24.95])
maps = set()
for line in open("/proc/self/maps"):
    parts = line.split()
    if len(parts) >= 6 and "/cache/shared/" in parts[5]:
        maps.add((parts[3] + ":" + parts[4], parts[5]))
print(json.dumps({
    "digests": {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
                for k, v in arrays.items()},
    "writeable": sorted(k for k, v in arrays.items() if v.flags.writeable),
    "maps": sorted(maps),
    "durations": m.durations.tolist(),
    "reverse": geocode.default_index().reverse(60.1685, 24.9435).matched,
}))
"""


def _spawn(data_dir: Path, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "GCRM_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env=full, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _result(proc: subprocess.Popen[str]) -> dict:  # type: ignore[type-arg]
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose road-graph and geocoder pickles exist, with no shared arrays yet."""
    folder = tmp_path_factory.mktemp("shared")
    proc = _spawn(folder, GCRM_SHARED_CACHE="false")
    _result(proc)  # builds the pickled caches only
    assert not (folder / "cache" / "shared").exists() or not any(
        (folder / "cache" / "shared").iterdir()
    )
    return folder


def test_two_processes_starting_at_once_map_the_same_files_and_arrays(data_dir: Path) -> None:
    first, second = _spawn(data_dir), _spawn(data_dir)  # both find no shared arrays
    a, b = _result(first), _result(second)
    private = _result(_spawn(data_dir, GCRM_SHARED_CACHE="false"))
    # Both map the same files (same device:inode), covering the road graph's
    # index, its packed CSR and the geocoder's points.
    assert a["maps"] == b["maps"]
    names = {Path(path).parent.name.split("-")[0] + "/" + Path(path).name for _, path in a["maps"]}
    for expected in ("paths1/eu.npy", "paths1/twin.npy", "paths1/data.npy", "paths1/indptr.npy"):
        assert expected in names, names
    assert {"geocode4/lat.npy", "geocode4/xyz.npy"} <= names
    # The arrays are the same as a process that built them privately.
    assert a["digests"] == b["digests"] == private["digests"]
    assert a["durations"] == private["durations"]
    assert a["reverse"] == private["reverse"]
    # Shared arrays are read-only; private ones are ordinary memory.
    assert a["writeable"] == [] and b["writeable"] == []
    assert private["maps"] == []
    assert "eu" in private["writeable"]
    # The race left one folder per array set and no temporary folder behind.
    shared = data_dir / "cache" / "shared"
    assert not [p.name for p in shared.iterdir() if p.name.startswith(".")]


def test_a_broken_shared_folder_is_rebuilt(tmp_path: Path) -> None:
    calls = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"a": np.arange(10, dtype=np.int64), "b": np.linspace(0, 1, 5)}

    first = shared_arrays("demo-set", build)
    assert isinstance(first["a"], np.memmap) and not first["a"].flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first["a"][0] = 5
    again = shared_arrays("demo-set", build)
    assert len(calls) == 1  # mapped, not rebuilt
    folder = shared_folder("demo-set")
    (folder / "a.npy").write_bytes((folder / "a.npy").read_bytes()[:100])  # truncated
    del first, again
    rebuilt = shared_arrays("demo-set", build)
    assert len(calls) == 2
    np.testing.assert_array_equal(rebuilt["a"], np.arange(10))
    (folder / "manifest.json").unlink()  # a crash or a hand edit
    assert shared_arrays("demo-set", build)["b"].tolist() == np.linspace(0, 1, 5).tolist()
    assert len(calls) == 3


def test_object_arrays_and_odd_names_are_refused() -> None:
    with pytest.raises(ValueError, match="no object arrays"):
        shared_arrays("objs", lambda: {"a": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(ValueError, match="letters, digits"):
        shared_arrays("../escape", lambda: {"a": np.zeros(3)})
    assert not any(p.name.startswith(".objs") for p in shared_folder("x").parent.iterdir())


def test_sharing_off_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCRM_SHARED_CACHE", "false")
    get_settings.cache_clear()
    out = shared_arrays("off-set", lambda: {"a": np.arange(3)})
    assert out["a"].flags.writeable and not isinstance(out["a"], np.memmap)
    assert not (get_settings().cache_dir / "shared").exists()


def _line_graph(travel_time: float) -> nx.MultiDiGraph:
    G = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(4):
        G.add_node(i, x=24.94 + 0.001 * i, y=60.17)
    for i in range(3):
        for u, v in ((i, i + 1), (i + 1, i)):
            G.add_edge(u, v, length=55.0, travel_time=travel_time)
    G.add_edge(0, 1, length=80.0, travel_time=travel_time * 2)  # a slower parallel edge
    return G


def test_a_graph_changed_after_loading_does_not_map_stale_arrays() -> None:
    fast, slow = _line_graph(5.0), _line_graph(9.0)
    fast.graph["gcrm_cache_key"] = slow.graph["gcrm_cache_key"] = "same-file"
    a, b = _paths.graph_index(fast), _paths.graph_index(slow)
    assert a.shared_key is not None and a.shared_key != b.shared_key
    assert isinstance(a.time, np.memmap)
    assert sorted(a.time.tolist()) == [5.0] * 6 + [10.0]
    assert sorted(b.time.tolist()) == [9.0] * 6 + [18.0]
    pk = _paths.packed(a, "time")
    assert a.edges[1] == (0, 1, 1) and a.time[1] == 10.0
    # The edge list and node positions are views over the shared arrays, equal to the graph's.
    assert list(a.edges) == list(fast.edges(keys=True)) and len(a.edges) == 7
    assert a.edges[-2:] == list(fast.edges(keys=True))[-2:]
    assert all(type(x) is int for x in a.edges[3])
    assert dict(a.node_pos) == {n: i for i, n in enumerate(fast.nodes)}
    with pytest.raises(KeyError):
        a.node_pos[99]
    with pytest.raises(KeyError):
        a.node_pos["0"]
    assert pk.best_edge[(0, 1)] == 0  # the faster of the two parallel edges
    assert len(pk.best_edge) == 6
    with pytest.raises(KeyError):
        pk.best_edge[(0, 2)]


def test_an_untagged_graph_stays_private() -> None:
    idx = _paths.graph_index(_line_graph(5.0))
    assert idx.shared_key is None and not isinstance(idx.eu, np.memmap)
    assert not (get_settings().cache_dir / "shared").exists()


def test_load_network_tags_the_graph() -> None:
    G = network.load_network()
    assert G.graph["gcrm_cache_key"] == network.network_cache_file().stem
