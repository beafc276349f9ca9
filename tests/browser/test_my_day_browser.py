"""Browser acceptance of My day at phone (390x844) and laptop (1400x900) size.

rep1 logs in and lands on My day with the suggested visits on the map; Optimise
draws the route with the whole route inside the map's view; Navigate links
point at the stops; Check in with a mocked device position is stored with its
distance; moving a stop recomputes the times; every action shows its result in
the page without a reload; the GPX download is audited. Nothing leaves the
machine.
"""

from __future__ import annotations

import html
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import gpxpy
import pytest

from tests.browser.conftest import SCREENSHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPORTS = "select count(*) from audit_log where action = 'export'"
EXTERNAL = re.compile(r"^(https?|wss?)://(?!(127\.0\.0\.1|localhost)[:/])")


@pytest.fixture
def live_db(live_app: str, tmp_path_factory) -> Path:
    """The SQLite file the live server writes (made by the ``live_app`` fixture)."""
    found = sorted(tmp_path_factory.getbasetemp().glob("live*/demo.db"))
    assert found, "the live server's database was not found"
    return found[-1]


def _context(browser, live_app: str, width: int, height: int, position: tuple[float, float]):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        geolocation={"latitude": position[0], "longitude": position[1], "accuracy": 12},
        permissions=["geolocation"],
    )
    external: list[str] = []

    def block(route) -> None:  # type: ignore[no-untyped-def]
        external.append(route.request.url)
        route.abort()

    context.route(EXTERNAL, block)
    page = context.new_page()
    page.base_url = live_app
    page.external_requests = external
    return context, page


def map_frame(page, *, selector: str, timeout_s: float = 60):  # type: ignore[no-untyped-def]
    """The map's iframe once Leaflet drew ``selector`` (frames may detach meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "streamlit_folium" not in frame.url and "st_folium" not in frame.url:
                continue
            try:
                if frame.locator(selector).count():
                    return frame
            except Exception:  # detached while the page redrew: look again
                continue
        page.wait_for_timeout(300)
    msg = f"no map showing {selector!r}; frames: {[f.url for f in page.frames]}"
    raise AssertionError(msg)


def _first_stop(db: Path) -> tuple[int, float, float, str]:
    """The first stop of rep1's latest saved plan: account id, lat, lon, name."""
    import json

    with sqlite3.connect(db) as con:
        (route_json,) = con.execute(
            "select route_json from saved_plans sp join users u on u.id = sp.rep_id "
            "where u.username = 'rep1' order by sp.created_at desc, sp.id desc limit 1"
        ).fetchone()
    stop = json.loads(route_json)["stops"][0]
    return int(stop["account_id"]), float(stop["lat"]), float(stop["lon"]), stop["name"]


