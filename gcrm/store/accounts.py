"""Account reads (frames, pages, counts, aggregates) and edits, within scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from gcrm._errors import InputError, NotFoundError
from gcrm.auth import Actor, account_scope, pseudonym, require
from gcrm.db import agg_cache, aggregates
from gcrm.db.models import (
    STAGES,
    Account,
    AccountKind,
    Contact,
    Precision,
    Territory,
    User,
)
from gcrm.pins import APPROXIMATE
from gcrm.store.audit_log import audit
from gcrm.store.scope import (
    ACCOUNT_COLUMNS,
    AccountFilter,
    _account_select,
    _conditions,
    point_geometry,
)


def list_accounts(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    limit: int | None = None,
    order_by: str = "name",
) -> list[Account]:
    """Return the accounts the actor may see that match a filter.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies.
    flt
        The filter (``None``: all in scope).
    limit
        At most this many rows.
    order_by
        An :class:`Account` column name.

    Returns
    -------
    list of Account
        With owner and territory loaded.
    """
    stmt = _account_select(actor, flt).options(
        selectinload(Account.owner), selectinload(Account.territory)
    )
    stmt = stmt.order_by(getattr(Account, order_by), Account.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def count_accounts(session: Session, actor: Actor, flt: AccountFilter | None = None) -> int:
    """Count the accounts the actor may see that match a filter.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    flt
        The filter.

    Returns
    -------
    int
        The count.
    """
    # The same statement as the extent's (one scan, kept until the data change).
    return aggregates.extent(session, _conditions(actor, flt))[0]


def accounts_frame(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
    sort: str = "name",
    approximate_only: bool = False,
) -> gpd.GeoDataFrame:
    """Return the matching accounts as a GeoDataFrame (EPSG:4326).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies.
    flt
        The filter.
    limit, offset
        One page of rows (``None``: every row).
    sort
        Row order, one of :data:`SORTS` (ties by name, then id).
    approximate_only
        Only accounts whose location is missing or approximate
        (:data:`gcrm.pins.APPROXIMATE`: they need a pin).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per account with :data:`ACCOUNT_COLUMNS`; ``owner`` is the
        username and ``territory`` the territory name. Accounts without a
        location have an empty geometry.
    """
    owner = select(User.id, User.username).subquery()
    terr = select(Territory.id, Territory.name).subquery()
    cols = [getattr(Account, c) for c in ACCOUNT_COLUMNS if c not in ("owner", "territory")]
    stmt = (
        _account_select(actor, flt)
        .with_only_columns(*cols, owner.c.username.label("owner"), terr.c.name.label("territory"))
        .outerjoin(owner, owner.c.id == Account.owner_id)
        .outerjoin(terr, terr.c.id == Account.territory_id)
        .order_by(*_order(sort))
    )
    if approximate_only:
        stmt = stmt.where(_approximate())
    if limit is not None:
        stmt = stmt.limit(int(limit)).offset(max(int(offset), 0))
    rows = session.execute(stmt).mappings().all()
    df = pd.DataFrame(rows, columns=[c.key for c in cols] + ["owner", "territory"])
    df = df[list(ACCOUNT_COLUMNS)]
    geometry = gpd.points_from_xy(
        pd.to_numeric(df["lon"], errors="coerce"), pd.to_numeric(df["lat"], errors="coerce")
    )
    return gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")


def accounts_page(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    page: int = 1,
    per_page: int = 50,
    sort: str = "name",
    approximate_only: bool = False,
) -> tuple[gpd.GeoDataFrame, int]:
    """Return one page of matching accounts and how many match in all.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies.
    flt
        The filter (its ``text`` searches in the database).
    page
        1-based page number (pages past the end are empty).
    per_page
        Rows per page (1-1,000).
    sort, approximate_only
        As :func:`accounts_frame` (the count follows ``approximate_only``).

    Returns
    -------
    tuple
        ``(frame, total)``: the page as :func:`accounts_frame` returns it,
        in ``sort`` order, and the number of matching accounts.

    Raises
    ------
    InputError
        On ``per_page`` out of range or an unknown ``sort``.
    """
    if not 1 <= int(per_page) <= 1000:
        msg = f"per_page must be between 1 and 1000, got {per_page}"
        raise InputError(msg)
    offset = (max(int(page), 1) - 1) * int(per_page)
    frame = accounts_frame(
        session, actor, flt, limit=int(per_page), offset=offset, sort=sort,
        approximate_only=approximate_only,
    )  # fmt: skip
    if approximate_only:
        sub = (
            _account_select(actor, flt).where(_approximate()).with_only_columns(Account.id)
        ).subquery()
        return frame, int(session.scalar(select(func.count()).select_from(sub)) or 0)
    return frame, count_accounts(session, actor, flt)


#: Orders of :func:`accounts_frame` and :func:`accounts_page` (the page's sort choices).
SORTS: dict[str, str] = {
    "name": "name (A-Z)",
    "value": "potential value (highest first)",
    "last_visit": "last visit (never or longest ago first)",
    "stage": "stage",
}


def _order(sort: str) -> tuple[Any, ...]:
    """Return the ORDER BY of a :data:`SORTS` key (name and id break ties: stable pages)."""
    if sort not in SORTS:
        msg = f"unknown sort {sort!r}: expected one of {', '.join(SORTS)}"
        raise InputError(msg)
    first = {
        "name": (),
        "value": (Account.potential_value.desc().nulls_last(),),
        "last_visit": (Account.last_visit.asc().nulls_first(),),
        "stage": (Account.stage,),
    }[sort]
    return (*first, Account.name, Account.id)


def _approximate() -> Any:
    """Return the condition: location missing or approximate (:data:`gcrm.pins.APPROXIMATE`).

    ``geocode_precision`` is never NULL (missing is ``"none"``). The values are written
    into the SQL (not bound) so that it is the very predicate of the partial index
    ``ix_accounts_needs_pin`` (migration 0010): the database then reads only these
    accounts, in name order.
    """
    return Account.geocode_precision.in_(
        bindparam("approximate", list(APPROXIMATE), expanding=True, literal_execute=True)
    )


def accounts_extent(
    session: Session, actor: Actor, flt: AccountFilter | None = None
) -> tuple[int, int, tuple[float, float, float, float] | None]:
    """Count, located count and bounds of the matching accounts, in SQL.

    Returns
    -------
    tuple
        See :func:`gcrm.db.aggregates.extent`.
    """
    return aggregates.extent(session, _conditions(actor, flt))


def accounts_value(session: Session, actor: Actor, flt: AccountFilter | None = None) -> float:
    """Return the summed potential value of the matching accounts, in SQL."""
    return aggregates.value_sum(session, _conditions(actor, flt))


def account_cells(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    cell_deg: float,
    bbox: tuple[float, float, float, float] | None = None,
) -> pd.DataFrame:
    """Grid clusters of the matching accounts in a viewport, counted in SQL.

    Parameters
    ----------
    session, actor, flt
        As :func:`accounts_frame`.
    cell_deg
        Grid cell side in degrees.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)`` of the viewport (PostGIS:
        through the spatial index); ``None``: everywhere.

    Returns
    -------
    pandas.DataFrame
        See :func:`gcrm.db.aggregates.grid_cells`.
    """
    conds = _conditions(actor, flt)
    if bbox is not None:
        dialect = session.get_bind().dialect.name
        conds += aggregates.bbox_conditions(bbox, dialect)
    return aggregates.grid_cells(session, conds, cell_deg=cell_deg)


def account_group_stats(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    by: str,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Count, value and coverage of the matching accounts per postcode or territory.

    Returns
    -------
    pandas.DataFrame
        See :func:`gcrm.db.aggregates.group_stats`.
    """
    return aggregates.group_stats(session, _conditions(actor, flt), by=by, today=today)


