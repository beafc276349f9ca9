"""Shared fixtures: a fresh migrated database per test (SQLite, and PostgreSQL
when ``GCRM_TEST_POSTGRES_URL`` points at a server with PostGIS), and a
session-wide demo database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gcrm.db.session import dispose_engines, upgrade_database
from gcrm.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
# "Now" on My day at a fixed time of day, so plans from "now" do not depend on the hour
# the suite runs at (a run after the shift's end would find no time left).
os.environ.setdefault("GCRM_CLOCK_TIME", "08:30")
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get("GCRM_TEST_POSTGRES_URL")


def _use(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path) -> None:
    monkeypatch.setenv("GCRM_DATABASE_URL", url)
    monkeypatch.setenv("GCRM_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> Iterator[None]:
    """Never touch the developer's data/ folder: every test gets its own data dir."""
    monkeypatch.setenv("GCRM_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("GCRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("GCRM_USER", raising=False)
    monkeypatch.delenv("GCRM_PASSWORD", raising=False)
    get_settings.cache_clear()
    dispose_engines()
    yield
    get_settings.cache_clear()
    dispose_engines()


def _fresh_postgres_database() -> tuple[str, str]:
    """Create an empty database on the test server; return (url, name)."""
    assert POSTGRES_URL is not None
    name = f"gcrm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), name


def _drop_postgres_database(name: str) -> None:
    assert POSTGRES_URL is not None
    admin = create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request, tmp_path, monkeypatch) -> Iterator[str]:
    """URL of a new, empty (un-migrated) database; the settings point at it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        _use(monkeypatch, url, tmp_path)
        yield url
        dispose_engines()
        return
    if not POSTGRES_URL:
        pytest.skip("set GCRM_TEST_POSTGRES_URL to run the PostgreSQL/PostGIS variant")
    url, name = _fresh_postgres_database()
    _use(monkeypatch, url, tmp_path)
    try:
        yield url
    finally:
        dispose_engines()
        _drop_postgres_database(name)


@pytest.fixture
def db(empty_db: str) -> str:
    """URL of a new database migrated to the newest schema; the settings point at it."""
    upgrade_database(empty_db)
    return empty_db


@pytest.fixture
def demo_db(db: str) -> str:
    """A migrated database holding the Helsinki demo."""
    from gcrm.db.session import session_scope
    from gcrm.demo import build_demo

    with session_scope() as session:
        build_demo(session)
    return db


@pytest.fixture(scope="session")
def demo_sqlite_file(tmp_path_factory) -> Path:
    """A SQLite file with the demo, built once per test run (copy it before writing)."""
    from gcrm.db.session import session_scope
    from gcrm.demo import build_demo

    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    old = os.environ.get("GCRM_DATA_DIR")
    os.environ["GCRM_DATA_DIR"] = str(folder)
    get_settings.cache_clear()
    try:
        upgrade_database(url)
        with session_scope(url) as session:
            build_demo(session)
    finally:
        dispose_engines()
        if old is None:
            os.environ.pop("GCRM_DATA_DIR", None)
        else:
            os.environ["GCRM_DATA_DIR"] = old
        get_settings.cache_clear()
    return folder / "demo.db"


@pytest.fixture
def demo_copy(demo_sqlite_file: Path, tmp_path: Path, monkeypatch) -> str:
    """A private copy of the session's demo SQLite database; settings point at it."""
    import shutil

    target = tmp_path / "demo.db"
    shutil.copy(demo_sqlite_file, target)
    url = f"sqlite:///{target}"
    _use(monkeypatch, url, tmp_path)
    return url


@pytest.fixture(scope="session")
def demo(demo_sqlite_file: Path) -> dict:
    """The demo's accounts, region and reps' homes, read once (never written)."""
    from gcrm.auth import SYSTEM
    from gcrm.db.session import session_scope
    from gcrm.store import accounts_frame, region_geometry, rep_home_bases

    with session_scope(f"sqlite:///{demo_sqlite_file}") as s:
        out = {
            "accounts": accounts_frame(s, SYSTEM),
            "region": region_geometry(s, SYSTEM),
            "homes": rep_home_bases(s, SYSTEM),
        }
    dispose_engines()
    return out


@pytest.fixture(scope="session")
def graph():  # type: ignore[no-untyped-def]
    """The bundled Helsinki drive network, built once per run (no cache file)."""
    from gcrm.network import build_network

    return build_network()
