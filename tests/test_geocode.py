"""Tests of gcrm.geocode on the bundled Helsinki extract and small synthetic data.

No test reaches the network: the online fallback is tested with a fake geocoder.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcrm import geocode as gc
from gcrm import geocode_online
from gcrm._errors import InputError, OSMFileError
from gcrm.geocode import AddressIndex, GeocodeResult, OnlineGeocoder, geocode_file
from gcrm.geocode_text import normalize_housenumber, normalize_street, parse_housenumber
from gcrm.geometry import M_PER_DEG, haversine_m
from gcrm.osm import read_address_points
from gcrm.settings import get_settings


def _dist(lat1: float | None, lon1: float | None, lat2: float | None, lon2: float | None) -> float:
    assert lat1 is not None and lon1 is not None and lat2 is not None and lon2 is not None
    return float(haversine_m(lat1, lon1, lat2, lon2))


def _s(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


@pytest.fixture(scope="module")
def index() -> AddressIndex:
    """The index of the bundled extract, built once (no disk cache)."""
    return AddressIndex.from_osm(cache=False)


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    """The extract's address points, read independently of the index."""
    return read_address_points()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary GCRM_DATA_DIR (so caches go to tmp)."""
    monkeypatch.setenv("GCRM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _at(index: AddressIndex, *query: str) -> GeocodeResult:
    r = index.geocode(*query)
    assert r.precision == "address", r
    return r


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Annank.", "Annankatu"),
        ("ANNANKATU", "annankatu"),
        ("Mannerheimint.", "Mannerheimintie"),
        ("Anneg.", "Annegatan"),
        ("Mannerheimv.", "Mannerheimvägen"),
        ("Alvar Aallon k.", "Alvar Aallonkatu"),
        ("Asema-aukio", "Asema aukio"),
        ("Töölönkatu", "Toolonkatu"),
        ("Main St.", "Main Street"),
        ("Main St", "main street"),
        ("St. Mary's Rd", "Saint Marys Road"),
        ("Fifth Ave.", "Fifth Avenue"),
        ("Hauptstr.", "Hauptstraße"),
    ],
)
def test_normalize_street_equates_variants(a: str, b: str) -> None:
    """Case, accents, punctuation and abbreviations do not change the key."""
    assert normalize_street(a) == normalize_street(b) != ""


def test_normalize_street_keeps_different_names_apart() -> None:
    """Distinct names keep distinct keys (no over-eager abbreviation)."""
    assert normalize_street("Annankatu") != normalize_street("Annantie")
    assert normalize_street("St") != normalize_street("Street")  # a lone word is not expanded


@pytest.mark.parametrize(
    ("text", "parsed", "key"),
    [
        ("5", (5, "", 0), "5"),
        ("5a", (5, "a", 0), "5a"),
        ("5 A", (5, "a", 0), "5a"),
        ("5-7", (5, "", 7), "5-7"),
        ("5 – 7", (5, "", 7), "5-7"),
        ("29-27", (27, "", 29), "27-29"),
        ("5 B 12", (5, "b", 0), "5b"),
        ("13 A, 5. krs./Floor 5", (13, "a", 0), "13a"),
        ("8, Floor 6", (8, "", 0), "8"),
        ("5 as 12", (5, "", 0), "5"),
        ("5;7", (5, "", 0), "5"),
        ("Keskuskatu 5", (5, "", 0), "5"),
        ("no number", None, ""),
    ],
)
def test_parse_housenumber(text: str, parsed: tuple[int, str, int] | None, key: str) -> None:
    """Letters, staircases, flats, ranges and trailing notes are parsed."""
    assert parse_housenumber(text) == parsed
    assert normalize_housenumber(text) == key


_LATIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäöéü -'.", min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(_LATIN)
def test_normalize_street_properties(name: str) -> None:
    """Keys ignore case, are idempotent and hold only letters and digits."""
    key = normalize_street(name)
    assert normalize_street(name.upper()) == key
    assert normalize_street(key) == key
    assert key == "" or key.isalnum()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_parse_housenumber_never_raises(text: str) -> None:
    """Any text parses to a number triple or None."""
    p = parse_housenumber(text)
    assert p is None or (p[0] >= 0 and (p[2] == 0 or p[2] > p[0]))


# --------------------------------------------------------------------------------------
# The bundled extract: every address point geocodes back
# --------------------------------------------------------------------------------------


def test_every_address_point_geocodes_back(index: AddressIndex, points: pd.DataFrame) -> None:
    """Each OSM address point geocodes (street, number, postcode, city) to itself.

    In the extract 1,445 of 1,464 points have a street (19 have only a number:
    they cannot be looked up by street) and 270 addresses are carried by more
    than one point (1,127 points: mostly shops and offices inside one building,
    each tagged with the building's address). Those geocode to the mean of the
    points sharing the address (of those with the query's postcode, when they
    disagree on it): this is checked for all of them, and how many shared
    points lie within 1 m of that mean is counted as well.
    """
    df = points.copy()
    df["street"] = df["addr:street"].fillna("").astype(str)
    df = df[df["street"] != ""].copy()
    assert len(points) - len(df) == 19
    df["skey"] = df["street"].map(normalize_street)
    df["hkey"] = df["addr:housenumber"].astype(str).map(normalize_housenumber)
    df["pc"] = df["addr:postcode"].fillna("").astype(str)
    groups = df.groupby(["skey", "hkey"])
    df["size"] = groups["lat"].transform("size")
    df["m_lat"], df["m_lon"] = groups["lat"].transform("mean"), groups["lon"].transform("mean")
    n_pcs = groups["pc"].transform(lambda s: s[s != ""].nunique())
    by_pc = df.groupby(["skey", "hkey", "pc"])
    split = (n_pcs > 1) & (df["pc"] != "")
    df.loc[split, "m_lat"] = by_pc["lat"].transform("mean")[split]
    df.loc[split, "m_lon"] = by_pc["lon"].transform("mean")[split]

    res = index.geocode_many(
        pd.DataFrame(
            {
                "street": df["street"],
                "housenumber": df["addr:housenumber"],
                "postcode": df["addr:postcode"],
                "city": df["addr:city"],
            }
        )
    )
    assert (res["precision"] == "address").all(), res[res["precision"] != "address"]
    assert (res["score"] >= 0.98).all()  # 0.98: one street is an alt_name (Kauppakuja)
    d_mean = [
        _dist(a, b, c, d)
        for a, b, c, d in zip(res["lat"], res["lon"], df["m_lat"], df["m_lon"], strict=True)
    ]
    d_self = [
        _dist(a, b, c, d)
        for a, b, c, d in zip(res["lat"], res["lon"], df["lat"], df["lon"], strict=True)
    ]
    assert max(d_mean) < 1.0
    unique = (df["size"] == 1).to_numpy()
    assert unique.sum() == 318
    assert max(d for d, u in zip(d_self, unique, strict=True) if u) < 1.0
    shared = ~unique
    s = index.summary()
    assert shared.sum() == s["points_sharing"] == 1127
    assert df[shared].groupby(["skey", "hkey"]).ngroups == s["shared_addresses"] == 270
    d_shared = sorted(d for d, sh in zip(d_self, shared, strict=True) if sh)
    # a shared address is a building with many POIs: few sit at its mean
    assert sum(d < 1.0 for d in d_shared) == 73
    assert d_shared[len(d_shared) // 2] < 15.0  # median distance to the mean


def test_summary_counts(index: AddressIndex) -> None:
    """The index holds the extract's addresses, 11 postcodes and its streets."""
    s = index.summary()
    assert s["points"] == 1464
    assert s["postcodes"] == 11
    assert s["addresses"] == 588
    assert s["streets"] >= 81


# --------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------

_EXACT = ("Mannerheimintie", "16", "00100", "Helsinki")


@pytest.mark.parametrize(
    ("query", "min_score"),
    [
        (("Mannerheimint.", "16", "00100", "Helsinki"), 1.0),  # abbreviation
        (("Mannerheimvägen", "16", "00100", "Helsingfors"), 1.0),  # Swedish
        (("mannerheimintie", "16", "00100", "helsinki"), 1.0),  # lower case
        (("MANNERHEIMINTIE", "16", None, None), 1.0),  # upper case, no postcode/city
        (("Mannerheimintie", "16", None, "Helsinki"), 1.0),  # missing postcode
        (("Mannerhiemintie", "16", "00100", "Helsinki"), 0.85),  # typo (transposition)
        (("Manerheimintie", "16", "00100", "Helsinki"), 0.85),  # typo (deletion)
        (("Mannerheim vägen", "16", "", ""), 1.0),  # Swedish, split word
        (("Heikinkatu", "16", "", ""), 0.95),  # old_name
    ],
)
def test_variants_find_the_address(
    index: AddressIndex, query: tuple[str, ...], min_score: float
) -> None:
    """Abbreviated, Swedish, re-cased, misspelt or partial queries find the address."""
    exact = _at(index, *_EXACT)
    r = index.geocode(*query)
    assert r.precision == "address"
    assert r.score >= min_score
    assert _dist(r.lat, r.lon, exact.lat, exact.lon) < 1.0
    assert r.matched.startswith("Mannerheimintie 16")


def test_typo_is_reported_in_reason(index: AddressIndex) -> None:
    """A fuzzy street match says which street it read."""
    r = index.geocode("Mannerhiemintie", "16")
    assert "read as Mannerheimintie" in r.reason
    assert r.score < 1.0


@pytest.mark.parametrize("hn", ["36a", "36 A", "36A", "36 a", "36 A 12"])
def test_letter_suffix_variants(index: AddressIndex, hn: str) -> None:
    """House-number letters are matched whatever their spacing and case (flat dropped)."""
    a = _at(index, "Aleksanterinkatu", "36a")
    b = _at(index, "Aleksanterinkatu", "36b")
    r = index.geocode("Aleksanterinkatu", hn)
    assert r.precision == "address"
    assert r.score == 1.0
    assert (r.lat, r.lon) == (a.lat, a.lon)
    assert (r.lat, r.lon) != (b.lat, b.lon) or _dist(a.lat, a.lon, b.lat, b.lon) < 1.0
    assert r.matched.startswith("Aleksanterinkatu 36 A")


def test_missing_letter_falls_back_to_the_number(index: AddressIndex) -> None:
    """An unknown staircase letter gives its house number, scored a little lower."""
    five = [_at(index, "Paasivuorenkatu", x) for x in ("5 A", "5 B")]
    r = index.geocode("Paasivuorenkatu", "5 K")
    assert r.precision == "address"
    assert r.score == pytest.approx(0.95)
    # "5" alone is not an address of its own here: the mean of 5 A and 5 B
    assert any(_dist(r.lat, r.lon, f.lat, f.lon) < 60 for f in five)
    plain = index.geocode("Paasivuorenkatu", "5")
    assert plain.precision == "address"


def test_ranges(index: AddressIndex) -> None:
    """A range address is found by its range, its first number or a number inside it."""
    rng = _at(index, "Mannerheimintie", "14-20")
    assert rng.score == 1.0
    inside = index.geocode("Annankatu", "31-33")
    assert inside.precision == "address"
    r = index.geocode("Annankatu", "15-17")  # not an address: its first number is tried
    assert r.precision == "interpolated"


def test_interpolation_lands_between_its_neighbours(index: AddressIndex) -> None:
    """A missing number lies between the known numbers of its parity around it."""
    lo, hi = _at(index, "Annankatu", "13"), _at(index, "Annankatu", "19")
    for num, t in ((15, 1 / 3), (17, 2 / 3)):
        r = index.geocode("Annankatu", str(num), "00120", "Helsinki")
        assert r.precision == "interpolated"
        assert r.reason == "interpolated between 13 and 19"
        assert r.matched.startswith(f"Annankatu {num}")
        span = _dist(lo.lat, lo.lon, hi.lat, hi.lon)
        d_lo = _dist(lo.lat, lo.lon, r.lat, r.lon)
        d_hi = _dist(r.lat, r.lon, hi.lat, hi.lon)
        assert d_lo + d_hi < span + 2.0  # on the way from one to the other
        assert d_lo == pytest.approx(t * span, abs=5.0)


def test_interpolation_needs_the_same_parity(index: AddressIndex) -> None:
    """Outside the known numbers of its parity a number gives the street, never a guess."""
    r = index.geocode("Annankatu", "1")
    assert r.precision == "street"
    assert "not found on Annankatu" in r.reason


# --------------------------------------------------------------------------------------
# Fallback chain and nonsense
# --------------------------------------------------------------------------------------


def test_fallback_chain(index: AddressIndex) -> None:
    """Street, postcode and city levels each carry their precision flag."""
    assert index.geocode("Annankatu").precision == "street"
    r = index.geocode("Annankatu", None, "00120")
    assert r.precision == "street"
    assert r.matched == "Annankatu, 00120 Helsinki"
    r = index.geocode(None, None, "00120", "Helsinki")
    assert r.precision == "postcode"
    assert r.matched == "00120 Helsinki"
    r = index.geocode(None, None, None, "Helsinki")
    assert r.precision == "city"
    assert r.matched == "Helsinki"
    # a street that does not exist is no place: not a postcode or city-centre pin
    for pc in ("00120", None):
        r = index.geocode("Xyzzyntie", "5", pc, "Helsinki")
        assert (r.precision, r.lat, r.lon) == ("none", None, None)
        assert "not found" in r.reason
    r = index.geocode("Olematonkatu", "99", None, "Helsinki")
    assert (r.precision, r.lat) == ("none", None)
    assert index.geocode(city="Helsingfors").precision == "city"
    assert index.geocode(postcode="120").matched == "00120 Helsinki"  # lost leading zeros


@pytest.mark.parametrize(
    "query",
    [
        ("Xyzzy Qwerty", "12", None, None),
        ("Hämeentie", "5", None, None),  # a real street, not in the extract
        ("Kampinkatu", "1", None, None),
        (None, None, "99999", "Atlantis"),
        (None, None, None, None),
        ("", "", "", ""),
    ],
)
def test_nonsense_is_none(index: AddressIndex, query: tuple[str | None, ...]) -> None:
    """Nothing found is ``none``, with empty coordinates and a reason."""
    r = index.geocode(*query)
    assert r.precision == "none"
    assert r.lat is None and r.lon is None
    assert r.score == 0.0
    assert r.matched == ""
    assert r.reason
    assert not r.found


def test_below_threshold_is_none(index: AddressIndex) -> None:
    """A match scoring under the threshold is not returned."""
    r = index.geocode("Mannerhiemintie", "16", min_score=0.99)
    assert r.precision == "none"
    assert "scored" in r.reason


def test_contradicting_postcode_lowers_the_score(index: AddressIndex) -> None:
    """A wrong postcode still finds the address, with a lower score."""
    r = index.geocode("Mannerheimintie", "16", "00530")
    assert r.precision == "address"
    assert r.score == pytest.approx(0.85)


# --------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Mannerheimintie 16, 00100 Helsinki",
        "Mannerheimintie 16 00100 Helsinki",
        "mannerheimintie 16",
        "Mannerheimvägen 16, Helsingfors",
        "Mannerheimint. 16, 00100",
        "16 Mannerheimintie",
        "Mannerheimintie16",
        "ACME Oy, Mannerheimintie 16, 00100 Helsinki",
        "Mannerheimintie 16 Helsinki",
    ],
)
def test_geocode_text(index: AddressIndex, text: str) -> None:
    """Free text in the usual orders finds the address."""
    exact = _at(index, *_EXACT)
    r = index.geocode_text(text)
    assert r.precision == "address", r
    assert _dist(r.lat, r.lon, exact.lat, exact.lon) < 1.0


