"""Offline geocoding against OpenStreetMap addresses.

An :class:`AddressIndex` is built once from any OSM file osmium can read (PBF,
XML, ``.osm.gz``/``.osm.bz2``; the region of the settings by default) and
cached on disk, keyed by the file's SHA-256. It holds

* address points: nodes with ``addr:housenumber`` and building ways' centroids
  (read by :func:`gcrm.osm.read_address_points`);
* named streets (``highway=*`` ways) with their geometry and every name form
  (``name``, ``name:<lang>``, ``official_name``, ``alt_name``, ``short_name``,
  ``old_name``), plus streets known only from ``addr:street``/``addr:place``;
* postcode areas derived from the address points;
* places (``place=city``, ``town``, ``village``, ``suburb``, ...) and the
  ``addr:city`` values of the address points.

Forward geocoding walks a fallback chain and says where it stopped:

=================  ===========================================================
precision          location
=================  ===========================================================
``address``        an OSM address point (the mean of points sharing an address)
``interpolated``   along the street between the nearest known house numbers of
                   the same parity
``street``         a point on the street (near the query's postcode if given)
``postcode``       the address point nearest the centre of the postcode's points
``city``           the place node (or the centre of the city's addresses)
``none``           nothing: ``lat``/``lon`` are ``None`` and ``reason`` says why
=================  ===========================================================

Every result carries a 0-1 ``score``: how well the query agrees with the
``matched`` text at that precision (1.0 exact; a fuzzy street name scores its
similarity; a house-number letter or range that had to be dropped costs 5%; a
postcode or city that contradicts the match costs 15% or 10%). A result that
scores below the threshold is ``none``, never a guess. The importer adds the
precisions ``provided`` and ``manual`` for coordinates it did not geocode.

Online look-ups (Nominatim or Photon through geopy) are off by default: they
happen only when ``GCRM_ALLOW_NETWORK`` is true or an :class:`OnlineGeocoder`
is passed explicitly, and only for queries the offline index cannot place.
"""

from __future__ import annotations

import bisect
import functools
import math
import os
import pickle
import re
import sqlite3
import sys
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from scipy.spatial import cKDTree

from gcrm._errors import InputError, OSMFileError
from gcrm.osm import cache_dir, file_digest, read_address_points, resolve_osm_file
from gcrm.settings import get_settings

__all__ = [
    "ADDRESS",
    "CITY",
    "DEFAULT_MIN_SCORE",
    "INTERPOLATED",
    "NONE",
    "OUTPUT_COLUMNS",
    "POSTCODE",
    "PRECISIONS",
    "STREET",
    "AddressIndex",
    "GeocodeResult",
    "OnlineGeocoder",
    "default_index",
    "geocode_file",
    "normalize_housenumber",
    "normalize_street",
    "parse_housenumber",
]

# --------------------------------------------------------------------------------------
# Public constants and the result type
# --------------------------------------------------------------------------------------

ADDRESS = "address"
INTERPOLATED = "interpolated"
STREET = "street"
POSTCODE = "postcode"
CITY = "city"
NONE = "none"
#: Precision values, best first (the importer adds ``provided`` and ``manual``).
PRECISIONS: tuple[str, ...] = (ADDRESS, INTERPOLATED, STREET, POSTCODE, CITY, NONE)

#: Results scoring below this are ``none`` (override per call with ``min_score=``
#: or with a ``geocode_min_score`` setting).
DEFAULT_MIN_SCORE = 0.6

#: Minimum similarity (0-100) of a fuzzy street or city name match: for streets the
#: mean of rapidfuzz's ``ratio`` and the OSA similarity, for cities ``ratio``.
FUZZY_CUTOFF = 82.0

# Version of the pickled index layout: bump it when AddressIndex's state changes.
_FORMAT_VERSION = 2

_EARTH_R = 6_371_008.8
_M_PER_DEG = math.pi / 180.0 * _EARTH_R

# Score factors (multiplied together).
_F_HOUSENUMBER_APPROX = 0.95  # letter/staircase or range had to be dropped
_F_ABBREVIATED = 0.9  # street name given as the start of a name ("Kalevan.")
_F_POSTCODE_MISMATCH = 0.85
_F_CITY_MISMATCH = 0.9

_STREET_CLUSTER_M = 500.0  # same-named ways closer than this are one street
_ADDRESS_TO_STREET_M = 2000.0  # farther than this, addr:street is its own street
_INTERPOLATION_SNAP_M = 60.0  # anchors farther than this from the street line: straight line
_REVERSE_MAX_M = 250.0
_PROGRESS_MIN_ROWS = 2000
_BATCH_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """One geocoded address.

    Attributes
    ----------
    lat, lon
        WGS84 coordinates, ``None`` when ``precision`` is ``"none"``.
    precision
        One of :data:`PRECISIONS`.
    score
        0-1 agreement between the query and ``matched``.
    matched
        The address text that was matched (``""`` when none).
    reason
        Why the result is not an exact address (fallback taken, what was not
        found); ``""`` for an exact match.
    """

    lat: float | None
    lon: float | None
    precision: str
    score: float
    matched: str
    reason: str = ""

    @property
    def found(self) -> bool:
        """Whether a location was found (precision is not ``"none"``)."""
        return self.precision != NONE


_Res = tuple[float | None, float | None, str, float, str, str]


def _none(reason: str) -> _Res:
    return (None, None, NONE, 0.0, "", reason)


_MEMO_MAX = 200_000  # entries per memo before it is emptied (long-running apps)


def _remember(memo: dict[Any, Any], key: Any, value: Any, lock: threading.Lock) -> None:
    """Store a memoised answer, emptying the memo when it grows too large."""
    with lock:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[key] = value


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")

# Whole-word abbreviations of a street type, as the last word ("Main St.", "Alvar Aallon k.").
_LAST_WORD = {
    "st": "street",
    "st.": "street",
    "str": "strasse",
    "str.": "strasse",
    "ave": "avenue",
    "ave.": "avenue",
    "av.": "avenue",
    "rd": "road",
    "rd.": "road",
    "blvd": "boulevard",
    "blvd.": "boulevard",
    "dr": "drive",
    "dr.": "drive",
    "ln": "lane",
    "ln.": "lane",
    "sq": "square",
    "sq.": "square",
    "ct": "court",
    "ct.": "court",
    "pl": "place",
    "pl.": "place",
    "hwy": "highway",
    "pkwy": "parkway",
    "k.": "katu",
    "t.": "tie",
    "g.": "gatan",
    "v.": "vägen",
}
# Whole-word abbreviations as the first word ("St. Mary's Road", "Av. Foch").
_FIRST_WORD = {
    "st": "saint",
    "st.": "saint",
    "av.": "avenue",
    "bd": "boulevard",
    "bd.": "boulevard",
}
# Abbreviated endings of a compound street name ("Annank.", "Mannerheimint.", "Anneg.").
_SUFFIXES = (("str.", "strasse"), ("k.", "katu"), ("t.", "tie"), ("g.", "gatan"), ("v.", "vägen"))


@functools.lru_cache(maxsize=1 << 16)
def _fold(text: str) -> str:
    """Case-fold and strip accents (``"Töölönkatu"`` -> ``"toolonkatu"``)."""
    s = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in s if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1 << 16)
def normalize_street(name: str) -> str:
    """Return the matching key of a street name.

    Case, accents, spaces and punctuation are dropped and common abbreviations
    expanded, so that ``"Annank."``, ``"ANNANKATU"`` and ``"Annankatu"`` share
    one key, as do ``"Mannerheimint."``/``"Mannerheimintie"``,
    ``"Anneg."``/``"Annegatan"``, ``"Main St."``/``"Main Street"`` and
    ``"Alvar Aallon k."``/``"Alvar Aallonkatu"``.

    Parameters
    ----------
    name
        A street name as written by a user or in OSM.

    Returns
    -------
    str
        Lower-case letters and digits only; ``""`` for a blank name.
    """
    words = name.casefold().replace("’", "'").split()
    if not words:
        return ""
    n = len(words)
    if n > 1 and words[0] in _FIRST_WORD:
        words[0] = _FIRST_WORD[words[0]]
    last = words[-1]
    if last in _LAST_WORD and (n > 1 or last.endswith(".")):
        words[-1] = _LAST_WORD[last]
    elif last.endswith(".") and len(last) > 2:
        for short, full in _SUFFIXES:
            if last.endswith(short) and len(last) > len(short) + 1:
                words[-1] = last[: -len(short)] + full
                break
    return _NON_ALNUM.sub("", _fold(" ".join(words)))


def _city_key(name: str) -> str:
    return _NON_ALNUM.sub("", _fold(name))


_HN_RE = re.compile(
    r"(\d+)\s*(?:([^\W\d_])(?![^\W\d_]))?(?:\s*[-–—]\s*(\d+)(?:\s*[^\W\d_](?![^\W\d_]))?)?"
)