def facets(session: Session, actor: Actor) -> dict[str, list[str]]:
    """Return the distinct values of filterable fields within scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.

    Returns
    -------
    dict
        ``kind``, ``stage``, ``segment``, ``owner``, ``territory`` → sorted values.
    """
    # One GROUP BY in the database (a scan, not five DISTINCTs): a large store is
    # never loaded for its filter lists. Owner and territory names join the few
    # groups afterwards.
    groups = (
        select(Account.kind, Account.stage, Account.segment, Account.owner_id, Account.territory_id)
        .where(*_conditions(actor, None))
        .group_by(
            Account.kind, Account.stage, Account.segment, Account.owner_id, Account.territory_id
        )
        .subquery()
    )
    stmt = (
        select(groups.c.kind, groups.c.stage, groups.c.segment, User.username, Territory.name)
        .select_from(groups)
        .outerjoin(User, User.id == groups.c.owner_id)
        .outerjoin(Territory, Territory.id == groups.c.territory_id)
    )
    keys = ("kind", "stage", "segment", "owner", "territory")
    values: dict[str, set[str]] = {key: set() for key in keys}
    for row in agg_cache.rows(session, stmt):
        for key, value in zip(keys, row, strict=True):
            if value is not None:
                values[key].add(str(value))
    return {key: sorted(found) for key, found in values.items()}


