"""Assigning accounts to territories by location (the one rule of :mod:`gcrm.territory_rule`)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gcrm.density import located
from gcrm.geometry import metric_crs
from gcrm.territory_rule import covering_territories, holding_territory


@dataclasses.dataclass(frozen=True)
class TerritoryAssignment:
    """Which territory each account falls in.

    Attributes
    ----------
    territory
        Account id → territory name (``None`` when in none), for every
        account given.
    outside
        Ids of located accounts in no territory.
    unlocated
        Ids of accounts without a location.
    ambiguous
        Ids of accounts covered by several (overlapping) territories; each
        got the first of them by name.
    counts
        Territory name → number of accounts.
    """

    territory: pd.Series
    outside: tuple[Any, ...]
    unlocated: tuple[Any, ...]
    ambiguous: tuple[Any, ...]
    counts: dict[str, int]

    def summary(self) -> dict[str, Any]:
        """Return the counts as a JSON-friendly dict.

        Returns
        -------
        dict
            ``accounts``, ``assigned``, ``outside``, ``unlocated``,
            ``ambiguous`` and ``per_territory``.
        """
        return {
            "accounts": len(self.territory),
            "assigned": int(self.territory.notna().sum()),
            "outside": len(self.outside),
            "unlocated": len(self.unlocated),
            "ambiguous": len(self.ambiguous),
            "per_territory": dict(self.counts),
        }


def _overlapping_pairs(terr: gpd.GeoDataFrame) -> set[frozenset[int]]:
    """Pairs of territory positions that overlap by more than 1 m² (not just touch)."""
    metric = terr.to_crs(metric_crs(terr))
    mgeoms = np.asarray(metric.geometry.values, dtype=object)
    tree = shapely.STRtree(mgeoms)
    a_idx, b_idx = tree.query(mgeoms, predicate="intersects")
    out: set[frozenset[int]] = set()
    for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True):
        if a < b and shapely.intersection(mgeoms[a], mgeoms[b]).area > 1.0:
            out.add(frozenset((a, b)))
    return out


def assign_accounts(
    accounts: gpd.GeoDataFrame, territories: gpd.GeoDataFrame, *, key: str = "name"
) -> TerritoryAssignment:
    """Assign accounts to territories by a spatial join.

    Parameters
    ----------
    accounts
        Accounts with an ``id`` column and point geometries (any CRS).
    territories
        Territory polygons with a ``key`` column (any CRS).
    key
        Column naming the territories.

    Returns
    -------
    TerritoryAssignment
        Every account either gets exactly one territory, by the one rule of
        :func:`gcrm.territory_rule.holding_territory` (the first by name
        among those covering it; points in an overlap, not on a shared
        border, are also reported as ambiguous) or is reported as outside or
        unlocated.
    """
    ids = accounts["id"].tolist()
    pts = located(accounts)
    terr = territories.to_crs(4326) if territories.crs is not None else territories
    terr = terr[[g is not None and not g.is_empty for g in terr.geometry]]
    order = np.argsort(np.asarray([str(n) for n in terr[key]]), kind="stable")
    terr = terr.iloc[order]
    names = [str(n) for n in terr[key]]
    result: dict[Any, str | None] = dict.fromkeys(ids)
    ambiguous: list[Any] = []
    if len(pts) and len(terr):
        geoms = list(terr.geometry.values)
        pt_ids = pts["id"].tolist()
        holder = holding_territory(
            names, geoms, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
        )
        for pid, t in zip(pt_ids, holder, strict=True):
            result[pid] = names[t] if t is not None else None
        # On a shared border a point is in both; only a true overlap is ambiguous.
        overlaps = _overlapping_pairs(terr)
        if overlaps:
            covering = covering_territories(
                geoms, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
            )
            for pid, ts in zip(pt_ids, covering, strict=True):
                if any(frozenset(pair) in overlaps for pair in itertools.combinations(ts, 2)):
                    ambiguous.append(pid)
    located_ids = set(pts["id"].tolist())
    territory = pd.Series(result, dtype=object, name="territory")
    territory.index.name = "id"
    outside = tuple(i for i in ids if i in located_ids and result[i] is None)
    unlocated = tuple(i for i in ids if i not in located_ids)
    counts = dict.fromkeys(names, 0)
    for v in result.values():
        if v is not None:
            counts[v] += 1
    return TerritoryAssignment(territory, outside, unlocated, tuple(ambiguous), counts)
