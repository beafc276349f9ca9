"""The store: the only place that queries the database.

Every function takes an open :class:`~sqlalchemy.orm.Session` and the acting
user (:class:`gcrm.auth.Actor`) and applies that user's scope, so the UI and
the CLI never see a record outside it. Geometry-bearing results come back as
GeoDataFrames in EPSG:4326.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point
from sqlalchemy import ColumnElement, Table, and_, false, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import Actor, account_scope, pseudonym, require, sees_personal_data
from gcrm.db import agg_cache, aggregates
from gcrm.db.models import (
    STAGES,
    Account,
    AccountKind,
    AuditEvent,
    Contact,
    CyclePlan,
    Interaction,
    InteractionKind,
    Precision,
    Region,
    Territory,
    User,
    VisitCheckin,
    point_wkt,
)
from gcrm.redact import redact_json, redact_text, secret_pattern
from gcrm.territory_rule import clip_to_region

#: Columns of :func:`accounts_frame`, in order.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "id",
    "external_id",
    "name",
    "kind",
    "stage",
    "segment",
    "owner",
    "territory",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "lat",
    "lon",
    "geocode_precision",
    "geocode_score",
    "manual_pin",
    "potential_value",
    "annual_revenue",
    "opening_hours",
    "visit_minutes",
    "visit_every_days",
    "last_visit",
    "do_not_contact",
    "marketing_consent",
    "duplicate_of_id",
)


@dataclasses.dataclass(frozen=True)
class AccountFilter:
    """Which accounts to list. Empty fields do not filter.

    Attributes
    ----------
    kinds, stages, segments
        Allowed values.
    owners, territories
        Usernames and territory names.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``.
    text
        Case-insensitive substring of name, street, city or external id.
    min_value, max_value
        Bounds on potential value.
    include_do_not_contact
        ``False`` drops do-not-contact accounts.
    ids
        Only these account ids.
    visited_since, not_visited_since
        Last visit on or after / never or before this day.
    never_visited
        ``True``: never visited; ``False``: visited at least once.
    """

    kinds: Sequence[str] = ()
    stages: Sequence[str] = ()
    segments: Sequence[str] = ()
    owners: Sequence[str] = ()
    territories: Sequence[str] = ()
    bbox: tuple[float, float, float, float] | None = None
    text: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    include_do_not_contact: bool = True
    ids: Sequence[int] = ()
    visited_since: dt.date | None = None
    not_visited_since: dt.date | None = None
    never_visited: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the SQL conditions of this filter (scope not included)."""
        conds: list[ColumnElement[bool]] = []
        if self.kinds:
            conds.append(Account.kind.in_(list(self.kinds)))
        if self.stages:
            conds.append(Account.stage.in_(list(self.stages)))
        if self.segments:
            conds.append(Account.segment.in_(list(self.segments)))
        if self.owners:
            conds.append(
                Account.owner_id.in_(select(User.id).where(User.username.in_(list(self.owners))))
            )
        if self.territories:
            conds.append(
                Account.territory_id.in_(
                    select(Territory.id).where(Territory.name.in_(list(self.territories)))
                )
            )
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            conds.append(
                and_(
                    Account.lon >= min_lon,
                    Account.lon <= max_lon,
                    Account.lat >= min_lat,
                    Account.lat <= max_lat,
                )
            )
        if self.text:
            pattern = f"%{self.text.strip().lower()}%"
            conds.append(
                or_(
                    func.lower(Account.name).like(pattern),
                    func.lower(Account.street).like(pattern),
                    func.lower(Account.city).like(pattern),
                    func.lower(Account.external_id).like(pattern),
                )
            )
        if self.min_value is not None:
            conds.append(Account.potential_value >= self.min_value)
        if self.max_value is not None:
            conds.append(Account.potential_value <= self.max_value)
        if not self.include_do_not_contact:
            conds.append(Account.do_not_contact.is_(False))
        if self.ids:
            conds.append(Account.id.in_(list(self.ids)))
        if self.visited_since is not None:
            conds.append(Account.last_visit >= self.visited_since)
        if self.not_visited_since is not None:
            conds.append(
                or_(Account.last_visit.is_(None), Account.last_visit < self.not_visited_since)
            )
        if self.never_visited is not None:
            never = Account.last_visit.is_(None)
            conds.append(never if self.never_visited else Account.last_visit.is_not(None))
        return conds


def point_geometry(lat: float | None, lon: float | None) -> Point | None:
    """Return the stored point of a location, ``None`` when not located.

    Parameters
    ----------
    lat, lon
        WGS84 degrees.

    Returns
    -------
    shapely.Point or None
        ``Point(lon, lat)``.
    """
    if lat is None or lon is None:
        return None
    return Point(float(lon), float(lat))


def _account_select(actor: Actor, flt: AccountFilter | None):  # type: ignore[no-untyped-def]
    require(actor, "view")
    stmt = select(Account).where(account_scope(actor))
    for cond in (flt or AccountFilter()).conditions():
        stmt = stmt.where(cond)
    return stmt


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
    sub = _account_select(actor, flt).with_only_columns(Account.id).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def accounts_frame(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
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
        One page of rows in name order (``None``: every row).

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
        .order_by(Account.name, Account.id)
    )
    if limit is not None:
        stmt = stmt.limit(int(limit)).offset(max(int(offset), 0))
    rows = session.execute(stmt).mappings().all()
    df = pd.DataFrame(rows, columns=[c.key for c in cols] + ["owner", "territory"])
    df = df[list(ACCOUNT_COLUMNS)]
    geometry = gpd.points_from_xy(
        pd.to_numeric(df["lon"], errors="coerce"), pd.to_numeric(df["lat"], errors="coerce")
    )
    return gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")


def _conditions(actor: Actor, flt: AccountFilter | None) -> list[ColumnElement[bool]]:
    require(actor, "view")
    return [account_scope(actor), *(flt or AccountFilter()).conditions()]


