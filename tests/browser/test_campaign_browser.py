"""Issue 18 in a real browser: a manager lassoes an area on the Prospect map, creates a
campaign from it, previews its members, sends it (to a local SMTP server), logs a
response and sees it on the response map; each step shows its result without a reload.

The test writes campaigns and sends mail, so it runs its own server on its own copy of
the demo, with SMTP pointed at an in-process ``aiosmtpd`` on a free port.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import pytest
import shapely
from sqlalchemy import create_engine, text

from tests._campaign_world import SmtpServer
from tests.browser.conftest import SCREENSHOTS, _free_port, login, map_frame, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PlaywrightError = pytest.importorskip("playwright.sync_api").Error

NAME = "Lasso <spring> offer"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def _give_some_accounts_mail(db: Path) -> None:
    """The demo keeps e-mail on contact persons; give every third account its own too."""
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            text("update accounts set email = 'acc' || id || '@example.com' where id % 3 = 0")
        )
    engine.dispose()


@pytest.fixture
def campaign_app(
    demo_sqlite_file: Path, tmp_path: Path, smtp: SmtpServer
) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` on a private copy of the demo, mailing to ``smtp``."""
    db = tmp_path / "demo.db"
    shutil.copy(demo_sqlite_file, db)
    _give_some_accounts_mail(db)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_app(db, tmp_path, port=port, GCRM_SMTP_HOST="127.0.0.1",
                   GCRM_SMTP_PORT=str(smtp.port), GCRM_PUBLIC_URL=url,
                   GCRM_CLOCK_TIME="08:30") as served:  # fmt: skip
        yield served, db


@pytest.fixture
def offline_page(browser, campaign_app) -> Iterator[Any]:
    """A page on the campaign app; requests that leave localhost are aborted and listed."""
    url, _ = campaign_app
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    external: list[str] = []

    def block(r) -> None:  # type: ignore[no-untyped-def]
        external.append(r.request.url)
        r.abort()

    context.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), block)
    page = context.new_page()
    page.base_url = url  # type: ignore[attr-defined]
    page.external_requests = external  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def _query(db: Path, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = list(conn.execute(text(sql), params))
    engine.dispose()
    return rows


def _expected_recipients(db: Path, area: Any) -> set[str]:
    """E-mail addresses the campaign must reach, computed here from the database.

    The manager's accounts (read through the store, which owns the scope rule)
    inside the drawn polygon (tested in Web Mercator, as Leaflet draws it), not
    do-not-contact or erased; then the account's own address if it consented,
    and each contact person's address if that person consented and is not
    do-not-contact.
    """
    from gcrm.auth import actor_for
    from gcrm.db.session import dispose_engines, session_scope
    from gcrm.store import accounts_frame

    url = f"sqlite:///{db}"
    with session_scope(url) as s:
        scoped = accounts_frame(s, actor_for(s, "manager"))
    dispose_engines()
    features = area if isinstance(area, list) else [area]
    polys = [shapely.geometry.shape(f.get("geometry", f)) for f in features]
    shape = gpd.GeoSeries(polys, crs="EPSG:4326").to_crs(3857).union_all()
    located = scoped[scoped["lat"].notna()]
    pts = gpd.GeoSeries(gpd.points_from_xy(located["lon"], located["lat"]), crs="EPSG:4326").to_crs(
        3857
    )
    inside = {int(i) for i, p in zip(located["id"], pts, strict=True) if shape.covers(p)}
    assert inside, "the drawn polygon holds none of the manager's accounts"
    accounts = _query(
        db,
        "select id, email, marketing_consent, do_not_contact, erased_at from accounts",
    )
    reachable = {a.id for a in accounts if a.id in inside and not a.do_not_contact}
    reachable -= {a.id for a in accounts if a.erased_at is not None}
    out = {a.email for a in accounts if a.id in reachable and a.marketing_consent and a.email}
    contacts = _query(
        db, "select account_id, email, marketing_consent, do_not_contact, erased_at from contacts"
    )
    out |= {
        c.email
        for c in contacts
        if c.account_id in reachable
        and c.marketing_consent
        and not c.do_not_contact
        and c.erased_at is None
        and c.email
    }
    return out


def _draw_polygon(page: Any) -> None:
    """Draw a five-corner polygon by mouse with leaflet-draw's polygon tool.

    Each click must leave a vertex marker before the next (a busy machine can
    merge two quick clicks into a double click, which ends the shape early).
    """
    frame = map_frame(page)
    frame.locator(".leaflet-draw-draw-polygon").click()
    frame.locator(".leaflet-draw-actions").first.wait_for(timeout=10_000)
    box = frame.locator(".leaflet-container").bounding_box()  # page coordinates
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-170, -110), (60, -150), (190, -10), (90, 140), (-150, 120)]
    vertices = frame.locator(".leaflet-editing-icon")
    for n, (dx, dy) in enumerate(corners, start=1):
        page.mouse.move(cx + dx, cy + dy, steps=4)
        page.mouse.down()
        page.mouse.up()
        deadline = time.monotonic() + 10
        while vertices.count() < n and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert vertices.count() == n, f"corner {n} was not drawn"
        page.wait_for_timeout(400)
    frame.get_by_role("link", name="Finish").click()  # leaflet-draw's own "Finish"


