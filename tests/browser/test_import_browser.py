"""Browser test: an analyst imports a CSV with bad rows and sees them reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CSV = (
    "external_id,name,street,housenumber,city,email,lat,lon\n"
    "BR1,Browser Oy,Mannerheimintie,5,Helsinki,info@browser.fi,,\n"
    "BR2,,Aleksanterinkatu,1,Helsinki,,,\n"
    "BR3,Bad Mail Oy,Bulevardi,2,Helsinki,not-an-email,,\n"
    "BR4,Far Away Oy,X,1,,,95,24\n"
)


def test_analyst_imports_and_sees_rejected_rows(page, tmp_path: Path) -> None:
    """Dry run lists every rejected row with its reason; the import then writes the good row."""
    f = tmp_path / "accounts.csv"
    f.write_text(CSV, encoding="utf-8")
    login(page, "analyst")
    page.get_by_role("link", name="Import").click()
    page.get_by_role("heading", name="Import accounts").wait_for(timeout=30_000)
    page.locator("input[type=file]").set_input_files(str(f))
    page.get_by_role("button", name="Preview (dry run)").click()
    page.get_by_text("Rejected rows (3)").wait_for(timeout=30_000)
    body = page.locator("body").inner_text()
    assert "nothing has been written" in body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "import.png"), full_page=True)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported accounts.csv").wait_for(timeout=30_000)
    assert page.external_requests == []