def accounts_page(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    page: int = 1,
    per_page: int = 50,
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

    Returns
    -------
    tuple
        ``(frame, total)``: the page as :func:`accounts_frame` returns it,
        in name order, and the number of matching accounts.
    """
    if not 1 <= int(per_page) <= 1000:
        msg = f"per_page must be between 1 and 1000, got {per_page}"
        raise InputError(msg)
    offset = (max(int(page), 1) - 1) * int(per_page)
    frame = accounts_frame(session, actor, flt, limit=int(per_page), offset=offset)
    return frame, count_accounts(session, actor, flt)


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
    """Summed potential value of the matching accounts, in SQL."""
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


def log_interaction(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    kind: str = InteractionKind.VISIT.value,
    outcome: str | None = None,
    notes: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Interaction:
    """Record a visit, call, e-mail or note; a visit updates ``last_visit``.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``edit``).
    account_id
        The account (must be in scope).
    kind
        ``visit``, ``call``, ``email`` or ``note``.
    outcome, notes
        Free text.
    occurred_at
        When (default now, UTC).

    Returns
    -------
    Interaction
        The new interaction.
    """
    require(actor, "edit")
    if kind not in {k.value for k in InteractionKind}:
        msg = f"kind: {kind!r} is not one of visit, call, email, note"
        raise InputError(msg)
    account = get_account(session, actor, account_id)
    when = occurred_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    interaction = Interaction(
        account_id=account.id,
        user_id=actor.id,
        kind=kind,
        outcome=outcome,
        notes=notes,
        occurred_at=when,
    )
    session.add(interaction)
    if kind == InteractionKind.VISIT.value and (
        account.last_visit is None or when.date() > account.last_visit
    ):
        account.last_visit = when.date()
    session.flush()
    return interaction


#: The outcomes offered when a visit is logged; any other (typed) outcome is
#: free text and shown only to roles that see personal data.
STANDARD_OUTCOMES: frozenset[str] = frozenset(
    {"order", "follow-up", "no decision", "not interested", "demo booked"}
)


def record_checkin(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    kind: str,
    at: dt.datetime,
    lat: float | None = None,
    lon: float | None = None,
    accuracy_m: float | None = None,
    distance_m: float | None = None,
    far: bool = False,
    visit_day: dt.date | None = None,
) -> VisitCheckin:
    """Store a check-in or check-out (see :func:`gcrm.day_actions.check_in`).

    Parameters
    ----------
    session, actor
        Open session and the acting user (needs ``edit``).
    account_id
        The account (must be in scope).
    kind
        ``"in"`` or ``"out"``.
    at
        When (UTC, naive).
    lat, lon, accuracy_m, distance_m, far
        The device position, its accuracy, the distance to the account and
        whether it is flagged as far.
    visit_day
        The planned day.

    Returns
    -------
    VisitCheckin
        The stored row.
    """
    require(actor, "edit")
    account = get_account(session, actor, account_id)
    row = VisitCheckin(
        account_id=account.id,
        user_id=actor.id,
        kind=kind,
        at=at,
        visit_day=visit_day,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        distance_m=distance_m,
        far=far,
    )
    session.add(row)
    session.flush()
    return row


def checkins_frame(
    session: Session, actor: Actor, *, account_id: int | None = None
) -> pd.DataFrame:
    """Check-ins in the actor's scope, newest first.

    Parameters
    ----------
    session, actor
        Open session and the acting user.
    account_id
        Only this account's.

    Returns
    -------
    pandas.DataFrame
        ``id, account_id, user, kind, at, visit_day, lat, lon, accuracy_m,
        distance_m, far``.
    """
    require(actor, "view")
    stmt = (
        select(
            VisitCheckin.id,
            VisitCheckin.account_id,
            User.username.label("user"),
            VisitCheckin.kind,
            VisitCheckin.at,
            VisitCheckin.visit_day,
            VisitCheckin.lat,
            VisitCheckin.lon,
            VisitCheckin.accuracy_m,
            VisitCheckin.distance_m,
            VisitCheckin.far,
        )
        .join(Account, Account.id == VisitCheckin.account_id)
        .outerjoin(User, User.id == VisitCheckin.user_id)
        .where(account_scope(actor))
        .order_by(VisitCheckin.at.desc(), VisitCheckin.id.desc())
    )
    if account_id is not None:
        stmt = stmt.where(VisitCheckin.account_id == account_id)
    cols = ["id", "account_id", "user", "kind", "at", "visit_day", "lat", "lon",
            "accuracy_m", "distance_m", "far"]  # fmt: skip
    return pd.DataFrame([tuple(r) for r in session.execute(stmt)], columns=cols)


def interactions_frame(
    session: Session, actor: Actor, account_ids: Iterable[int] | None = None
) -> pd.DataFrame:
    """Return interactions on accounts in the actor's scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_ids
        Only these accounts (``None``: all in scope).

    Returns
    -------
    pandas.DataFrame
        Columns id, account_id, account, user, kind, occurred_at, outcome, notes,
        newest first. For actors who do not see personal data, notes are
        empty and outcomes other than :data:`STANDARD_OUTCOMES` read "other".
    """
    require(actor, "view")
    stmt = (
        select(
            Interaction.id,
            Interaction.account_id,
            Account.name.label("account"),
            User.username.label("user"),
            Interaction.kind,
            Interaction.occurred_at,
            Interaction.outcome,
            Interaction.notes,
        )
        .join(Account, Account.id == Interaction.account_id)
        .outerjoin(User, User.id == Interaction.user_id)
        .where(account_scope(actor))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
    )
    if account_ids is not None:
        stmt = stmt.where(Interaction.account_id.in_(list(account_ids)))
    rows = session.execute(stmt).mappings().all()
    cols = ["id", "account_id", "account", "user", "kind", "occurred_at", "outcome", "notes"]
    df = pd.DataFrame(rows, columns=cols)
    if not sees_personal_data(actor):
        df["notes"] = None
        # a free-text outcome may name people: only the standard ones stay
        df["outcome"] = [
            o if o in STANDARD_OUTCOMES or o is None else "other" for o in df["outcome"]
        ]
    return df


def contacts_of(session: Session, actor: Actor, account_id: int) -> list[dict[str, Any]]:
    """Return the contacts of an account in scope, personal fields masked per role.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; analysts without a grant see pseudonyms.
    account_id
        The account.

    Returns
    -------
    list of dict
        ``id``, ``name``, ``role``, ``phone``, ``email``, ``do_not_contact``,
        ``marketing_consent``, ordered by name.
    """
    account = get_account(session, actor, account_id)
    clear = sees_personal_data(actor)
    out = []
    for c in sorted(account.contacts, key=lambda c: c.name):
        out.append(
            {
                "id": c.id,
                "name": c.name if clear else pseudonym(c),
                "role": c.role,
                "phone": c.phone if clear else None,
                "email": c.email if clear else None,
                "do_not_contact": c.do_not_contact,
                "marketing_consent": c.marketing_consent,
            }
        )
    return out


def account_detail(session: Session, actor: Actor, account_id: int) -> dict[str, Any]:
    """Return everything about one account for its page, and audit the view.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_id
        The account.

    Returns
    -------
    dict
        ``account`` (field → value, phone/e-mail masked per role),
        ``contacts`` (see :func:`contacts_of`) and ``interactions``
        (a DataFrame, see :func:`interactions_frame`).
    """
    account = get_account(session, actor, account_id)
    clear = sees_personal_data(actor)
    fields = {c: getattr(account, c) for c in ACCOUNT_COLUMNS if c not in ("owner", "territory")}
    fields["owner"] = account.owner.username if account.owner else None
    fields["territory"] = account.territory.name if account.territory else None
    fields["phone"] = account.phone if clear else None
    fields["email"] = account.email if clear else None
    detail = {
        "account": fields,
        "contacts": contacts_of(session, actor, account_id),
        "interactions": interactions_frame(session, actor, [account_id]),
    }
    audit(session, actor, "view", f"account:{account_id}", {"personal_data": clear})
    return detail


def get_user(session: Session, username: str) -> User | None:
    """Return a user by login name (no scope: used by login and the CLI).

    Parameters
    ----------
    session
        An open session.
    username
        Login name.

    Returns
    -------
    User or None
        The user.
    """
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session, actor: Actor) -> list[User]:
    """Return users: all for admins and managers' own region, else only oneself.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.

    Returns
    -------
    list of User
        Ordered by username.
    """
    stmt = select(User).options(selectinload(User.territories)).order_by(User.username)
    if not actor.can("admin") and actor.role not in ("analyst",):
        if actor.role == "manager" and actor.region_id is not None:
            stmt = stmt.where(or_(User.region_id == actor.region_id, User.id == actor.id))
        else:
            stmt = stmt.where(User.id == actor.id)
    return list(session.scalars(stmt))


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
    # DISTINCT in the database: a large store is never loaded for its filter lists.
    conds = _conditions(actor, None)
    columns: dict[str, Any] = {
        "kind": Account.kind,
        "stage": Account.stage,
        "segment": Account.segment,
        "owner": User.username,
        "territory": Territory.name,
    }
    out: dict[str, list[str]] = {}
    for key, col in columns.items():
        stmt = select(col).distinct().where(*conds, col.is_not(None))
        if key == "owner":
            stmt = stmt.join(User, User.id == Account.owner_id).select_from(Account)
        elif key == "territory":
            stmt = stmt.join(Territory, Territory.id == Account.territory_id).select_from(Account)
        out[key] = sorted(str(r[0]) for r in agg_cache.rows(session, stmt))
    return out


def regions(session: Session) -> list[Region]:
    """Return every region (no personal data; not scoped).

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    list of Region
        Ordered by name.
    """
    return list(session.scalars(select(Region).order_by(Region.name)))


def audit(
    session: Session,
    actor: Actor | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one line to the audit log (in the caller's transaction).

    Parameters
    ----------
    session
        An open session.
    actor
        Who did it (``None`` for an unknown user, e.g. a failed login).
    action
        ``login``, ``login_failed``, ``view``, ``edit``, ``import``,
        ``export``, ``erase``...
    target
        What it was done to (``account:12``, a file name...).
    details
        JSON-serialisable details.
    """
    session.add(
        AuditEvent(
            username=actor.username if actor else None,
            action=action,
            target=target,
            details=json.dumps(details, default=str, ensure_ascii=False) if details else None,
        )
    )


