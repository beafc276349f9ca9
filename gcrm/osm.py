"""Reading OpenStreetMap files: the one place that opens them.

Used by the geocoder (address points), the road network and the demo data
(named businesses). Every reader takes any OSM file osmium can read (PBF,
XML, ``.osm.gz``/``.osm.bz2``) and defaults to the region of the settings
(the bundled Helsinki extract).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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
