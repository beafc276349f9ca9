"""Read-only data shared by the processes of a machine (issue 19): USS/PSS per process.

Usage::

    python benchmarks/shared_memory_bench.py [--grid 200] [--osm FILE]

For each data set (the region's road graph and geocoder; a synthetic
``--grid`` x ``--grid`` street grid, to show a city-sized graph), starts two
worker processes at once, like two app processes (or an app and a job
worker) of one machine. Each loads the road graph, the path engine's index
and packed weights (time and distance), the geocoder (region only) and
computes one travel matrix, then waits. With both alive, the parent reads
each one's ``/proc/PID/smaps_rollup`` (RSS; PSS, which splits shared pages
between their users; USS = private pages) and, from ``/proc/PID/smaps``, the
part mapped from ``<data_dir>/cache/shared/``. Three runs, same machine, same
run: ``imports`` (the same imports, no data: the floor), ``private``
(``GCRM_SHARED_CACHE=false``: every process builds its own arrays, the
baseline of git main ffed81f) and ``shared`` (arrays built once into the cache
folder, memory-mapped by both). It prints each process's figures and the
data's private cost (USS minus the ``imports`` floor), and the CPU seconds each
worker spent loading. Target: with sharing, the path engine's and geocoder's
arrays are mapped, not private (their pages count once in the machine's PSS),
and the data's private cost per process is below the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _grid(n: int) -> object:
    """A synthetic two-way street grid of n x n nodes, ~100 m apart, near Helsinki."""
    import networkx as nx

    G = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(n):
        for j in range(n):
            G.add_node(i * n + j, x=24.9 + j * 0.0018, y=60.1 + i * 0.0009)
    for i in range(n):
        for j in range(n):
            a = i * n + j
            for b in ((a + 1) if j + 1 < n else None, (a + n) if i + 1 < n else None):
                if b is not None:
                    tt = 10.0 + (a * 7 + b) % 5
                    G.add_edge(a, b, length=100.0, travel_time=tt)
                    G.add_edge(b, a, length=100.0, travel_time=tt)
    G.graph["gcrm_cache_key"] = f"grid{n}"
    return G


def _worker(kind: str, grid: int) -> None:
    """Load the data (unless ``kind == "imports"``), report CPU seconds, wait for stdin."""
    t0 = time.process_time()
    import numpy as np

    from gcrm import _paths, geocode, network
    from gcrm.matrix import travel_matrix

    if kind != "imports":
        G = _grid(grid) if grid else network.load_network()
        idx = _paths.graph_index(G)
        _paths.packed(idx, "time")
        _paths.packed(idx, "distance")
        if not grid:
            geocode.default_index().reverse(60.1685, 24.9435)
        lat = np.array([60.101, 60.12, 60.14]) if grid else np.array([60.168, 60.170, 60.165])
        lon = np.array([24.905, 24.95, 24.99]) if grid else np.array([24.94, 24.945, 24.95])
        travel_matrix(G, lat, lon)
    print(json.dumps({"cpu_s": time.process_time() - t0}), flush=True)
    sys.stdin.readline()


def _rollup(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value, *_ = line.split()
        out[key.rstrip(":")] = int(value) / 1024
    shared_pss = shared_rss = 0.0
    current = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and len(parts) >= 5:
            current = parts[5] if len(parts) > 5 else ""
        elif "/cache/shared/" in current and parts[0] in ("Pss:", "Rss:"):
            if parts[0] == "Pss:":
                shared_pss += int(parts[1]) / 1024
            else:
                shared_rss += int(parts[1]) / 1024
    return {
        "rss": out["Rss"],
        "pss": out["Pss"],
        "uss": out["Private_Clean"] + out["Private_Dirty"],
        "cache_rss": shared_rss,
        "cache_pss": shared_pss,
    }


def _pair(kind: str, grid: int, env: dict[str, str]) -> list[dict[str, float]]:
    """Start two workers at once, measure both while alive, then end them."""
    cmd = [sys.executable, __file__, "--worker", kind, "--grid", str(grid)]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
        for _ in range(2)
    ]  # fmt: skip
    try:
        cpu = [json.loads(p.stdout.readline())["cpu_s"] for p in procs]  # type: ignore[union-attr]
        figures = [{**_rollup(p.pid), "cpu_s": c} for p, c in zip(procs, cpu, strict=True)]
    finally:
        for p in procs:
            p.communicate("\n", timeout=60)
    return figures


def _run(label: str, grid: int) -> bool:
    print(f"\n== {label}")
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = {**os.environ, "GCRM_DATA_DIR": tmp, "PYTHONPATH": str(ROOT)}
        private = {**base, "GCRM_SHARED_CACHE": "false"}
        shared = {**base, "GCRM_SHARED_CACHE": "true"}
        # Warm the caches once (road graph and geocoder pickles, shared arrays), as a
        # machine that already ran gcrm has them.
        _pair("data", grid, shared)
        for kind, env in (("imports", private), ("private", private), ("shared", shared)):
            results[kind] = _pair("imports" if kind == "imports" else "data", grid, env)
    floor = sum(r["uss"] for r in results["imports"]) / 2
    print(f"{'run':8} {'proc':>4} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8} "
          f"{'data USS':>9} {'cache RSS':>9} {'cache PSS':>9} {'load CPU s':>10}")  # fmt: skip
    for kind, rows in results.items():
        for i, r in enumerate(rows):
            print(
                f"{kind:8} {i:>4} {r['rss']:8.1f} {r['pss']:8.1f} {r['uss']:8.1f} "
                f"{r['uss'] - floor:9.1f} {r['cache_rss']:9.2f} {r['cache_pss']:9.2f} "
                f"{r['cpu_s']:10.2f}"
            )
    data_private = sum(r["uss"] - floor for r in results["private"]) / 2
    data_shared = sum(r["uss"] - floor for r in results["shared"]) / 2
    mapped = sum(r["cache_rss"] for r in results["shared"]) / 2
    cpu_p = sum(r["cpu_s"] for r in results["private"]) / 2
    cpu_s = sum(r["cpu_s"] for r in results["shared"]) / 2
    print(
        f"data's private memory per process: {data_private:.1f} MB private -> "
        f"{data_shared:.1f} MB shared ({data_shared - data_private:+.1f} MB); "
        f"{mapped:.1f} MB mapped from the shared cache, counted once per machine"
    )
    print(f"load CPU per process: {cpu_p:.2f} s private -> {cpu_s:.2f} s shared "
          f"({cpu_s / cpu_p:.2f}x)")  # fmt: skip
    ok = mapped > 0 and data_shared < data_private and not results["private"][0]["cache_rss"]
    print("target met" if ok else "TARGET MISSED")
    return ok


def main() -> None:
    """Measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grid", type=int, default=200)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.grid)
        return
    ok = _run("the region (road graph, path engine, geocoder)", 0)
    if args.grid:
        ok = _run(f"synthetic {args.grid}x{args.grid} street grid (path engine)", args.grid) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