def audit_frame(
    session: Session, actor: Actor, *, limit: int | None = None, action: str | None = None
) -> pd.DataFrame:
    """Return the audit log, newest first (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    limit
        At most this many lines.
    action
        Only this action.

    Returns
    -------
    pandas.DataFrame
        Columns id, at, username, action, target, details.
    """
    require(actor, "admin")
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if limit:
        stmt = stmt.limit(limit)
    rows = [
        {
            "id": e.id,
            "at": e.at,
            "username": e.username,
            "action": e.action,
            "target": e.target,
            "details": e.details,
        }
        for e in session.scalars(stmt)
    ]
    return pd.DataFrame(rows, columns=["id", "at", "username", "action", "target", "details"])


def _erase_everywhere(session: Session, secrets: list[str | None]) -> None:
    """Remove a person's values from every copy, field by field (see :mod:`gcrm.redact`).

    Interaction notes and outcomes, audit targets and details, and saved
    plans are searched; a field that mentions the person is replaced whole.
    """
    from gcrm.db.models import SavedPlan

    pattern = secret_pattern(secrets)
    if pattern is None:
        return
    for it in session.scalars(
        select(Interaction).where(
            or_(Interaction.notes.is_not(None), Interaction.outcome.is_not(None))
        )
    ):
        it.notes = redact_text(it.notes, pattern)
        it.outcome = redact_text(it.outcome, pattern)
    for ev in session.scalars(
        select(AuditEvent).where(
            or_(AuditEvent.details.is_not(None), AuditEvent.target.is_not(None))
        )
    ):
        ev.target = redact_text(ev.target, pattern)
        ev.details = redact_json(ev.details, pattern)
    for plan in session.scalars(select(SavedPlan)):
        plan.route_json = redact_json(plan.route_json, pattern) or plan.route_json


def erase_contact(session: Session, actor: Actor, contact_id: int) -> None:
    """Anonymise a person everywhere, keeping aggregates (right to erasure).

    The contact's name, phone and e-mail are removed; every interaction note
    or outcome, audit target or audit detail value and saved-plan value that
    mentions them is replaced by ``[erased]`` (field by field, see
    :mod:`gcrm.redact`). The contact row stays (counted, marked
    do-not-contact). After the commit, call
    :func:`gcrm.db.session.purge_freed_bytes` so no old copy stays in the
    database files.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``erase``).
    contact_id
        The contact.

    Raises
    ------
    NotFoundError
        If there is no such contact.
    """
    require(actor, "erase")
    contact = session.get(Contact, contact_id)
    if contact is None:
        msg = f"no contact with id {contact_id}"
        raise NotFoundError(msg)
    secrets = [contact.name, contact.phone, contact.email]
    contact.name = f"Erased person {contact.id}"
    contact.phone = None
    contact.email = None
    contact.role = None
    contact.do_not_contact = True
    contact.marketing_consent = False
    contact.erased_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _erase_everywhere(session, secrets)
    audit(session, actor, "erase", f"contact:{contact_id}")
    session.flush()


