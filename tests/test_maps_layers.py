"""Tests of gcrm.maps' density layers: heat, hexagons, choropleths, clusters, draw, near-here."""

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
from shapely.geometry import Point, box
from sqlalchemy import select

from gcrm import density, map_cli, maps
from gcrm._errors import InputError, PermissionDeniedError
from gcrm.assets import DEFAULT_BASE_URL, use_cdn_assets
from gcrm.auth import actor_for
from gcrm.db.models import AuditEvent
from gcrm.db.session import session_scope
from gcrm.settings import get_settings
from gcrm.store import ACCOUNT_COLUMNS

NASTY = "<script>alert(1)</script>"
NASTY_JS = "`${alert(2)}` \\u0041 </div>"
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


def accounts(rows: list[dict]) -> gpd.GeoDataFrame:
    base = dict.fromkeys(ACCOUNT_COLUMNS)
    records = [{**base, **{k: v for k, v in r.items() if k != "geometry"}} for r in rows]
    return gpd.GeoDataFrame(
        records, columns=list(ACCOUNT_COLUMNS), geometry=[r.get("geometry") for r in rows], crs=4326
    )


def nasty_accounts() -> gpd.GeoDataFrame:
    """Accounts whose every text field is markup, in a territory of markup."""
    rows = []
    for i, (x, y) in enumerate([(24.940, 60.170), (24.941, 60.1705), (24.950, 60.168)]):
        rows.append(
            {
                "id": i + 1,
                "name": NASTY if i == 0 else NASTY_JS,
                "kind": "prospect",
                "stage": NASTY,
                "segment": NASTY_JS,
                "owner": NASTY,
                "territory": NASTY,
                "street": NASTY,
                "postcode": "00100",
                "potential_value": 1000.0 * (i + 1),
                "visit_every_days": 30,
                "last_visit": dt.date(2026, 11, 1),
                "geometry": Point(x, y),
            }
        )
    return accounts(rows)


def nasty_areas() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    region = box(24.93, 60.16, 24.96, 60.18)
    points = gpd.GeoDataFrame(
        {"postcode": [NASTY, NASTY_JS]},
        geometry=[Point(24.94, 60.17), Point(24.955, 60.165)],
        crs=4326,
    )
    postcodes = density.postcode_areas(points, region)
    terr = gpd.GeoDataFrame(
        {"id": [1], "name": [NASTY], "owner": [NASTY_JS], "region": ["r"]},
        geometry=[region],
        crs=4326,
    )
    return postcodes, terr


def render(m) -> str:
    return m.get_root().render()


def all_layers() -> dict[str, str]:
    frame = nasty_accounts()
    postcodes, terr = nasty_areas()
    return {
        layer: render(maps.layer_map(frame, layer, areas=postcodes, territories=terr, draw=True))
        for layer in maps.LAYERS
    }


def test_every_layer_is_offline_credited_and_lean() -> None:
    """Local assets only, the OSM credit, no branca/d3, no jQuery/Bootstrap/Font Awesome."""
    for layer, page in all_layers().items():
        urls = _ASSET_TAG.findall(page)
        assert urls and all(u.startswith(DEFAULT_BASE_URL + "/") for u in urls), (layer, urls)
        assert maps.CREDIT in page, layer
        assert "d3" not in " ".join(urls) and "branca" not in page, layer
        assert not any(k in " ".join(urls) for k in ("jquery", "bootstrap", "fontawesome")), layer
        assert "gcrm-legend" in page, layer
        assert "L.Control.Draw" in page and "gcrm-lasso" in page, layer


