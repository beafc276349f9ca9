"""Every map the app draws has the offline basemap, its data, a legend and the OSM credit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from gcrm import maps
from gcrm.assets import use_cdn_assets
from gcrm.settings import get_settings
from tests.test_maps_layers import nasty_accounts, nasty_areas


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("GCRM_MAP_TILES", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    use_cdn_assets()


def _route() -> SimpleNamespace:
    t = dt.datetime(2026, 11, 25, 9, 0)
    stop = SimpleNamespace(lat=60.17, lon=24.94, name="Kahvila", start=t, end=t, status="planned")
    return SimpleNamespace(
        rep="rep1", date=dt.date(2026, 11, 25), stops=[stop, stop], start_lat=60.168,
        start_lon=24.93, geometry=None,
    )  # fmt: skip


def _maps() -> dict[str, object]:
    accounts = nasty_accounts()
    postcodes, territories = nasty_areas()
    out: dict[str, object] = {
        "accounts": maps.accounts_map(accounts),
        "route": maps.route_map([_route()]),
    }
    for layer in maps.LAYERS:
        out[layer] = maps.layer_map(
            accounts, layer, areas=postcodes, territories=territories, draw=True
        )
    return out


def test_every_map_has_basemap_legend_and_credit() -> None:
    for name, m in _maps().items():
        page = m.get_root().render()  # type: ignore[attr-defined]
        assert "protomapsL.leafletLayer" in page, name
        assert "gcrm-legend" in page, name
        assert maps.CREDIT in page, name
        assert "tile.openstreetmap.org" not in page, name


def test_route_legend_names_each_route() -> None:
    page = maps.route_map([_route()]).get_root().render()
    assert "rep1 2026-11-25: 2 stops" in page