def test_geocode_text_levels(index: AddressIndex) -> None:
    """Text with only a postcode, a city or a street gives that level."""
    assert index.geocode_text("00120 Helsinki").precision == "postcode"
    assert index.geocode_text("Helsinki").precision == "city"
    assert index.geocode_text("Helsingfors").precision == "city"
    assert index.geocode_text("Keskuskatu").precision == "street"
    assert index.geocode_text("Annankatu 15, 00120 Helsinki").precision == "interpolated"
    assert index.geocode_text("Paasivuorenkatu 5 B 12").matched.startswith("Paasivuorenkatu 5 B")
    assert index.geocode_text("").precision == "none"
    assert index.geocode_text("qwerty asdfgh").precision == "none"


def test_geocode_text_street_with_comma(index: AddressIndex) -> None:
    """An OSM street name containing a comma is kept whole when it exists."""
    r = index.geocode_text("Asemahalli, Kaivokatu 1, 00100 Helsinki")
    assert r.precision == "address"
    assert r.matched.startswith("Asemahalli, Kaivokatu 1")


# --------------------------------------------------------------------------------------
# Reverse
# --------------------------------------------------------------------------------------


def test_reverse(index: AddressIndex, points: pd.DataFrame) -> None:
    """The nearest address to a point is returned, with its distance."""
    row = points[points["addr:street"] == "Bulevardi"].iloc[0]
    r = index.reverse(row["lat"], row["lon"])
    assert r.precision == "address"
    assert r.score == 1.0
    assert _dist(r.lat, r.lon, row["lat"], row["lon"]) < 0.01
    assert r.matched.startswith("Bulevardi")
    near = index.reverse(row["lat"] + 0.0002, row["lon"])  # about 22 m north
    assert near.found
    assert 0.8 < near.score < 1.0
    assert index.reverse(0.0, 0.0).precision == "none"
    with pytest.raises(InputError, match="WGS84"):
        index.reverse(100.0, 0.0)


