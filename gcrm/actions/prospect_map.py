"""What the Prospect map page reads: the map's data, selections, "near here"."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import geopandas as gpd

from gcrm import store, viewport
from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.density import MapFilter, filtered_accounts
from gcrm.reports import Export, export_accounts
from gcrm.store import AccountFilter
from gcrm.viewport import LARGE, ViewMap, Viewport


@dataclasses.dataclass(frozen=True)
class MapData:
    """What the Prospect map shows for a filter.

    Attributes
    ----------
    total, located
        Matching accounts, and those with a location.
    extent
        Bounds of the located ones.
    large
        Drawn from database aggregates in the viewport, never loaded whole.
    accounts
        The matching accounts (``None`` when ``large``).
    territories
        See :func:`gcrm.store.territories_frame`.
    region
        The region's polygon, or ``None``.
    """

    total: int
    located: int
    extent: tuple[float, float, float, float] | None
    large: bool
    accounts: gpd.GeoDataFrame | None
    territories: gpd.GeoDataFrame
    region: Any


def map_data(actor: Actor, flt: MapFilter) -> MapData:
    """Return counts, territories, region and (small stores) the matching accounts."""
    with session_scope() as session:
        total, located, extent = store.accounts_extent(session, actor, flt.account_filter())
        large = total > LARGE and extent is not None
        accounts = None if large else filtered_accounts(session, actor, flt)
        territories = store.territories_frame(session, actor)
        region = store.region_geometry(session, actor)
    return MapData(total, located, extent, large, accounts, territories, region)


def large_map(
    actor: Actor,
    flt: MapFilter,
    layer: str,
    view: Viewport,
    drawn: Sequence[Any],
    **options: Any,
) -> tuple[ViewMap, gpd.GeoDataFrame | None]:
    """Return a large store's map for a viewport and the accounts inside drawn shapes.

    Parameters
    ----------
    actor, flt, layer, view
        As :func:`gcrm.viewport.viewport_map`.
    drawn
        The shapes drawn on the map (GeoJSON features); empty: no selection.
    **options
        :func:`gcrm.viewport.viewport_map`'s keyword options.

    Returns
    -------
    tuple
        ``(map, selected)``; ``selected`` is ``None`` without shapes.
    """
    with session_scope() as session:
        drawn_map = viewport.viewport_map(session, actor, flt, layer, view, **options)
        selected = viewport.accounts_in_shapes(session, actor, flt, drawn) if drawn else None
    return drawn_map, selected


def export_selection(actor: Actor, account_ids: Sequence[int]) -> Export:
    """Export the selected accounts as CSV, audited (see :func:`gcrm.reports.export_accounts`)."""
    with session_scope() as session:
        return export_accounts(session, actor, AccountFilter(ids=[int(i) for i in account_ids]))


def search_accounts(actor: Actor, text: str | None, *, limit: int = 50) -> gpd.GeoDataFrame:
    """Return the first accounts (by name) whose name, street, city or id contains ``text``."""
    with session_scope() as session:
        found, _ = store.accounts_page(session, actor, AccountFilter(text=text), per_page=limit)
    return found


def accounts_around(
    actor: Actor, flt: MapFilter, lat: float, lon: float, metres: float
) -> gpd.GeoDataFrame:
    """Return the matching accounts in the box around a point (``accounts_around``)."""
    with session_scope() as session:
        return viewport.accounts_around(session, actor, flt, lat, lon, metres)
