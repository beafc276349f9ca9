"""Tests of gcrm.maps: the folium map builders, rendered to HTML."""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from gcrm import maps
from gcrm._errors import InputError
from gcrm.assets import DEFAULT_BASE_URL, use_cdn_assets
from gcrm.settings import get_settings
from gcrm.store import ACCOUNT_COLUMNS

NASTY = "<script>alert(1)</script>"
NASTY_JS = 'O\'Neil "&" `${alert(2)}` \\u0041 </div>'
_ASSET_TAG = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']([^\"']+)[\"']", re.I)


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Default map settings; folium's class-level URLs restored afterwards."""
    monkeypatch.delenv("GCRM_MAP_ASSETS", raising=False)
    monkeypatch.delenv("GCRM_MAP_TILES", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    use_cdn_assets()


def use(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(f"GCRM_{key.upper()}", value)
    get_settings.cache_clear()


def accounts(rows: list[dict], crs: str | int = 4326) -> gpd.GeoDataFrame:
    """An accounts frame shaped like gcrm.store.accounts_frame's."""
    base = dict.fromkeys(ACCOUNT_COLUMNS)
    records = [{**base, **{k: v for k, v in r.items() if k != "geometry"}} for r in rows]
    geometry = [r.get("geometry") for r in rows]
    return gpd.GeoDataFrame(records, columns=list(ACCOUNT_COLUMNS), geometry=geometry, crs=crs)


def sample() -> gpd.GeoDataFrame:
    return accounts(
        [
            {
                "id": 1,
                "name": "Kahvila Oy",
                "kind": "customer",
                "stage": "won",
                "segment": "horeca",
                "owner": "alice",
                "territory": "Centre",
                "potential_value": 12345.6,
                "last_visit": dt.date(2026, 10, 1),
                "street": "Aleksanterinkatu",
                "housenumber": "5",
                "postcode": "00100",
                "city": "Helsinki",
                "geometry": Point(24.95, 60.169),
            },
            {
                "id": 2,
                "name": "Kirja Ab",
                "kind": "lead",
                "potential_value": np.nan,
                "geometry": Point(24.94, 60.171),
            },
            {"id": 3, "name": "Nowhere", "kind": "prospect", "geometry": None},
        ]
    )


def render(m) -> str:
    return m.get_root().render()


def test_default_map_draws_the_offline_basemap() -> None:
    """The default map draws the region's own vector basemap, not an online tile server."""
    page = render(maps.base_map())
    assert "protomapsL.leafletLayer" in page and ".pmtiles" in page
    assert "tile.openstreetmap.org" not in page
    assert maps.CREDIT in page


def test_credit_with_openstreetmap_tiles(monkeypatch) -> None:
    """Online OSM tiles stay a setting: attributed, and the credit in the HTML."""
    use(monkeypatch, map_tiles="openstreetmap")
    page = render(maps.base_map())
    assert "tile.openstreetmap.org" in page
    assert maps.CREDIT in page
    assert re.sub(r"<[^>]+>", "", maps.CREDIT) == "© OpenStreetMap contributors"


def test_credit_and_max_zoom_without_tiles(monkeypatch) -> None:
    """tiles=none: no tile layer, but a maxZoom (MarkerCluster needs it) and the credit."""
    use(monkeypatch, map_tiles="none")
    m = maps.base_map()
    page = render(m)
    assert "L.tileLayer" not in page
    assert m.options["maxZoom"] == maps.MAX_ZOOM
    assert '"maxZoom": 19' in page
    assert "attributionControl.addAttribution" in page
    assert maps.CREDIT in page


def test_tile_url_template(monkeypatch) -> None:
    m = maps.base_map(tiles="/app/static/tiles/{z}/{x}/{y}.png", attribution="My tiles")
    page = render(m)
    assert "/app/static/tiles/{z}/{x}/{y}.png" in page and "My tiles" in page
    assert maps.CREDIT in page


@pytest.mark.parametrize("tiles", ["satellite", "https://example.org/tiles.png", "{z}/{x}/{y}"])
def test_bad_tiles_are_rejected(tiles: str) -> None:
    with pytest.raises(InputError, match="tile URL template"):
        maps.base_map(tiles=tiles)


def test_local_assets_by_default() -> None:
    """GCRM_MAP_ASSETS=local (default): no script or stylesheet from outside."""
    urls = _ASSET_TAG.findall(render(maps.accounts_map(sample())))
    assert urls
    assert all(u.startswith(DEFAULT_BASE_URL + "/") for u in urls), urls


def test_cdn_assets_setting(monkeypatch) -> None:
    """GCRM_MAP_ASSETS=cdn leaves folium's CDN URLs, even after a local map."""
    maps.base_map()
    use(monkeypatch, map_assets="cdn")
    urls = _ASSET_TAG.findall(render(maps.accounts_map(sample())))
    assert all(u.startswith("https://") for u in urls)


def test_accounts_map_markers_popups_and_legend() -> None:
    page = render(maps.accounts_map(sample()))
    assert "L.markerClusterGroup" in page and "L.circleMarker" in page
    assert "Kahvila Oy" in page and "Kirja Ab" in page
    assert "Nowhere" not in page  # no location: not on the map
    assert "12\u202f346" in page  # potential value, rounded
    assert "2026-10-01" in page and "never" in page
    assert "Aleksanterinkatu 5, 00100 Helsinki" in page
    assert "gcrm-legend" in page
    for kind in ("lead", "prospect", "customer"):
        assert maps.KIND_COLORS[kind] in page
    assert "fitBounds" in page
    assert maps.CREDIT in page


def test_accounts_map_without_cluster() -> None:
    page = render(maps.accounts_map(sample(), cluster=False))
    assert "L.markerClusterGroup" not in page and "L.featureGroup" in page
    assert "L.circleMarker" in page


def test_user_text_is_escaped_everywhere() -> None:
    """A name, stage, owner or colour category full of markup never appears raw."""
    frame = accounts(
        [
            {
                "name": NASTY,
                "kind": NASTY_JS,
                "stage": NASTY,
                "segment": NASTY_JS,
                "owner": NASTY,
                "territory": NASTY_JS,
                "street": NASTY,
                "geometry": Point(24.94, 60.17),
            }
        ]
    )
    for color_by in ("kind", "segment"):
        page = render(maps.accounts_map(frame, color_by=color_by))
        assert NASTY not in page
        assert "alert(1)" in page  # the text is there, escaped
        assert "${alert(2)}" not in page and "`" not in page.split("var rows", 1)[1][:4000]
        assert html.escape(NASTY) in page


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_map_script_is_valid_javascript(tmp_path: Path) -> None:
    """Escaped user text keeps the page's script syntactically valid."""
    frame = accounts([{"name": NASTY_JS, "kind": NASTY, "geometry": Point(24.94, 60.17)}])
    page = render(maps.accounts_map(frame, color_by="kind"))
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    js = tmp_path / "map.js"
    js.write_text("\n;\n".join(scripts), encoding="utf-8")
    proc = subprocess.run(["node", "--check", str(js)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@given(st.text())
def test_escape_html_round_trips_and_leaves_no_special_character(text: str) -> None:
    out = maps.escape_html(text)
    assert html.unescape(out) == text
    bare = re.sub(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", "", out)
    assert not set(bare) & set("<>&\"'`$\\")


def test_escape_html_of_missing_values() -> None:
    assert maps.escape_html(None) == ""
    assert maps.escape_html(float("nan")) == ""
    assert maps.escape_html(3) == "3"


def test_empty_accounts_give_the_default_region() -> None:
    """No accounts: a map of central Helsinki, no error, no bounds to fit."""
    m = maps.accounts_map(accounts([]))
    page = render(m)
    assert m.location == list(maps.DEFAULT_CENTER)
    assert "fitBounds" not in page
    assert "gcrm-legend" in page
    only_missing = accounts(
        [
            {"name": "x", "kind": "lead", "geometry": Point()},
            {"name": "y", "kind": "lead", "geometry": Point(np.nan, np.nan)},
            {"name": "z", "kind": "lead", "geometry": None},
        ]
    )
    assert "fitBounds" not in render(maps.accounts_map(only_missing))


def test_fit_bounds_of_the_accounts() -> None:
    page = render(maps.accounts_map(sample()))
    bounds = re.search(r"fitBounds\(\s*(\[\[.*?\]\])", page, flags=re.DOTALL)
    assert bounds is not None
    numbers = [float(x) for x in re.findall(r"-?\d+\.\d+", bounds.group(1))]
    assert numbers == [60.169, 24.94, 60.171, 24.95]


def test_other_crs_is_reprojected() -> None:
    frame = sample().to_crs(3067)
    page = render(maps.accounts_map(frame))
    assert "[60.169,24.95," in page


def test_color_by_another_column() -> None:
    frame = accounts(
        [
            {"name": "a", "segment": "retail", "geometry": Point(24.94, 60.17)},
            {"name": "b", "segment": "retail", "geometry": Point(24.95, 60.17)},
            {"name": "c", "segment": "horeca", "geometry": Point(24.96, 60.17)},
            {"name": "d", "segment": None, "geometry": Point(24.97, 60.17)},
        ]
    )
    page = render(maps.accounts_map(frame, color_by="segment"))
    assert "Segment" in page and "retail" in page and "horeca" in page
    assert maps.PALETTE[0] in page and maps.PALETTE[1] in page
    assert "other / none" in page


def test_unknown_color_by_is_rejected() -> None:
    with pytest.raises(InputError, match="no such column"):
        maps.accounts_map(sample(), color_by="colour")


def test_roads_drawn_as_a_grey_basemap(monkeypatch) -> None:
    """Roads (any CRS) become a thin grey, click-through line layer under the markers."""
    use(monkeypatch, map_tiles="none")
    roads = gpd.GeoDataFrame(
        geometry=[LineString([(24.93, 60.16), (24.95, 60.17)]), Point(24.9, 60.1)], crs=4326
    ).to_crs(3067)
    page = render(maps.accounts_map(sample(), roads=roads))
    assert "gcrm-roads" in page and '"interactive": false' in page
    assert "#8c8c8c" in page
    assert re.search(r"\[24\.93\d*, 60\.16\d*\]", page)
    assert page.index("gcrm-roads") < page.index("L.circleMarker")
    assert maps.CREDIT in page