def account_ids_by_external(
    session: Session, actor: Actor, external_ids: Iterable[str]
) -> dict[str, int]:
    """Map external ids to account ids, within the actor's scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    external_ids
        The external ids looked for.

    Returns
    -------
    dict
        ``{external_id: id}`` of those found in scope (others are absent).
    """
    wanted = list(dict.fromkeys(str(e) for e in external_ids))
    out: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        stmt = (
            _account_select(actor, None)
            .where(Account.external_id.in_(wanted[i : i + 500]))
            .with_only_columns(Account.external_id, Account.id)
        )
        out.update({str(e): int(a) for e, a in session.execute(stmt)})
    return out


def get_account(session: Session, actor: Actor, account_id: int) -> Account:
    """Return one account in the actor's scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_id
        ``accounts.id``.

    Returns
    -------
    Account
        With contacts and interactions loaded.

    Raises
    ------
    NotFoundError
        If it does not exist or lies outside the actor's scope (the two are
        not told apart, so scope leaks nothing).
    """
    stmt = _account_select(actor, AccountFilter(ids=[account_id])).options(
        selectinload(Account.contacts),
        selectinload(Account.interactions),
        selectinload(Account.owner),
        selectinload(Account.territory),
    )
    account = session.scalar(stmt)
    if account is None:
        msg = f"no account with id {account_id}"
        raise NotFoundError(msg)
    return account


#: Fields :func:`update_account` accepts.
EDITABLE_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "kind",
        "stage",
        "segment",
        "street",
        "housenumber",
        "postcode",
        "city",
        "country",
        "phone",
        "email",
        "potential_value",
        "annual_revenue",
        "opening_hours",
        "visit_minutes",
        "visit_every_days",
        "do_not_contact",
        "marketing_consent",
    }
)


def _check_account_values(values: dict[str, Any]) -> None:
    if "name" in values and not str(values["name"] or "").strip():
        raise InputError("name: must not be empty")
    if "kind" in values and values["kind"] not in {k.value for k in AccountKind}:
        msg = f"kind: {values['kind']!r} is not one of lead, prospect, customer"
        raise InputError(msg)
    if "stage" in values and values["stage"] not in STAGES:
        msg = f"stage: {values['stage']!r} is not one of {', '.join(STAGES)}"
        raise InputError(msg)
    for key in ("potential_value", "annual_revenue"):
        v = values.get(key)
        if v is not None and float(v) < 0:
            msg = f"{key}: must not be negative"
            raise InputError(msg)
    for key in ("visit_minutes", "visit_every_days"):
        v = values.get(key)
        if v is not None and int(v) <= 0:
            msg = f"{key}: must be a positive number of {'minutes' if 'min' in key else 'days'}"
            raise InputError(msg)


