"""Density maps of 100,000 prospects: build time, page size and browser load time.

Usage::

    python benchmarks/map_bench.py [--n 100000] [--seed 7] [--repeat 3] [--no-browser]

N prospects are generated around Helsinki (a mixture of Gaussian clusters over
about 40 x 30 km, lognormal potential values). For the ``heat`` and ``hex``
layers of :func:`gcrm.maps.layer_map` the script reports

* build time: the layer map built and rendered to HTML (the standalone page
  also inlines the vendored assets);
* HTML size: the page as the app serves it (scripts linked from
  ``/app/static/vendor``) and the standalone file (everything inlined);
* load time in headless Chromium (Playwright, ``/usr/bin/chromium``): from
  navigation to the layer drawn (the heat canvas, the hexagon paths), the page
  served by a local ``http.server`` on 127.0.0.1 with the vendored assets, and
  the standalone file opened from disk; best of ``--repeat`` fresh contexts.

Baseline: the same heat map with every prospect shipped as its own point
(folium's HeatMap fed the raw 100,000 rows, no aggregation).

Targets: HTML <= 3 MB and load <= 3 s for both layers (ratios printed against
them). Tiles are off (``GCRM_MAP_TILES=none``): no request leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
TARGET_BYTES = 3_000_000
TARGET_LOAD_S = 3.0
#: What shows that each layer is drawn.
DRAWN = {
    "heat": "canvas.leaflet-heatmap-layer",
    "hex": "path.leaflet-interactive",
    "raw heat": "canvas.leaflet-heatmap-layer",
}


def prospects(n: int, seed: int):  # type: ignore[no-untyped-def]
    """N prospects in clusters around Helsinki, with potential values."""
    import geopandas as gpd
    import numpy as np

    rng = np.random.default_rng(seed)
    k = 40
    centres_lon = rng.uniform(24.65, 25.25, k)
    centres_lat = rng.uniform(60.15, 60.35, k)
    spread = rng.uniform(0.004, 0.03, k)
    weights = rng.dirichlet(np.ones(k))
    which = rng.choice(k, size=n, p=weights)
    lon = centres_lon[which] + rng.normal(0, 1, n) * spread[which] * 2
    lat = centres_lat[which] + rng.normal(0, 1, n) * spread[which]
    return gpd.GeoDataFrame(
        {
            "id": np.arange(n),
            "name": [f"Prospect {i}" for i in range(n)],
            "kind": "prospect",
            "potential_value": np.round(rng.lognormal(8.5, 0.9, n), -1),
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )


def build(frame, layer: str):  # type: ignore[no-untyped-def]
    """(seconds, served page, standalone page) of one layer."""
    from gcrm import maps

    t0 = time.perf_counter()
    if layer == "raw heat":
        from folium.plugins import HeatMap

        m = maps.base_map()
        maps._lean(m)
        xs, ys = frame.geometry.x, frame.geometry.y
        rows = [[round(y, 5), round(x, 5), 1.0] for x, y in zip(xs, ys, strict=True)]
        HeatMap(rows, radius=18, blur=15, min_opacity=0.3).add_to(m)
    else:
        m = maps.layer_map(frame, layer)
    page = m.get_root().render()
    built = time.perf_counter() - t0
    standalone = maps.standalone_html(m)
    return built, page, standalone


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on a free port of 127.0.0.1; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def load_times(urls: dict[str, tuple[str, str]], repeat: int) -> dict[str, float]:
    """Best time (s) from navigation to the layer's drawn element, per URL."""
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for key, (url, selector) in urls.items():
            best = float("inf")
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                outside: list[str] = []
                page.on(
                    "request",
                    lambda r, outside=outside: (
                        outside.append(r.url)
                        if not r.url.startswith(("http://127.0.0.1", "file:", "data:"))
                        else None
                    ),
                )
                t0 = time.perf_counter()
                page.goto(url, wait_until="load", timeout=60_000)
                page.wait_for_selector(selector, state="attached", timeout=60_000)
                best = min(best, time.perf_counter() - t0)
                context.close()
                if outside:
                    print(f"  warning: {key} requested {outside[:3]}", file=sys.stderr)
            out[key] = best
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)

    os.environ["GCRM_MAP_TILES"] = "none"
    os.environ.setdefault("GCRM_MAP_ASSETS", "local")
    from gcrm.assets import default_vendor_dir, is_vendored
    from gcrm.settings import get_settings

    get_settings.cache_clear()
    if not is_vendored():
        print("map assets are not vendored: run `python -m gcrm assets`", file=sys.stderr)
        return 1

    from gcrm import density

    t0 = time.perf_counter()
    frame = prospects(args.n, args.seed)
    print(f"{args.n:,} prospects generated in {time.perf_counter() - t0:.2f} s")
    bins = density.hex_bins(frame)
    print(
        f"heat: {len(density.heat_points(frame)):,} aggregated points; "
        f"hex: {len(bins):,} hexagons at H3 resolution {bins.attrs['resolution']}"
    )

    results = {}
    with tempfile.TemporaryDirectory(prefix="gcrm-map-bench-") as tmp:
        folder = Path(tmp)
        (folder / "app" / "static").mkdir(parents=True)
        (folder / "app" / "static" / "vendor").symlink_to(default_vendor_dir())
        for layer in ("heat", "hex", "raw heat"):
            built, page, standalone = build(frame, layer)
            slug = layer.replace(" ", "_")
            (folder / f"{slug}.html").write_text(page, encoding="utf-8")
            (folder / f"{slug}.standalone.html").write_text(standalone, encoding="utf-8")
            results[layer] = {
                "build_s": built,
                "page_bytes": len(page.encode()),
                "standalone_bytes": len(standalone.encode()),
            }
        if not args.no_browser and Path(CHROMIUM).exists():
            with serve(folder) as base:
                urls = {}
                for layer in results:
                    slug = layer.replace(" ", "_")
                    urls[(layer, "served")] = (f"{base}/{slug}.html", DRAWN[layer])
                    urls[(layer, "file")] = (
                        (folder / f"{slug}.standalone.html").as_uri(),
                        DRAWN[layer],
                    )
                times = load_times(urls, args.repeat)  # type: ignore[arg-type]
            for (layer, mode), seconds in times.items():
                results[layer][f"load_{mode}_s"] = seconds

    print(
        f"\n{'layer':<9} {'build s':>8} {'page MB':>8} {'file MB':>8} {'load s':>7} {'file s':>7}"
    )
    for layer, r in results.items():
        print(
            f"{layer:<9} {r['build_s']:>8.2f} {r['page_bytes'] / 1e6:>8.2f} "
            f"{r['standalone_bytes'] / 1e6:>8.2f} {r.get('load_served_s', float('nan')):>7.2f} "
            f"{r.get('load_file_s', float('nan')):>7.2f}"
        )
    print("\nagainst the targets (<= 1 meets them):")
    for layer in ("heat", "hex"):
        r = results[layer]
        size = max(r["page_bytes"], r["standalone_bytes"]) / TARGET_BYTES
        line = f"  {layer}: size {size:.2f} x 3 MB"
        if "load_served_s" in r:
            load = max(r["load_served_s"], r["load_file_s"]) / TARGET_LOAD_S
            line += f", load {load:.2f} x 3 s"
        print(line)
    raw, heat = results["raw heat"], results["heat"]
    ratio = raw["page_bytes"] / heat["page_bytes"]
    line = f"  baseline (raw heat, every point shipped): {ratio:.1f}x the heat page"
    if "load_served_s" in raw:
        line += f", {raw['load_served_s'] / heat['load_served_s']:.1f}x its load time"
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
