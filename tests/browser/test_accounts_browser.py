"""Browser tests: the live app in headless Chromium, with no internet."""

from __future__ import annotations

import math
import re
import time

import pytest

from tests.browser.conftest import SCREENSHOTS, login, map_frame

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_map_shows_markers_offline(page) -> None:
    """As rep1 the accounts map draws markers, the OSM credit shows, and nothing is
    fetched from outside the machine (every Leaflet/jQuery/Bootstrap file is local)."""
    login(page, "rep1")
    page.get_by_role("heading", name="My day").wait_for(timeout=30_000)  # a rep's first page
    page.get_by_role("link", name="Accounts").click()
    page.get_by_role("heading", name="Accounts").wait_for(timeout=30_000)
    frame = map_frame(page)
    assert (
        frame.locator(".marker-cluster, .leaflet-marker-icon, path.leaflet-interactive").count() > 0
    )
    assert (
        "OpenStreetMap contributors" in frame.locator(".leaflet-control-attribution").inner_text()
    )
    assert page.external_requests == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "accounts.png"))


def test_wrong_password_is_refused(page) -> None:
    """A wrong password shows an error and no data."""
    login(page, "rep1", "wrong")
    page.get_by_text("wrong username or password").wait_for(timeout=20_000)
    assert page.get_by_role("heading", name="Accounts").count() == 0


# Centre of every cluster count label and of every circle in the map iframe, in pixels.
_CENTRES_JS = """() => {
    const centre = (e) => {
        const b = e.getBoundingClientRect();
        return [b.x + b.width / 2, b.y + b.height / 2];
    };
    const labels = [...document.querySelectorAll(".gcrm-cluster-count")]
        .filter((e) => e.textContent.trim() !== "")
        .map((e) => [e.textContent.trim(), ...centre(e)]);
    const circles = [...document.querySelectorAll("path.leaflet-interactive")].map(centre);
    return {labels, circles};
}"""


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)])
def test_cluster_counts_sit_on_their_circles(browser, live_app: str, width, height) -> None:
    """The manager's Accounts map (1,406 accounts: server clusters) draws each group's
    count centred on its circle, after the component iframe has resized and refitted,
    on a laptop and at phone width (the counts once sat half the map's width off)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), lambda r: r.abort())
    pg = context.new_page()
    pg.base_url = live_app  # type: ignore[attr-defined]
    try:
        login(pg, "manager")  # a manager lands on Accounts
        pg.get_by_role("heading", name="Accounts").wait_for(timeout=30_000)
        frame = map_frame(pg, selector=".gcrm-cluster-count")
        deadline = time.monotonic() + 10
        while True:  # the iframe resizes and the view refits (and may animate) after load
            drawn = frame.evaluate(_CENTRES_JS)
            labels, circles = drawn["labels"], drawn["circles"]
            off = [
                (text, x, y, min(math.hypot(x - cx, y - cy) for cx, cy in circles))
                for text, x, y in labels
            ]
            far = [o for o in off if o[3] > 3]
            if (labels and not far) or time.monotonic() > deadline:
                break
            pg.wait_for_timeout(300)
        assert len(labels) > 1, drawn
        assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", t) for t, *_ in labels), labels
        assert sum(int(t.replace(",", "")) for t, *_ in labels) > 1_000  # the demo's groups
        assert not far, f"{len(far)} of {len(labels)} counts off their circle: {far[:5]}"
        assert len(circles) >= len(labels)
        # The count lets clicks through: clicking it zooms in on its group (two levels).
        zoom_js = "() => window[Object.keys(window).find((k) => k.startsWith('map_'))].getZoom()"
        before = frame.evaluate(zoom_js)
        iframe = frame.frame_element()
        iframe.scroll_into_view_if_needed()
        size = frame.evaluate("() => [innerWidth, innerHeight]")
        _, x, y = min(labels, key=lambda t: math.hypot(t[1] - size[0] / 2, t[2] - size[1] / 2))
        box = iframe.bounding_box()
        pg.mouse.click(box["x"] + x, box["y"] + y)
        frame.wait_for_function(f"() => ({zoom_js})() === {before + 2}", timeout=10_000)
    finally:
        context.close()