def test_user_text_is_escaped_in_every_layer() -> None:
    """Names, owners, territories and postcodes full of markup never appear raw."""
    pages = all_layers()
    frame = nasty_accounts()
    graph_free = maps.base_map()
    near = density.near_here(frame, (60.17, 24.94), radius_m=2000)
    maps.add_near_here(graph_free, 60.17, 24.94, radius_m=2000, results=near, label=NASTY)
    pages["near"] = render(graph_free)
    for layer, page in pages.items():
        assert NASTY not in page, layer
        assert "${alert(2)}" not in page, layer
    for layer in ("markers", "postcode", "territory", "near"):
        assert html.escape(NASTY) in pages[layer], layer
    assert "Distance" in pages["near"] and "alert(1)" in pages["near"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_layer_scripts_are_valid_javascript(tmp_path: Path) -> None:
    for layer, page in all_layers().items():
        scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
        js = tmp_path / f"{layer}.js"
        js.write_text("\n;\n".join(scripts), encoding="utf-8")
        proc = subprocess.run(
            ["node", "--check", str(js)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, (layer, proc.stderr)


def test_hex_layer_has_counts_and_a_legend() -> None:
    frame = nasty_accounts()
    page = render(maps.layer_map(frame, "hex", resolution=9))
    assert page.count('"type":"Feature"') == len(density.hex_bins(frame, resolution=9))
    assert "account(s)" in page and "H3 res 9" in page
    assert any(c in page for c in maps.SEQUENTIAL)
    by_value = render(maps.layer_map(frame, "hex", value="value"))
    assert "Potential value per hexagon" in by_value
    with pytest.raises(InputError, match="count"):
        maps.layer_map(frame, "hex", value="coverage")


def test_heat_layer_weights() -> None:
    frame = nasty_accounts()
    page = render(maps.layer_map(frame, "heat", weight="potential"))
    assert "L.heatLayer" in page and "3000.0" in page
    assert "Heat: potential value" in page


def test_areas_are_coloured_and_listed() -> None:
    frame = nasty_accounts()
    _, terr = nasty_areas()
    page = render(maps.layer_map(frame, "territory", territories=terr, value="coverage"))
    assert "100 %" in page  # the coverage, in the popup
    assert maps.escape_html(NASTY_JS) in page  # the owner, in the popup


def test_territories_get_categorical_colours_and_labels() -> None:
    """Territories differ by hue (not a light-to-dark scale) and carry their names."""
    terr = gpd.GeoDataFrame(
        {"name": ["North", "South", "East"], "owner": ["rep1", "rep2", None]},
        geometry=[box(24.93, 60.17, 24.95, 60.18), box(24.93, 60.16, 24.95, 60.17),
                  box(24.95, 60.16, 24.97, 60.18)],
        crs=4326,
    )  # fmt: skip
    accounts = nasty_accounts()
    page = render(maps.layer_map(accounts, "territory", territories=terr))
    colors = re.findall(r'"c":"(#[0-9a-f]{6})"', page)
    assert len(set(colors)) == 3 and not set(colors) & set(maps.SEQUENTIAL)
    assert set(colors) <= set(maps.PALETTE)
    labels = re.findall(r'"l":"([^"]*)"', page)
    assert len(labels) == 3
    assert all(any(n in lab for lab in labels) for n in ("North", "South", "East"))
    # Label points lie inside their territories.
    for lat, lon in re.findall(r'"lp":\[([\d.]+),([\d.]+)\]', page):
        assert any(g.contains(Point(float(lon), float(lat))) for g in terr.geometry)
    assert "Territories" in page and "accounts)" in page  # legend: name (N accounts)


def test_layer_map_rejects_bad_requests() -> None:
    frame = nasty_accounts()
    with pytest.raises(InputError, match="unknown layer"):
        maps.layer_map(frame, "satellite")
    with pytest.raises(InputError, match="postcode areas"):
        maps.layer_map(frame, "postcode")
    with pytest.raises(InputError, match="territories"):
        maps.layer_map(frame, "territory")
    with pytest.raises(InputError, match="too many"):
        maps.layer_map(frame, "markers", max_markers=2)


def test_near_here_layer_shows_radius_and_isochrone() -> None:
    m = maps.base_map()
    area = Point(24.94, 60.17).buffer(0.003)
    maps.add_near_here(m, 60.17, 24.94, radius_m=300, area=area)
    page = render(m)
    assert "L.circle(" in page and '"radius": 300.0' in page
    assert "reachable area" in page and "fitBounds" in page


def test_big_aggregated_layers_stay_small() -> None:
    """30,000 prospects: heat and hex pages stay far below 3 MB (standalone)."""
    rng = np.random.default_rng(7)
    n = 30_000
    lon = rng.normal(24.94, 0.05, n)
    lat = rng.normal(60.19, 0.03, n)
    frame = gpd.GeoDataFrame(
        {"id": np.arange(n), "potential_value": rng.lognormal(8, 1, n)},
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    for layer in ("heat", "hex"):
        page = maps.standalone_html(maps.layer_map(frame, layer))
        assert len(page.encode()) < 3_000_000, layer


def test_write_map_from_the_database(demo_copy: str, tmp_path: Path) -> None:
    """The CLI's map: a standalone, audited file; markers need the export right."""
    out = {}
    with session_scope() as s:
        manager = actor_for(s, "manager")
        for layer in ("hex", "territory", "postcode", "markers"):
            path = tmp_path / f"{layer}.html"
            flt = density.MapFilter.parse(["kind=prospect"])
            out[layer] = map_cli.write_map(s, manager, layer, path, flt=flt)
            page = path.read_text(encoding="utf-8")
            assert not _ASSET_TAG.findall(page), layer  # everything inlined
            assert maps.CREDIT in page
        with pytest.raises(PermissionDeniedError):
            map_cli.write_map(s, actor_for(s, "rep1"), "markers", tmp_path / "x.html")
        rep_hex = map_cli.write_map(s, actor_for(s, "rep1"), "hex", tmp_path / "rep.html")
        exports = list(s.scalars(select(AuditEvent.target).where(AuditEvent.action == "export")))
    assert out["hex"]["accounts"] == out["markers"]["accounts"] > 0
    assert rep_hex["accounts"] < out["hex"]["accounts"] * 3
    assert {"hex.html", "territory.html", "postcode.html", "markers.html"} <= set(exports)


def test_few_areas_get_distinct_colours() -> None:
    """Three territories with three counts: three colours, each count in the legend."""
    terr = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"], "count": [313, 320, 325], "value": [1.0, 2.0, 3.0]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=4326,
    )
    page = render(maps.add_areas(maps.base_map(), terr, label="name"))
    colors = re.findall(r'"c":"(#[0-9a-f]{6})"', page)
    assert len(colors) == 3 and len(set(colors)) == 3
    # Each class names its value and how many areas it holds.
    assert all(f"\\u003c/span>{n} (1)\\u003c/div>" in page for n in ("313", "320", "325"))


def test_kept_selection_is_outlined_and_its_accounts_ringed() -> None:
    """A selection drawn earlier is drawn again, its accounts highlighted."""
    rect = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[[24, 60], [25, 60], [25, 61], [24, 60]]]},
    }
    circle = {
        "type": "Feature",
        "properties": {"radius": 250},
        "geometry": {"type": "Point", "coordinates": [24.95, 60.17]},
    }
    frame = nasty_accounts()
    page = render(maps.add_selection(maps.base_map(), [rect, circle], frame))
    assert "gcrm-selected" in page and '"dashArray":"6 4"' in page
    assert page.count("L.circle(") >= 1  # the circle drawn with its radius
    assert len(re.findall(r"\[60\.\d+,24\.\d+\]", page)) >= len(frame.dropna(subset=["lat"]))
