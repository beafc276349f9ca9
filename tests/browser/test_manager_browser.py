"""Browser test: the manager switches map layers and selects an area on the map."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import MARKS, SCREENSHOTS, login, map_frame

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_manager_switches_layers_and_selects_an_area(page) -> None:
    """Heat and hexagon layers draw; a rectangle drawn on the map selects accounts."""
    login(page, "manager")
    page.get_by_role("link", name="Prospect map").click()
    page.get_by_role("heading", name="Prospect map").wait_for(timeout=30_000)
    map_frame(page)
    for label in ("Hexagons", "Heat", "Clusters"):
        page.get_by_text(label, exact=True).click()
        page.wait_for_timeout(1500)
        expect = "canvas.leaflet-heatmap-layer" if label == "Heat" else MARKS
        assert map_frame(page, selector=expect).locator(expect).count() > 0
    frame = map_frame(page)
    frame.locator(".leaflet-draw-draw-rectangle").click()
    box = frame.locator(".leaflet-container").bounding_box()  # page coordinates
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 150, cy - 120)
    page.mouse.down()
    page.mouse.move(cx + 150, cy + 120, steps=8)
    page.mouse.up()
    page.get_by_text(re.compile(r"\d+ accounts selected")).wait_for(timeout=30_000)
    text = page.get_by_text(re.compile(r"\d+ accounts selected")).inner_text()
    assert int(text.split()[0]) > 0
    assert page.external_requests == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "prospect_map.png"), full_page=False)