def update_account(
    session: Session, actor: Actor, account_id: int, values: dict[str, Any]
) -> Account:
    """Change an account's fields, validated, and audit the change.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``edit``).
    account_id
        The account.
    values
        Field → new value; only :data:`EDITABLE_FIELDS`.

    Returns
    -------
    Account
        The updated account.

    Raises
    ------
    InputError
        On an unknown field or a bad value (the message names the field).
    """
    require(actor, "edit")
    unknown = set(values) - EDITABLE_FIELDS
    if unknown:
        msg = f"cannot edit field(s): {', '.join(sorted(unknown))}"
        raise InputError(msg)
    _check_account_values(values)
    account = get_account(session, actor, account_id)
    before = {k: getattr(account, k) for k in values}
    for key, value in values.items():
        setattr(account, key, value)
    after = {k: getattr(account, k) for k in values}
    changed = {k: (before[k], after[k]) for k in values if before[k] != after[k]}
    if changed:
        audit(
            session,
            actor,
            "edit",
            f"account:{account.id}",
            {k: {"before": b, "after": a} for k, (b, a) in changed.items()},
        )
    session.flush()
    return account


def set_manual_pin(
    session: Session, actor: Actor, account_id: int, lat: float, lon: float
) -> Account:
    """Place an account's pin by hand; geocoding never moves it again.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``edit``).
    account_id
        The account.
    lat, lon
        The new location (WGS84).

    Returns
    -------
    Account
        The account with precision ``manual``.
    """
    require(actor, "edit")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        msg = f"pin: ({lat}, {lon}) is not a valid latitude/longitude"
        raise InputError(msg)
    account = get_account(session, actor, account_id)
    before = (account.lat, account.lon)
    account.lat, account.lon = float(lat), float(lon)
    account.geom = point_geometry(lat, lon)
    account.manual_pin = True
    account.geocode_precision = Precision.MANUAL.value
    account.geocode_score = 1.0
    account.geocode_source = "manual"
    audit(
        session,
        actor,
        "edit",
        f"account:{account.id}",
        {"pin": {"before": before, "after": (lat, lon)}},
    )
    session.flush()
    return account


def account_personal_fields(
    session: Session, actor: Actor, ids: Sequence[int]
) -> dict[int, dict[str, object]]:
    """Return the personal fields of the account export, for accounts in scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``view``; accounts outside the scope are left out).
    ids
        Account ids.

    Returns
    -------
    dict
        Account id -> ``phone``, ``email`` and, when the account has
        contacts, its first contact's ``contact_name``, ``contact_email``,
        ``contact_phone`` and ``contact_pseudonym``
        (:func:`gcrm.auth.pseudonym`). The caller decides what the actor
        may see of them.
    """
    require(actor, "view")
    personal: dict[int, dict[str, object]] = {}
    ids = list(ids)
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        in_scope = and_(Account.id.in_(chunk), account_scope(actor))
        for aid, phone, email in session.execute(
            select(Account.id, Account.phone, Account.email).where(in_scope)
        ):
            personal[aid] = {"phone": phone, "email": email}
        contacts = (
            select(Contact)
            .join(Account, Account.id == Contact.account_id)
            .where(in_scope)
            .order_by(Contact.id)
        )
        for c in session.scalars(contacts):
            row = personal.setdefault(c.account_id, {})
            if "contact_name" not in row:
                row.update(
                    contact_name=c.name,
                    contact_email=c.email,
                    contact_phone=c.phone,
                    contact_pseudonym=pseudonym(c),
                )
    return personal
