"""Browser tests: the live app in headless Chromium, with no internet."""

from __future__ import annotations

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
