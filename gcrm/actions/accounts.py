"""What the Accounts page does: filter lists, the list or its page, one account."""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import pandas as pd

from gcrm import store
from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.density import MapFilter
from gcrm.pins import needs_pin
from gcrm.store import AccountFilter
from gcrm.viewport import ViewMap, Viewport, viewport_map


@dataclasses.dataclass(frozen=True)
class AccountList:
    """One page of the accounts a filter shows on the Accounts page.

    Counts, extent and value come from SQL aggregates over every matching
    account; only the page's rows are read.

    Attributes
    ----------
    total, located
        Matching accounts, and those with a location.
    extent
        ``(min_lon, min_lat, max_lon, max_lat)`` of the located ones.
    large
        More than fit on one page: the map draws viewport clusters
        (:func:`cluster_map`) rather than the page's markers.
    accounts
        One page of the matching accounts, in ``sort`` order.
    value
        The summed potential value of all matching accounts.
    page, pages
        The page shown (1-based, clamped to the pages there are) and how many there are.
    needs_pin, needs_pin_total
        Up to one page of the matching accounts whose location is missing or
        approximate (least sure first, see :func:`gcrm.pins.needs_pin`), and how many there are.
    """

    total: int
    located: int
    extent: tuple[float, float, float, float] | None
    large: bool
    accounts: gpd.GeoDataFrame
    value: float
    page: int
    pages: int
    needs_pin: pd.DataFrame
    needs_pin_total: int


def filter_options(actor: Actor) -> dict[str, list[str]]:
    """Return the values the actor can filter on (see :func:`gcrm.store.facets`)."""
    with session_scope() as session:
        return store.facets(session, actor)


def account_list(
    actor: Actor, flt: AccountFilter, *, page: int, per_page: int, sort: str = "name"
) -> AccountList:
    """Return one page of the matching accounts, with counts and value of all of them.

    Parameters
    ----------
    actor
        The acting user (scope applies).
    flt
        The filter (searched in the database).
    page
        The wanted page (clamped to the pages there are).
    per_page
        Accounts per page (1-1,000).
    sort
        A :data:`gcrm.store.SORTS` key.

    Returns
    -------
    AccountList
        Counts, extent, the page and the value.
    """
    with session_scope() as session:
        total, located, extent = store.accounts_extent(session, actor, flt)
        pages = max((total - 1) // per_page + 1, 1)
        page = min(max(int(page), 1), pages)
        accounts, _ = store.accounts_page(
            session, actor, flt, page=page, per_page=per_page, sort=sort
        )
        value = store.accounts_value(session, actor, flt)
        approximate, n_pins = store.accounts_page(
            session, actor, flt, per_page=per_page, approximate_only=True
        )
    large = total > per_page
    return AccountList(
        total, located, extent, large, accounts, value, page, pages,
        needs_pin(approximate), n_pins,
    )  # fmt: skip


def cluster_map(
    actor: Actor,
    flt: MapFilter | AccountFilter | None,
    layer: str,
    view: Viewport,
    **options: Any,
) -> ViewMap:
    """Return :func:`gcrm.viewport.viewport_map` for a large store's map.

    Parameters
    ----------
    actor, flt, layer, view
        As :func:`gcrm.viewport.viewport_map`.
    **options
        Its keyword options (``weight``, ``value``, ``areas``, ``territories``, ``draw``).

    Returns
    -------
    gcrm.viewport.ViewMap
        The map with its counts.
    """
    with session_scope() as session:
        return viewport_map(session, actor, flt, layer, view, **options)


def account_detail(actor: Actor, account_id: int) -> dict[str, Any]:
    """Return one account's page (see :func:`gcrm.store.account_detail`; audited)."""
    with session_scope() as session:
        return store.account_detail(session, actor, account_id)


def update_account(actor: Actor, account_id: int, values: dict[str, Any]) -> None:
    """Change an account's fields (see :func:`gcrm.store.update_account`)."""
    with session_scope() as session:
        store.update_account(session, actor, account_id, values)


def log_interaction(actor: Actor, account_id: int, **details: Any) -> None:
    """Record a visit, call, e-mail or note (see :func:`gcrm.store.log_interaction`)."""
    with session_scope() as session:
        store.log_interaction(session, actor, account_id, **details)


def set_manual_pin(actor: Actor, account_id: int, lat: float, lon: float) -> None:
    """Place an account's pin by hand (see :func:`gcrm.store.set_manual_pin`)."""
    with session_scope() as session:
        store.set_manual_pin(session, actor, account_id, lat, lon)
