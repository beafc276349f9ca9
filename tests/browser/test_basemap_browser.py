"""Browser test: every map page draws the offline basemap, with the internet blocked.

Each page runs in a browser context where every request that leaves localhost is
aborted and recorded. The basemap archive must answer every read (no failed
request), its tiles must be drawn, and the map with its data layers hidden must
show streets and buildings, not a flat colour.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import SCREENSHOTS, login, map_frame

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_EXTERNAL = re.compile(r"^(https?|wss?)://(?!(127\.0\.0\.1|localhost)[:/])")
_TILES = "canvas.leaflet-tile"


@pytest.fixture
def offline_page(browser, live_app: str) -> Iterator[object]:
    """A page whose requests off localhost are aborted; records basemap reads."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    external: list[str] = []
    failed: list[str] = []
    archive: list[int] = []
    context.route(_EXTERNAL, lambda r: (external.append(r.request.url), r.abort()))
    pg = context.new_page()

    def response(r) -> None:  # type: ignore[no-untyped-def]
        if ".pmtiles" in r.url:
            archive.append(r.status)
            if r.status >= 400:
                failed.append(f"{r.status} {r.url}")

    pg.on("response", response)

    def request_failed(r) -> None:  # type: ignore[no-untyped-def]
        # protomaps-leaflet cancels the reads of a zoom level it has left: not a failure.
        if ".pmtiles" in r.url and r.failure != "net::ERR_ABORTED":
            failed.append(f"{r.failure} {r.url}")

    pg.on("requestfailed", request_failed)
    pg.external_requests = external  # type: ignore[attr-defined]
    pg.failed_tiles = failed  # type: ignore[attr-defined]
    pg.archive_reads = archive  # type: ignore[attr-defined]
    pg.base_url = live_app  # type: ignore[attr-defined]
    yield pg
    context.close()


_HIDE_DATA = """() => {
    const box = document.querySelector('.leaflet-container').getBoundingClientRect();
    const points = [];
    // Data points: markers, clusters and circle markers (small paths); hexagons and
    // areas cover the whole map and are no "point" to keep away from.
    document.querySelectorAll(
        '.leaflet-marker-icon, .marker-cluster, path.leaflet-interactive'
    ).forEach(e => {
        const r = e.getBoundingClientRect();
        const limit = e.tagName.toLowerCase() === 'path' ? 30 : 80;
        if (r.width > 0 && r.width < limit && r.height < limit) {
            points.push([r.left - box.left, r.top - box.top, r.right - box.left,
                         r.bottom - box.top]);
        }
    });
    for (const sel of ['.leaflet-overlay-pane', '.leaflet-marker-pane',
                       '.leaflet-shadow-pane', '.leaflet-control-container']) {
        document.querySelectorAll(sel).forEach(e => e.style.visibility = 'hidden');
    }
    return points;
}"""


def basemap_pixels(pg, name: str, attempts: int = 3):  # type: ignore[no-untyped-def]
    """The map with its data layers hidden (numpy RGB), and the data points' boxes.

    A rerun of the page can replace the map's iframe while it is being read:
    then the whole reading starts again on the new one.
    """
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            return _basemap_pixels(pg, name)
        except Error as exc:
            if "detached" not in str(exc) or attempt == attempts - 1:
                raise
            pg.wait_for_timeout(1000)
    raise AssertionError("unreachable")


def _basemap_pixels(pg, name: str):  # type: ignore[no-untyped-def]
    frame = map_frame(pg, selector=_TILES)
    # Two levels closer around the data's centre, so there are gaps between the points.
    frame.evaluate(
        """() => {
            const map = Object.values(window).find(v => v instanceof L.Map);
            map.setZoom(Math.min(map.getZoom() + 2, 17), {animate: false});
        }"""
    )
    pg.wait_for_timeout(2500)  # protomaps-leaflet paints tiles after their data arrives
    points = frame.evaluate(_HIDE_DATA)
    shot = frame.locator(".leaflet-container").first.screenshot()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"basemap_{name}.png").write_bytes(shot)
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")), points