# --------------------------------------------------------------------------------------
# Synthetic data: interpolation along a bend, same-named streets
# --------------------------------------------------------------------------------------

_LAT0, _LON0 = 61.0, 25.0
_KX = math.cos(math.radians(_LAT0)) * M_PER_DEG


def _xy(x: float, y: float) -> tuple[float, float]:
    """(lon, lat) of a point x m east, y m north of the origin."""
    return (_LON0 + x / _KX, _LAT0 + y / M_PER_DEG)


def _points(rows: list[tuple[str, str, float, float, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "osm_type": "node",
                "osm_id": i,
                "addr:street": s,
                "addr:housenumber": h,
                "lon": _xy(x, y)[0],
                "lat": _xy(x, y)[1],
                "addr:postcode": pc,
                "addr:city": city,
            }
            for i, (s, h, x, y, pc, city) in enumerate(rows)
        ]
    )


def test_interpolation_follows_the_street_line() -> None:
    """Between two numbers the point moves along the street, not across the bend."""
    street = {
        "tags": {"highway": "residential", "name": "Mutkakatu", "name:sv": "Kröken"},
        "coords": [[_xy(0, 0), _xy(100, 0)], [_xy(100, 0), _xy(100, 100)]],
    }
    pts = _points([("Mutkakatu", "1", 0, 10, "", ""), ("Mutkakatu", "11", 90, 100, "", "")])
    idx = AddressIndex(pts, [street])
    # 40% of the 200 m between them: 80 m east on the first leg (a straight line
    # would give (36, 46)), plus 0.6 x the offset of 1 (0, 10) and 0.4 x that of 11
    # (-10, 0): (76, 6).
    r = idx.geocode("Mutkakatu", "5")
    assert r.precision == "interpolated"
    assert r.lat is not None and r.lon is not None
    x = (r.lon - _LON0) * _KX
    y = (r.lat - _LAT0) * M_PER_DEG
    assert x == pytest.approx(76.0, abs=0.5)
    assert y == pytest.approx(6.0, abs=0.5)
    assert idx.geocode("Kröken", "5").precision == "interpolated"
    assert idx.geocode("Mutkakatu", "6").precision == "street"  # no even numbers known


