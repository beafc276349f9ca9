"""The offline basemap: build time and archive size per region, and the prospect
map with the basemap drawn in Chromium.

Usage::

    python benchmarks/basemap_bench.py [--n 100000] [--repeat 3] [--no-browser]

Part 1 builds the vector-tile archive (:func:`gcrm.basemap.build_basemap`) from
the bundled Helsinki extract, Andorra and north Bayreuth (``../shared``; skipped
when absent) and prints wall time, CPU time (``time.process_time``: the machine is
shared), zoom levels, tiles, features and archive size.

Part 2 renders the prospect map (:func:`gcrm.maps.layer_map`, ``heat`` and
``hex``) of N prospects spread over the region, with the offline basemap, serves
it from 127.0.0.1 (a small HTTP server that answers byte ranges, as Streamlit's
static serving does), and times headless Chromium from navigation until the data
layer is drawn and every basemap tile on screen is painted. Requests off
localhost are aborted and counted. Baseline: the same page without a basemap
(``tiles="none"``), in the same run.

Target: the prospect map with the basemap drawn in <= 2 s at 100,000 prospects.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "osm"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]  # fmt: skip
TARGET_DRAW_S = 2.0
DRAWN = {"heat": "canvas.leaflet-heatmap-layer", "hex": "path.leaflet-interactive"}
_PAINTED = """() => {
    const tiles = document.querySelectorAll('canvas.leaflet-tile');
    return tiles.length > 0 &&
        document.querySelectorAll('canvas.leaflet-tile:not(.leaflet-tile-loaded)').length === 0;
}"""


def build_all(out: Path) -> dict[str, object]:
    """Build the archive of each extract; print and return the figures."""
    from gcrm import basemap
    from gcrm.osm import bundled_osm_file

    regions = {
        "Helsinki (bundled)": bundled_osm_file(),
        "Andorra": SHARED / "andorra.osm.pbf",
        "north Bayreuth": SHARED / "north-bayreuth.osm.gz",
    }
    print(f"{'region':<20} {'OSM MB':>7} {'wall s':>7} {'CPU s':>6} {'zooms':>6} "
          f"{'tiles':>7} {'features':>9} {'archive MB':>10}")  # fmt: skip
    infos: dict[str, object] = {}
    for name, src in regions.items():
        if not src.is_file():
            print(f"{name:<20} skipped: {src} is absent")
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        info = basemap.build_basemap(out / f"{src.name}.pmtiles", osm_file=src)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"{name:<20} {src.stat().st_size / 1e6:>7.2f} {wall:>7.2f} {cpu:>6.2f} "
            f"{info.min_zoom:>2}-{info.max_zoom:<3} {info.tiles:>7,} "
            f"{sum(info.features.values()):>9,} {info.size_bytes / 1e6:>10.2f}"
        )
        infos[name] = info
    return infos


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range: bytes=a-b`` answered by 206 (PMTiles reads ranges)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start = int(match[1])
        end = min(int(match[2]) if match[2] else size - 1, size - 1)
        f = path.open("rb")
        f.seek(start)
        data = f.read(end - start + 1)
        f.close()
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        import io

        return io.BytesIO(data)


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on a free port of 127.0.0.1; yield its base URL."""
    handler = functools.partial(_RangeHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def prospects(n: int, bounds: tuple[float, float, float, float], seed: int = 7):  # type: ignore[no-untyped-def]
    """N prospects in clusters over (and a little beyond) the basemap's bounds."""
    import geopandas as gpd
    import numpy as np

    rng = np.random.default_rng(seed)
    west, south, east, north = bounds
    k = 30
    cx, cy = rng.uniform(west, east, k), rng.uniform(south, north, k)
    sx, sy = (east - west) / 8, (north - south) / 8
    which = rng.choice(k, size=n, p=rng.dirichlet(np.ones(k)))
    return gpd.GeoDataFrame(
        {
            "id": np.arange(n),
            "name": [f"Prospect {i}" for i in range(n)],
            "kind": "prospect",
            "potential_value": np.round(rng.lognormal(8.5, 0.9, n), -1),
        },
        geometry=gpd.points_from_xy(
            cx[which] + rng.normal(0, sx, n), cy[which] + rng.normal(0, sy, n)
        ),
        crs=4326,
    )


def draw_times(urls: dict[tuple[str, str], str], repeat: int) -> dict[tuple[str, str], float]:
    """Best seconds from navigation to data drawn and basemap painted, per page."""
    from playwright.sync_api import sync_playwright

    out: dict[tuple[str, str], float] = {}
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for (layer, mode), url in urls.items():
            best = float("inf")
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.route(
                    re.compile(r"^https?://(?!127\.0\.0\.1[:/])"),
                    lambda r: (outside.append(r.request.url), r.abort()),
                )
                page = context.new_page()
                t0 = time.perf_counter()
                page.goto(url, wait_until="load", timeout=60_000)
                page.wait_for_selector(DRAWN[layer], state="attached", timeout=60_000)
                if mode == "basemap":
                    page.wait_for_function(_PAINTED, timeout=60_000, polling=20)
                best = min(best, time.perf_counter() - t0)
                context.close()
            out[(layer, mode)] = best
        browser.close()
    if outside:
        print(f"  warning: requests off localhost: {outside[:3]}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gcrm-basemap-bench-") as tmp:
        folder = Path(tmp)
        os.environ["GCRM_DATA_DIR"] = str(folder / "data")
        os.environ["GCRM_MAP_ASSETS"] = "local"
        from gcrm.assets import default_vendor_dir, is_vendored
        from gcrm.settings import get_settings

        get_settings.cache_clear()
        print("Part 1: building the basemap archive\n")
        build_all(folder)
        if args.no_browser or not Path(CHROMIUM).exists():
            return 0
        if not is_vendored():
            print("map assets are not vendored: run `python -m gcrm assets`", file=sys.stderr)
            return 1
        from gcrm import basemap, maps

        # The page is served like the app serves it: /app/static/vendor and /app/static/basemap.
        static = folder / "site" / "app" / "static"
        static.mkdir(parents=True)
        (static / "vendor").symlink_to(default_vendor_dir())
        info = basemap.ensure_basemap(publish_dir=static / "basemap")
        frame = prospects(args.n, info.bounds)
        print(f"\nPart 2: the prospect map of {args.n:,} prospects, drawn in Chromium\n")
        urls: dict[tuple[str, str], str] = {}
        for layer in DRAWN:
            for mode, tiles in (("basemap", "offline"), ("no basemap", "none")):
                t0 = time.perf_counter()
                page = maps.layer_map(frame, layer, tiles=tiles).get_root().render()
                built = time.perf_counter() - t0
                name = f"{layer}-{mode.replace(' ', '_')}.html"
                (folder / "site" / name).write_text(page, encoding="utf-8")
                urls[(layer, mode)] = name
                print(f"  {layer:<4} {mode:<11} built in {built:.2f} s, {len(page) / 1e6:.2f} MB")
        with serve(folder / "site") as base:
            times = draw_times({k: f"{base}/{v}" for k, v in urls.items()}, args.repeat)
        print(f"\n{'layer':<6} {'basemap s':>10} {'without s':>10} {'ratio':>6} {'vs 2 s':>7}")
        for layer in DRAWN:
            with_b, without = times[(layer, "basemap")], times[(layer, "no basemap")]
            print(
                f"{layer:<6} {with_b:>10.2f} {without:>10.2f} {with_b / without:>6.2f} "
                f"{with_b / TARGET_DRAW_S:>7.2f}"
            )
        shutil.rmtree(folder / "site", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
