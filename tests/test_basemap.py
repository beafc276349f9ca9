"""The offline basemap: vector tiles built from the region's OSM file."""

from __future__ import annotations

import base64
import gzip
import shutil
from pathlib import Path

import mapbox_vector_tile
import pytest

from gcrm import basemap, maps
from gcrm._errors import OSMFileError
from gcrm.osm import bundled_osm_file
from gcrm.settings import get_settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm"


def _decoded(info: basemap.BasemapInfo, zoom: int) -> dict[str, list[dict]]:
    """Every feature of the archive's tiles at ``zoom``, by layer."""
    out: dict[str, list[dict]] = {}
    for key, b64 in basemap.read_tiles(info.path).items():
        if not key.startswith(f"{zoom}/"):
            continue
        tile = mapbox_vector_tile.decode(
            gzip.decompress(base64.b64decode(b64)), default_options={"y_coord_down": True}
        )
        for name, layer in tile.items():
            out.setdefault(name, []).extend(layer["features"])
    return out


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory) -> basemap.BasemapInfo:
    return basemap.build_basemap(tmp_path_factory.mktemp("bm") / "helsinki.pmtiles")


def test_helsinki_has_every_layer_a_reader_needs(helsinki) -> None:
    """Streets of every class (pedestrian too), buildings, water, parks, railways, labels."""
    helsinki.check()
    assert helsinki.max_zoom == basemap.MAX_ZOOM and helsinki.tiles > 10
    top = _decoded(helsinki, helsinki.max_zoom)
    assert {"roads", "buildings", "water", "landuse", "places"} <= set(top)
    roads = top["roads"]
    kinds = {f["properties"]["kind"] for f in roads}
    assert {"major_road", "minor_road", "path", "rail"} <= kinds
    details = {f["properties"].get("kind_detail") for f in roads}
    assert {"pedestrian", "footway", "residential"} <= details
    names = {f["properties"].get("name") for f in roads}
    assert "Aleksanterinkatu" in names and "Mannerheimintie" in names
    assert any(f["properties"]["kind"] == "park" for f in top["landuse"])
    assert {f["properties"]["name"] for f in top["places"]} >= {"Kluuvi"}
    # Geometry lands inside the tile grid (with its buffer), in tile units.
    for f in top["buildings"][:50]:
        ring = f["geometry"]["coordinates"][0]
        pts = ring[0] if isinstance(ring[0][0], list) else ring
        assert all(-200 <= c <= basemap.EXTENT + 200 for pt in pts for c in pt)


def test_low_zooms_keep_only_major_features(helsinki) -> None:
    """At zoom 11 there are no buildings or footpaths; the place names remain."""
    low = _decoded(helsinki, 11)
    assert "buildings" not in low
    assert not any(f["properties"].get("kind") == "path" for f in low.get("roads", []))


@pytest.mark.parametrize(
    ("name", "layers"),
    [
        ("andorra.osm.pbf", {"roads", "water", "places"}),
        ("north-bayreuth.osm.gz", {"roads", "buildings", "water", "landuse", "places"}),
    ],
)
def test_other_regions(tmp_path, name: str, layers: set[str]) -> None:
    """A PBF and a gzipped OSM XML extract of other countries build too."""
    src = SHARED / name
    if not src.is_file():
        pytest.skip(f"{src} is absent (../shared not mounted)")
    info = basemap.build_basemap(tmp_path / "x.pmtiles", osm_file=src)
    info.check()
    assert layers <= set(info.features)
    assert layers <= set(_decoded(info, info.max_zoom))
    west, south, east, north = info.bounds
    assert west < east and south < north


def test_auto_max_zoom_caps_country_extracts() -> None:
    """A city keeps zoom 15; a country-sized box gets fewer levels."""
    assert basemap.auto_max_zoom((24.93, 60.16, 24.96, 60.18)) == basemap.MAX_ZOOM
    assert basemap.auto_max_zoom((19.0, 59.7, 31.6, 70.1)) < basemap.MAX_ZOOM


def test_ensure_caches_per_osm_file_and_rebuilds_on_change(tmp_path, monkeypatch) -> None:
    """Built once per OSM file content; a changed file gives a new archive."""
    src = tmp_path / "region.osm.pbf"
    shutil.copy(bundled_osm_file(), src)
    pub = tmp_path / "static"
    first = basemap.ensure_basemap(src, publish_dir=pub)
    calls: list[object] = []
    monkeypatch.setattr(basemap, "build_basemap", lambda *a, **k: calls.append(a))
    again = basemap.ensure_basemap(src, publish_dir=pub)
    assert again.name == first.name and not calls
    assert (pub / first.name).is_file()
    monkeypatch.undo()
    andorra = SHARED / "andorra.osm.pbf"
    if not andorra.is_file():
        pytest.skip("../shared absent: the rebuild half needs a second extract")
    shutil.copy(andorra, src)
    changed = basemap.ensure_basemap(src, publish_dir=pub)
    assert changed.name != first.name
    assert (pub / changed.name).is_file() and (pub / first.name).is_file()


def test_broken_osm_file_is_named(tmp_path) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"not a pbf at all")
    with pytest.raises(OSMFileError, match=r"broken\.osm\.pbf"):
        basemap.build_basemap(tmp_path / "x.pmtiles", osm_file=bad)


def test_standalone_html_embeds_the_tiles(monkeypatch) -> None:
    """A map saved to a file carries its tiles (no server can answer from disk)."""
    monkeypatch.delenv("GCRM_MAP_TILES", raising=False)
    get_settings.cache_clear()
    page = maps.standalone_html(maps.base_map())
    assert "protomapsL.leafletLayer" in page and "getZxy" in page
    assert '"15/' in page  # tiles of the top zoom are in the page
    assert "cdn.jsdelivr.net" not in page
