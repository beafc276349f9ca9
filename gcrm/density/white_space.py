"""White space: prospects far, in drive time, from every rep and every customer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from gcrm.density.drive import nearest_drive_times
from gcrm.density.points import _lat_lon, located

if TYPE_CHECKING:
    import networkx as nx


def white_space(
    accounts: gpd.GeoDataFrame,
    homes: pd.DataFrame,
    G: nx.MultiDiGraph,
    *,
    min_minutes: float = 10.0,
    prospect_kinds: Sequence[str] = ("prospect", "lead"),
    customer_kind: str = "customer",
) -> gpd.GeoDataFrame:
    """Find prospects far, in drive time, from every rep's home and every customer.

    Parameters
    ----------
    accounts
        Accounts with ``kind``.
    homes
        Reps' home bases: columns ``lat``, ``lon`` (e.g.
        :func:`gcrm.store.rep_home_bases`).
    G
        Road graph with travel times.
    min_minutes
        A prospect is white space when both its nearest home base and its
        nearest customer are at least this many minutes' drive away.
    prospect_kinds
        Kinds that count as prospects.
    customer_kind
        Kind of existing customers.

    Returns
    -------
    geopandas.GeoDataFrame
        The white-space prospects with ``home_s`` (drive from the nearest
        home base), ``customer_s`` (from the nearest customer) and
        ``white_space_s`` (the smaller of the two), farthest first.
    """
    pts = located(accounts)
    prospects = pts[pts["kind"].isin(list(prospect_kinds))].copy()
    customers = pts[pts["kind"] == customer_kind]
    plat, plon = _lat_lon(prospects)
    home = homes.dropna(subset=["lat", "lon"])
    home_s = nearest_drive_times(G, home["lat"], home["lon"], plat, plon)
    clat, clon = _lat_lon(customers)
    customer_s = nearest_drive_times(G, clat, clon, plat, plon)
    prospects["home_s"] = home_s
    prospects["customer_s"] = customer_s
    prospects["white_space_s"] = np.minimum(home_s, customer_s)
    far = prospects["white_space_s"].to_numpy() >= min_minutes * 60.0
    return prospects[far].sort_values(["white_space_s", "id"], ascending=[False, True])