def _two_towns() -> AddressIndex:
    """Two towns 50 km apart, each with a Kirkkokatu and a number 5."""
    far = 50_000.0
    streets = [
        {
            "tags": {"highway": "residential", "name": "Kirkkokatu"},
            "coords": [[_xy(0, 0), _xy(200, 0)]],
        },
        {
            "tags": {"highway": "residential", "name": "Kirkkokatu"},
            "coords": [[_xy(far, 0), _xy(far + 200, 0)]],
        },
    ]
    places = [
        {"tags": {"place": "town", "name": "Alpha"}, "lat": _xy(0, 0)[1], "lon": _xy(0, 0)[0]},
        {
            "tags": {"place": "town", "name": "Beta", "name:sv": "Betå"},
            "lat": _LAT0,
            "lon": _xy(far, 0)[0],
        },
    ]
    pts = _points(
        [
            ("Kirkkokatu", "5", 50, 10, "11100", "Alpha"),
            ("Kirkkokatu", "7", 70, 10, "11100", "Alpha"),
            ("Kirkkokatu", "5", far + 50, 10, "22200", "Beta"),
        ]
    )
    return AddressIndex(pts, streets, places)


def test_same_named_streets_are_told_apart() -> None:
    """Two same-named streets are two streets; postcode or city picks one."""
    idx = _two_towns()
    assert idx.summary()["streets"] == 2
    a = idx.geocode("Kirkkokatu", "5", city="Alpha")
    b = idx.geocode("Kirkkokatu", "5", postcode="22200")
    c = idx.geocode("Kirkkokatu", "5", city="Betå")
    assert a.precision == b.precision == "address"
    assert a.matched == "Kirkkokatu 5, 11100 Alpha"
    assert b.matched == c.matched == "Kirkkokatu 5, 22200 Beta"
    assert _dist(a.lat, a.lon, b.lat, b.lon) > 40_000
    # only Alpha has a number 7
    assert idx.geocode("Kirkkokatu", "7").matched.startswith("Kirkkokatu 7, 11100")


