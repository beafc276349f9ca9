"""Territories: reading, saving polygons, owners and the accounts' territory."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import false, select, update
from sqlalchemy.orm import Session, selectinload

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import Actor, account_scope, require
from gcrm.db.models import (
    Account,
    Region,
    Territory,
)
from gcrm.store.audit_log import audit
from gcrm.store.users import get_user
from gcrm.territory_rule import clip_to_region


def territories_frame(session: Session, actor: Actor) -> gpd.GeoDataFrame:
    """Return territories with their owner and region (EPSG:4326).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; a rep sees their own territories, a manager their
        region's.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns id, name, owner, region, geometry (clipped to the region,
        :func:`gcrm.territory_rule.clip_to_region`).
    """
    require(actor, "view")
    stmt = (
        select(Territory)
        .options(selectinload(Territory.owner), selectinload(Territory.region))
        .order_by(Territory.name)
    )
    if actor.role == "rep":
        stmt = stmt.where(Territory.owner_id == actor.id)
    elif actor.role == "manager":
        # a manager without a region sees none (never the region-less ones)
        stmt = stmt.where(
            Territory.region_id == actor.region_id if actor.region_id is not None else false()
        )
    rows = [
        {
            "id": t.id,
            "name": t.name,
            "owner": t.owner.username if t.owner else None,
            "region": t.region.name if t.region else None,
            "geometry": clip_to_region(t.geom, t.region.geom if t.region else None),
        }
        for t in session.scalars(stmt)
    ]
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["id", "name", "owner", "region", "geometry"]),
        geometry="geometry",
        crs="EPSG:4326",
    )


_ID_CHUNK = 5000  # ids per IN (...) list


def _target_region(session: Session, actor: Actor, name: str | None) -> Region | None:
    """Return the region a territory operation works in (a manager: always their own)."""
    if name is not None:
        region = session.scalar(select(Region).where(Region.name == name))
        if region is None:
            msg = f"no region named {name!r}"
            raise NotFoundError(msg)
    elif actor.region_id is not None:
        region = session.get(Region, actor.region_id)
    else:
        all_regions = list(session.scalars(select(Region)))
        region = all_regions[0] if len(all_regions) == 1 else None
    if actor.role == "manager" and (region is None or region.id != actor.region_id):
        msg = f"user {actor.username!r} (manager) may only change their own region's territories"
        raise PermissionDeniedError(msg)
    return region


def region_geometry(session: Session, actor: Actor, name: str | None = None) -> Any:
    """Return the polygon of a region (EPSG:4326), ``None`` when it has none.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    name
        The region; default the actor's region, else the only region, else
        the union of every region's polygon.

    Returns
    -------
    shapely geometry or None
        A (Multi)Polygon in lon/lat.
    """
    require(actor, "view")
    if name is not None:
        region = session.scalar(select(Region).where(Region.name == name))
        if region is None:
            msg = f"no region named {name!r}"
            raise NotFoundError(msg)
        return region.geom
    if actor.region_id is not None:
        region = session.get(Region, actor.region_id)
        if region is not None and region.geom is not None:
            return region.geom
    geoms = [r.geom for r in session.scalars(select(Region)) if r.geom is not None]
    if not geoms:
        return None
    return geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)


def save_territories(
    session: Session,
    actor: Actor,
    territories: gpd.GeoDataFrame,
    *,
    replace: bool = False,
    region: str | None = None,
) -> list[int]:
    """Create or update territories from polygons, and audit the change.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``); a manager works in their own
        region only and may give territories only to users of that region.
    territories
        Columns ``name`` (unique, non-empty), optional ``owner`` (username or
        empty) and polygon geometry (any CRS; Polygons become MultiPolygons).
    replace
        Delete the region's other territories first (their accounts lose
        their territory); otherwise territories are matched by name and
        updated, the rest left alone.
    region
        The region's name; default the actor's region, else the only one.

    Returns
    -------
    list of int
        The territories' ids, in row order.

    Raises
    ------
    InputError
        On a missing, empty or duplicate name, a non-polygon or empty
        geometry, an unknown owner, or a name used in another region.
    """
    require(actor, "territories")
    if "name" not in territories.columns:
        raise InputError("territories need a 'name' column")
    frame = territories.to_crs(4326) if territories.crs is not None else territories
    names = _territory_names(frame["name"])
    geoms = [_territory_polygon(name, g) for name, g in zip(names, frame.geometry, strict=True)]
    target = _target_region(session, actor, region)
    if target is not None and target.geom is not None:
        geoms = _clip_to(names, geoms, target)
    raw_owners = frame["owner"] if "owner" in frame.columns else [None] * len(frame)
    owners = [
        _territory_owner(session, actor, name, owner)
        for name, owner in zip(names, raw_owners, strict=True)
    ]
    target_id = target.id if target is not None else None
    existing = {
        t.name: t for t in session.scalars(select(Territory).where(Territory.name.in_(names)))
    }
    for name, terr in existing.items():
        if (replace and terr.region_id != target_id) or (
            actor.role == "manager" and terr.region_id != actor.region_id
        ):
            msg = f"territory name {name!r} is already used in another region"
            raise InputError(msg)
    deleted = _delete_stale(session, actor, names, target_id) if replace else []
    ids: list[int] = []
    for name, geom, owner_id in zip(names, geoms, owners, strict=True):
        found = existing.get(name)
        if found is None:
            found = Territory(name=name, region_id=target_id, owner_id=owner_id, geom=geom)
            session.add(found)
        else:
            found.geom = geom
            found.owner_id = owner_id
            if target_id is not None:
                found.region_id = target_id
        session.flush()
        ids.append(found.id)
    audit(
        session,
        actor,
        "territories",
        f"region:{target.name}" if target is not None else None,
        {"saved": names, "deleted": sorted(deleted), "replace": replace},
    )
    return ids


def _territory_names(column: Any) -> list[str]:
    """Return the stripped names, refusing an empty or duplicate one."""
    names = [str(n).strip() if n is not None and not pd.isna(n) else "" for n in column]
    if any(not n for n in names):
        raise InputError("every territory needs a name")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"duplicate territory name(s): {', '.join(dup)}"
        raise InputError(msg)
    return names


def _territory_polygon(name: str, given: Any) -> MultiPolygon:
    """Return a territory's geometry as a valid MultiPolygon (its polygon parts)."""
    if given is None or given.is_empty:
        msg = f"territory {name!r}: empty geometry"
        raise InputError(msg)
    valid = shapely.make_valid(given)
    parts = [p for p in shapely.get_parts(valid) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    if not polys or sum(p.area for p in polys) <= 0:
        msg = f"territory {name!r}: not a polygon"
        raise InputError(msg)
    return MultiPolygon(polys)


def _clip_to(names: list[str], geoms: list[Any], target: Region) -> list[Any]:
    """Clip territories to their region, refusing one that lies wholly outside it."""
    clipped = [clip_to_region(g, target.geom) for g in geoms]
    outside = [n for n, g in zip(names, clipped, strict=True) if g.is_empty]
    if outside:
        msg = f"territory {outside[0]!r} lies outside the region {target.name!r}"
        raise InputError(msg)
    return clipped


def _territory_owner(session: Session, actor: Actor, name: str, owner: Any) -> int | None:
    """Return the user id of a territory's owner cell (``None`` when empty)."""
    username = "" if owner is None or pd.isna(owner) else str(owner).strip()
    if not username:
        return None
    user = get_user(session, username)
    if user is None:
        msg = f"territory {name!r}: no user {username!r}"
        raise InputError(msg)
    if actor.role == "manager" and user.region_id != actor.region_id:
        msg = f"territory {name!r}: {username!r} is not in your region"
        raise PermissionDeniedError(msg)
    return user.id


def _delete_stale(
    session: Session, actor: Actor, keep: list[str], target_id: int | None
) -> list[str]:
    """Delete the region's territories not in ``keep`` (their accounts lose them)."""
    stale_stmt = select(Territory).where(Territory.name.not_in(keep))
    if target_id is not None:
        stale_stmt = stale_stmt.where(Territory.region_id == target_id)
    elif not actor.can("admin"):
        stale_stmt = stale_stmt.where(Territory.region_id.is_(None))
    stale = list(session.scalars(stale_stmt))
    if not stale:
        return []
    session.execute(
        update(Account)
        .where(Account.territory_id.in_([t.id for t in stale]))
        .values(territory_id=None)
        .execution_options(synchronize_session=False)
    )
    deleted = []
    for t in stale:
        deleted.append(t.name)
        session.delete(t)
    session.flush()
    return deleted


def set_account_territories(
    session: Session,
    actor: Actor,
    assignment: dict[int, int | None],
    *,
    set_owners: bool = False,
) -> int:
    """Set the territory of accounts (and optionally their owner), audited.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    assignment
        Account id → territory id (``None``: no territory). Every account
        must be in the actor's scope.
    set_owners
        Also make each account's owner its territory's owner (accounts left
        without a territory, or in a territory without owner, keep theirs).

    Returns
    -------
    int
        How many accounts changed.

    Raises
    ------
    NotFoundError
        If an account is not in scope or a territory does not exist.
    """
    require(actor, "territories")
    wanted = {int(k): (None if v is None else int(v)) for k, v in assignment.items()}
    terr_owner: dict[int, int | None] = dict(
        session.execute(select(Territory.id, Territory.owner_id)).all()  # type: ignore[arg-type]
    )
    missing_t = sorted({t for t in wanted.values() if t is not None} - set(terr_owner))
    if missing_t:
        msg = f"no territory with id {missing_t[0]}"
        raise NotFoundError(msg)
    current: dict[int, tuple[int | None, int | None]] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        stmt = select(Account.id, Account.territory_id, Account.owner_id).where(
            account_scope(actor), Account.id.in_(chunk)
        )
        for aid, tid, oid in session.execute(stmt):
            current[aid] = (tid, oid)
    missing_a = [i for i in ids if i not in current]
    if missing_a:
        msg = f"no account with id {missing_a[0]}"
        raise NotFoundError(msg)
    updates: list[dict[str, Any]] = []
    for aid in ids:
        tid = wanted[aid]
        old_tid, old_owner = current[aid]
        row: dict[str, Any] = {}
        if tid != old_tid:
            row["territory_id"] = tid
        if set_owners and tid is not None:
            new_owner = terr_owner.get(tid)
            if new_owner is not None and new_owner != old_owner:
                row["owner_id"] = new_owner
        if row:
            updates.append({"id": aid, **row})
    for keys in {tuple(sorted(u)) for u in updates}:
        batch = [u for u in updates if tuple(sorted(u)) == keys]
        session.execute(update(Account), batch)
    if updates:
        audit(
            session,
            actor,
            "territories",
            "accounts",
            {
                "changed": len(updates),
                "territory_set": sum("territory_id" in u for u in updates),
                "owner_set": sum("owner_id" in u for u in updates),
            },
        )
    session.flush()
    return len(updates)


def set_territory_owner(
    session: Session, actor: Actor, territory: str, username: str | None
) -> Territory:
    """Make a rep the owner of a territory (or leave it without one).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``territories``; a manager only in their region).
    territory
        The territory's name.
    username
        The new owner (a rep), or ``None``.

    Returns
    -------
    Territory
        The changed territory.

    Raises
    ------
    NotFoundError
        If the territory is not one the actor may manage.
    InputError
        If the user is unknown or not a rep.
    """
    require(actor, "territories")
    t = session.scalar(select(Territory).where(Territory.name == territory))
    if t is None or (actor.role == "manager" and t.region_id != actor.region_id):
        msg = f"no territory {territory!r}"
        raise NotFoundError(msg)
    owner_id = None
    if username:
        user = get_user(session, username)
        if user is None or user.role != "rep":
            msg = f"owner: {username!r} is not a rep"
            raise InputError(msg)
        owner_id = user.id
    before = t.owner.username if t.owner else None
    t.owner_id = owner_id
    audit(
        session,
        actor,
        "edit",
        f"territory:{t.id}",
        {"owner": {"before": before, "after": username}},
    )
    session.flush()
    return t
