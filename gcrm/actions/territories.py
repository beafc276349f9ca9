"""What the Territories page does: the overview, owners, drawn and uploaded territories."""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import pandas as pd

from gcrm import store
from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.territories import import_territories, save_and_assign
from gcrm.uploads import private_upload
from gcrm.viewport import LARGE, Viewport


@dataclasses.dataclass(frozen=True)
class TerritoryOverview:
    """The territories the actor sees, with their account counts.

    Attributes
    ----------
    territories
        See :func:`gcrm.store.territories_frame`.
    total
        Accounts in the actor's scope.
    counts
        Accounts per territory name (counted in the database).
    accounts
        Every account in scope, or ``None`` for a large store (more than
        :data:`gcrm.viewport.LARGE`), which is mapped from aggregates.
    view
        The viewport of a large store's map (``None`` otherwise).
    """

    territories: gpd.GeoDataFrame
    total: int
    counts: pd.Series
    accounts: gpd.GeoDataFrame | None
    view: Viewport | None


def overview(actor: Actor) -> TerritoryOverview:
    """Return the territories, account counts and (small stores) the accounts."""
    with session_scope() as session:
        territories = store.territories_frame(session, actor)
        total, _, extent = store.accounts_extent(session, actor)
        # Counted in the database: the page never loads a large store's accounts whole.
        stats = store.account_group_stats(session, actor, by="territory")
        counts = stats.set_index("key")["count"]
        large = total > LARGE and extent is not None
        accounts = None if large else store.accounts_frame(session, actor)
    view = Viewport.fit(extent) if large and extent is not None else None
    return TerritoryOverview(territories, total, counts, accounts, view)


def rep_names(actor: Actor) -> list[str]:
    """Return the usernames of the reps the actor sees (who can own a territory)."""
    with session_scope() as session:
        return [u.username for u in store.list_users(session, actor) if u.role == "rep"]


def set_owners(actor: Actor, owners: dict[str, str | None]) -> None:
    """Set the owner of each territory, all in one transaction.

    Parameters
    ----------
    actor
        The acting user (needs ``territories``).
    owners
        Territory name → rep's username (``None``: nobody).
    """
    with session_scope() as session:
        for name, owner in owners.items():
            store.set_territory_owner(session, actor, name, owner)


def save_drawn(actor: Actor, shapes: gpd.GeoDataFrame, *, replace: bool) -> dict[str, Any]:
    """Save drawn territories and assign accounts (see :func:`gcrm.territories.save_and_assign`)."""
    with session_scope() as session:
        return save_and_assign(session, actor, shapes, replace=replace)


def import_upload(actor: Actor, data: bytes, name: str, *, replace: bool) -> dict[str, Any]:
    """Import an uploaded GeoJSON (see :func:`gcrm.territories.import_territories`)."""
    with private_upload(data, name) as path, session_scope() as session:
        return import_territories(session, actor, path, replace=replace)