def test_ambiguous_street_is_none() -> None:
    """With nothing to tell two same-named streets apart, no street is guessed."""
    r = _two_towns().geocode("Kirkkokatu", "5")
    assert r.precision == "none"
    assert "ambiguous" in r.reason
    assert "Kirkkokatu in Alpha" in r.reason and "Kirkkokatu in Beta" in r.reason


def test_index_from_empty_points() -> None:
    """An index without addresses still answers (with none)."""
    idx = AddressIndex(pd.DataFrame())
    assert idx.geocode("Annankatu", "1").precision == "none"
    assert idx.reverse(60.0, 24.0).precision == "none"


_BAYREUTH = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "osm" / "north-bayreuth.osm.gz"
)


@pytest.mark.shared
@pytest.mark.skipif(
    not _BAYREUTH.is_file(), reason="needs ../shared/data/osm/north-bayreuth.osm.gz"
)
def test_german_extract_from_compressed_xml() -> None:
    """A gzipped OSM XML extract with German streets geocodes its own addresses."""
    idx = AddressIndex.from_osm(_BAYREUTH, cache=False)
    pts = read_address_points(_BAYREUTH)
    pts = pts[pts["addr:street"].notna()]
    res = idx.geocode_many(
        pd.DataFrame(
            {
                "street": pts["addr:street"],
                "housenumber": pts["addr:housenumber"],
                "postcode": pts["addr:postcode"],
                "city": pts["addr:city"],
            }
        )
    )
    assert (res["precision"] == "address").all()
    r = idx.geocode("Hauptstr.", "2", city="Heinersreuth")
    assert r.matched == "Hauptstraße 2, 95500 Heinersreuth"
    assert idx.geocode("Hauptstraße", "2").precision == "none"  # three villages have one


# --------------------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------------------