def erase_account(session: Session, actor: Actor, account_id: int) -> None:
    """Anonymise an account and all its people, keeping aggregates.

    Name, street address, phone, e-mail, contacts and interaction notes are
    removed; kind, stage, values, visit counts, postcode, city and a location
    rounded to about 100 m stay for the figures. The account is marked
    do-not-contact so it is never planned or called again.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``erase``).
    account_id
        The account.
    """
    require(actor, "erase")
    account = get_account(session, actor, account_id)
    secrets = [account.name, account.phone, account.email]
    for contact in account.contacts:
        secrets += [contact.name, contact.phone, contact.email]
        contact.name = f"Erased person {contact.id}"
        contact.phone = contact.email = contact.role = None
        contact.do_not_contact = True
        contact.erased_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for it in account.interactions:
        it.notes = None
        it.outcome = redact_text(it.outcome, secret_pattern(secrets))
    account.name = f"Erased account {account.id}"
    account.street = account.housenumber = None
    account.phone = account.email = None
    account.opening_hours = None
    if account.lat is not None and account.lon is not None:
        account.lat, account.lon = round(account.lat, 3), round(account.lon, 3)
        account.geom = point_geometry(account.lat, account.lon)
    account.geocode_precision = Precision.POSTCODE.value
    account.do_not_contact = True
    account.marketing_consent = False
    account.erased_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _erase_everywhere(session, secrets)
    audit(session, actor, "erase", f"account:{account_id}")
    session.flush()