def detailed_cells(px, points, rows: int = 8, cols: int = 12) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(cells with map detail, of which free of data points) in a rows x cols grid."""
    h, w, _ = px.shape
    detailed = free = 0
    for i in range(rows):
        for j in range(cols):
            y0, y1, x0, x1 = i * h // rows, (i + 1) * h // rows, j * w // cols, (j + 1) * w // cols
            cell = px[y0:y1, x0:x1].reshape(-1, 3)
            if cell.std(axis=0).max() <= 8 or len(np.unique(cell, axis=0)) <= 20:
                continue  # a flat colour: no basemap here
            detailed += 1
            hit = any(p[0] < x1 and p[2] > x0 and p[1] < y1 and p[3] > y0 for p in points)
            free += not hit
    return detailed, free


def assert_basemap(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    """Tiles drawn, no failed read, nothing off localhost, streets away from the data."""
    px, points = basemap_pixels(pg, name)
    h, w, _ = px.shape
    assert h > 200 and w > 300
    detailed, free = detailed_cells(px, points)
    assert detailed >= 2, f"{name}: the basemap is (nearly) a flat colour"
    assert free >= 1, f"{name}: no basemap detail away from the data"
    assert pg.archive_reads, f"{name}: the basemap archive was never read"
    assert pg.failed_tiles == [], pg.failed_tiles
    assert pg.external_requests == [], pg.external_requests


def _open(pg, user: str, link: str, heading: str) -> None:  # type: ignore[no-untyped-def]
    login(pg, user)
    pg.get_by_role("link", name=link).click()
    pg.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)


def test_accounts_page_draws_the_basemap(offline_page) -> None:
    _open(offline_page, "manager", "Accounts", "Accounts")
    assert_basemap(offline_page, "accounts")


def test_territories_page_draws_the_basemap(offline_page) -> None:
    _open(offline_page, "manager", "Territories", "Territories")
    assert_basemap(offline_page, "territories")


@pytest.mark.parametrize("label", ["Clusters", "Heat", "Hexagons", "Postcode areas", "Territories"])
def test_prospect_map_layers_draw_the_basemap(offline_page, label: str) -> None:
    _open(offline_page, "manager", "Prospect map", "Prospect map")
    if label != "Clusters":
        offline_page.get_by_text(label, exact=True).click()
        offline_page.wait_for_timeout(2500)
    assert_basemap(offline_page, f"prospect_{label.split()[0].lower()}")


def test_my_day_draws_the_basemap(offline_page) -> None:
    _open(offline_page, "rep1", "My day", "My day")
    offline_page.get_by_role("button", name="Optimise").click()
    offline_page.get_by_role("heading", name="Itinerary").wait_for(timeout=120_000)
    assert_basemap(offline_page, "my_day")


def test_the_pixel_check_can_fail() -> None:
    """A plain grey map (no tiles) has no detailed cell; detail only under data is not free."""
    flat = np.full((320, 600, 3), 221, dtype=np.uint8)
    assert detailed_cells(flat, []) == (0, 0)
    rng = np.random.default_rng(0)
    flat[:40, :50] = rng.integers(0, 255, size=(40, 50, 3))
    assert detailed_cells(flat, [[10, 10, 20, 20]]) == (1, 0)
    assert detailed_cells(flat, []) == (1, 1)


def test_map_file_shows_the_basemap_opened_from_disk(browser, tmp_path) -> None:
    """The `map` command's HTML file draws the basemap from file://, with no server at all."""
    from gcrm import maps
    from gcrm.settings import get_settings

    get_settings.cache_clear()
    page_html = maps.standalone_html(maps.base_map(center=(60.17, 24.944), zoom=16))
    path = tmp_path / "map.html"
    path.write_text(page_html, encoding="utf-8")
    context = browser.new_context(viewport={"width": 900, "height": 700})
    asked: list[str] = []
    context.route(
        re.compile(r"^(https?|wss?)://"), lambda r: (asked.append(r.request.url), r.abort())
    )
    pg = context.new_page()
    pg.goto(path.as_uri())
    pg.wait_for_selector("canvas.leaflet-tile-loaded", timeout=30_000)
    pg.wait_for_timeout(1000)
    shot = np.asarray(Image.open(io.BytesIO(pg.locator(".leaflet-container").screenshot())))
    detailed, _ = detailed_cells(shot[..., :3], [])
    context.close()
    assert detailed >= 24, f"only {detailed} of 96 cells show map detail"
    assert asked == []
