"""Every page opens at 100,000 and 1,000,000 accounts, and maps carry at most 5,000 features.

The store is the Helsinki demo plus synthetic accounts shaped like it
(:func:`gcrm.db.synthetic.add_synthetic_accounts`), built once per run: 100,000
on SQLite, and 100,000 and 1,000,000 on PostGIS when ``GCRM_TEST_POSTGRES_URL``
is set (PostgreSQL loads them with ``COPY``: the million in about a minute, so
it runs in CI). Timings are for ``benchmarks/scale_bench.py``, not here.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db.session import dispose_engines, session_scope, upgrade_database
from gcrm.db.synthetic import add_synthetic_accounts
from gcrm.demo import build_demo
from gcrm.maps import LAYERS
from gcrm.settings import get_settings
from gcrm.viewport import MAX_FEATURES, count_features
from tests.conftest import POSTGRES_URL, _drop_postgres_database, _fresh_postgres_database, _use

APP = str(Path(__file__).resolve().parents[2] / "app.py")
N = 100_000
MILLION = 1_000_000

PAGES = (
    "views/accounts.py",
    "views/prospect_map.py",
    "views/territories.py",
    "views/reports.py",
    "views/profile.py",
)


def _build(url: str, folder: Path, n: int = N) -> None:
    old = os.environ.get("GCRM_DATA_DIR")
    os.environ["GCRM_DATA_DIR"] = str(folder)
    get_settings.cache_clear()
    try:
        upgrade_database(url)
        with session_scope(url) as session:
            build_demo(session)
        with session_scope(url) as session:
            add_synthetic_accounts(session, n)
    finally:
        dispose_engines()
        if old is None:
            os.environ.pop("GCRM_DATA_DIR", None)
        else:
            os.environ["GCRM_DATA_DIR"] = old
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def big_sqlite_file(tmp_path_factory) -> Path:
    """A SQLite file with the demo and 100,000 more accounts, built once per run."""
    folder = tmp_path_factory.mktemp("big")
    _build(f"sqlite:///{folder / 'big.db'}", folder)
    return folder / "big.db"


def _postgres_store(folder: Path, n: int) -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("set GCRM_TEST_POSTGRES_URL to run the PostgreSQL/PostGIS variant")
    url, name = _fresh_postgres_database()
    _build(url, folder, n)
    yield url
    dispose_engines()
    _drop_postgres_database(name)


@pytest.fixture(scope="session")
def big_postgres(tmp_path_factory) -> Iterator[str]:
    """A PostGIS database with the demo and 100,000 more accounts, built once per run."""
    yield from _postgres_store(tmp_path_factory.mktemp("bigpg"), N)


@pytest.fixture(scope="session")
def million_postgres(tmp_path_factory) -> Iterator[str]:
    """A PostGIS database with the demo and 1,000,000 more accounts, built once per run."""
    yield from _postgres_store(tmp_path_factory.mktemp("millionpg"), MILLION)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-1m", marks=pytest.mark.postgres),
    ]
)
def big(request, tmp_path, monkeypatch) -> int:
    """The settings point at a large store; returns how many accounts were added."""
    size = N
    if request.param == "sqlite":
        target = tmp_path / "big.db"
        shutil.copy(request.getfixturevalue("big_sqlite_file"), target)
        url = f"sqlite:///{target}"
    elif request.param == "postgres":
        url = request.getfixturevalue("big_postgres")
    else:
        url, size = request.getfixturevalue("million_postgres"), MILLION
    _use(monkeypatch, url, tmp_path)
    return size


def _maps(at: AppTest) -> list[str]:
    """The scripts of the folium maps on the page (streamlit-folium components)."""
    out = []
    for element in at.get("component_instance"):
        args = json.loads(element.proto.json_args or "{}")
        if "script" in args:
            out.append(str(args["script"]))
    return out


def _open(username: str, page: str) -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page(page).run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_when_large(big: int, page: str) -> None:
    """The manager's pages open without an exception or error; each map is small."""
    at = _open("manager", page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    for script in _maps(at):
        assert count_features(script) <= MAX_FEATURES, page


def test_prospect_map_every_layer_when_large(big: int) -> None:
    """Every layer of the Prospect map draws (no "too many"), under 5,000 features."""
    at = _open("manager", "views/prospect_map.py")
    # The count comes from the database: 101,4xx or 1,001,4xx (the demo adds about 1,400).
    assert f"{(big + 1000) // 1000:,}," in at.caption[0].value, at.caption[0].value
    for layer in LAYERS:
        at.radio(key="pm_layer").set_value(layer).run()
        assert not at.exception, layer
        assert not at.error, (layer, [e.value for e in at.error])
        (script,) = _maps(at)
        assert 0 < count_features(script) <= MAX_FEATURES, layer


def test_territories_draw_tab_when_large(big: int) -> None:
    """The Territories page (draw tab included) no longer stops above 20,000 accounts."""
    at = _open("manager", "views/territories.py")
    assert not at.exception, at.exception
    counts = at.dataframe[0].value["accounts"]
    assert counts.sum() > big
    assert len(_maps(at)) == 2  # the territory map and the drawing map


def test_accounts_page_is_paged_when_large(big: int) -> None:
    """Accounts counts in the database, shows one page of rows and clusters on the map."""
    at = _open("manager", "views/accounts.py")
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Accounts"]) > big
    first = at.dataframe[0].value
    assert len(first) == 200
    at.number_input(key="acc_page").set_value(3).run()
    third = at.dataframe[0].value
    assert len(third) == 200 and set(third["name"]).isdisjoint(first["name"])
    (script,) = _maps(at)
    assert 0 < count_features(script) <= MAX_FEATURES
    at.text_input(key="acc_text").set_value("Synthetic account 0005000").run()
    assert int({m.label: m.value for m in at.metric}["Accounts"]) == 1


def test_reports_page_counts_every_account_when_large(big: int) -> None:
    """Reports counts the whole store in the database and says white space is left out."""
    at = _open("manager", "views/reports.py")
    assert not at.exception, at.exception
    summary = at.dataframe[0].value.set_index("Territory")
    assert summary.loc["Region (all)", "Accounts"] > big
    # the region is the sum of its territories (and of the accounts in none)
    assert (
        summary.drop(index="Region (all)")["Accounts"].sum()
        == summary.loc["Region (all)", "Accounts"]
    )
    assert any("White space is left out" in c.value for c in at.caption)
    reps = at.dataframe[1].value
    assert reps["accounts"].sum() > big // 2