@functools.lru_cache(maxsize=1 << 16)
def parse_housenumber(text: str) -> tuple[int, str, int] | None:
    """Parse a house number into ``(number, letter, range_end)``.

    Parameters
    ----------
    text
        ``"5"``, ``"5a"``, ``"5 A"``, ``"5-7"``, ``"5 B 12"`` (staircase B,
        flat 12: the flat is dropped), ``"13 A, 5. krs."`` (text after a comma
        is dropped); with several values (``"5;7"``) the first is used.

    Returns
    -------
    tuple of (int, str, int) or None
        The number, the lower-case letter (``""`` if none) and the end of a
        range (``0`` if none; ranges are put in increasing order), or ``None``
        when the text holds no number.
    """
    s = text.split(",", 1)[0].split(";", 1)[0]
    m = _HN_RE.search(s)
    if m is None:
        return None
    num = int(m.group(1))
    letter = (m.group(2) or "").casefold()
    end = int(m.group(3)) if m.group(3) else 0
    if end == num:
        end = 0
    elif end and end < num:
        num, end = end, num
    return num, letter, end


def _hn_key(num: int, letter: str, end: int) -> str:
    return f"{num}{letter}-{end}" if end else f"{num}{letter}"


def _hn_display(num: int, letter: str, end: int) -> str:
    s = f"{num} {letter.upper()}" if letter else str(num)
    return f"{s}-{end}" if end else s


def normalize_housenumber(text: str) -> str:
    """Return the matching key of a house number (``"5 A"`` -> ``"5a"``).

    Parameters
    ----------
    text
        A house number; see :func:`parse_housenumber`.

    Returns
    -------
    str
        ``"5"``, ``"5a"``, ``"5-7"``; ``""`` when the text holds no number.
    """
    p = parse_housenumber(text)
    return _hn_key(*p) if p else ""


def _clean(value: object) -> str:
    """A cell value as stripped text (``None``/NaN -> ``""``)."""
    if type(value) is str:
        return value.strip()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value).strip()


def _norm_postcode(text: str) -> str:
    return text.replace(" ", "").upper()


# --------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------


def _ecef(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Earth-centred coordinates in metres (straight-line distances ~ great circle)."""
    la = np.radians(np.asarray(lat, dtype=float))
    lo = np.radians(np.asarray(lon, dtype=float))
    c = np.cos(la)
    return np.column_stack(
        [_EARTH_R * c * np.cos(lo), _EARTH_R * c * np.sin(lo), _EARTH_R * np.sin(la)]
    )


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_R * math.asin(min(1.0, math.sqrt(a)))


def _cluster(points: Sequence[np.ndarray], cell_m: float) -> list[int]:
    """Label items (each an array of ECEF points) by grid proximity (union-find)."""
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[int, int, int], int] = {}
    for i, xyz in enumerate(points):
        cells = {tuple(c) for c in np.floor(xyz / cell_m).astype(np.int64).tolist()}
        for cx, cy, cz in cells:
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for dz in (-1, 0, 1):
                        j = owner.get((cx + dx, cy + dy, cz + dz))
                        if j is not None:
                            ri, rj = find(i), find(j)
                            if ri != rj:
                                parent[ri] = rj
            owner.setdefault((cx, cy, cz), i)
    return [find(i) for i in range(len(points))]


def _nearest_to_mean(lats: np.ndarray, lons: np.ndarray) -> tuple[float, float]:
    """The point of a set nearest to its mean (a representative point on it)."""
    if len(lats) == 1:
        return float(lats[0]), float(lons[0])
    mlat, mlon = float(lats.mean()), float(lons.mean())
    k = math.cos(math.radians(mlat))
    i = int(np.argmin((lats - mlat) ** 2 + ((lons - mlon) * k) ** 2))
    return float(lats[i]), float(lons[i])


# --------------------------------------------------------------------------------------
# Reading streets and places (the address points come from gcrm.osm)
# --------------------------------------------------------------------------------------

_NAME_WEIGHTS = {
    "name": 1.0,
    "official_name": 1.0,
    "alt_name": 0.98,
    "short_name": 0.97,
    "loc_name": 0.97,
    "old_name": 0.95,
}
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,8})?$")
_NOT_STREETS = frozenset({"platform", "bus_stop", "elevator", "services", "rest_area", "proposed"})
# place=* kinds: rank 0 is a town of its own, rank 1 a part of one.
_PLACE_RANK = {
    "city": 0,
    "town": 0,
    "municipality": 0,
    "village": 0,
    "hamlet": 0,
    "isolated_dwelling": 0,
    "borough": 1,
    "city_district": 1,
    "suburb": 1,
    "quarter": 1,
    "neighbourhood": 1,
    "locality": 1,
}


def _name_forms(tags: Mapping[str, str]) -> list[tuple[str, float]]:
    """Every name form of a feature with its weight (1.0 for current names)."""
    out: list[tuple[str, float]] = []
    for k, v in tags.items():
        base, _, lang = k.partition(":")
        if base not in _NAME_WEIGHTS:
            continue
        if lang and not _LANG.match(lang):
            continue  # name:etymology, name:prefix, ...
        w = _NAME_WEIGHTS[base]
        out.extend((part.strip(), w) for part in str(v).split(";") if part.strip())
    return out


def _read_streets_and_places(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Named highway ways (tags + polylines) and place nodes/ways (tags + lat/lon)."""
    import osmium

    streets: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []
    try:
        fp = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway", "place"))
        )
        obj: Any  # osmium's OSMObject union
        for obj in fp:
            if obj.is_relation():
                continue
            tags = obj.tags
            if obj.is_way() and "highway" in tags:
                if tags["highway"] in _NOT_STREETS or not any(
                    t.k.partition(":")[0] in _NAME_WEIGHTS for t in tags
                ):
                    continue
                coords: list[list[tuple[float, float]]] = [[]]
                for n in obj.nodes:
                    loc = n.location
                    if loc.valid():
                        coords[-1].append((loc.lon, loc.lat))
                    elif coords[-1]:
                        coords.append([])  # clipped extract: split at the missing node
                coords = [c for c in coords if c]
                if coords:
                    streets.append({"tags": {t.k: t.v for t in tags}, "coords": coords})
            elif tags.get("place") in _PLACE_RANK and "name" in tags:
                if obj.is_node():
                    if not obj.location.valid():
                        continue
                    lat, lon = obj.location.lat, obj.location.lon
                else:
                    pts = [
                        (n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()
                    ]
                    if not pts:
                        continue
                    lat = sum(p[0] for p in pts) / len(pts)
                    lon = sum(p[1] for p in pts) / len(pts)
                places.append({"tags": {t.k: t.v for t in tags}, "lat": lat, "lon": lon})
    except RuntimeError as exc:  # osmium reports unreadable input as RuntimeError
        msg = f"cannot read OSM file {path}: {exc}"
        raise OSMFileError(msg) from exc
    return streets, places


# --------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------


@dataclass
class _Street:
    """A street: same-named ways close together, or an addr:street without ways."""

    name: str
    parts: list[np.ndarray]  # polylines, (k, 2) lon/lat; empty when known from addresses only
    lat: float = math.nan  # representative point on the street
    lon: float = math.nan
    postcodes: Counter[str] = field(default_factory=Counter)
    cities: Counter[int] = field(default_factory=Counter)
    pc_rep: dict[str, tuple[float, float]] = field(default_factory=dict)
    # parity -> (sorted numbers, lats, lons) of known house numbers, for interpolation
    anchors: dict[int, tuple[list[int], list[float], list[float]]] = field(default_factory=dict)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, group)
    n_addresses: int = 0


@dataclass
class _City:
    name: str
    lat: float
    lon: float
    rank: int  # 0 a town of its own, 1 part of one