def test_manager_lassoes_creates_previews_sends_logs_and_sees_the_response_map(
    offline_page: Any, campaign_app: tuple[str, Path], smtp: SmtpServer
) -> None:
    """From a polygon drawn by mouse to a response on the map, all in one session."""
    page = offline_page
    _, db = campaign_app
    login(page, "manager")
    page.get_by_role("link", name="Prospect map").click()
    page.get_by_role("heading", name="Prospect map").wait_for(timeout=30_000)
    _draw_polygon(page)
    selected = page.get_by_text(re.compile(r"\d+ accounts selected"))
    selected.wait_for(timeout=60_000)
    assert int(selected.inner_text().split()[0]) > 0

    # create: the drawn area is offered (and ticked) on the Campaigns page
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("heading", name="Campaigns").wait_for(timeout=30_000)
    area_box = page.get_by_text(re.compile(r"Only the area drawn on the Prospect map \(1 shape"))
    area_box.wait_for(timeout=30_000)
    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_role("button", name="Create").click()
    page.get_by_text(f"Campaign {NAME!r} created").wait_for(timeout=30_000)
    (seg,) = _query(db, "select definition from segments")
    area = json.loads(seg.definition)["area"]
    assert area and area[0]["geometry"]["type"] == "Polygon"
    want = _expected_recipients(db, area)

    # preview: the member count is what the database holds inside the polygon
    page.get_by_role("button", name="Preview").click()
    shown = page.get_by_text(re.compile(r"^email: \d+ recipients"))
    shown.wait_for(timeout=60_000)
    assert int(shown.inner_text().split()[1]) == len(want)
    assert page.get_by_text(re.compile(r"^To: ")).count() > 0

    # send: every expected address gets one message, with its unsubscribe link
    page.get_by_role("button", name="Send / launch").click()
    page.get_by_text(re.compile(rf"Sent {len(want)} e-mail")).wait_for(timeout=60_000)
    got = [r for m in smtp.received for r in m.recipients]
    assert sorted(got) == sorted(want)
    assert all("?unsubscribe=" in m.part("plain") for m in smtp.received)

    # log a response for one of the members: the report and the map show it at once
    (member,) = _query(
        db,
        "select min(account_id) as id from campaign_outbox where status = 'sent'",
    )
    page.get_by_label("Account id").fill(str(member.id))
    page.get_by_label("Account id").press("Tab")
    page.get_by_role("button", name="Log").click()
    page.get_by_text("Response logged.").wait_for(timeout=30_000)
    cells = _query(db, "select count(*) as n from campaign_responses")
    assert cells[0].n == 1
    ((lat, lon),) = _query(db, "select lat, lon from accounts where id = :i", i=member.id)
    cell = h3.latlng_to_cell(lat, lon, 8)
    tips = _response_map_tooltips(page, until=lambda t: t.startswith(f"{cell}: 1/"))
    answered = [t for t in tips if re.search(r": 1/\d+ responded", t)]
    assert len(answered) == 1 and answered[0].startswith(cell), tips
    assert page.external_requests == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "campaign.png"), full_page=True)

    # a recipient follows the unsubscribe link of their e-mail: no login, consent off
    mail = smtp.received[-1]
    link = re.search(r"Unsubscribe: (\S+)", mail.part("plain"))
    assert link and link.group(1).startswith(page.base_url + "/?unsubscribe=")
    other = page.context.browser.new_context()
    other.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), lambda r: r.abort())
    try:
        reader = other.new_page()
        reader.goto(link.group(1))
        reader.get_by_text("You are unsubscribed.").wait_for(timeout=30_000)
        assert reader.get_by_label("Username", exact=True).count() == 0
    finally:
        other.close()
    consent = _query(
        db,
        "select count(*) as n from audit_log where username = 'unsubscribe' and action = 'consent'",
    )
    assert consent[0].n == 1


def _response_map_tooltips(page: Any, *, until: Any, timeout_s: float = 90) -> list[str]:
    """Hover every hexagon of the response map; return the tooltips shown.

    The page redraws the map after a logged response (a new map replaces the
    old one): read the map again until a tooltip satisfies ``until`` or the
    time is up (then the last reading is returned, and the caller's assertion
    fails with it).
    """
    deadline = time.monotonic() + timeout_s
    tips: list[str] = []
    while time.monotonic() < deadline:
        try:
            frame = map_frame(page, timeout_s=30, selector="path.leaflet-interactive")
            paths = frame.locator("path.leaflet-interactive")
            tips = []
            for i in range(paths.count()):
                paths.nth(i).hover(force=True, timeout=5_000)
                tip = frame.locator(".leaflet-tooltip")
                tip.last.wait_for(timeout=5_000)
                tips.append(tip.last.inner_text())
                page.mouse.move(0, 0)
        except PlaywrightError:  # the map was replaced while being read
            tips = []
        if any(until(t) for t in tips):
            return tips
        page.wait_for_timeout(1_000)
    return tips
