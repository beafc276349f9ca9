"""Territories in the database: save and assign, import GeoJSON, build and save."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
from sqlalchemy.orm import Session

from gcrm.auth import Actor, require
from gcrm.network import load_network
from gcrm.store import (
    accounts_frame,
    region_geometry,
    rep_home_bases,
    save_territories,
    set_account_territories,
    territories_frame,
)
from gcrm.territories.assign import assign_accounts
from gcrm.territories.builder import build_territories
from gcrm.territories.shapes import check_territories, read_territories_geojson

if TYPE_CHECKING:
    import networkx as nx


def save_and_assign(
    session: Session,
    actor: Actor,
    territories: gpd.GeoDataFrame,
    *,
    replace: bool = False,
    region: str | None = None,
    set_owners: bool = False,
) -> dict[str, Any]:
    """Save territories, then assign the actor's accounts to them by location.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    territories
        ``name``, optional ``owner`` and polygons (see
        :func:`gcrm.store.save_territories`).
    replace
        Delete the region's other territories first.
    region
        The region's name (default the actor's, or the only one).
    set_owners
        Also give each account its territory's owner.

    Returns
    -------
    dict
        ``saved`` (territory names), ``changed`` (accounts whose territory
        or owner changed), ``problems`` (:func:`check_territories`) and the
        assignment's :meth:`TerritoryAssignment.summary`, with the ids of
        ``outside_ids`` and ``ambiguous_ids``.
    """
    problems = check_territories(territories) if len(territories) else []
    save_territories(session, actor, territories, replace=replace, region=region)
    visible = territories_frame(session, actor)
    accounts = accounts_frame(session, actor)
    result = assign_accounts(accounts, visible)
    id_of = dict(zip(visible["name"], visible["id"], strict=True))
    visible_names = set(visible["name"])
    current = dict(zip(accounts["id"], accounts["territory"], strict=True))
    wanted: dict[int, int | None] = {}
    for aid, name in result.territory.items():
        if name is not None:
            wanted[int(aid)] = int(id_of[name])
        elif current.get(aid) is None or current.get(aid) in visible_names:
            wanted[int(aid)] = None
    changed = set_account_territories(session, actor, wanted, set_owners=set_owners)
    return {
        "saved": [str(n) for n in territories["name"]],
        "changed": changed,
        "problems": problems,
        **result.summary(),
        "outside_ids": [int(i) for i in result.outside],
        "ambiguous_ids": [int(i) for i in result.ambiguous],
    }


def import_territories(
    session: Session,
    actor: Actor,
    source: str | bytes | Path | Mapping[str, Any],
    *,
    name_field: str = "name",
    owner_field: str = "owner",
    replace: bool = False,
    region: str | None = None,
    set_owners: bool = False,
) -> dict[str, Any]:
    """Load territories from GeoJSON, save them and assign the accounts.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    source
        See :func:`read_territories_geojson`.
    name_field, owner_field
        GeoJSON properties holding the name and the owner's username.
    replace, region, set_owners
        See :func:`save_and_assign`.

    Returns
    -------
    dict
        ``territories`` (how many were read) and what :func:`save_and_assign`
        returns.
    """
    frame = read_territories_geojson(source, name_field=name_field, owner_field=owner_field)
    result = save_and_assign(
        session, actor, frame, replace=replace, region=region, set_owners=set_owners
    )
    return {"territories": len(frame), **result}


def build_and_save_territories(
    session: Session,
    actor: Actor,
    k: int,
    balance: str = "workload",
    *,
    region: str | None = None,
    G: nx.MultiDiGraph | None = None,
    profile: str = "drive",
    replace: bool = True,
    set_owners: bool = False,
    tolerance: float = 0.05,
    time_limit_s: float = 20.0,
) -> dict[str, Any]:
    """Build K balanced territories for the actor's region and save them.

    The CLI's ``territories build``. Seeds are the region's reps' home bases
    (the first ``k`` by username; more are placed if there are fewer reps);
    the accounts are the actor's, drive times come from the region's road
    network.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    k
        Number of territories.
    balance
        ``"workload"`` or ``"potential"``.
    region
        Region name (default the actor's region, or the only one).
    G
        Road graph; default :func:`gcrm.network.load_network` with ``profile``.
    profile
        Network profile when ``G`` is not given.
    replace
        Delete the region's other territories (default).
    set_owners
        Make each account's owner its territory's rep.
    tolerance, time_limit_s
        See :func:`build_territories`.

    Returns
    -------
    dict
        :meth:`TerritoryPlan.summary` (``territories``, ``workload_max_min``,
        ``potential_max_min``, ``polsby_popper_min``, ...) plus the saving's
        ``changed``, ``assigned``, ``outside`` and ``unlocated``.
    """
    require(actor, "territories")
    geom = region_geometry(session, actor, region)
    homes = rep_home_bases(session, actor, region=region)
    seeds = homes.rename(columns={"username": "owner"})[["owner", "lat", "lon"]]
    accounts = accounts_frame(session, actor)
    if G is None:
        G = load_network(profile=profile)
    plan = build_territories(
        accounts,
        seeds,
        k,
        balance=balance,
        region=geom,
        G=G,
        tolerance=tolerance,
        time_limit_s=time_limit_s,
    )
    saved = save_and_assign(
        session,
        actor,
        plan.territories[["name", "owner", "geometry"]],
        replace=replace,
        region=region,
        set_owners=set_owners,
    )
    out = plan.summary()
    out.update(
        {
            "changed": saved["changed"],
            "assigned": saved["assigned"],
            "outside": saved["outside"],
            "unlocated": saved["unlocated"],
        }
    )
    return out
