"""Which territory holds a point: the one rule, used everywhere.

The importer (a new account's territory), the territory module (assigning
accounts after territories are saved or built) and saving territories all use
these two functions, so they cannot disagree:

- :func:`clip_to_region`: a territory is only ever the part of its polygon
  inside its region. A territory drawn or uploaded across a region's border
  loses the part outside, so it can never take another region's accounts.
- :func:`holding_territory`: a point belongs to the territories whose
  (clipped) polygon *covers* it (:func:`covering_territories`), a point on
  the border included; when several do (a shared border or an overlap), the
  one whose name sorts first wins. A point covered by none has no territory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely


def clip_to_region(geom: Any, region: Any | None) -> Any:
    """Return the part of a territory polygon that lies inside its region.

    Parameters
    ----------
    geom
        The territory's polygon or multipolygon (EPSG:4326).
    region
        The region's polygon, or ``None`` when there is no region geometry
        (then the territory is kept as it is).

    Returns
    -------
    shapely geometry
        A (multi)polygon, possibly empty when the territory lies wholly
        outside the region; lines and points of a border touch are dropped.
    """
    if region is None or geom is None or region.is_empty:
        return geom
    cut = shapely.intersection(shapely.make_valid(geom), shapely.make_valid(region))
    polys = [p for p in shapely.get_parts(cut) if p.geom_type in ("Polygon", "MultiPolygon")]
    parts = [q for p in polys for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()


def holding_territory(
    names: Sequence[str],
    geoms: Sequence[Any],
    lon: np.ndarray | Sequence[float],
    lat: np.ndarray | Sequence[float],
) -> list[int | None]:
    """Return, for each point, the index of the territory that holds it.

    Parameters
    ----------
    names
        Territory names (ties go to the name that sorts first).
    geoms
        Their polygons, already clipped to their regions
        (:func:`clip_to_region`), in EPSG:4326; ``None``/empty ones hold
        nothing.
    lon, lat
        The points' coordinates.

    Returns
    -------
    list of int or None
        An index into ``names``/``geoms`` per point, or ``None``.
    """
    out: list[int | None] = [None] * len(np.asarray(lon, dtype=float))
    usable = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not usable or not len(out):
        return out
    order = sorted(usable, key=lambda i: (str(names[i]), i))
    for p, covering in enumerate(covering_territories([geoms[i] for i in order], lon, lat)):
        if covering:
            out[p] = order[min(covering)]
    return out


def covering_territories(
    geoms: Sequence[Any],
    lon: np.ndarray | Sequence[float],
    lat: np.ndarray | Sequence[float],
) -> list[set[int]]:
    """Return, for each point, the territories whose polygon covers it (border included).

    :func:`holding_territory` picks one of them; a caller reporting points in
    more than one territory uses this same test.

    Parameters
    ----------
    geoms
        Territory polygons, already clipped to their regions, in EPSG:4326;
        ``None``/empty ones cover nothing.
    lon, lat
        The points' coordinates.

    Returns
    -------
    list of set of int
        Indices into ``geoms`` per point (empty when none covers it).
    """
    xs = np.asarray(lon, dtype=float)
    ys = np.asarray(lat, dtype=float)
    out: list[set[int]] = [set() for _ in range(len(xs))]
    usable = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not usable or not len(xs):
        return out
    tree = shapely.STRtree([geoms[i] for i in usable])
    p_idx, t_idx = tree.query(shapely.points(xs, ys), predicate="covered_by")
    for p, t in zip(p_idx.tolist(), t_idx.tolist(), strict=True):
        out[p].add(usable[t])
    return out