def subject_access(
    session: Session, actor: Actor, *, email: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """Everything held on a person, for a subject-access request (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    email, name
        Who to look for (exact, case-insensitive); at least one.

    Returns
    -------
    dict
        ``contacts`` (with their account), ``accounts`` whose phone/e-mail
        match, ``interactions`` mentioning the person, ``audit`` lines
        mentioning them.
    """
    require(actor, "admin")
    if not email and not name:
        raise InputError("give an e-mail address or a name")
    keys = [k.lower() for k in (email, name) if k]
    conds = []
    if email:
        conds.append(func.lower(Contact.email) == email.lower())
    if name:
        conds.append(func.lower(Contact.name) == name.lower())
    contacts = list(session.scalars(select(Contact).where(or_(*conds))))
    accounts = []
    if email:
        accounts = list(
            session.scalars(select(Account).where(func.lower(Account.email) == email.lower()))
        )
    own_accounts = {a.id for a in accounts}  # accounts that are the person (sole traders)

    def mentions(text: str | None) -> bool:
        return bool(text) and any(k in text.lower() for k in keys)  # type: ignore[union-attr]

    interactions = [
        {
            "id": i.id,
            "account_id": i.account_id,
            "kind": i.kind,
            "occurred_at": i.occurred_at,
            "outcome": i.outcome,
            "notes": i.notes,
        }
        for i in session.scalars(select(Interaction))
        if mentions(i.notes) or i.account_id in own_accounts
    ]
    audit_lines = [
        {"at": e.at, "username": e.username, "action": e.action, "target": e.target}
        for e in session.scalars(select(AuditEvent))
        if mentions(e.details) or mentions(e.target)
    ]
    result = {
        "query": {"email": email, "name": name},
        "contacts": [
            {
                "id": c.id,
                "account_id": c.account_id,
                "name": c.name,
                "role": c.role,
                "phone": c.phone,
                "email": c.email,
                "do_not_contact": c.do_not_contact,
                "marketing_consent": c.marketing_consent,
            }
            for c in contacts
        ],
        "accounts": [
            {"id": a.id, "name": a.name, "phone": a.phone, "email": a.email} for a in accounts
        ],
        "interactions": interactions,
        "audit": audit_lines,
    }
    # The audit line names the records found, never the person searched for: an
    # e-mail or name here would outlive the person's erasure (issue 13).
    refs = [f"contact:{c.id}" for c in contacts] + [f"account:{a.id}" for a in accounts]
    target = ",".join(refs)
    if len(target) > 300:
        target = target[:300].rsplit(",", 1)[0]
    audit(
        session,
        actor,
        "subject_access",
        target or "no match",
        {
            "contacts": len(contacts),
            "accounts": len(accounts),
            "interactions": len(interactions),
            "searched_by": [k for k, v in (("e-mail", email), ("name", name)) if v],
        },
    )
    return result


# ---- territories (issue 6) ----

_ID_CHUNK = 5000  # ids per IN (...) list


def rep_home_bases(session: Session, actor: Actor, *, region: str | None = None) -> pd.DataFrame:
    """Return the active reps that have a home base, within the actor's scope.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user: a manager sees their region's reps, a rep only
        themselves, analysts and admins every rep.
    region
        Only reps of this region (name).

    Returns
    -------
    pandas.DataFrame
        Columns user_id, username, display_name, region, lat, lon; ordered by
        username.
    """
    from sqlalchemy import false

    from gcrm.db.models import Role

    require(actor, "view")
    stmt = (
        select(User, Region.name)
        .outerjoin(Region, Region.id == User.region_id)
        .where(
            User.role == Role.REP.value,
            User.is_active.is_(True),
            User.home_lat.is_not(None),
            User.home_lon.is_not(None),
        )
        .order_by(User.username)
    )
    if actor.role == Role.MANAGER.value:
        # A manager without a region manages nobody (``== None`` would be IS NULL).
        stmt = stmt.where(
            User.region_id == actor.region_id if actor.region_id is not None else false()
        )
    elif actor.role == Role.REP.value:
        stmt = stmt.where(User.id == actor.id if actor.id is not None else false())
    if region is not None:
        stmt = stmt.where(Region.name == region)
    rows = [
        {
            "user_id": u.id,
            "username": u.username,
            "display_name": u.display_name,
            "region": region_name,
            "lat": float(u.home_lat or 0.0),  # never None: filtered above
            "lon": float(u.home_lon or 0.0),
        }
        for u, region_name in session.execute(stmt).all()
    ]
    cols = ["user_id", "username", "display_name", "region", "lat", "lon"]
    return pd.DataFrame(rows, columns=cols)


def _target_region(session: Session, actor: Actor, name: str | None) -> Region | None:
    """The region a territory operation works in (a manager: always their own)."""
    from gcrm._errors import PermissionDeniedError

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
    import shapely

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
    import shapely
    from shapely.geometry import MultiPolygon
    from sqlalchemy import update

    from gcrm._errors import PermissionDeniedError

    require(actor, "territories")
    if "name" not in territories.columns:
        raise InputError("territories need a 'name' column")
    frame = territories.to_crs(4326) if territories.crs is not None else territories
    names = [str(n).strip() if n is not None and not pd.isna(n) else "" for n in frame["name"]]
    if any(not n for n in names):
        raise InputError("every territory needs a name")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"duplicate territory name(s): {', '.join(dup)}"
        raise InputError(msg)
    geoms = []
    for name, given in zip(names, frame.geometry, strict=True):
        if given is None or given.is_empty:
            msg = f"territory {name!r}: empty geometry"
            raise InputError(msg)
        valid = shapely.make_valid(given)
        parts = [p for p in shapely.get_parts(valid) if p.geom_type in ("Polygon", "MultiPolygon")]
        polys = [q for p in parts for q in shapely.get_parts(p)]
        if not polys or sum(p.area for p in polys) <= 0:
            msg = f"territory {name!r}: not a polygon"
            raise InputError(msg)
        geoms.append(MultiPolygon(polys))
    target = _target_region(session, actor, region)
    if target is not None and target.geom is not None:
        geoms = [clip_to_region(g, target.geom) for g in geoms]
        outside = [n for n, g in zip(names, geoms, strict=True) if g.is_empty]
        if outside:
            msg = f"territory {outside[0]!r} lies outside the region {target.name!r}"
            raise InputError(msg)
    owners: list[int | None] = []
    raw_owners = frame["owner"] if "owner" in frame.columns else [None] * len(frame)
    for name, owner in zip(names, raw_owners, strict=True):
        username = "" if owner is None or pd.isna(owner) else str(owner).strip()
        if not username:
            owners.append(None)
            continue
        user = get_user(session, username)
        if user is None:
            msg = f"territory {name!r}: no user {username!r}"
            raise InputError(msg)
        if actor.role == "manager" and user.region_id != actor.region_id:
            msg = f"territory {name!r}: {username!r} is not in your region"
            raise PermissionDeniedError(msg)
        owners.append(user.id)
    target_id = target.id if target is not None else None
    existing = {
        t.name: t for t in session.scalars(select(Territory).where(Territory.name.in_(names)))
    }
    for name, terr in existing.items():
        if replace and terr.region_id != target_id:
            msg = f"territory name {name!r} is already used in another region"
            raise InputError(msg)
        if actor.role == "manager" and terr.region_id != actor.region_id:
            msg = f"territory name {name!r} is already used in another region"
            raise InputError(msg)
    deleted: list[str] = []
    if replace:
        stale_stmt = select(Territory).where(Territory.name.not_in(names))
        if target_id is not None:
            stale_stmt = stale_stmt.where(Territory.region_id == target_id)
        elif not actor.can("admin"):
            stale_stmt = stale_stmt.where(Territory.region_id.is_(None))
        stale = list(session.scalars(stale_stmt))
        if stale:
            stale_ids = [t.id for t in stale]
            session.execute(
                update(Account)
                .where(Account.territory_id.in_(stale_ids))
                .values(territory_id=None)
                .execution_options(synchronize_session=False)
            )
            for t in stale:
                deleted.append(t.name)
                session.delete(t)
            session.flush()
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
    from sqlalchemy import update

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


# ---- saved plans ----


def save_plan(session: Session, actor: Actor, plan: Any) -> int:
    """Save each route of a plan as its rep's plan for that day (replacing an older one).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``plan``); a rep saves only their own routes.
    plan
        A :class:`gcrm.routing.Plan`.

    Returns
    -------
    int
        Routes saved.
    """
    from gcrm.db.models import SavedPlan

    require(actor, "plan")
    saved = 0
    for route in plan.routes:
        rep = get_user(session, route.rep)
        if rep is None:
            continue
        if actor.role == "rep" and rep.id != actor.id:
            msg = f"user {actor.username!r} may not save {route.rep!r}'s plan"
            raise PermissionDeniedError(msg)
        row = session.scalar(
            select(SavedPlan).where(SavedPlan.rep_id == rep.id, SavedPlan.day == route.date)
        )
        if row is None:
            row = SavedPlan(rep_id=rep.id, day=route.date)
            session.add(row)
        planned = [s for s in route.stops if s.account_id is not None]
        row.created_by = actor.username
        row.created_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        row.stops = len(planned)
        row.drive_s = int(route.drive_s)
        row.distance_m = int(route.distance_m)
        row.account_ids = json.dumps([int(s.account_id) for s in planned])
        row.route_json = json.dumps(route.to_dict(), default=str)
        saved += 1
    session.flush()
    return saved


def saved_plans_frame(session: Session, actor: Actor) -> pd.DataFrame:
    """Saved plans the actor may see: a rep their own, a manager their region's reps.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.

    Returns
    -------
    pandas.DataFrame
        Columns rep, day, stops, drive_s, distance_m, account_ids (list).
    """
    from gcrm.db.models import SavedPlan

    require(actor, "view")
    stmt = select(SavedPlan, User.username).join(User, User.id == SavedPlan.rep_id)
    if actor.role == "rep":
        stmt = stmt.where(SavedPlan.rep_id == actor.id)
    elif actor.role == "manager":
        stmt = stmt.where(
            User.region_id == actor.region_id if actor.region_id is not None else false()
        )
    rows = [
        {
            "rep": username,
            "day": p.day,
            "stops": p.stops,
            "drive_s": p.drive_s,
            "distance_m": p.distance_m,
            "account_ids": json.loads(p.account_ids),
        }
        for p, username in session.execute(stmt.order_by(SavedPlan.day)).all()
    ]
    cols = ["rep", "day", "stops", "drive_s", "distance_m", "account_ids"]
    return pd.DataFrame(rows, columns=cols)


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


# --------------------------------------------------------------------------- campaigns (issue 18)

#: Channels of a campaign; the marketing ones need marketing consent.
CHANNELS: tuple[str, ...] = ("email", "letter", "call", "visit")
MARKETING_CHANNELS: frozenset[str] = frozenset({"email", "letter"})

#: Columns of :func:`audience_frame`.
AUDIENCE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "owner_id",
    "territory_id",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "lat",
    "lon",
    "email",
    "phone",
)


