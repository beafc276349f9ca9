"""Aggregate queries over accounts that scale with the screen, not the table.

The functions here take the conditions that select the accounts (scope and
filter, built by :mod:`gcrm.store`) and let the database do the counting: grid
clusters in a viewport, counts per postcode or territory, and the extent. Each
returns at most as many rows as there are cells or groups, never one row per
account, and is kept per process until the data change
(:mod:`gcrm.db.agg_cache`), so a team viewing the same map counts it once. On
PostgreSQL a viewport also filters with ``geom && envelope`` so the GiST index
on ``accounts.geom`` is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Float, Integer, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from gcrm.db import agg_cache
from gcrm.db.models import Account, Territory

#: Columns of :func:`grid_cells`.
CELL_COLUMNS: tuple[str, ...] = ("gx", "gy", "count", "lat", "lon", "value", "first_id")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _floor(expr: Any, dialect: str) -> Any:
    # SQLite has no floor() unless built with math functions; the argument is
    # shifted to be non-negative, so a cast (which truncates there) is a floor.
    if dialect == "postgresql":
        return cast(func.floor(expr), Integer)
    return cast(expr, Integer)


def bbox_conditions(
    bbox: tuple[float, float, float, float], dialect: str
) -> list[ColumnElement[bool]]:
    """Conditions selecting accounts inside ``(min_lon, min_lat, max_lon, max_lat)``.

    Parameters
    ----------
    bbox
        The box in WGS84 degrees.
    dialect
        ``"postgresql"`` adds ``geom && ST_MakeEnvelope(...)`` (GiST index).

    Returns
    -------
    list of ColumnElement
        Conditions to AND together.
    """
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox)
    conds: list[ColumnElement[bool]] = [
        Account.lon >= min_lon,
        Account.lon <= max_lon,
        Account.lat >= min_lat,
        Account.lat <= max_lat,
    ]
    if dialect == "postgresql":
        envelope = func.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)
        conds.insert(0, Account.geom.op("&&")(envelope))
    return conds


def grid_cells(
    session: Session, conditions: Sequence[ColumnElement[bool]], *, cell_deg: float
) -> pd.DataFrame:
    """Cluster the selected, located accounts on a square grid, in SQL.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts (scope, filter, viewport).
    cell_deg
        Cell side in degrees (> 0).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty cell, columns :data:`CELL_COLUMNS`: grid
        indices, account count, mean position, summed potential value and the
        smallest account id (the account itself when ``count`` is 1).
    """
    if not cell_deg > 0:
        msg = f"cell_deg must be positive, got {cell_deg!r}"
        raise ValueError(msg)
    dialect = _dialect(session)
    gx = _floor((Account.lon + 180.0) / cell_deg, dialect)
    gy = _floor((Account.lat + 90.0) / cell_deg, dialect)
    stmt = (
        select(
            gx.label("gx"),
            gy.label("gy"),
            func.count().label("count"),
            func.avg(Account.lat).label("lat"),
            func.avg(Account.lon).label("lon"),
            func.sum(func.coalesce(Account.potential_value, 0.0)).label("value"),
            func.min(Account.id).label("first_id"),
        )
        .where(Account.lat.is_not(None), Account.lon.is_not(None), *conditions)
        .group_by(gx, gy)
    )
    frame = pd.DataFrame(agg_cache.rows(session, stmt), columns=list(CELL_COLUMNS))
    return frame.astype({"count": int, "lat": float, "lon": float, "value": float})


def _summary(session: Session, conditions: Sequence[ColumnElement[bool]]) -> tuple[Any, ...]:
    # One scan gives the count, the located count, the bounds and the value sum:
    # extent, value_sum and the list count share this statement (and its cache
    # entry), so a page over 1,000,000 accounts scans the table once for them.
    has_point = and_(Account.lat.is_not(None), Account.lon.is_not(None))
    stmt = select(
        func.count(),
        func.sum(case((has_point, 1), else_=0)),
        func.min(Account.lon),
        func.min(Account.lat),
        func.max(Account.lon),
        func.max(Account.lat),
        func.sum(func.coalesce(Account.potential_value, 0.0)),
    ).where(*conditions)
    return agg_cache.rows(session, stmt)[0]


def extent(
    session: Session, conditions: Sequence[ColumnElement[bool]]
) -> tuple[int, int, tuple[float, float, float, float] | None]:
    """Count and bounds of the selected accounts.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts.

    Returns
    -------
    tuple
        ``(accounts, located, bounds)`` with ``bounds`` as
        ``(min_lon, min_lat, max_lon, max_lat)`` or ``None`` when none is
        located.
    """
    total, located, *box, _ = _summary(session, conditions)
    bounds = None if box[0] is None else tuple(float(v) for v in box)
    return int(total or 0), int(located or 0), bounds  # type: ignore[return-value]


def value_sum(session: Session, conditions: Sequence[ColumnElement[bool]]) -> float:
    """Return the summed potential value of the selected accounts (missing ones count 0)."""
    return float(_summary(session, conditions)[-1] or 0.0)


def covered_condition(dialect: str, today: dt.date) -> ColumnElement[bool]:
    """Whether an account is covered on ``today``: :mod:`gcrm.due`'s rule in SQL.

    Covered = a target, visited, and not due today (last visit + target days >
    today); tests/test_viewport.py checks the two agree.
    """
    every = Account.visit_every_days
    if dialect == "postgresql":
        age = literal(today) - Account.last_visit
    else:
        age = func.julianday(literal(today.isoformat())) - func.julianday(Account.last_visit)
    return and_(every > 0, Account.last_visit.is_not(None), cast(age, Float) < every)


def group_stats(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    *,
    by: str,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Count, value and visit coverage of the selected accounts per group.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts.
    by : {"postcode", "territory"}
        The grouping (territory by name).
    today
        Reference day of coverage (default today).

    Returns
    -------
    pandas.DataFrame
        Columns ``key``, ``count``, ``value``, ``with_target``, ``covered``,
        ``coverage`` (NaN where no account has a target); accounts with no
        group are left out.
    """
    dialect = _dialect(session)
    today = today or dt.date.today()
    key: Any = Account.postcode if by == "postcode" else Territory.name
    stmt = select(
        key.label("key"),
        func.count().label("count"),
        func.sum(func.coalesce(Account.potential_value, 0.0)).label("value"),
        func.sum(case((Account.visit_every_days > 0, 1), else_=0)).label("with_target"),
        func.sum(case((covered_condition(dialect, today), 1), else_=0)).label("covered"),
    ).where(key.is_not(None), *conditions)
    if by == "territory":
        stmt = stmt.join(Territory, Territory.id == Account.territory_id)
    elif by != "postcode":
        msg = f"group by 'postcode' or 'territory', not {by!r}"
        raise ValueError(msg)
    cols = ["key", "count", "value", "with_target", "covered"]
    out = pd.DataFrame(agg_cache.rows(session, stmt.group_by(key)), columns=cols)
    out = out.astype({"count": int, "value": float, "with_target": int, "covered": int})
    target = out["with_target"].to_numpy(float)
    out["coverage"] = out["covered"].to_numpy(float) / target.clip(min=1)
    out.loc[target == 0, "coverage"] = float("nan")
    return out