def _inside(frame, selector: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """How many of the elements are fully inside the map's box, and how many there are."""
    box = frame.locator(".leaflet-container").first.bounding_box()
    inside = 0
    boxes = [el.bounding_box() for el in frame.locator(selector).all()]
    for b in boxes:
        if (
            b is not None
            and b["x"] >= box["x"] - 1
            and b["y"] >= box["y"] - 1
            and b["x"] + b["width"] <= box["x"] + box["width"] + 1
            and b["y"] + b["height"] <= box["y"] + box["height"] + 1
        ):
            inside += 1
    return inside, len(boxes)


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app is not running its script (its buttons are current)."""
    page.wait_for_timeout(2500)  # a rerun may start a moment after the last result showed
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=120_000)


def _download(page, label: str, target: Path) -> str:  # type: ignore[no-untyped-def]
    _idle(page)
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name=label).click()
    info.value.save_as(target)
    return target.read_text("utf-8")


def _cards(page):  # type: ignore[no-untyped-def]
    return page.locator("[class*='st-key-md_stop_']")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1400, 900)])
def test_my_day_in_the_field(
    browser, live_app: str, live_db: Path, width: int, height: int, tmp_path: Path
) -> None:
    """The whole day at one screen size (see the module docstring)."""
    context, page = _context(browser, live_app, width, height, (60.1699, 24.9384))
    loads: list[str] = []
    logs: list[str] = []
    page.on("console", lambda m: logs.append(m.text))
    page.on("request", lambda r: logs.append("REQ " + r.url) if "/media/" in r.url else None)
    page.on("load", lambda: loads.append(page.url))
    try:
        login(page, "rep1")
        page.get_by_role("heading", name="My day").wait_for(timeout=60_000)
        frame = map_frame(page, selector=".gcrm-suggested", timeout_s=60)
        suggested = frame.locator(".gcrm-suggested").count()
        assert suggested >= 3
        page.wait_for_timeout(600)
        inside, total = _inside(frame, ".gcrm-suggested")
        assert inside == total, f"{total - inside} suggested visits outside the map"

        page.get_by_role("button", name="Optimise").click()
        page.get_by_role("heading", name="Itinerary").wait_for(timeout=120_000)
        frame = map_frame(page, selector=".gcrm-stop", timeout_s=60)
        page.wait_for_timeout(800)  # the view refits after the iframe's last resize
        inside, total = _inside(frame, ".gcrm-stop")
        assert total >= 3 and inside == total, f"{total - inside} of {total} stops outside"
        inside, total = _inside(frame, "path.leaflet-interactive")
        assert total >= 1 and inside == total, "the street route leaves the map's view"
        if width < 500:
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width + 1, f"page is {overflow} px wide at {width} px"

        # Navigate points at the stop (the first card is the first stop).
        aid, lat, lon, name = _first_stop(live_db)
        card = _cards(page).first
        assert name in card.inner_text()
        href = card.get_by_role("link", name="Navigate").get_attribute("href")
        dest = parse_qs(urlparse(href).query)["destination"][0]
        assert dest == f"{lat:.6f},{lon:.6f}"

        # Check in with a mocked position about 110 m north of the stop.
        context.set_geolocation({"latitude": lat + 0.001, "longitude": lon, "accuracy": 12})
        geo = card.locator("iframe").first
        geo.wait_for(timeout=30_000)
        geo.content_frame.get_by_role("button", name="Check in").click()
        page.get_by_text(re.compile(r"Checked in at .*: \d+ m from the account")).wait_for(
            timeout=30_000
        )
        with sqlite3.connect(live_db) as con:
            row = con.execute(
                "select lat, lon, accuracy_m, distance_m, far from visit_checkins "
                "where account_id = ? order by id desc limit 1",
                (aid,),
            ).fetchone()
        assert row is not None
        assert row[0] == pytest.approx(lat + 0.001) and row[1] == pytest.approx(lon)
        assert row[2] == pytest.approx(12) and 95 < row[3] < 125 and row[4] == 0

        # The printable itinerary is made from the plan as it is when tapped (audited).
        with sqlite3.connect(live_db) as con:
            exports = con.execute(EXPORTS).fetchone()[0]
        before_move = _download(page, "Itinerary (HTML)", tmp_path / "before.html")

        # Move the first stop down: the order and the times change at once.
        def title(i: int) -> tuple[str, str]:
            number_time, stop_name = _cards(page).nth(i).inner_text().split("\n")[0].split(" · ", 1)
            return number_time, stop_name

        (_, name0), (t1, name1) = title(0), title(1)
        card.get_by_role("button", name="↓").click()
        page.get_by_text("times recomputed").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        (n0, new0), (_, new1) = title(0), title(1)
        assert (new0, new1) == (name1, name0)
        assert n0.split(". ", 1)[1] != t1.split(". ", 1)[1]  # its time was recomputed

        after_move = _download(page, "Itinerary (HTML)", tmp_path / "after.html")
        assert after_move != before_move
        first_row = after_move.split("<tr class='stop'>", 1)[1]
        assert html.escape(new0.split(" · ")[-1]) in first_row.split("</tr>", 1)[0]

        # Re-plan from the device position (mocked) and the current time.
        context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 20})
        replan = page.locator("[class*='st-key-md_replan'] iframe").first
        replan.wait_for(timeout=30_000)
        replan.content_frame.get_by_role("button", name="Re-plan from my position").click()
        page.get_by_text(re.compile(r"Re-planned from your position at \d\d:\d\d")).wait_for(
            timeout=120_000
        )
        after_replan = _download(page, "Itinerary (HTML)", tmp_path / "replanned.html")
        assert after_replan != after_move and "re-planned at" in after_replan

        gpx = gpxpy.parse(_download(page, "GPX", tmp_path / "route.gpx"))
        assert gpx.waypoints and all(w.time.utcoffset().total_seconds() == 0 for w in gpx.waypoints)
        page.wait_for_timeout(1000)
        with sqlite3.connect(live_db) as con:
            assert con.execute(EXPORTS).fetchone()[0] == exports + 4

        assert len(loads) == 1, f"the page reloaded: {loads}"  # every result came in place
        assert page.external_requests == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = "my_day.png" if width > 1000 else "my_day_phone.png"
        page.get_by_role("heading", name="Itinerary").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / shot), full_page=False)
    except Exception:
        print("\n".join(x for x in logs[-40:] if "Unrecognized" not in x))
        raise
    finally:
        context.close()
