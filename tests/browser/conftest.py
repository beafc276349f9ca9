"""A live ``streamlit run`` of the app on a free local port, and headless Chromium.

The server runs on a copy of the demo database. Requests that leave the machine
are recorded (and aborted), so tests can assert the app works with no internet.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where everything must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"browser test prerequisites missing in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_app(demo_sqlite_file: Path, tmp_path_factory) -> Iterator[str]:
    """Start ``streamlit run app.py`` against a copy of the demo; yield its URL."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not installed (Debian package 'chromium')")
    pytest.importorskip("playwright")
    from gcrm.assets import is_vendored

    if not is_vendored():
        _unavailable("map assets not vendored: run `python -m gcrm assets`")
    folder = tmp_path_factory.mktemp("live")
    db = folder / "demo.db"
    shutil.copy(demo_sqlite_file, db)
    port = _free_port()
    env = {
        **os.environ,
        "GCRM_DATABASE_URL": f"sqlite:///{db}",
        "GCRM_DATA_DIR": str(folder),
        "GCRM_CLOCK_TIME": "08:30",  # "now" on My day: the same day plan at any hour
    }
    log = (folder / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("streamlit did not start:\n" + (folder / "streamlit.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not installed (Debian package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, live_app: str) -> Iterator[object]:
    """A fresh browser page; ``page.external_requests`` lists requests that left localhost."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    external: list[str] = []

    def route(r) -> None:  # type: ignore[no-untyped-def]
        u = r.request.url
        if u.startswith(
            ("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "data:", "blob:", "about:")
        ):
            r.continue_()
        else:
            external.append(u)
            r.abort()

    context.route("**/*", route)
    pg.external_requests = external  # type: ignore[attr-defined]
    pg.base_url = live_app  # type: ignore[attr-defined]
    yield pg
    context.close()


def login(pg, username: str, password: str = "demo") -> None:  # type: ignore[no-untyped-def]
    """Log in through the form (labels Username/Password, button Log in)."""
    pg.goto(pg.base_url)
    pg.get_by_label("Username", exact=True).fill(username)
    pg.get_by_label("Password", exact=True).fill(password)
    pg.get_by_role("button", name="Log in").click()


MARKS = ".leaflet-marker-icon, path.leaflet-interactive, .marker-cluster"


def map_frame(pg, timeout_s: float = 30, selector: str = MARKS):  # type: ignore[no-untyped-def]
    """Return the streamlit-folium iframe once Leaflet has drawn ``selector`` in it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in pg.frames:
            if "component" in frame.url or "streamlit_folium" in frame.url:
                try:
                    drawn = frame.locator(selector).count()
                except Exception as exc:  # the page replaced this map while it was read
                    if "detached" not in str(exc):
                        raise
                    continue
                if drawn:
                    return frame
        pg.wait_for_timeout(300)
    msg = f"no map showing {selector!r} appeared; frames: {[f.url for f in pg.frames]}"
    raise AssertionError(msg)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Retry a failed browser test twice before it counts (pytest-rerunfailures).

    These tests drive a live server and Chromium on a shared 2-core machine, where
    a page can miss a time-out under load; the assertions themselves are unchanged,
    and a real failure fails all three runs.
    """
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=2))


@contextlib.contextmanager
def serve_app(db: Path, folder: Path, *, port: int | None = None, **env: str) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a database file with extra ``GCRM_*`` settings.

    For tests that need their own server (they write to it, or need other
    settings than :func:`live_app`'s). Yields the URL; stops the server after.
    """
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "GCRM_DATABASE_URL": f"sqlite:///{db}",
                "GCRM_DATA_DIR": str(folder), **env}  # fmt: skip
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    with (folder / "streamlit.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "streamlit did not start:\n" + (folder / "streamlit.log").read_text()
                    )
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