def contact_rule(channel: str) -> ColumnElement[bool]:
    """Return THE rule of who may be contacted through a channel (SQL condition).

    Never a do-not-contact or erased account; for marketing channels
    (:data:`MARKETING_CHANNELS`) only accounts with marketing consent. Every
    campaign audience and every send re-check goes through this one function.

    Parameters
    ----------
    channel
        One of :data:`CHANNELS`.

    Returns
    -------
    sqlalchemy.ColumnElement
        A boolean expression over :class:`~gcrm.db.models.Account`.

    Raises
    ------
    InputError
        If the channel is unknown.
    """
    if channel not in CHANNELS:
        msg = f"channel: {channel!r} is not one of {', '.join(CHANNELS)}"
        raise InputError(msg)
    cond = and_(Account.do_not_contact.is_(False), Account.erased_at.is_(None))
    if channel in MARKETING_CHANNELS:
        cond = and_(cond, Account.marketing_consent.is_(True))
    if channel == "email":
        cond = and_(cond, Account.email.is_not(None), Account.email != "")
    return cond


def audience_frame(
    session: Session, actor: Actor, flt: AccountFilter | None = None, *, channel: str
) -> pd.DataFrame:
    """Return the accounts a user may reach through a channel.

    The actor's scope, the filter and :func:`contact_rule` apply together.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    flt
        The filter.
    channel
        The channel (its contact rule applies).

    Returns
    -------
    pandas.DataFrame
        :data:`AUDIENCE_COLUMNS`, ordered by id.
    """
    cols = [getattr(Account, c) for c in AUDIENCE_COLUMNS]
    stmt = (
        _account_select(actor, flt)
        .where(contact_rule(channel))
        .with_only_columns(*cols)
        .order_by(Account.id)
    )
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=list(AUDIENCE_COLUMNS))


def reachable_ids(
    session: Session, actor: Actor, account_ids: Iterable[int], *, channel: str
) -> set[int]:
    """Return which of some accounts the user may reach now through a channel.

    Used right before a message is handed to SMTP or a task is created, so a
    consent withdrawn after the audience was computed still stops it.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_ids
        The candidates.
    channel
        The channel.

    Returns
    -------
    set of int
        The reachable ids.
    """
    ids = list(dict.fromkeys(int(i) for i in account_ids))
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        flt = AccountFilter(ids=ids[i : i + 500])
        stmt = _account_select(actor, flt).where(contact_rule(channel))
        out.update(session.scalars(stmt.with_only_columns(Account.id)))
    return out


def withdraw_marketing_consent(
    session: Session, account_id: int, *, reason: str, by: str = "unsubscribe"
) -> bool:
    """Turn an account's marketing consent off (an unsubscribe), audited.

    No user acts: the account's own person asked (a signed link). The audit
    line names ``by`` as the user.

    Parameters
    ----------
    session
        An open session.
    account_id
        The account.
    reason
        What to write in the audit log (e.g. the campaign).
    by
        The audit log's user name.

    Returns
    -------
    bool
        ``True`` if consent was on and is now off.

    Raises
    ------
    NotFoundError
        If there is no such account.
    """
    account = session.get(Account, account_id)
    if account is None:
        msg = f"account {account_id} does not exist"
        raise NotFoundError(msg)
    changed = bool(account.marketing_consent)
    account.marketing_consent = False
    session.add(
        AuditEvent(
            username=by,
            action="consent",
            target=f"account:{account_id}",
            details=json.dumps({"marketing_consent": False, "reason": reason}),
        )
    )
    session.flush()
    return changed


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


# ---- saved call cycles ----


def _cycle_rep(session: Session, actor: Actor, username: str) -> User:
    """The rep whose cycle the actor may plan (their own; a manager their region's)."""
    require(actor, "plan")
    rep = get_user(session, username)
    if rep is None:
        msg = f"no user {username!r}"
        raise NotFoundError(msg)
    if actor.role in ("admin", "system") or (actor.role == "rep" and rep.id == actor.id):
        return rep
    if actor.role == "manager" and actor.region_id is not None and rep.region_id == actor.region_id:
        return rep
    msg = f"user {actor.username!r} ({actor.role}) may not plan for {username!r}"
    raise PermissionDeniedError(msg)


def save_cycle_plan(
    session: Session,
    actor: Actor,
    rep: str,
    start: dt.date,
    end: dt.date,
    plan: dict[str, Any],
) -> int:
    """Save a rep's call cycle, replacing saved cycles that overlap its horizon.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user: a rep for themselves, a manager for their region's reps.
    rep
        The rep's username.
    start, end
        The horizon (inclusive).
    plan
        JSON-serialisable plan (see :func:`gcrm.cycle_plans.save_cycles`).

    Returns
    -------
    int
        The saved row's id.

    Raises
    ------
    PermissionDeniedError, NotFoundError, InputError
        Not allowed, no such user, or ``end`` before ``start``.
    """
    user = _cycle_rep(session, actor, rep)
    if end < start:
        msg = f"cycle plan for {rep!r}: end {end} is before start {start}"
        raise InputError(msg)
    old = session.scalars(
        select(CyclePlan).where(
            CyclePlan.rep_id == user.id, CyclePlan.start <= end, CyclePlan.end >= start
        )
    ).all()
    for row in old:
        session.delete(row)
    session.flush()
    row = CyclePlan(
        rep_id=user.id,
        start=start,
        end=end,
        created_by=actor.username,
        plan_json=json.dumps(plan, default=str),
    )
    session.add(row)
    audit(session, actor, "cycle_save", f"user:{user.id}", {"start": start, "end": end})
    session.flush()
    return int(row.id)