def test_geocode_many_inputs(index: AddressIndex) -> None:
    """DataFrames, strings and mappings are accepted; the index is kept."""
    df = pd.DataFrame(
        {"Street": ["Mannerheimintie", "Xyzzy", None], "housenumber": ["16", "1", None]},
        index=[10, 20, 30],
    )
    res = index.geocode_many(df)
    assert list(res.index) == [10, 20, 30]
    assert list(res.columns) == ["lat", "lon", "precision", "score", "matched", "reason"]
    assert list(res["precision"]) == ["address", "none", "none"]
    assert math.isnan(res.loc[20, "lat"])
    texts = index.geocode_many(["Mannerheimintie 16", "Helsinki"])
    assert list(texts["precision"]) == ["address", "city"]
    maps = index.geocode_many([{"street": "Bulevardi", "housenumber": 7}])
    assert maps["precision"].iloc[0] == "address"
    with_city = index.geocode_many(
        pd.DataFrame({"address": ["Mannerheimintie 16"], "postcode": ["00530"]})
    )
    assert with_city["score"].iloc[0] == pytest.approx(0.85)  # the column's postcode is used
    with pytest.raises(InputError, match="'street' or an 'address'"):
        index.geocode_many(pd.DataFrame({"x": [1]}))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_geocode_file_keeps_every_row(index: AddressIndex, tmp_path: Path) -> None:
    """Every input row and column is written, with coordinates or a reason."""
    src = _write(
        tmp_path / "in.csv",
        "id,name,address,note\n"
        '1,A,"Mannerheimintie 16, 00100 Helsinki",x\n'
        "2,B,Xyzzy Qwerty 99,\n"
        "3,C,,empty\n"
        "3,C again,Annankatu 15,duplicate id\n"
        "5,E,00120,\n",
    )
    out = tmp_path / "out" / "geo.csv"
    summary = geocode_file(src, out, index=index, progress=False)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(got.columns) == [
        "id", "name", "address", "note", "lat", "lon", "precision", "score", "matched", "reason",
    ]  # fmt: skip
    assert list(got["id"]) == ["1", "2", "3", "3", "5"]
    assert list(got["note"]) == ["x", "", "empty", "duplicate id", ""]
    assert list(got["precision"]) == ["address", "none", "none", "interpolated", "postcode"]
    assert got.loc[1, "lat"] == got.loc[1, "lon"] == ""
    assert got.loc[1, "reason"] and got.loc[2, "reason"]
    assert float(got.loc[0, "lat"]) == pytest.approx(60.17, abs=0.01)
    assert summary["rows"] == 5
    assert summary["matched"] == 3
    assert summary["unmatched"] == 2
    assert summary["by_precision"]["address"] == 1
    assert set(summary["by_precision"]) == set(gc.PRECISIONS)


def test_geocode_file_structured_columns(index: AddressIndex, tmp_path: Path) -> None:
    """Street/housenumber/postcode/city columns are read (any case, BOM allowed)."""
    src = tmp_path / "in.csv"
    src.write_text(
        "\ufeffID,Street,HouseNumber,Postcode,City\n7,Mannerheimvägen,16,00100,Helsingfors\n",
        encoding="utf-8",
    )
    summary = geocode_file(src, tmp_path / "out.csv", index=index, progress=False)
    assert summary["by_precision"]["address"] == 1


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("name,address\nA,Annankatu 1\n", "missing column 'id'"),
        ("id,name\n1,A\n", "missing column 'address'"),
        ("id,address,lat\n1,Annankatu 1,60\n", "output column"),
    ],
)
def test_geocode_file_errors(index: AddressIndex, tmp_path: Path, content: str, match: str) -> None:
    """Bad input files raise InputError naming the file and the problem."""
    src = _write(tmp_path / "bad.csv", content)
    with pytest.raises(InputError, match=match) as info:
        geocode_file(src, tmp_path / "out.csv", index=index, progress=False)
    assert "bad.csv" in str(info.value)
    assert not (tmp_path / "out.csv").exists()


def test_geocode_file_missing_file(index: AddressIndex, tmp_path: Path) -> None:
    """A missing input file is an InputError."""
    with pytest.raises(InputError, match="not found"):
        geocode_file(tmp_path / "nope.csv", tmp_path / "out.csv", index=index)


def test_geocode_file_header_only(index: AddressIndex, tmp_path: Path) -> None:
    """A header without rows gives a header-only output."""
    src = _write(tmp_path / "in.csv", "id,address\n")
    summary = geocode_file(src, tmp_path / "out.csv", index=index, progress=False)
    assert summary["rows"] == 0
    header = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,address,lat,lon,precision,score,matched,reason"


