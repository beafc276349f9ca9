"""Territory shapes: compactness and checks, reading GeoJSON, shapes drawn on the map."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm._errors import InputError
from gcrm.geometry import metric_crs


def polsby_popper(geometry: BaseGeometry) -> float:
    """Return the Polsby-Popper compactness ``4 pi A / P^2`` of a polygon.

    Parameters
    ----------
    geometry
        A polygon in a metric (projected) CRS.

    Returns
    -------
    float
        1 for a disc, about 0.785 for a square, towards 0 for long or
        ragged shapes; 0 for an empty geometry.
    """
    perimeter = geometry.length
    if geometry.is_empty or perimeter <= 0:
        return 0.0
    return float(4 * math.pi * geometry.area / perimeter**2)


def _parts_count(geometry: BaseGeometry) -> int:
    return len(shapely.get_parts(geometry)) if not geometry.is_empty else 0


def check_territories(territories: gpd.GeoDataFrame, *, key: str = "name") -> list[str]:
    """List what is wrong with a set of territory polygons.

    Parameters
    ----------
    territories
        Polygons with a ``key`` column (any CRS).
    key
        Column naming each territory.

    Returns
    -------
    list of str
        One message per problem: invalid or empty geometry, a territory in
        several pieces, two territories overlapping (more than 1 m²). Empty
        when all is well.
    """
    problems: list[str] = []
    if territories.empty:
        return problems
    frame = territories.to_crs(metric_crs(territories))
    geoms = np.asarray(frame.geometry.values, dtype=object)
    names = [str(n) for n in frame[key]]
    for name, g in zip(names, geoms, strict=True):
        if g is None or g.is_empty:
            problems.append(f"{name}: empty geometry")
        elif not g.is_valid:
            problems.append(f"{name}: invalid geometry ({shapely.is_valid_reason(g)})")
        elif _parts_count(g) > 1:
            problems.append(f"{name}: {_parts_count(g)} separate pieces")
    good = np.array([g is not None and not g.is_empty and g.is_valid for g in geoms])
    idx = np.flatnonzero(good)
    if len(idx) > 1:
        tree = shapely.STRtree(geoms[idx])
        a, b = tree.query(geoms[idx], predicate="intersects")
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            if i < j:
                area = shapely.intersection(geoms[idx[i]], geoms[idx[j]]).area
                if area > 1.0:
                    problems.append(f"{names[idx[i]]} and {names[idx[j]]} overlap by {area:.0f} m²")
    return problems


# --------------------------------------------------------------------------- input


def _territory_frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    data = {
        "name": pd.Series([r["name"] for r in rows], dtype=object),
        "owner": pd.Series([r["owner"] for r in rows], dtype=object),
    }
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=4326)


def read_territories_geojson(
    source: str | bytes | Path | Mapping[str, Any],
    *,
    name_field: str = "name",
    owner_field: str = "owner",
) -> gpd.GeoDataFrame:
    """Read territories from GeoJSON (a file, its text, or the parsed dict).

    Parameters
    ----------
    source
        Path of a ``.geojson`` file, GeoJSON text or bytes, or a
        FeatureCollection / Feature dict. Coordinates are WGS 84 (RFC 7946).
    name_field
        Property naming each territory.
    owner_field
        Property holding the owner's username (optional).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``owner``, geometry (EPSG:4326); Polygon and
        MultiPolygon features only.

    Raises
    ------
    InputError
        When the input is not GeoJSON, a feature is not a polygon or has no
        name, or two features share a name.
    """
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{") and len(source) < 4096
    ):
        path = Path(source)
        if not path.is_file():
            msg = f"territory file not found: {path}"
            raise InputError(msg)
        source = path.read_bytes()
    if isinstance(source, bytes | str):
        try:
            data = json.loads(source)
        except (ValueError, UnicodeDecodeError) as exc:
            msg = f"territories: not valid GeoJSON ({exc})"
            raise InputError(msg) from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise InputError("territories: GeoJSON must be a FeatureCollection or a Feature")
    features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
    if data.get("type") not in ("FeatureCollection", "Feature") or not isinstance(features, list):
        raise InputError("territories: GeoJSON must be a FeatureCollection or a Feature")
    rows = []
    for n, feature in enumerate(features, start=1):
        props = (feature or {}).get("properties") or {}
        try:
            geom = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError):
            msg = f"territories: feature {n} has no valid geometry"
            raise InputError(msg) from None
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            msg = f"territories: feature {n} is a {geom.geom_type}, not a polygon"
            raise InputError(msg)
        name = str(props.get(name_field) or "").strip()
        if not name:
            msg = f"territories: feature {n} has no {name_field!r} property"
            raise InputError(msg)
        owner = props.get(owner_field)
        rows.append(
            {"name": name, "owner": str(owner).strip() if owner else None, "geometry": geom}
        )
    names = [r["name"] for r in rows]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        msg = f"territories: duplicate name(s) {', '.join(dup)}"
        raise InputError(msg)
    if not rows:
        raise InputError("territories: the GeoJSON holds no feature")
    return _territory_frame(rows)


def territories_from_drawings(
    drawn: Iterable[Mapping[str, Any]],
    names: Sequence[str],
    owners: Sequence[str | None] | None = None,
) -> gpd.GeoDataFrame:
    """Turn polygons drawn on the map into territories.

    Parameters
    ----------
    drawn
        GeoJSON features as streamlit-folium returns them (``all_drawings``);
        features that are not polygons are skipped.
    names
        A name per polygon, in drawing order.
    owners
        Usernames per polygon (optional).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``owner``, geometry (EPSG:4326).

    Raises
    ------
    InputError
        When the number of names differs from the number of polygons.
    """
    polys = []
    for feature in drawn or []:
        geom = (feature or {}).get("geometry")
        if not geom:
            continue
        shape = shapely.make_valid(shapely.geometry.shape(geom))
        if shape.geom_type in ("Polygon", "MultiPolygon"):
            polys.append(shape)
    if len(names) != len(polys):
        msg = f"{len(polys)} polygon(s) drawn but {len(names)} name(s) given"
        raise InputError(msg)
    owner_list = list(owners) if owners is not None else [None] * len(polys)
    rows = [
        {"name": str(n).strip(), "owner": o, "geometry": p}
        for n, o, p in zip(names, owner_list, polys, strict=True)
    ]
    return _territory_frame(rows)