def saved_cycles(
    session: Session,
    actor: Actor,
    *,
    rep: str | None = None,
    day: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Saved call cycles the actor may see: a rep their own, a manager their region's.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    rep
        Only this rep's.
    day
        Only the cycle whose horizon holds this date.

    Returns
    -------
    list of dict
        ``{"rep", "start", "end", "created_by", "created_at", "plan"}`` by rep and start.
    """
    require(actor, "view")
    stmt = select(CyclePlan, User.username).join(User, User.id == CyclePlan.rep_id)
    if actor.role == "rep":
        stmt = stmt.where(CyclePlan.rep_id == actor.id)
    elif actor.role == "manager":
        stmt = stmt.where(
            User.region_id == actor.region_id if actor.region_id is not None else false()
        )
    if rep is not None:
        stmt = stmt.where(User.username == rep)
    if day is not None:
        stmt = stmt.where(CyclePlan.start <= day, CyclePlan.end >= day)
    rows = session.execute(stmt.order_by(User.username, CyclePlan.start)).all()
    return [
        {
            "rep": username,
            "start": c.start,
            "end": c.end,
            "created_by": c.created_by,
            "created_at": c.created_at,
            "plan": json.loads(c.plan_json),
        }
        for c, username in rows
    ]


# --- importer writes (issue 13) ---
# The importer (gcrm/importer.py, gcrm/import_write.py) reads and writes accounts only
# through these functions; they check no rights (the importer requires ``import``).

_IMPORT_IN_CHUNK = 900  # bound parameters per IN (...) list: SQLite allows 999


def import_territories(session: Session) -> list[tuple[int, str, Any]]:
    """Return every territory as (id, name, shape clipped to its region).

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    list of tuple
        ``(id, name, geometry)``; the geometry may be empty or ``None``.
    """
    stmt = select(Territory.id, Territory.name, Territory.geom, Region.geom).outerjoin(
        Region, Region.id == Territory.region_id
    )
    return [
        (int(tid), str(name), clip_to_region(g, rg)) for tid, name, g, rg in session.execute(stmt)
    ]


def import_accounts_by_external_id(
    session: Session, external_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Return the stored rows (all columns) of the accounts with these external ids.

    Parameters
    ----------
    session
        An open session.
    external_ids
        Any number of ids (queried in chunks).

    Returns
    -------
    dict
        External id → column → value.
    """
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(external_ids), _IMPORT_IN_CHUNK):
        chunk = external_ids[i : i + _IMPORT_IN_CHUNK]
        stmt = select(Account.__table__).where(Account.external_id.in_(chunk))
        for r in session.execute(stmt).mappings():
            out[r["external_id"]] = dict(r)
    return out


def import_external_ids(session: Session) -> set[str]:
    """Return the external ids of every stored account.

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    set of str
        The ids.
    """
    return set(session.scalars(select(Account.external_id)))


def import_account_text(session: Session, external_id: str) -> dict[str, str] | None:
    """Return the stored account of an external id as text (``""`` for NULL).

    Parameters
    ----------
    session
        An open session.
    external_id
        The id.

    Returns
    -------
    dict or None
        Column → text, or ``None`` when no account has that id.
    """
    stmt = select(Account.__table__).where(Account.external_id == external_id)
    r = session.execute(stmt).mappings().first()
    return {k: ("" if v is None else str(v)) for k, v in r.items()} if r else None


def import_user_names(session: Session) -> list[tuple[int, str, str | None, str | None]]:
    """Return every user as (id, username, display name, e-mail) for owner matching.

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    list of tuple
        One per user.
    """
    stmt = select(User.id, User.username, User.display_name, User.email)
    return [(int(uid), str(u), d, e) for uid, u, d, e in session.execute(stmt)]


def import_address_rows(session: Session) -> Iterable[dict[str, Any]]:
    """Yield every stored account's id, name, address and coordinates (duplicate check).

    Parameters
    ----------
    session
        An open session.

    Yields
    ------
    dict
        ``external_id, name, street, housenumber, postcode, lat, lon``.
    """
    stmt = select(
        Account.external_id,
        Account.name,
        Account.street,
        Account.housenumber,
        Account.postcode,
        Account.lat,
        Account.lon,
    )
    for r in session.execute(stmt.execution_options(yield_per=5000)).mappings():
        yield dict(r)


def import_insert_accounts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert accounts in one statement (executemany); absent keys are NULL.

    Parameters
    ----------
    session
        An open session.
    rows
        Column → value per account (``lat``/``lon`` give ``geom``); changed in place.
    """
    if not rows:
        return
    keys: set[str] = {"geom"}
    for v in rows:
        keys.update(v)
    for v in rows:
        v["geom"] = point_wkt(v.get("lat"), v.get("lon"))
        for k in keys - v.keys():
            v[k] = None
    table = Account.__table__
    assert isinstance(table, Table)
    session.execute(insert(table), rows)


def import_update_accounts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Update accounts by primary key (``id`` in each row) in one executemany.

    Parameters
    ----------
    session
        An open session.
    rows
        ``id`` and the changed columns per account (``lat``/``lon`` give ``geom``).
    """
    if not rows:
        return
    for row in rows:
        if "lat" in row:
            row["geom"] = point_wkt(row.get("lat"), row.get("lon"))
    session.execute(update(Account), rows)


