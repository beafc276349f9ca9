"""Reading OpenStreetMap files: the one place that opens them.

Used by the geocoder (address points), the road network and the demo data
(named businesses). Every reader takes any OSM file osmium can read (PBF,
XML, ``.osm.gz``/``.osm.bz2``) and defaults to the region of the settings
(the bundled Helsinki extract).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from gcrm._errors import OSMFileError
from gcrm.settings import get_settings

#: OSM keys that make a named feature a business (a possible account).
BUSINESS_KEYS: tuple[str, ...] = ("shop", "amenity", "office", "craft", "tourism", "healthcare")

_ADDRESS_KEYS = ("addr:street", "addr:housenumber", "addr:postcode", "addr:city", "addr:unit")


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
    p = Path(path) if path is not None else get_settings().resolved_osm_file
    if not p.is_file():
        msg = f"OSM file not found: {p}"
        raise OSMFileError(msg)
    if p.stat().st_size == 0:
        msg = f"OSM file is empty: {p}"
        raise OSMFileError(msg)
    return p


def file_digest(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file (cache key of derived data).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        64 hex characters.
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def _processor(path: Path):  # type: ignore[no-untyped-def]
    import osmium

    return osmium.FileProcessor(str(path)).with_locations()


def _centroid_of_way(way) -> tuple[float, float] | None:  # type: ignore[no-untyped-def]
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


def _read_features(path: str | Path | None, want) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    p = resolve_osm_file(path)
    rows: list[dict[str, object]] = []
    try:
        for obj in _processor(p):
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
            row: dict[str, object] = {
                "osm_type": osm_type,
                "osm_id": obj.id,
                "lat": lat,
                "lon": lon,
            }
            row.update({t.k: t.v for t in tags})
            rows.append(row)
    except RuntimeError as exc:  # osmium reports unreadable input as RuntimeError
        msg = f"cannot read OSM file {p}: {exc}"
        raise OSMFileError(msg) from exc
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

    def want(tags) -> bool:  # type: ignore[no-untyped-def]
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
    """A way's coordinates, split where a node has no location (clipped extracts)."""
    parts: list[list[tuple[float, float]]] = [[]]
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            parts[-1].append((loc.lon, loc.lat))
        elif parts[-1]:
            parts.append([])
    return [p for p in parts if len(p) >= 2]


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
    import osmium
    import shapely

    p = resolve_osm_file(path)
    wkb = osmium.geom.WKBFactory()
    rows: list[tuple[str, str, str | None, str | None, int]] = []
    geoms: list[Any] = []
    processor: Any = (
        osmium.FileProcessor(str(p))
        .with_locations()
        .with_areas()
        .with_filter(osmium.filter.KeyFilter(*_MAP_KEYS))
    )
    try:
        obj: Any
        for obj in processor:
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
    except RuntimeError as exc:  # osmium reports unreadable input as RuntimeError
        msg = f"cannot read OSM file {p}: {exc}"
        raise OSMFileError(msg) from exc
    frame = pd.DataFrame(rows, columns=["layer", "kind", "kind_detail", "name", "min_zoom"])
    frame["geometry"] = pd.Series(geoms, dtype=object)
    return frame