def test_geocode_file_progress_bar(
    index: AddressIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Long batches show a progress bar on stderr, and nothing on stdout."""
    rows = "".join(f"{i},Bulevardi {i % 20 + 1}\n" for i in range(3000))
    src = _write(tmp_path / "in.csv", "id,address\n" + rows)
    summary = geocode_file(src, tmp_path / "out.csv", index=index, progress=True)
    captured = capsys.readouterr()
    assert "geocoding" in captured.err
    assert captured.out == ""
    assert summary["rows"] == 3000
    geocode_file(src, tmp_path / "out2.csv", index=index, progress=False)
    assert "geocoding" not in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# Disk cache and default index
# --------------------------------------------------------------------------------------

_OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="61.0" lon="25.0" version="1"/>
  <node id="2" lat="61.0" lon="25.002" version="1"/>
  <node id="3" lat="61.0001" lon="25.0005" version="1">
    <tag k="addr:street" v="Koekatu"/><tag k="addr:housenumber" v="1"/>
    <tag k="addr:postcode" v="99990"/><tag k="addr:city" v="Testilä"/>
  </node>{extra}
  <node id="9" lat="61.001" lon="25.001" version="1">
    <tag k="place" v="village"/><tag k="name" v="Testilä"/><tag k="name:sv" v="Testby"/>
  </node>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="residential"/><tag k="name" v="Koekatu"/><tag k="name:sv" v="Provgatan"/>
  </way>
</osm>
"""
_EXTRA = """
  <node id="4" lat="61.0001" lon="25.0015" version="1">
    <tag k="addr:street" v="Koekatu"/><tag k="addr:housenumber" v="5"/>
  </node>"""


def test_disk_cache_is_keyed_by_file_hash(data_dir: Path) -> None:
    """The index of an OSM XML file is cached; a changed file is indexed anew."""
    osm = _write(data_dir / "tiny.osm", _OSM_XML.format(extra=""))
    first = AddressIndex.from_osm(osm)
    cached = sorted((data_dir / "cache" / "geocode").glob("index-*.pkl"))
    assert len(cached) == 1
    assert first.geocode("Provgatan", "1").precision == "address"
    assert first.geocode("Koekatu", "5").precision == "street"
    again = AddressIndex.from_osm(osm)
    assert again.summary() == first.summary()
    assert again.geocode("Koekatu", "1") == first.geocode("Koekatu", "1")
    _write(osm, _OSM_XML.format(extra=_EXTRA))
    changed = AddressIndex.from_osm(osm)
    assert len(list((data_dir / "cache" / "geocode").glob("index-*.pkl"))) == 2
    assert changed.geocode("Koekatu", "5").precision == "address"
    assert changed.geocode("Koekatu", "3").precision == "interpolated"
    assert changed.geocode(city="Testby").matched == "Testilä"


def test_corrupt_cache_is_rebuilt(data_dir: Path) -> None:
    """An unreadable cache file is replaced, not trusted."""
    osm = _write(data_dir / "tiny.osm", _OSM_XML.format(extra=""))
    AddressIndex.from_osm(osm)
    (cached,) = (data_dir / "cache" / "geocode").glob("index-*.pkl")
    cached.write_bytes(b"not a pickle")
    idx = AddressIndex.from_osm(osm)
    assert idx.geocode("Koekatu", "1").precision == "address"
    assert cached.read_bytes() != b"not a pickle"


@pytest.mark.parametrize("content", [None, "", "this is not OSM"])
def test_bad_osm_file(data_dir: Path, content: str | None) -> None:
    """A missing, empty or unreadable OSM file is an OSMFileError."""
    p = data_dir / "bad.osm"
    if content is not None:
        p.write_text(content, encoding="utf-8")
    with pytest.raises(OSMFileError):
        AddressIndex.from_osm(p, cache=False)


def test_default_index_is_cached_per_process(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """default_index() builds once per OSM file and follows the settings."""
    monkeypatch.setattr(gc, "_DEFAULT", {})
    a = gc.default_index()
    assert gc.default_index() is a
    assert a.summary()["points"] == 1464
    osm = _write(data_dir / "tiny.osm", _OSM_XML.format(extra=""))
    monkeypatch.setenv("GCRM_OSM_FILE", str(osm))
    get_settings.cache_clear()
    b = gc.default_index()
    assert b is not a
    assert b.summary()["points"] == 1


# --------------------------------------------------------------------------------------
# Online fallback (never the network: a fake geocoder)
# --------------------------------------------------------------------------------------


class _FakeGeocoder:
    """Stands in for geopy's Nominatim/Photon."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def geocode(self, query: str, exactly_one: bool = True) -> Any:
        self.calls.append(query)
        a = self.answers.get(query)
        if isinstance(a, Exception):
            raise a
        return a


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def _loc(lat: float, lon: float, raw: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(latitude=lat, longitude=lon, address="Somewhere 1, Espoo", raw=raw)


def test_online_fallback_with_fake_geocoder(index: AddressIndex, tmp_path: Path) -> None:
    """Offline misses go online: cached on disk, rate-limited, precision mapped."""
    fake = _FakeGeocoder(
        {
            "Tapiontori 1, Espoo": _loc(60.17, 24.8, {"addresstype": "building"}),
            "Espoo": _loc(60.2, 24.65, {"properties": {"type": "city"}}),
            "Broken": RuntimeError("HTTP 503"),
        }
    )
    clock = _Clock()
    online = OnlineGeocoder(
        "https://photon.example.org",
        geocoder=fake,
        cache_path=tmp_path / "online.sqlite",
        clock=clock,
        sleep=clock.sleep,
    )
    r = index.geocode("Tapiontori", "1", city="Espoo", online=online)
    assert (r.lat, r.lon, r.precision) == (60.17, 24.8, "address")
    assert r.score == pytest.approx(0.8)
    assert "photon.example.org" in r.reason
    again = index.geocode("Tapiontori", "1", city="Espoo", online=online)
    assert (again.lat, again.lon) == (r.lat, r.lon)
    assert "cached" in again.reason
    assert fake.calls == ["Tapiontori 1, Espoo"]
    # found offline: never asked online
    assert index.geocode("Mannerheimintie", "16", online=online).precision == "address"
    assert index.geocode_text("Helsinki", online=online).precision == "city"
    assert len(fake.calls) == 1
    # the second request waits for the rate limit
    assert index.geocode_text("Espoo", online=online).precision == "city"
    assert clock.sleeps == [pytest.approx(1.0)]
    # not found online: none, and cached
    assert index.geocode_text("Nowhere", online=online).precision == "none"
    assert index.geocode_text("Nowhere", online=online).precision == "none"
    assert fake.calls.count("Nowhere") == 1
    # a failing service: none, not cached
    assert "503" in index.geocode_text("Broken", online=online).reason
    assert "503" in index.geocode_text("Broken", online=online).reason
    assert fake.calls.count("Broken") == 2
    with sqlite3.connect(tmp_path / "online.sqlite") as con:
        assert con.execute("select count(*) from answers").fetchone()[0] == 3
    many = index.geocode_many(["Mannerheimintie 16", "Tapiontori 1, Espoo"], online=online)
    assert list(many["precision"]) == ["address", "address"]


def test_online_is_off_by_default(index: AddressIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without allow_network nothing online is even built."""

    def boom(*args: object) -> None:
        raise AssertionError("an online geocoder was built")

    monkeypatch.setattr(geocode_online, "_geopy_geocoder", boom)
    assert get_settings().allow_network is False
    assert index.geocode("Xyzzy", "1").precision == "none"
    assert index.geocode_text("Xyzzy 1").precision == "none"
    assert index.geocode_many(["Xyzzy 1"])["precision"].iloc[0] == "none"


def test_online_needs_geopy(
    index: AddressIndex, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without geopy, enabling the online fallback raises a clear ImportError."""
    monkeypatch.setitem(sys.modules, "geopy", None)
    monkeypatch.setitem(sys.modules, "geopy.geocoders", None)
    with pytest.raises(ImportError, match="pip install geopy"):
        OnlineGeocoder("https://nominatim.example.org")
    monkeypatch.setenv("GCRM_ALLOW_NETWORK", "true")
    get_settings.cache_clear()
    monkeypatch.setattr(geocode_online, "_ONLINE", {})
    with pytest.raises(ImportError, match="geopy"):
        index.geocode("Xyzzy", "1")


@pytest.mark.parametrize(
    ("raw", "precision"),
    [
        ({"addresstype": "building"}, "address"),
        ({"address": {"house_number": "1"}, "addresstype": "place"}, "address"),
        ({"addresstype": "road"}, "street"),
        ({"addresstype": "postcode"}, "postcode"),
        ({"addresstype": "suburb"}, "city"),
        ({"properties": {"type": "house", "housenumber": "3"}}, "address"),
        ({"properties": {"type": "street"}}, "street"),
        ({"properties": {"type": "district"}}, "city"),
        ({}, "city"),
    ],
)
def test_online_precision_mapping(raw: dict[str, Any], precision: str) -> None:
    """Nominatim and Photon answers map onto gcrm's precisions."""
    assert geocode_online._online_precision(raw) == precision


def test_lookup_is_the_importer_signature(index: AddressIndex) -> None:
    """lookup() returns (lat, lon, precision, score), or None when nothing is found."""
    found = index.lookup("Mannerheimintie", "16", None, None)
    assert found is not None
    lat, lon, precision, score = found
    assert precision == "address" and score == 1.0
    exact = index.geocode(*_EXACT)
    assert _dist(lat, lon, exact.lat, exact.lon) < 1.0
    assert index.lookup("Xyzzy", "1", None, None) is None


def test_precisions_match_the_database_enum() -> None:
    """The database's Precision enum holds these strings plus provided and manual."""
    models = pytest.importorskip("gcrm.db.models")
    enum = getattr(models, "Precision", None)
    if enum is None:
        pytest.skip("gcrm.db.models has no Precision enum")
    assert {p.value for p in enum} == {*gc.PRECISIONS, "provided", "manual"}


def test_precisions_are_the_documented_strings() -> None:
    """The precision values the rest of the app relies on."""
    assert gc.PRECISIONS == ("address", "interpolated", "street", "postcode", "city", "none")
    assert Counter(gc.PRECISIONS).most_common(1)[0][1] == 1
    r = GeocodeResult(1.0, 2.0, "address", 1.0, "x")
    with pytest.raises(AttributeError):
        r.lat = 3.0  # type: ignore[misc]