def import_account_ids(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    """Return the database ids of the accounts with these external ids.

    Parameters
    ----------
    session
        An open session.
    external_ids
        Any number of ids (queried in chunks).

    Returns
    -------
    dict
        External id → account id.
    """
    exts = list(dict.fromkeys(external_ids))
    ids: dict[str, int] = {}
    for i in range(0, len(exts), _IMPORT_IN_CHUNK):
        stmt = select(Account.external_id, Account.id).where(
            Account.external_id.in_(exts[i : i + _IMPORT_IN_CHUNK])
        )
        ids.update({str(e): int(a) for e, a in session.execute(stmt)})
    return ids


def import_link_duplicates(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """Mark accounts as likely duplicates of others.

    Parameters
    ----------
    session
        An open session.
    pairs
        (external id, external id of the account it likely duplicates).
    """
    if not pairs:
        return
    ids = import_account_ids(session, (e for pair in pairs for e in pair))
    session.execute(update(Account), [{"id": ids[a], "duplicate_of_id": ids[b]} for a, b in pairs])


def import_upsert_contacts(
    session: Session, rows: Sequence[tuple[str, str, str | None, str | None]]
) -> None:
    """Add contacts to accounts, or update the e-mail/phone of one of the same name.

    Parameters
    ----------
    session
        An open session.
    rows
        (account external id, contact name, e-mail, phone); a ``None`` value
        leaves a stored one as it is.
    """
    if not rows:
        return
    ids = import_account_ids(session, (e for e, *_ in rows))
    account_ids = list(ids.values())
    existing: dict[tuple[int, str], Contact] = {}
    for i in range(0, len(account_ids), _IMPORT_IN_CHUNK):
        stmt = select(Contact).where(Contact.account_id.in_(account_ids[i : i + _IMPORT_IN_CHUNK]))
        existing.update({(c.account_id, c.name): c for c in session.scalars(stmt)})
    for ext, name, email, phone in rows:
        aid = ids[ext]
        contact = existing.get((aid, name))
        if contact is None:
            contact = Contact(account_id=aid, name=name, email=email, phone=phone)
            session.add(contact)
            existing[(aid, name)] = contact
        else:
            if email is not None and contact.email != email:
                contact.email = email
            if phone is not None and contact.phone != phone:
                contact.phone = phone


def import_company_external_id(session: Session, name: str) -> str | None:
    """Return the external id of an account with exactly this name, if any.

    Parameters
    ----------
    session
        An open session.
    name
        The company name.

    Returns
    -------
    str or None
        One such account's external id.
    """
    return session.scalar(select(Account.external_id).where(Account.name == name).limit(1))


# --- campaigns (issue 18) ---

#: Columns of :func:`email_recipients_frame`: the account's, then the person's.
RECIPIENT_COLUMNS: tuple[str, ...] = (*AUDIENCE_COLUMNS, "contact_id", "contact_name")


def contact_person_rule(channel: str) -> ColumnElement[bool]:
    """Return THE rule of who may be contacted as an account's contact person (SQL).

    The account may be contacted at all (never do-not-contact or erased,
    whatever its own consent), and the person: never do-not-contact or erased;
    for marketing channels only with the person's own marketing consent; for
    e-mail only with an address. The account's own address follows
    :func:`contact_rule`.

    Parameters
    ----------
    channel
        One of :data:`CHANNELS`.

    Returns
    -------
    sqlalchemy.ColumnElement
        A boolean expression over :class:`~gcrm.db.models.Account` joined
        with :class:`~gcrm.db.models.Contact`.

    Raises
    ------
    InputError
        If the channel is unknown.
    """
    if channel not in CHANNELS:
        msg = f"channel: {channel!r} is not one of {', '.join(CHANNELS)}"
        raise InputError(msg)
    cond = and_(
        Account.do_not_contact.is_(False),
        Account.erased_at.is_(None),
        Contact.do_not_contact.is_(False),
        Contact.erased_at.is_(None),
    )
    if channel in MARKETING_CHANNELS:
        cond = and_(cond, Contact.marketing_consent.is_(True))
    if channel == "email":
        cond = and_(cond, Contact.email.is_not(None), Contact.email != "")
    return cond


def email_recipients_frame(
    session: Session, actor: Actor, flt: AccountFilter | None = None
) -> pd.DataFrame:
    """Return the e-mail addresses a user may mail: accounts' own and their persons'.

    The actor's scope and the filter select accounts; an account's own
    address follows :func:`contact_rule`, each contact person's
    :func:`contact_person_rule` (their own consent and do-not-contact).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    flt
        The filter of accounts.

    Returns
    -------
    pandas.DataFrame
        :data:`RECIPIENT_COLUMNS`, one row per (account, person or none);
        ``email`` is the recipient; ``contact_id`` is missing for the
        account's own address. Ordered by account, its own address first.
    """
    cols = [getattr(Account, c) for c in AUDIENCE_COLUMNS]
    own = session.execute(
        _account_select(actor, flt).where(contact_rule("email")).with_only_columns(*cols)
    ).all()
    person_cols = [Contact.email if c == "email" else getattr(Account, c) for c in AUDIENCE_COLUMNS]
    people = session.execute(
        _account_select(actor, flt)
        .join(Contact, Contact.account_id == Account.id)
        .where(contact_person_rule("email"))
        .with_only_columns(*person_cols, Contact.id, Contact.name)
    ).all()
    frame = pd.DataFrame(
        [(*r, None, None) for r in own] + [tuple(r) for r in people],
        columns=list(RECIPIENT_COLUMNS),
    )
    frame["contact_id"] = frame["contact_id"].astype("Int64")
    order = frame["contact_id"].fillna(-1)
    return (
        frame.assign(_o=order)
        .sort_values(["id", "_o"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def withdraw_contact_consent(
    session: Session, contact_id: int, *, reason: str, by: str = "unsubscribe"
) -> bool:
    """Turn a contact person's marketing consent off (their unsubscribe), audited.

    Parameters
    ----------
    session
        An open session.
    contact_id
        The person.
    reason
        What to write in the audit log (e.g. the campaign).
    by
        The audit log's user name.

    Returns
    -------
    bool
        ``True`` if consent was on and is now off.

    Raises
    ------
    NotFoundError
        If there is no such person.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        msg = f"contact {contact_id} does not exist"
        raise NotFoundError(msg)
    changed = bool(contact.marketing_consent)
    contact.marketing_consent = False
    session.add(
        AuditEvent(
            username=by,
            action="consent",
            target=f"contact:{contact_id}",
            details=json.dumps({"marketing_consent": False, "reason": reason}),
        )
    )
    session.flush()
    return changed


def current_recipient(
    session: Session, actor: Actor, account_id: int, contact_id: int | None
) -> dict[str, Any] | None:
    """Return one e-mail recipient as the rules allow it now (the send-time re-check).

    One query: the account in the actor's scope and, for its own address,
    :func:`contact_rule`, or for a person, :func:`contact_person_rule`.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user.
    account_id
        The account.
    contact_id
        The person (``None``: the account's own address).

    Returns
    -------
    dict or None
        A row of :data:`RECIPIENT_COLUMNS`, or ``None`` if it may not be mailed.
    """
    flt = AccountFilter(ids=[account_id])
    cols = [getattr(Account, c) for c in AUDIENCE_COLUMNS]
    if contact_id is None:
        stmt = _account_select(actor, flt).where(contact_rule("email"))
        row = session.execute(stmt.with_only_columns(*cols)).first()
        return (
            None if row is None else dict(zip(RECIPIENT_COLUMNS, (*row, None, None), strict=True))
        )
    person_cols = [Contact.email if c == "email" else getattr(Account, c) for c in AUDIENCE_COLUMNS]
    stmt = (
        _account_select(actor, flt)
        .join(Contact, Contact.account_id == Account.id)
        .where(Contact.id == contact_id, contact_person_rule("email"))
        .with_only_columns(*person_cols, Contact.id, Contact.name)
    )
    row = session.execute(stmt).first()
    return None if row is None else dict(zip(RECIPIENT_COLUMNS, row, strict=True))


# --- reports reads (issue 17b) ---


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
