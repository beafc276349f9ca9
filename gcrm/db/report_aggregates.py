"""The report figures' aggregates over accounts, counted in the database.

The territory and rep reports (:mod:`gcrm.reports.figures`) need per
territory, owner, kind, stage and segment the number of accounts, their value
and revenue sums and their visit coverage; the visits of the last 30 and 90
days per territory; and a seeded sample of located accounts per territory for
the drive-time figures. Each function here takes the conditions that select
the accounts (scope and filter, built by :mod:`gcrm.store`) and returns at most
one row per group or sampled account, never one row per account, so the report
costs the same few rows at 1,000,000 accounts as at 500. The account
aggregates are kept per process until the data change (:mod:`gcrm.db.agg_cache`);
the visit counts read interactions, which the change stamp does not watch, so
they are counted each time (an indexed range over the last 90 days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from gcrm.db import agg_cache
from gcrm.db.aggregates import covered_condition
from gcrm.db.models import Account, Interaction, Territory, User

#: Columns of :func:`account_groups`.
GROUP_COLUMNS: tuple[str, ...] = (
    "territory_id",
    "territory",
    "owner",
    "kind",
    "stage",
    "segment",
    "accounts",
    "located",
    "potential_value",
    "annual_revenue",
    "with_target",
    "covered",
)


def account_groups(
    session: Session, conditions: Sequence[ColumnElement[bool]], *, today: dt.date
) -> pd.DataFrame:
    """Count, sums and coverage of the selected accounts per territory, owner, kind, stage, segment.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts (scope and filter).
    today
        Reference day of coverage (:func:`gcrm.db.aggregates.covered_condition`).

    Returns
    -------
    pandas.DataFrame
        :data:`GROUP_COLUMNS`, one row per non-empty group: ``territory`` is the
        name (``None`` outside any territory), ``owner`` the username;
        ``located`` counts accounts with a position; value and revenue sums
        count a missing value as 0; ``with_target`` and ``covered`` follow
        :func:`gcrm.density.coverage_mask`.
    """
    has_point = and_(Account.lat.is_not(None), Account.lon.is_not(None))
    keys = (Account.territory_id, Account.owner_id, Account.kind, Account.stage, Account.segment)
    # Grouped on the account's own columns first (PostgreSQL then estimates a few
    # hundred groups and hashes them; with the joined names in the key it expected
    # one group per account and sorted the million rows), the names joined after.
    grouped = (
        select(
            *keys,
            func.count().label("accounts"),
            func.sum(case((has_point, 1), else_=0)).label("located"),
            func.sum(func.coalesce(Account.potential_value, 0.0)).label("potential_value"),
            func.sum(func.coalesce(Account.annual_revenue, 0.0)).label("annual_revenue"),
            func.sum(case((Account.visit_every_days > 0, 1), else_=0)).label("with_target"),
            func.sum(
                case((covered_condition(session.get_bind().dialect.name, today), 1), else_=0)
            ).label("covered"),
        )
        .where(*conditions)
        .group_by(*keys)
        .subquery()
    )
    g = grouped.c
    stmt = (
        select(
            g.territory_id,
            Territory.name,
            User.username,
            g.kind,
            g.stage,
            g.segment,
            g.accounts,
            g.located,
            g.potential_value,
            g.annual_revenue,
            g.with_target,
            g.covered,
        )
        .outerjoin(Territory, Territory.id == g.territory_id)
        .outerjoin(User, User.id == g.owner_id)
    )
    out = pd.DataFrame(agg_cache.rows(session, stmt), columns=list(GROUP_COLUMNS))
    ints = ("accounts", "located", "with_target", "covered")
    return out.astype(
        {**dict.fromkeys(ints, int), "potential_value": float, "annual_revenue": float}
    )


def visit_counts(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    *,
    since: Mapping[str, dt.date],
) -> pd.DataFrame:
    """Visits logged at the selected accounts on or after given days, per territory.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts (scope and filter).
    since
        Column name → first day counted (e.g. ``{"visits_30d": today - 30 days}``).

    Returns
    -------
    pandas.DataFrame
        ``territory`` (name, ``None`` outside any) and one count column per
        entry of ``since``; territories without such visits are left out.
    """
    starts = {name: dt.datetime.combine(day, dt.time()) for name, day in since.items()}
    first = min(starts.values())
    stmt = (
        select(
            Territory.name,
            *(
                func.sum(case((Interaction.occurred_at >= start, 1), else_=0))
                for start in starts.values()
            ),
        )
        .join(Account, Account.id == Interaction.account_id)
        .outerjoin(Territory, Territory.id == Account.territory_id)
        .where(Interaction.kind == "visit", Interaction.occurred_at >= first, *conditions)
        .group_by(Territory.name)
    )
    out = pd.DataFrame(
        [tuple(r) for r in session.execute(stmt).all()], columns=["territory", *starts]
    )
    return out.astype(dict.fromkeys(starts, int))


def sample_points(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    *,
    positions: Mapping[int | None, Sequence[int]],
    region_positions: Sequence[int],
) -> pd.DataFrame:
    """Positions of chosen located accounts, by their rank in the account list's order.

    The located accounts are ranked by name, then id (the order of
    :func:`gcrm.store.accounts_frame`) from 0, within their territory and
    over all; the rows asked for are returned, so a seeded sample of a
    million accounts costs one ranked scan in the database and a few hundred
    rows here.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts (scope and filter).
    positions
        Territory id (``None``: no territory) → ranks wanted within it.
    region_positions
        Ranks wanted over all located accounts.

    Returns
    -------
    pandas.DataFrame
        Columns ``territory_id``, ``rank``, ``region_rank``, ``lat``, ``lon``.
    """
    has_point = and_(Account.lat.is_not(None), Account.lon.is_not(None))
    # One sort by name and id gives the rank over all; the rank within the
    # territory then sorts integers (cheaper than a second sort on the names).
    # Only ids are ranked; the few wanted rows fetch their position by id.
    by_name = (
        select(
            Account.territory_id,
            Account.id,
            (func.row_number().over(order_by=(Account.name, Account.id)) - 1).label("region_rank"),
        )
        .where(has_point, *conditions)
        .subquery()
    )
    ranked = select(
        by_name.c.territory_id,
        by_name.c.id,
        by_name.c.region_rank,
        (
            func.row_number().over(
                partition_by=by_name.c.territory_id, order_by=by_name.c.region_rank
            )
            - 1
        ).label("rank"),
    ).subquery()
    wanted: list[ColumnElement[bool]] = []
    for tid, ranks in positions.items():
        if len(ranks):
            same = ranked.c.territory_id.is_(None) if tid is None else ranked.c.territory_id == tid
            wanted.append(and_(same, ranked.c.rank.in_([int(r) for r in ranks])))
    if len(region_positions):
        wanted.append(ranked.c.region_rank.in_([int(r) for r in region_positions]))
    # The ranks sort narrow rows (no position); the few wanted rows fetch theirs by id.
    stmt: Any = (
        select(ranked.c.territory_id, ranked.c.rank, ranked.c.region_rank, Account.lat, Account.lon)
        .join(Account, Account.id == ranked.c.id)
        .where(or_(*wanted) if wanted else false())
    )
    cols = ["territory_id", "rank", "region_rank", "lat", "lon"]
    out = pd.DataFrame(agg_cache.rows(session, stmt), columns=cols)
    return out.astype({"rank": int, "region_rank": int, "lat": float, "lon": float})


def last_activity(session: Session, conditions: Sequence[ColumnElement[bool]]) -> pd.DataFrame:
    """When each user last logged an interaction at one of the selected accounts.

    Parameters
    ----------
    session
        An open session.
    conditions
        Which accounts (scope and filter).

    Returns
    -------
    pandas.DataFrame
        Columns ``user`` (username) and ``last`` (the newest ``occurred_at``);
        interactions without a user are left out.
    """
    stmt = (
        select(User.username, func.max(Interaction.occurred_at))
        .join(Account, Account.id == Interaction.account_id)
        .join(User, User.id == Interaction.user_id)
        .where(*conditions)
        .group_by(User.username)
    )
    return pd.DataFrame([tuple(r) for r in session.execute(stmt).all()], columns=["user", "last"])
