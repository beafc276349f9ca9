"""Issue 13 in a real browser: 6 wrong logins, then the right password, do not log in,
and the failures are in the audit log.

The test locks a user, so it runs its own server on its own copy of the demo
(the shared live app's users stay usable by the other browser tests).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.browser.conftest import ROOT, _free_port, login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def own_app(demo_sqlite_file: Path, tmp_path: Path, browser) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` on a private copy of the demo: (URL, database file)."""
    db = tmp_path / "demo.db"
    shutil.copy(demo_sqlite_file, db)
    port = _free_port()
    env = {**os.environ, "GCRM_DATABASE_URL": f"sqlite:///{db}", "GCRM_DATA_DIR": str(tmp_path),
           "GCRM_MAP_TILES": "none"}  # fmt: skip
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    with (tmp_path / "streamlit.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
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
                    pytest.fail("streamlit did not start")
                time.sleep(0.3)
            yield url, db
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_six_wrong_logins_then_the_right_one_does_not_log_in(browser, own_app) -> None:
    """In Chromium: 6 wrong passwords for rep2, then the right one: still the login form,
    the same words as for an unknown user, and 7 failures plus a lockout in the audit log."""
    url, db = own_app
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.route(
        re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"),
        lambda r: r.abort(),
    )
    page = context.new_page()
    page.base_url = url  # type: ignore[attr-defined]
    try:
        for password in ["wrong"] * 6 + ["demo"]:
            login(page, "rep2", password)
            page.get_by_text("wrong username or password").wait_for(timeout=20_000)
        assert page.get_by_role("heading", name="Accounts").count() == 0
        words = page.get_by_text("wrong username or password").inner_text()
        login(page, "nobody-here", "demo")
        page.get_by_text("wrong username or password").wait_for(timeout=20_000)
        assert page.get_by_text("wrong username or password").inner_text() == words
    finally:
        context.close()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        actions = [
            a
            for (a,) in conn.execute(
                text("select action from audit_log where username = 'rep2' order by id")
            )
        ]
    engine.dispose()
    assert actions.count("login_failed") == 7 and actions.count("lockout") == 1