class AddressIndex:
    """Addresses, streets, postcodes and places of one OSM file, for geocoding.

    Build it with :meth:`from_osm` (cached on disk) or, for small synthetic
    data, with the constructor. Queries are thread-safe (the only shared state
    they change is a memo of street-name matches).

    Parameters
    ----------
    points
        Address points as returned by :func:`gcrm.osm.read_address_points`:
        ``lat``, ``lon`` and the ``addr:*`` tag columns (``addr:street`` or
        ``addr:place``, ``addr:housenumber``, ``addr:postcode``, ``addr:city``,
        and optionally ``addr:street:<lang>``).
    streets
        Named streets: mappings with ``"tags"`` (``name``, ``name:sv``, ...)
        and ``"coords"``, a list of polylines of ``(lon, lat)``.
    places
        Places: mappings with ``"tags"`` (``place``, ``name``, ...), ``"lat"``
        and ``"lon"``.
    source
        Where the data came from (shown in summaries).
    """

    def __init__(
        self,
        points: pd.DataFrame,
        streets: Sequence[Mapping[str, Any]] = (),
        places: Sequence[Mapping[str, Any]] = (),
        *,
        source: str = "",
    ) -> None:
        self.source = source
        self._streets: list[_Street] = []
        self._names: dict[str, list[tuple[int, float]]] = {}
        self._cities: list[_City] = []
        self._city_keys: dict[str, int] = {}
        # address groups (points sharing street + house number)
        self._g_lat: list[float] = []
        self._g_lon: list[float] = []
        self._g_matched: list[str] = []
        self._g_postcodes: list[frozenset[str]] = []
        self._g_cities: list[frozenset[int]] = []
        self._g_size: list[int] = []
        self._addr: dict[tuple[int, str], int] = {}
        self._addr_pc: dict[tuple[int, str, str], int] = {}
        self._num: dict[tuple[int, int], int] = {}
        self._postcodes: dict[str, tuple[float, float, str, frozenset[int]]] = {}
        self._pc_width = 0
        self._build(points, streets, places)
        self._init_caches()

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_osm(cls, path: str | Path | None = None, *, cache: bool = True) -> AddressIndex:
        """Build (or load from the disk cache) the index of an OSM file.

        Parameters
        ----------
        path
            PBF, OSM XML, ``.osm.gz``/``.osm.bz2``; ``None`` for the region of
            the settings (the bundled Helsinki extract by default).
        cache
            Read and write ``<data_dir>/cache/geocode/``, keyed by the file's
            SHA-256 (and the index format), so a changed file is re-indexed.

        Returns
        -------
        AddressIndex
            The index.

        Raises
        ------
        OSMFileError
            If the file is missing, empty or unreadable.
        """
        p = resolve_osm_file(path)
        if not cache:
            return cls._from_file(p)
        digest = file_digest(p)
        target = cache_dir("geocode") / f"index-{digest[:40]}-v{_FORMAT_VERSION}.pkl"
        if target.is_file():
            try:
                with target.open("rb") as f:
                    idx = pickle.load(f)
            except Exception:  # truncated or foreign pickle: many error types
                idx = None  # unreadable cache: rebuild it
            if isinstance(idx, cls):
                idx.source = str(p)
                return idx
        idx = cls._from_file(p)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with tmp.open("wb") as f:
                pickle.dump(idx, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only cache only costs a rebuild
        return idx

    @classmethod
    def _from_file(cls, path: Path) -> AddressIndex:
        points = read_address_points(path)
        streets, places = _read_streets_and_places(path)
        return cls(points, streets, places, source=str(path))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for k in (
            "_lock",
            "_street_memo",
            "_fuzzy_memo",
            "_city_memo",
            "_text_memo",
            "_lines",
            "_name_list",
            "_sorted_names",
            "_city_list",
        ):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    def _init_caches(self) -> None:
        self._lock = threading.Lock()
        self._street_memo: dict[str, list[tuple[int, float]]] = {}
        self._fuzzy_memo: dict[str, list[tuple[int, float]]] = {}
        self._city_memo: dict[str, tuple[int | None, float]] = {}
        self._text_memo: dict[str, tuple[tuple[str, ...], str, str, str]] = {}
        self._lines: dict[int, Any] = {}
        self._name_list = list(self._names)
        self._sorted_names = sorted(self._names)
        self._city_list = list(self._city_keys)

    def _add_name(self, form: str, sid: int, weight: float) -> None:
        key = normalize_street(form)
        if not key:
            return
        lst = self._names.setdefault(key, [])
        for i, (s, w) in enumerate(lst):
            if s == sid:
                if weight > w:
                    lst[i] = (sid, weight)
                return
        lst.append((sid, weight))

    def _add_city(self, name: str, lat: float, lon: float, rank: int) -> int:
        cid = len(self._cities)
        self._cities.append(_City(name, lat, lon, rank))
        return cid

    def _build(
        self,
        points: pd.DataFrame,
        streets: Sequence[Mapping[str, Any]],
        places: Sequence[Mapping[str, Any]],
    ) -> None:
        self._build_places(places)
        self._build_streets(streets)
        pts = self._prepare_points(points)
        self._build_cities_from_points(pts)
        self._assign_streets(pts)
        self._build_groups(pts)
        self._build_postcodes(pts)
        self._build_reverse(pts)

    def _build_places(self, places: Sequence[Mapping[str, Any]]) -> None:
        ranked = sorted(places, key=lambda p: _PLACE_RANK.get(p["tags"].get("place", ""), 2))
        for p in ranked:
            tags = p["tags"]
            rank = _PLACE_RANK.get(tags.get("place", ""), 1)
            forms = _name_forms(tags)
            if not forms:
                continue
            name = tags.get("name") or forms[0][0]
            cid = self._add_city(name, float(p["lat"]), float(p["lon"]), rank)
            for form, _w in forms:
                self._city_keys.setdefault(_city_key(form), cid)

    def _build_streets(self, streets: Sequence[Mapping[str, Any]]) -> None:
        by_name: dict[str, list[tuple[dict[str, Any], list[np.ndarray]]]] = defaultdict(list)
        for s in streets:
            tags = dict(s["tags"])
            parts = [np.asarray(c, dtype=float).reshape(-1, 2) for c in s["coords"] if len(c)]
            forms = _name_forms(tags)
            if not parts or not forms:
                continue
            name = tags.get("name") or forms[0][0]
            key = normalize_street(name)
            if key:
                by_name[key].append((tags, parts))
        for group in by_name.values():
            xyz = [_ecef(np.concatenate(p)[:, 1], np.concatenate(p)[:, 0]) for _t, p in group]
            labels = _cluster(xyz, _STREET_CLUSTER_M) if len(group) > 1 else [0]
            clusters: dict[int, list[int]] = defaultdict(list)
            for i, lab in enumerate(labels):
                clusters[lab].append(i)
            for members in clusters.values():
                names = Counter(group[i][0].get("name", "") for i in members)
                parts = [part for i in members for part in group[i][1]]
                verts = np.concatenate(parts)
                lat, lon = _nearest_to_mean(verts[:, 1], verts[:, 0])
                sid = len(self._streets)
                self._streets.append(_Street(names.most_common(1)[0][0], parts, lat, lon))
                for i in members:
                    for form, w in _name_forms(group[i][0]):
                        self._add_name(form, sid, w)

    @staticmethod
    def _prepare_points(points: pd.DataFrame) -> pd.DataFrame:
        if points.empty or "lat" not in points.columns:
            return pd.DataFrame(
                columns=["lat", "lon", "street", "hn", "postcode", "city", "street_forms"]
            )
        df = pd.DataFrame(
            {
                "lat": pd.to_numeric(points["lat"], errors="coerce"),
                "lon": pd.to_numeric(points["lon"], errors="coerce"),
            }
        )

        def col(name: str) -> list[str]:
            if name not in points.columns:
                return [""] * len(points)
            return [_clean(v) for v in points[name].tolist()]

        street = col("addr:street")
        place = col("addr:place")
        df["street"] = [s or p for s, p in zip(street, place, strict=True)]
        df["hn"] = col("addr:housenumber")
        df["postcode"] = [_norm_postcode(v) for v in col("addr:postcode")]
        df["city"] = col("addr:city")
        lang_cols = [
            c
            for c in points.columns
            if c.startswith("addr:street:") and _LANG.match(c.split(":", 2)[2])
        ]
        extra = [col(c) for c in lang_cols]
        df["street_forms"] = (
            [tuple(e[i] for e in extra if e[i]) for i in range(len(points))]
            if extra
            else [()] * len(points)
        )
        return df[df["lat"].notna() & df["lon"].notna()].reset_index(drop=True)

    def _build_cities_from_points(self, pts: pd.DataFrame) -> None:
        city_ids: list[int] = []
        unknown: dict[str, list[int]] = defaultdict(list)
        names: dict[str, Counter[str]] = defaultdict(Counter)
        for i, c in enumerate(pts["city"].tolist()):
            key = _city_key(c) if c else ""
            if not key or key.isdigit():
                city_ids.append(-1)
                continue
            cid = self._city_keys.get(key)
            if cid is None:
                unknown[key].append(i)
                names[key][c] += 1
                city_ids.append(-2)
            else:
                city_ids.append(cid)
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        for key, idx in unknown.items():
            cid = self._add_city(
                names[key].most_common(1)[0][0], float(lats[idx].mean()), float(lons[idx].mean()), 0
            )
            self._city_keys[key] = cid
            for i in idx:
                city_ids[i] = cid
        pts["city_id"] = city_ids

    def _assign_streets(self, pts: pd.DataFrame) -> None:
        """Give every address point a street id (-1 when it has no street)."""
        sids = np.full(len(pts), -1, dtype=np.int64)
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        by_key: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(pts["street"].tolist()):
            key = normalize_street(s) if s else ""
            if key:
                by_key[key].append(i)
        trees: dict[int, cKDTree] = {}
        orphans: dict[str, list[int]] = defaultdict(list)
        for key, idx in by_key.items():
            cands = [(s, w) for s, w in self._names.get(key, []) if self._streets[s].parts]
            if not cands:
                orphans[key].extend(idx)
                continue
            xyz = _ecef(lats[idx], lons[idx])
            best = np.full(len(idx), np.inf)
            choice = np.full(len(idx), -1, dtype=np.int64)
            for s, w in cands:
                if s not in trees:
                    verts = np.concatenate(self._streets[s].parts)
                    trees[s] = cKDTree(_ecef(verts[:, 1], verts[:, 0]))
                d, _ = trees[s].query(xyz)
                cost = d + (1.0 - w) * 10 * _ADDRESS_TO_STREET_M  # current names first
                better = (d <= _ADDRESS_TO_STREET_M) & (cost < best)
                best[better] = cost[better]
                choice[better] = s
            for j, i in enumerate(idx):
                if choice[j] >= 0:
                    sids[i] = choice[j]
                else:
                    orphans[key].append(i)
        # Streets known only from addresses (no named way nearby): cluster them too.
        street_col = pts["street"].tolist()
        for idx in orphans.values():
            singles = [_ecef(lats[[i]], lons[[i]]) for i in idx]
            labels = _cluster(singles, _ADDRESS_TO_STREET_M) if len(idx) > 1 else [0]
            clusters: dict[int, list[int]] = defaultdict(list)
            for i, lab in zip(idx, labels, strict=True):
                clusters[lab].append(i)
            for members in clusters.values():
                name = Counter(street_col[i] for i in members).most_common(1)[0][0]
                lat, lon = _nearest_to_mean(lats[members], lons[members])
                sid = len(self._streets)
                self._streets.append(_Street(name, [], lat, lon))
                for i in members:
                    sids[i] = sid
                    self._add_name(street_col[i], sid, 1.0)
        # Other-language forms on the points (addr:street:sv) name their street too.
        for i, forms in enumerate(pts["street_forms"].tolist()):
            if sids[i] >= 0:
                for form in forms:
                    self._add_name(form, int(sids[i]), 1.0)
        pts["sid"] = sids

    def _new_group(
        self,
        lats: np.ndarray,
        lons: np.ndarray,
        matched: str,
        pcs: Iterable[str],
        cities: Iterable[int],
    ) -> int:
        gid = len(self._g_lat)
        self._g_lat.append(float(lats.mean()))
        self._g_lon.append(float(lons.mean()))
        self._g_matched.append(matched)
        self._g_postcodes.append(frozenset(p for p in pcs if p))
        self._g_cities.append(frozenset(c for c in cities if c >= 0))
        self._g_size.append(len(lats))
        return gid

    def _tail(self, pcs: Counter[str], cities: Counter[int]) -> str:
        """``", 00120 Helsinki"`` from the most common postcode and city."""
        pc = pcs.most_common(1)[0][0] if pcs else ""
        city = self._cities[cities.most_common(1)[0][0]].name if cities else ""
        tail = f"{pc} {city}".strip()
        return f", {tail}" if tail else ""

    def _build_groups(self, pts: pd.DataFrame) -> None:
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        pcs = pts["postcode"].tolist()
        cids = pts["city_id"].tolist()
        parsed = [parse_housenumber(h) if h else None for h in pts["hn"].tolist()]
        sids = pts["sid"].tolist()
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        by_num: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (sid, p) in enumerate(zip(sids, parsed, strict=True)):
            if sid < 0:
                continue
            st = self._streets[sid]
            st.n_addresses += 1
            if pcs[i]:
                st.postcodes[pcs[i]] += 1
            if cids[i] >= 0:
                st.cities[cids[i]] += 1
            if p is not None:
                groups[(sid, _hn_key(*p))].append(i)
                by_num[(sid, p[0])].append(i)
        point_group = [-1] * len(pts)
        anchors: dict[tuple[int, int], dict[int, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for (sid, key), idx in groups.items():
            st = self._streets[sid]
            num, letter, end = parse_housenumber(key) or (0, "", 0)
            g_pcs = Counter(pcs[i] for i in idx if pcs[i])
            g_cities = Counter(cids[i] for i in idx if cids[i] >= 0)
            if not g_cities and st.cities:
                g_cities = Counter({st.cities.most_common(1)[0][0]: 1})
            head = f"{st.name} {_hn_display(num, letter, end)}"
            gid = self._new_group(
                lats[idx], lons[idx], head + self._tail(g_pcs, g_cities), g_pcs, g_cities
            )
            self._addr[(sid, key)] = gid
            for i in idx:
                point_group[i] = gid
            if len(g_pcs) > 1:  # one address, several postcodes: keep them apart too
                for pc in g_pcs:
                    sub = [i for i in idx if pcs[i] == pc]
                    self._addr_pc[(sid, key, pc)] = self._new_group(
                        lats[sub],
                        lons[sub],
                        head + self._tail(Counter({pc: 1}), g_cities),
                        [pc],
                        g_cities,
                    )
            for n in (num, end) if end else (num,):
                anchors[(sid, n % 2)][n].extend(idx)
            if end:
                st.ranges.append((num, end, gid))
        for (sid, num), idx in by_num.items():
            if (sid, str(num)) in self._addr:
                continue
            st = self._streets[sid]
            g_pcs = Counter(pcs[i] for i in idx if pcs[i])
            g_cities = Counter(cids[i] for i in idx if cids[i] >= 0)
            self._num[(sid, num)] = self._new_group(
                lats[idx],
                lons[idx],
                f"{st.name} {num}" + self._tail(g_pcs, g_cities),
                g_pcs,
                g_cities,
            )
        for (sid, parity), nums in anchors.items():
            ordered = sorted(nums)
            self._streets[sid].anchors[parity] = (
                ordered,
                [float(lats[nums[n]].mean()) for n in ordered],
                [float(lons[nums[n]].mean()) for n in ordered],
            )
        # A representative point per street and postcode (for street precision).
        by_street_pc: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i, sid in enumerate(sids):
            if sid >= 0 and pcs[i]:
                by_street_pc[(sid, pcs[i])].append(i)
        for (sid, pc), idx in by_street_pc.items():
            st = self._streets[sid]
            mlat, mlon = float(lats[idx].mean()), float(lons[idx].mean())
            if st.parts:
                verts = np.concatenate(st.parts)
                k = math.cos(math.radians(mlat))
                j = int(np.argmin((verts[:, 1] - mlat) ** 2 + ((verts[:, 0] - mlon) * k) ** 2))
                st.pc_rep[pc] = (float(verts[j, 1]), float(verts[j, 0]))
            else:
                st.pc_rep[pc] = _nearest_to_mean(lats[idx], lons[idx])
        pts["group"] = point_group

    def _build_postcodes(self, pts: pd.DataFrame) -> None:
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        by_pc: dict[str, list[int]] = defaultdict(list)
        for i, pc in enumerate(pts["postcode"].tolist()):
            if pc:
                by_pc[pc].append(i)
        cids = pts["city_id"].tolist()
        for pc, idx in by_pc.items():
            lat, lon = _nearest_to_mean(lats[idx], lons[idx])
            cities = Counter(cids[i] for i in idx if cids[i] >= 0)
            matched = f"{pc} {self._cities[cities.most_common(1)[0][0]].name}" if cities else pc
            self._postcodes[pc] = (lat, lon, matched, frozenset(cities))
        # Numeric postcodes of one width (a stray "000120" aside): pad short queries.
        widths = Counter(len(pc) if pc.isdigit() else -1 for pc in pts["postcode"] if pc)
        if widths:
            width, n = widths.most_common(1)[0]
            if width > 0 and n >= 0.9 * widths.total():
                self._pc_width = width

    def _build_reverse(self, pts: pd.DataFrame) -> None:
        self._pt_lat = pts["lat"].to_numpy(dtype=float)
        self._pt_lon = pts["lon"].to_numpy(dtype=float)
        groups = pts["group"].tolist() if len(pts) else []
        matched: list[str] = []
        for i, row in enumerate(pts.itertuples(index=False)):
            if groups[i] >= 0:
                matched.append(self._g_matched[groups[i]])
            else:
                p = parse_housenumber(row.hn) if row.hn else None
                head = " ".join(x for x in (row.street, _hn_display(*p) if p else row.hn) if x)
                tail = " ".join(x for x in (row.postcode, row.city) if x)
                matched.append(", ".join(x for x in (head, tail) if x))
        self._pt_matched = matched
        self._tree = cKDTree(_ecef(self._pt_lat, self._pt_lon)) if len(pts) else None

    # -- summary -----------------------------------------------------------------------

    def summary(self) -> dict[str, int]:
        """Counts of what the index holds.

        Returns
        -------
        dict
            ``points`` (address points with coordinates), ``addresses``
            (distinct street + house number), ``shared_addresses`` (addresses
            carried by more than one point), ``points_sharing`` (points on
            them), ``streets``, ``street_names`` (name keys), ``postcodes`` and
            ``cities``.
        """
        shared = [self._g_size[g] for g in self._addr.values() if self._g_size[g] > 1]
        return {
            "points": len(self._pt_lat),
            "addresses": len(self._addr),
            "shared_addresses": len(shared),
            "points_sharing": sum(shared),
            "streets": len(self._streets),
            "street_names": len(self._names),
            "postcodes": len(self._postcodes),
            "cities": len(self._cities),
        }

    # -- matching helpers --------------------------------------------------------------

    def _street_candidates(self, street: str) -> list[tuple[int, float]]:
        """Streets a name may mean, with a 0-1 name score (memoised per spelling).

        Exact key first; then, for a name ending in ``"."``, the streets whose
        key starts with it (``"Kalevan."``); then fuzzy matches.
        """
        memo = self._street_memo.get(street)
        if memo is not None:
            return memo
        key = normalize_street(street)
        out: list[tuple[int, float]] = []
        if key:
            out = self._names.get(key) or []
            if not out and street.endswith(".") and len(key) >= 4:
                out = self._prefix_candidates(key)
            if not out:
                out = self._fuzzy_candidates(key)
        _remember(self._street_memo, street, out, self._lock)
        return out

    def _prefix_candidates(self, key: str) -> list[tuple[int, float]]:
        names = self._sorted_names
        found: dict[int, float] = {}
        i = bisect.bisect_left(names, key)
        while i < len(names) and names[i].startswith(key) and len(found) < 20:
            for sid, w in self._names[names[i]]:
                found[sid] = max(found.get(sid, 0.0), round(_F_ABBREVIATED * w, 4))
            i += 1
        return sorted(found.items(), key=lambda t: -t[1])

    def _fuzzy_candidates(self, key: str) -> list[tuple[int, float]]:
        memo = self._fuzzy_memo.get(key)
        if memo is not None:
            return memo
        # rapidfuzz's ratio pre-selects; the mean of ratio and the OSA similarity
        # (a transposition is one edit) ranks, so "Smionkatu" is Simonkatu.
        hits = process.extract(
            key, self._name_list, scorer=fuzz.ratio, limit=10, score_cutoff=FUZZY_CUTOFF - 15
        )
        scored = sorted(
            ((r + 100.0 * OSA.normalized_similarity(key, name)) / 2.0, name) for name, r, _ in hits
        )[::-1]
        out: list[tuple[int, float]] = []
        if scored and scored[0][0] >= FUZZY_CUTOFF:
            top = scored[0][0]
            seen: dict[int, float] = {}
            for score, name in scored:
                if score < top - 2.0:
                    break
                for sid, w in self._names[name]:
                    seen[sid] = max(seen.get(sid, 0.0), round(score / 100.0 * w, 4))
            out = sorted(seen.items(), key=lambda t: -t[1])
        _remember(self._fuzzy_memo, key, out, self._lock)
        return out

    def _city_candidate(self, city: str) -> tuple[int | None, float]:
        memo = self._city_memo.get(city)
        if memo is not None:
            return memo
        key = _city_key(city)
        res: tuple[int | None, float] = (None, 0.0)
        if key:
            cid = self._city_keys.get(key)
            if cid is not None:
                res = (cid, 1.0)
            elif self._city_list:
                hit = process.extractOne(
                    key, self._city_list, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                )
                if hit is not None:
                    res = (self._city_keys[hit[0]], round(hit[1] / 100.0, 4))
        _remember(self._city_memo, city, res, self._lock)
        return res

    def _norm_query_postcode(self, postcode: str) -> str:
        pc = _norm_postcode(postcode)
        if (
            self._pc_width
            and pc.isdigit()
            and len(pc) < self._pc_width
            and pc not in self._postcodes
        ):
            pc = pc.zfill(self._pc_width)  # leading zeros lost by a spreadsheet
        return pc

    def _choose_street(
        self, cands: list[tuple[int, float]], hkey: str, pc: str, cid: int | None
    ) -> tuple[int, float] | None:
        """The street a query means, or ``None`` when several fit equally well."""
        if len(cands) == 1:
            return cands[0]
        streets = self._streets

        def fit(sid: int) -> tuple[bool, bool, bool, bool]:
            st = streets[sid]
            return (
                bool(pc) and pc in st.postcodes,
                cid is not None and cid in st.cities,
                bool(hkey) and (sid, hkey) in self._addr,
                st.n_addresses > 0,
            )

        ranked = sorted(((fit(sid), score, sid) for sid, score in cands), reverse=True)
        best_fit, best_score, best_sid = ranked[0]
        for f, score, _sid in ranked[1:]:
            if f == best_fit and score >= best_score - 0.02:
                return None  # e.g. two same-named streets and nothing to tell them apart
        return best_sid, best_score

    def _agreement(
        self, pcs: frozenset[str] | Counter[str], cities: Any, pc: str, cq: tuple[bool, int | None]
    ) -> float:
        f = 1.0
        if pc and pcs and pc not in pcs:
            f *= _F_POSTCODE_MISMATCH
        penalize, cid = cq
        if penalize and cities and cid not in cities:
            f *= _F_CITY_MISMATCH
        return f

    def _lines_of(self, sid: int) -> tuple[float, float, float, list[Any]]:
        """Merged polylines of a street in a local metric frame (memoised)."""
        got = self._lines.get(sid)
        if got is None:
            import shapely

            st = self._streets[sid]
            kx = math.cos(math.radians(st.lat)) * _M_PER_DEG
            merged = shapely.line_merge(
                shapely.MultiLineString([p for p in st.parts if len(p) > 1])
            )
            geoms = list(getattr(merged, "geoms", [merged]))
            lines = [
                shapely.LineString(
                    np.column_stack(
                        [
                            (np.asarray(g.coords)[:, 0] - st.lon) * kx,
                            (np.asarray(g.coords)[:, 1] - st.lat) * _M_PER_DEG,
                        ]
                    )
                )
                for g in geoms
                if not g.is_empty
            ]
            got = (st.lat, st.lon, kx, lines)
            with self._lock:
                self._lines[sid] = got
        return got

    def _interpolate(self, sid: int, num: int) -> tuple[float, float, int, int] | None:
        """Position of ``num`` between the nearest known numbers of its parity."""
        st = self._streets[sid]
        a = st.anchors.get(num % 2)
        if a is None:
            return None
        nums, alat, alon = a
        i = bisect.bisect_left(nums, num)
        if i == 0 or i >= len(nums):
            return None
        if nums[i] == num:
            return alat[i], alon[i], num, num
        n0, n1 = nums[i - 1], nums[i]
        t = (num - n0) / (n1 - n0)
        lat0, lon0, lat1, lon1 = alat[i - 1], alon[i - 1], alat[i], alon[i]
        lat = lat0 + t * (lat1 - lat0)
        lon = lon0 + t * (lon1 - lon0)
        if st.parts and any(len(p) > 1 for p in st.parts):
            import shapely

            olat, olon, kx, lines = self._lines_of(sid)
            a_pt = shapely.Point((lon0 - olon) * kx, (lat0 - olat) * _M_PER_DEG)
            b_pt = shapely.Point((lon1 - olon) * kx, (lat1 - olat) * _M_PER_DEG)
            best = min(lines, key=lambda g: g.distance(a_pt) + g.distance(b_pt), default=None)
            if (
                best is not None
                and best.distance(a_pt) <= _INTERPOLATION_SNAP_M
                and best.distance(b_pt) <= _INTERPOLATION_SNAP_M
            ):
                sa, sb = best.project(a_pt), best.project(b_pt)
                p = best.interpolate(sa + t * (sb - sa))
                pa, pb = best.interpolate(sa), best.interpolate(sb)
                # keep the anchors' offset from the centre line (the row of buildings)
                x = p.x + (1 - t) * (a_pt.x - pa.x) + t * (b_pt.x - pb.x)
                y = p.y + (1 - t) * (a_pt.y - pa.y) + t * (b_pt.y - pb.y)
                lat, lon = olat + y / _M_PER_DEG, olon + x / kx
        return lat, lon, n0, n1

    @staticmethod
    def _nearest_anchor(st: _Street, num: int) -> tuple[int, float, float] | None:
        """The known house number nearest to ``num`` (same parity first)."""
        best: tuple[int, int, float, float] | None = None
        for parity, (nums, alat, alon) in st.anchors.items():
            i = bisect.bisect_left(nums, num)
            for j in (i - 1, i):
                if 0 <= j < len(nums):
                    cost = abs(nums[j] - num) + (0 if parity == num % 2 else 10_000)
                    if best is None or cost < best[0]:
                        best = (cost, nums[j], alat[j], alon[j])
        return None if best is None else best[1:]

    # -- forward geocoding -------------------------------------------------------------

    def _resolve(
        self, street: str, housenumber: str, postcode: str, city: str, min_score: float
    ) -> _Res:
        pc = self._norm_query_postcode(postcode) if postcode else ""
        cid: int | None = None
        cscore = 0.0
        cq: tuple[bool, int | None] = (False, None)
        if city.isdigit():
            city = ""  # a number is no city (seen in addr:city)
        if city:
            cid, cscore = self._city_candidate(city)
            cq = (cid is None or self._cities[cid].rank == 0, cid)
        hnp = parse_housenumber(housenumber) if housenumber else None
        reason = ""
        if street:
            cands = self._street_candidates(street)
            if cands:
                hkey = _hn_key(*hnp) if hnp else ""
                chosen = self._choose_street(cands, hkey, pc, cid)
                if chosen is None:
                    names = sorted({self._street_label(s) for s, _ in cands})
                    reason = f"street {street!r} is ambiguous ({'; '.join(names[:5])})"
                else:
                    res = self._on_street(chosen[0], chosen[1], hnp, hkey, housenumber, pc, cq)
                    if res[3] >= min_score:
                        if chosen[1] < 1.0 and normalize_street(street) not in self._names:
                            note = f"street {street!r} read as {self._streets[chosen[0]].name}"
                            return (*res[:5], f"{note}; {res[5]}" if res[5] else note)
                        return res
                    reason = f"best match {res[4]!r} scored {res[3]:.2f} < {min_score:.2f}"
                    if chosen[1] < min_score:  # the name itself is too far: no such street
                        return _none(f"street {street!r} not found ({reason})")
            else:
                # a street that does not exist is no place: never a postcode or city pin
                return _none(f"street {street!r} not found in the region's OSM data")
        elif housenumber:
            reason = "no street given"
        if pc:
            hit = self._postcodes.get(pc)
            if hit is not None:
                lat, lon, matched, pc_cities = hit
                score = round(self._agreement(frozenset(), pc_cities, "", cq), 4)
                if score >= min_score:
                    return (lat, lon, POSTCODE, score, matched, reason or "postcode only")
            reason = (
                f"{reason}; postcode {postcode!r} not found"
                if reason
                else f"postcode {postcode!r} not found"
            )
        if city:
            if cid is not None:
                c = self._cities[cid]
                score = round(cscore, 4)
                if score >= min_score:
                    return (c.lat, c.lon, CITY, score, c.name, reason or "city only")
            reason = f"{reason}; city {city!r} not found" if reason else f"city {city!r} not found"
        return _none(reason or "empty query")

    def _street_label(self, sid: int) -> str:
        """``"Hauptstraße in Heinersreuth"`` (the street's most common city)."""
        st = self._streets[sid]
        if not st.cities:
            return st.name
        return f"{st.name} in {self._cities[st.cities.most_common(1)[0][0]].name}"

    def _on_street(
        self,
        sid: int,
        s_score: float,
        hnp: tuple[int, str, int] | None,
        hkey: str,
        housenumber: str,
        pc: str,
        cq: tuple[bool, int | None],
    ) -> _Res:
        st = self._streets[sid]
        if hnp is not None:
            num, letter, end = hnp
            factor = 1.0
            gid = None
            keys = [hkey]
            if end:
                keys.append(_hn_key(num, letter, 0))
            if letter:
                keys.append(str(num))
            for j, key in enumerate(keys):
                if pc:
                    gid = self._addr_pc.get((sid, key, pc))
                if gid is None:
                    gid = self._addr.get((sid, key))
                if gid is not None:
                    factor = 1.0 if j == 0 else _F_HOUSENUMBER_APPROX
                    break
            if gid is None:
                factor = _F_HOUSENUMBER_APPROX
                gid = self._num.get((sid, num))  # "5" when only "5 A", "5 B" or "5-7" exist
            if gid is None:
                for a, b, g in st.ranges:  # "16" inside "14-20"
                    if a <= num <= b and (num - a) % 2 == 0:
                        gid = g
                        break
            if gid is not None:
                score = round(
                    s_score
                    * factor
                    * self._agreement(self._g_postcodes[gid], self._g_cities[gid], pc, cq),
                    4,
                )
                reason = (
                    "" if factor == 1.0 else f"house number {housenumber!r} matched approximately"
                )
                return (
                    self._g_lat[gid],
                    self._g_lon[gid],
                    ADDRESS,
                    score,
                    self._g_matched[gid],
                    reason,
                )
            ip = self._interpolate(sid, num)
            if ip is not None:
                lat, lon, n0, n1 = ip
                score = round(s_score * self._agreement(st.postcodes, st.cities, pc, cq), 4)
                matched = f"{st.name} {_hn_display(num, letter, 0)}" + self._tail(
                    Counter({pc: 1}) if pc in st.postcodes else st.postcodes, st.cities
                )
                return (
                    lat,
                    lon,
                    INTERPOLATED,
                    score,
                    matched,
                    f"interpolated between {n0} and {n1}",
                )
            near = self._nearest_anchor(st, num)
            if near is not None:
                n, lat, lon = near
                score = round(s_score * self._agreement(st.postcodes, st.cities, pc, cq), 4)
                matched = st.name + self._tail(
                    Counter({pc: 1}) if pc in st.postcodes else st.postcodes, st.cities
                )
                reason = f"house number {housenumber!r} not found on {st.name}; at its number {n}"
                return (lat, lon, STREET, score, matched, reason)
            reason = f"house number {housenumber!r} not found on {st.name}"
        elif housenumber:
            reason = f"house number {housenumber!r} not understood"
        else:
            reason = "no house number given"
        lat, lon = st.pc_rep.get(pc, (st.lat, st.lon)) if pc else (st.lat, st.lon)
        score = round(s_score * self._agreement(st.postcodes, st.cities, pc, cq), 4)
        matched = st.name + self._tail(
            Counter({pc: 1}) if pc in st.postcodes else st.postcodes, st.cities
        )
        return (lat, lon, STREET, score, matched, reason)

    # -- free text ---------------------------------------------------------------------

    def _parse_text(self, text: str) -> tuple[tuple[str, ...], str, str, str]:
        """Split free text into (street options, house number, postcode, city)."""
        memo = self._text_memo.get(text)
        if memo is not None:
            return memo
        parts = [p.split() for p in text.replace(";", ",").split(",")]
        if any(t[-1].isdigit() and t[0].isalpha() for p in parts for t in p):
            # "Annankatu5" -> "Annankatu 5"
            parts = [" ".join(_GLUED.sub(r"\1 \2", t) for t in p).split() for p in parts]
        parts = [p for p in parts if p]
        pc = ""
        for toks in reversed(parts):
            for ti in range(len(toks) - 1, -1, -1):
                tok = toks[ti].strip(".")
                norm = _norm_postcode(tok)
                known = len(norm) >= 3 and norm in self._postcodes
                after_street = ti > 0 and _LETTER.search(toks[ti - 1]) is not None
                if known or (_FIVE_DIGITS.match(tok) and not after_street):
                    pc = norm
                    del toks[ti]
                    break
            if pc:
                break
        parts = [p for p in parts if p]
        street_opts: tuple[str, ...] = ()
        hn = city = ""
        for pi, toks in enumerate(parts):
            ti = next(
                (
                    j
                    for j in range(1, len(toks))
                    if toks[j][0].isdigit() and any(_LETTER.search(t) for t in toks[:j])
                ),
                0,
            )
            if ti:
                k = ti + 1
                while k < len(toks) and _HN_TOKEN.match(toks[k]):
                    k += 1
                street = " ".join(toks[:ti])
                hn = " ".join(toks[ti:k])
                rest = " ".join(toks[k:])
            elif len(toks) > 1 and _HN_FIRST.match(toks[0]) and _LETTER.search(" ".join(toks[1:])):
                street, hn, rest = " ".join(toks[1:]), toks[0], ""
            else:
                continue
            before = [" ".join(p) for p in parts[:pi]]
            street_opts = (
                *(", ".join([*before[j:], street]) for j in range(len(before))),
                street,
            )
            after = [" ".join(p) for p in parts[pi + 1 :]]
            city = rest or (after[-1] if after else "")
            break
        else:
            texts = [" ".join(p) for p in parts]
            if len(texts) == 1:
                street_opts = (texts[0],)
            elif texts:
                street_opts, city = (texts[0],), texts[-1]
        res = (street_opts, hn, pc, city)
        _remember(self._text_memo, text, res, self._lock)
        return res

    def _resolve_text(self, text: str, postcode: str, city: str, min_score: float) -> _Res:
        if not text:
            return self._resolve("", "", postcode, city, min_score)
        opts, hn, pc, t_city = self._parse_text(text)
        pc = pc or postcode
        t_city = t_city or city
        street = ""
        if opts:
            street = next((o for o in opts if normalize_street(o) in self._names), "")
            if not street and len(opts) > 1:
                # "Kaivopiha, Mannerheimntie": the best fuzzy option, longest on ties
                best = max(
                    opts,
                    key=lambda o: max((sc for _s, sc in self._street_candidates(o)), default=0.0),
                )
                if self._street_candidates(best):
                    street = best
            if not street:
                street = opts[-1]
                if not hn and not t_city:
                    # one bare name: a street, else a place
                    key = _city_key(street)
                    if key in self._city_keys or not self._street_candidates(street):
                        street, t_city = "", street
        return self._resolve(street, hn, pc, t_city, min_score)

    # -- public queries ----------------------------------------------------------------

    def geocode(
        self,
        street: str | None = None,
        housenumber: str | int | None = None,
        postcode: str | None = None,
        city: str | None = None,
        *,
        min_score: float | None = None,
        online: OnlineGeocoder | bool | None = None,
    ) -> GeocodeResult:
        """Geocode a structured address.

        Parameters
        ----------
        street, housenumber, postcode, city
            Parts of the address; any may be missing. The street may be in any
            language OSM knows it in (``name``, ``name:sv``, ``old_name``...),
            abbreviated, in any case or misspelt.
        min_score
            Results scoring below this are ``none``; default: the
            ``geocode_min_score`` setting if present, else
            :data:`DEFAULT_MIN_SCORE`.
        online
            Try an online geocoder when the index finds nothing: an
            :class:`OnlineGeocoder`, ``False`` (never) or ``None`` (only if
            the ``allow_network`` setting is true).

        Returns
        -------
        GeocodeResult
            The best result down the fallback chain.
        """
        ms = _min_score(min_score)
        res = self._resolve(_clean(street), _clean(housenumber), _clean(postcode), _clean(city), ms)
        if res[2] == NONE:
            geocoder = _online_geocoder(online)
            if geocoder is not None:
                text = ", ".join(
                    x
                    for x in (
                        f"{_clean(street)} {_clean(housenumber)}".strip(),
                        _clean(postcode),
                        _clean(city),
                    )
                    if x
                )
                return geocoder.geocode(text) if text else GeocodeResult(*res)
        return GeocodeResult(*res)

    def has_street(self, name: str) -> bool:
        """Whether a text is a street name of the region (in any of its spellings).

        Parameters
        ----------
        name
            A street name as written (``"Hauptstr."`` is found as
            ``"Hauptstraße"``).

        Returns
        -------
        bool
            ``True`` when the normalised name is an OSM street name here.
        """
        return normalize_street(name) in self._names

    def lookup(
        self,
        street: str | None,
        housenumber: str | None,
        postcode: str | None,
        city: str | None,
    ) -> tuple[float, float, str, float] | None:
        """Geocode offline and return ``(lat, lon, precision, score)`` or ``None``.

        The importer's geocoder signature (``gcrm.importer.Geocoder``); never
        goes online.

        Parameters
        ----------
        street, housenumber, postcode, city
            As for :meth:`geocode`.

        Returns
        -------
        tuple or None
            ``None`` when the precision is ``none``.
        """
        r = self.geocode(street, housenumber, postcode, city, online=False)
        if r.lat is None or r.lon is None:
            return None
        return r.lat, r.lon, r.precision, r.score

    def geocode_text(
        self,
        text: str,
        *,
        min_score: float | None = None,
        online: OnlineGeocoder | bool | None = None,
    ) -> GeocodeResult:
        """Geocode a free-text address such as ``"Annankatu 5 A, 00120 Helsinki"``.

        Parameters
        ----------
        text
            Street and house number (either order), postcode and city, in any
            order, separated by commas or spaces. Text before the street part
            (a building or company name) is ignored unless it is part of an OSM
            street name.
        min_score, online
            As for :meth:`geocode`.

        Returns
        -------
        GeocodeResult
            The best result down the fallback chain.
        """
        t = _clean(text)
        res = self._resolve_text(t, "", "", _min_score(min_score))
        if res[2] == NONE and t:
            geocoder = _online_geocoder(online)
            if geocoder is not None:
                return geocoder.geocode(t)
        return GeocodeResult(*res)

    def reverse(
        self, lat: float, lon: float, *, max_distance_m: float = _REVERSE_MAX_M
    ) -> GeocodeResult:
        """Return the address point nearest to a location.

        Parameters
        ----------
        lat, lon
            WGS84 coordinates.
        max_distance_m
            Farther addresses are not returned (precision ``none``).

        Returns
        -------
        GeocodeResult
            Precision ``address`` at the address point; ``score`` falls
            linearly from 1 at the point to 0 at ``max_distance_m``;
            ``reason`` gives the distance.
        """
        if self._tree is None:
            return GeocodeResult(*_none("the index holds no addresses"))
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            msg = f"not a WGS84 location: lat={lat}, lon={lon}"
            raise InputError(msg)
        _, i = self._tree.query(_ecef(np.array([lat]), np.array([lon]))[0])
        plat, plon = float(self._pt_lat[i]), float(self._pt_lon[i])
        d = _distance_m(lat, lon, plat, plon)
        if d > max_distance_m:
            return GeocodeResult(
                *_none(f"nearest address is {d:.0f} m away (> {max_distance_m:.0f} m)")
            )
        score = round(max(0.0, 1.0 - d / max_distance_m), 4)
        return GeocodeResult(plat, plon, ADDRESS, score, self._pt_matched[i], f"{d:.1f} m away")

    def geocode_many(
        self,
        queries: pd.DataFrame | Sequence[str] | Sequence[Mapping[str, Any]],
        *,
        min_score: float | None = None,
        online: OnlineGeocoder | bool | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> pd.DataFrame:
        """Geocode many addresses (the fast batch path).

        Repeated queries are answered once; street names are matched once per
        distinct spelling (exact key look-up, then rapidfuzz on misses).

        Parameters
        ----------
        queries
            A DataFrame with a ``street`` column (and optionally
            ``housenumber``, ``postcode``, ``city``) or an ``address`` column
            of free text (``postcode``/``city`` columns then fill what the
            text lacks); or a sequence of free-text strings; or a sequence of
            mappings with those keys. Column names are case-insensitive.
        min_score, online
            As for :meth:`geocode`.
        progress
            Called with the number of rows done after each chunk.

        Returns
        -------
        pandas.DataFrame
            ``lat``, ``lon``, ``precision``, ``score``, ``matched``, ``reason``,
            one row per query, with the DataFrame's index.

        Raises
        ------
        InputError
            If a DataFrame has neither a ``street`` nor an ``address`` column.
        """
        df = _as_frame(queries)
        cols = {str(c).strip().lower(): c for c in df.columns}
        n = len(df)

        def column(name: str) -> list[Any]:
            return df[cols[name]].tolist() if name in cols else [""] * n

        if "street" in cols:
            text = False
            a, b, c, d = column("street"), column("housenumber"), column("postcode"), column("city")
        elif "address" in cols:
            text = True
            a, b, c, d = column("address"), [""] * n, column("postcode"), column("city")
        else:
            msg = "queries need a 'street' or an 'address' column"
            raise InputError(msg)
        ms = _min_score(min_score)
        out: list[_Res] = []
        memo: dict[tuple[str, str, str, str], _Res] = {}
        for start in range(0, n, _BATCH_CHUNK):
            stop = min(n, start + _BATCH_CHUNK)
            for i in range(start, stop):
                q = (_clean(a[i]), _clean(b[i]), _clean(c[i]), _clean(d[i]))
                r = memo.get(q)
                if r is None:
                    if text:
                        r = self._resolve_text(q[0], q[2], q[3], ms)
                    else:
                        r = self._resolve(q[0], q[1], q[2], q[3], ms)
                    memo[q] = r
                out.append(r)
            if progress is not None:
                progress(stop - start)
        geocoder = _online_geocoder(online) if any(r[2] == NONE for r in out) else None
        if geocoder is not None:
            for i, r in enumerate(out):
                if r[2] == NONE:
                    q = (_clean(a[i]), _clean(b[i]), _clean(c[i]), _clean(d[i]))
                    t = ", ".join(x for x in (f"{q[0]} {q[1]}".strip(), q[2], q[3]) if x)
                    if t:
                        g = geocoder.geocode(t)
                        out[i] = (g.lat, g.lon, g.precision, g.score, g.matched, g.reason)
        res = pd.DataFrame.from_records(
            out, columns=["lat", "lon", "precision", "score", "matched", "reason"], index=df.index
        )
        res["lat"] = res["lat"].astype(float)
        res["lon"] = res["lon"].astype(float)
        res["score"] = res["score"].astype(float)
        return res


_GLUED = re.compile(r"^([^\W\d_]{3,})(\d+[^\W\d_]?)$")
_FIVE_DIGITS = re.compile(r"^\d{5}$")
_HN_TOKEN = re.compile(r"^(\d+[^\W\d_]?([-–]\d+[^\W\d_]?)?|[^\W\d_]|[-–]|[-–]\d+[^\W\d_]?)[.]?$")
_HN_FIRST = re.compile(r"^\d+[^\W\d_]?$")


def _as_frame(queries: pd.DataFrame | Sequence[str] | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(queries, pd.DataFrame):
        return queries
    items = list(queries)
    if all(isinstance(q, str) for q in items):
        return pd.DataFrame({"address": items})
    return pd.DataFrame.from_records([dict(q) for q in items])


def _min_score(min_score: float | None) -> float:
    if min_score is not None:
        return float(min_score)
    return float(getattr(get_settings(), "geocode_min_score", DEFAULT_MIN_SCORE))


# --------------------------------------------------------------------------------------
# The default index
# --------------------------------------------------------------------------------------

_DEFAULT: dict[str, AddressIndex] = {}
_DEFAULT_LOCK = threading.Lock()


def default_index() -> AddressIndex:
    """Return the index of the settings' region (built or loaded once per process).

    Returns
    -------
    AddressIndex
        Cached per resolved OSM file, so changing ``GCRM_OSM_FILE`` (and
        calling ``get_settings.cache_clear()``) gives the new region's index.
    """
    p = resolve_osm_file(None).resolve()
    key = str(p)
    with _DEFAULT_LOCK:
        idx = _DEFAULT.get(key)
        if idx is None:
            idx = AddressIndex.from_osm(p)
            _DEFAULT[key] = idx
    return idx


# --------------------------------------------------------------------------------------
# Batch geocoding of a CSV file
# --------------------------------------------------------------------------------------

#: Columns :func:`geocode_file` adds to the input.
OUTPUT_COLUMNS: tuple[str, ...] = ("lat", "lon", "precision", "score", "matched", "reason")


def geocode_file(
    input_csv: str | Path,
    output_csv: str | Path,
    osm: str | Path | None = None,
    progress: bool = True,
    *,
    index: AddressIndex | None = None,
    min_score: float | None = None,
    online: OnlineGeocoder | bool | None = None,
) -> dict[str, Any]:
    """Geocode every row of a CSV file and write it out with coordinates.

    Parameters
    ----------
    input_csv
        UTF-8 CSV with an ``id`` column and either an ``address`` column (free
        text; optional ``postcode``/``city`` columns fill what it lacks) or a
        ``street`` column with optional ``housenumber``, ``postcode``,
        ``city``. Column names are case-insensitive.
    output_csv
        Written with every input row and column, plus ``lat``, ``lon``,
        ``precision``, ``score``, ``matched``, ``reason`` (unmatched rows:
        empty ``lat``/``lon``, precision ``none`` and a reason).
    osm
        OSM file to geocode against; ``None`` for the settings' region.
    progress
        Show a progress bar on stderr for long batches.
    index
        An index to use instead of building/loading one from ``osm``.
    min_score, online
        As for :meth:`AddressIndex.geocode`.

    Returns
    -------
    dict
        ``input``, ``output``, ``rows``, ``matched``, ``unmatched``,
        ``by_precision`` (count per precision), ``seconds``.

    Raises
    ------
    InputError
        If the file is missing, empty, not CSV, lacks the ``id`` or address
        column, or already has one of the output columns.
    """
    src = Path(input_csv)
    if not src.is_file():
        msg = f"{src}: file not found"
        raise InputError(msg)
    try:
        df = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        msg = f"{src}: the file is empty (expected a header with 'id' and 'address' columns)"
        raise InputError(msg) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = f"{src}: not a readable UTF-8 CSV file: {exc}"
        raise InputError(msg) from exc
    cols = {str(c).strip().lower(): c for c in df.columns}
    if "id" not in cols:
        msg = f"{src}: missing column 'id'"
        raise InputError(msg)
    if "address" not in cols and "street" not in cols:
        msg = (
            f"{src}: missing column 'address' (or 'street' with 'housenumber', 'postcode', 'city')"
        )
        raise InputError(msg)
    clash = [c for c in OUTPUT_COLUMNS if c in cols]
    if clash:
        msg = (
            f"{src}: already has output column(s) {', '.join(repr(c) for c in clash)}; rename them"
        )
        raise InputError(msg)
    t0 = time.perf_counter()
    idx = (
        index
        if index is not None
        else (AddressIndex.from_osm(osm) if osm is not None else default_index())
    )
    from tqdm import tqdm

    with tqdm(
        total=len(df),
        desc="geocoding",
        unit="addr",
        file=sys.stderr,
        disable=not progress or len(df) < _PROGRESS_MIN_ROWS,
    ) as bar:
        res = idx.geocode_many(df, min_score=min_score, online=online, progress=bar.update)
    out = df.copy()
    out["lat"] = res["lat"].round(7)
    out["lon"] = res["lon"].round(7)
    out["precision"] = res["precision"]
    out["score"] = res["score"].round(3)
    out["matched"] = res["matched"]
    out["reason"] = res["reason"]
    dst = Path(output_csv)
    dst.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(dst, index=False, encoding="utf-8")
    counts = res["precision"].value_counts()
    by_precision = {p: int(counts.get(p, 0)) for p in PRECISIONS}
    return {
        "input": str(src),
        "output": str(dst),
        "rows": len(df),
        "matched": len(df) - by_precision[NONE],
        "unmatched": by_precision[NONE],
        "by_precision": by_precision,
        "seconds": round(time.perf_counter() - t0, 3),
    }


# --------------------------------------------------------------------------------------
# Online fallback (geopy; off by default)
# --------------------------------------------------------------------------------------

_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
_ONLINE_SCORE = 0.8
_ONLINE_PRECISION = {
    "house": ADDRESS,
    "building": ADDRESS,
    "address": ADDRESS,
    "house_number": ADDRESS,
    "road": STREET,
    "street": STREET,
    "postcode": POSTCODE,
}


def _online_precision(raw: Mapping[str, Any]) -> str:
    """Precision of a Nominatim or Photon answer (coarsest: ``city``)."""
    nested = raw.get("properties")  # Photon answers are GeoJSON features
    props: Mapping[str, Any] = nested if isinstance(nested, Mapping) else raw
    if props.get("housenumber") or (
        isinstance(raw.get("address"), Mapping) and raw["address"].get("house_number")
    ):
        return ADDRESS
    for key in ("addresstype", "type", "osm_value", "class"):
        v = props.get(key)
        if isinstance(v, str) and v in _ONLINE_PRECISION:
            return _ONLINE_PRECISION[v]
    return CITY


def _geopy_geocoder(url: str, user_agent: str, timeout_s: float) -> Any:
    """A geopy Nominatim or Photon client for ``url`` (geopy imported here)."""
    try:
        from geopy.geocoders import Nominatim, Photon
    except ImportError as exc:
        msg = "online geocoding needs the optional 'geopy' package: pip install geopy"
        raise ImportError(msg) from exc
    parts = urlsplit(url if "://" in url else f"https://{url}")
    domain = (parts.netloc + parts.path).rstrip("/")
    scheme = parts.scheme or "https"
    if "photon" in url.lower():
        return Photon(domain=domain, scheme=scheme, timeout=timeout_s, user_agent=user_agent)
    return Nominatim(domain=domain, scheme=scheme, timeout=timeout_s, user_agent=user_agent)


class OnlineGeocoder:
    """Geocode through Nominatim or Photon (geopy), with a disk cache and a rate limit.

    Parameters
    ----------
    url
        Service URL; ``None`` for the ``geocoder_url`` setting, else the public
        Nominatim. A URL containing ``photon`` selects Photon.
    geocoder
        An object with geopy's ``geocode(query, exactly_one=True)`` method to
        use instead of building one (tests inject a fake here).
    cache_path
        SQLite file of past answers (found or not);
        ``<data_dir>/cache/geocode/online.sqlite`` by default.
    min_interval_s
        Minimum time between two requests (Nominatim's policy: 1 s).
    user_agent, timeout_s
        Passed to geopy.
    clock, sleep
        Time functions (tests replace them).

    Raises
    ------
    ImportError
        If no ``geocoder`` is given and geopy is not installed.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        geocoder: Any = None,
        cache_path: str | Path | None = None,
        min_interval_s: float = 1.0,
        user_agent: str = "gcrm",
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.url = url or getattr(get_settings(), "geocoder_url", None) or _NOMINATIM_URL
        self._geocoder = (
            geocoder if geocoder is not None else _geopy_geocoder(self.url, user_agent, timeout_s)
        )
        self.cache_path = (
            Path(cache_path) if cache_path is not None else cache_dir("geocode") / "online.sqlite"
        )
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._sleep = sleep
        self._last = -math.inf
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(
                "create table if not exists answers (url text, query text, lat real, lon real,"
                " precision text, matched text, primary key (url, query))"
            )

    def _connect(self) -> sqlite3.Connection:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.cache_path, timeout=30)

    def geocode(self, text: str) -> GeocodeResult:
        """Geocode free text online (or from the cache).

        Parameters
        ----------
        text
            The address.

        Returns
        -------
        GeocodeResult
            Score 0.8 (the services give no comparable match score); the
            reason names the service. A failed request gives ``none`` and is
            not cached; "not found" is cached like an answer.
        """
        query = " ".join(text.split())
        key = query.casefold()
        con = self._connect()
        try:
            row = con.execute(
                "select lat, lon, precision, matched from answers where url = ? and query = ?",
                (self.url, key),
            ).fetchone()
        finally:
            con.close()
        host = urlsplit(self.url).netloc or self.url
        if row is not None:
            lat, lon, precision, matched = row
            if lat is None:
                return GeocodeResult(*_none(f"not found online ({host}, cached)"))
            return GeocodeResult(
                lat, lon, precision, _ONLINE_SCORE, matched, f"online: {host} (cached)"
            )
        with self._lock:
            wait = self._last + self.min_interval_s - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                loc = self._geocoder.geocode(query, exactly_one=True)
            except Exception as exc:  # geopy's errors are many; none may stop a batch
                return GeocodeResult(*_none(f"online geocoder failed: {exc}"))
            finally:
                self._last = self._clock()
        if loc is None:
            values: tuple[Any, ...] = (None, None, None, None)
        else:
            raw = getattr(loc, "raw", {}) or {}
            values = (
                float(loc.latitude),
                float(loc.longitude),
                _online_precision(raw),
                str(loc.address),
            )
        con = self._connect()
        try:
            with con:
                con.execute(
                    "insert or replace into answers values (?, ?, ?, ?, ?, ?)",
                    (self.url, key, *values),
                )
        finally:
            con.close()
        if loc is None:
            return GeocodeResult(*_none(f"not found online ({host})"))
        return GeocodeResult(
            values[0], values[1], values[2], _ONLINE_SCORE, values[3], f"online: {host}"
        )


_ONLINE: dict[str, OnlineGeocoder] = {}


def _online_geocoder(online: OnlineGeocoder | bool | None) -> OnlineGeocoder | None:
    """The online geocoder to use: the one given, or the settings' (off by default)."""
    if isinstance(online, OnlineGeocoder):
        return online
    if online is False:
        return None
    if online is None and not get_settings().allow_network:
        return None
    url = getattr(get_settings(), "geocoder_url", None) or _NOMINATIM_URL
    with _DEFAULT_LOCK:
        g = _ONLINE.get(url)
        if g is None:
            g = OnlineGeocoder(url)
            _ONLINE[url] = g
    return g
