"""Browser test: rep1 plans the day, sees numbered stops on the map, downloads the GPX."""

from __future__ import annotations

from pathlib import Path

import gpxpy
import pytest

from tests.browser.conftest import SCREENSHOTS, login, map_frame

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_rep_plans_the_day(page, tmp_path: Path) -> None:
    """Optimise shows numbered stops along the street route; the GPX downloads and parses."""
    login(page, "rep1")
    page.get_by_role("link", name="My day").click()
    page.get_by_role("heading", name="My day").wait_for(timeout=30_000)
    page.get_by_role("button", name="Optimise").click()
    page.get_by_role("heading", name="Itinerary").wait_for(timeout=120_000)
    frame = map_frame(page, selector=".gcrm-stop")
    numbers = [t.strip() for t in frame.locator(".gcrm-stop").all_inner_texts()]
    assert numbers[:3] == ["1", "2", "3"]
    assert frame.locator("path.leaflet-interactive").count() >= 1  # the street route
    page.get_by_role("heading", name="Visits").scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "my_day.png"), full_page=False)
    with page.expect_download() as info:
        page.get_by_role("button", name="GPX").click()
    target = tmp_path / "route.gpx"
    info.value.save_as(target)
    gpx = gpxpy.parse(target.read_text("utf-8"))
    assert len(gpx.waypoints) >= len(numbers)
    assert gpx.tracks and gpx.tracks[0].segments[0].points
    assert page.external_requests == []
