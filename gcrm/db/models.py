"""The domain model: SQLAlchemy 2 typed ORM classes.

One schema serves SQLite and PostgreSQL. Coordinates are kept as ``lat``/``lon``
floats everywhere; on PostgreSQL each located table also has a PostGIS
``geom`` column (GeoAlchemy2, SRID 4326, GiST-indexed by the migration) kept in
step by :func:`gcrm.store` code. On SQLite the same column holds WKT text.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
from typing import Any

import shapely
from geoalchemy2 import Geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine


class Role(enum.StrEnum):
    """A user's role; what each may do is decided in :mod:`gcrm.auth`."""

    REP = "rep"
    MANAGER = "manager"
    ANALYST = "analyst"
    ADMIN = "admin"


class AccountKind(enum.StrEnum):
    """Where an account stands with us."""

    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"


#: Pipeline stages in order; ``won``/``lost`` close the pipeline.
STAGES: tuple[str, ...] = (
    "new",
    "contacted",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
)


class InteractionKind(enum.StrEnum):
    """What kind of touch an interaction was."""

    VISIT = "visit"
    CALL = "call"
    EMAIL = "email"
    NOTE = "note"


class Precision(enum.StrEnum):
    """How a location was obtained, from the most to the least certain."""

    MANUAL = "manual"
    PROVIDED = "provided"
    ADDRESS = "address"
    INTERPOLATED = "interpolated"
    STREET = "street"
    POSTCODE = "postcode"
    CITY = "city"
    NONE = "none"


class GeometryType(TypeDecorator[Any]):
    """A shapely geometry column: PostGIS ``geometry`` on PostgreSQL, WKT text elsewhere.

    Values are shapely geometries in EPSG:4326 (lon/lat). On PostgreSQL the
    column is a GeoAlchemy2 ``Geometry`` (its spatial index is created by the
    migrations); on SQLite it is plain text holding WKT, so no SpatiaLite is
    needed.

    Parameters
    ----------
    kind
        ``"POINT"``, ``"MULTIPOLYGON"``, ...
    """

    impl = Text
    cache_ok = True

    def __init__(self, kind: str = "GEOMETRY") -> None:
        super().__init__()
        self.kind = kind
        # Attributes GeoAlchemy2's DDL hooks read from spatial column types.
        self.geometry_type = kind
        self.srid = 4326
        self.dimension = 2
        self.spatial_index = False
        self.use_N_D_index = False
        self.use_typmod = None
        self.nullable = True

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        """Use PostGIS geometry on PostgreSQL, text elsewhere.

        GeoAlchemy2 asks with ``dialect=None`` to learn whether the column is
        spatial: it is.
        """
        geometry = Geometry(self.kind, srid=4326, spatial_index=False)
        if dialect is None:
            return geometry
        if dialect.name == "postgresql":
            return dialect.type_descriptor(geometry)
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Shapely geometry (or WKT) to EWKT on PostgreSQL, WKT elsewhere."""
        if value is None:
            return None
        wkt = value if isinstance(value, str) else value.wkt
        if dialect.name != "postgresql":
            return wkt.split(";", 1)[-1]
        return wkt if wkt.startswith("SRID=") else f"SRID=4326;{wkt}"

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        """Database value (WKT, hex EWKB or a GeoAlchemy2 element) to shapely."""
        if value is None:
            return None
        data = getattr(value, "data", value)
        if isinstance(data, memoryview | bytes):
            return shapely.from_wkb(bytes(data))
        text = str(data)
        if re.fullmatch(r"[0-9A-Fa-f]+", text):
            return shapely.from_wkb(text)
        return shapely.from_wkt(text.split(";", 1)[-1])


def point_wkt(lat: float | None, lon: float | None) -> str | None:
    """WKT of a location for bulk inserts (:class:`GeometryType` adapts it per database).

    Parameters
    ----------
    lat, lon
        WGS84 degrees; ``None`` when not located.

    Returns
    -------
    str or None
        ``"POINT (lon lat)"``, or ``None``.
    """
    if lat is None or lon is None:
        return None
    return f"POINT ({float(lon)!r} {float(lat)!r})"


def geometry_type(kind: str) -> GeometryType:
    """Return the column type of a geometry column (see :class:`GeometryType`).

    Parameters
    ----------
    kind
        ``"POINT"`` or ``"MULTIPOLYGON"`` etc.

    Returns
    -------
    GeometryType
        The column type.
    """
    return GeometryType(kind)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_pseudonym(kind: str = "person") -> str:
    """Return a fresh random pseudonym such as ``person-3f9a1c07b2``.

    Parameters
    ----------
    kind
        The label before the random part.

    Returns
    -------
    str
        40 random bits: drawn, not derived from any value.
    """
    return f"{kind}-{secrets.token_hex(5)}"


def _person_pseudonym() -> str:
    # a column default: SQLAlchemy would pass its context as ``kind``
    return new_pseudonym()


class Base(DeclarativeBase):
    """Declarative base of every gcrm table."""


class TimestampMixin:
    """``created_at`` and ``updated_at`` columns (UTC, naive)."""

    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, onupdate=_now, server_default=func.current_timestamp()
    )


class Region(Base, TimestampMixin):
    """A region: a group of territories, the scope of a manager."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    geom: Mapped[Any | None] = mapped_column(geometry_type("MULTIPOLYGON"), nullable=True)

    territories: Mapped[list[Territory]] = relationship(back_populates="region")


class User(Base, TimestampMixin):
    """A person who logs in: rep, manager, analyst or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default=Role.REP.value)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    home_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    home_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    home_geom: Mapped[Any | None] = mapped_column(geometry_type("POINT"), nullable=True)
    work_start: Mapped[str] = mapped_column(String(5), default="08:00")
    work_end: Mapped[str] = mapped_column(String(5), default="16:00")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    personal_data_grant: Mapped[bool] = mapped_column(Boolean, default=False)

    region: Mapped[Region | None] = relationship()
    territories: Mapped[list[Territory]] = relationship(back_populates="owner")


class Territory(Base, TimestampMixin):
    """A sales territory: a polygon owned by one rep, inside a region."""

    __tablename__ = "territories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    geom: Mapped[Any | None] = mapped_column(geometry_type("MULTIPOLYGON"), nullable=True)

    region: Mapped[Region | None] = relationship(back_populates="territories")
    owner: Mapped[User | None] = relationship(back_populates="territories")


class Account(Base, TimestampMixin):
    """A customer, prospect or lead: a business at a place."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=AccountKind.PROSPECT.value, index=True)
    stage: Mapped[str] = mapped_column(String(30), default="new", index=True)
    segment: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    territory_id: Mapped[int | None] = mapped_column(
        ForeignKey("territories.id", ondelete="SET NULL"), nullable=True, index=True
    )
    street: Mapped[str | None] = mapped_column(String(200), nullable=True)
    housenumber: Mapped[str | None] = mapped_column(String(50), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True)
    country: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    geom: Mapped[Any | None] = mapped_column(geometry_type("POINT"), nullable=True)
    geocode_precision: Mapped[str] = mapped_column(String(20), default=Precision.NONE.value)
    geocode_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    geocode_source: Mapped[str | None] = mapped_column(String(50), nullable=True)
    #: JSON: the address text a location came from, its parsed parts, the
    #: matched address and the reason (see ``gcrm.importer``).
    geocode_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: JSON: imported values gcrm could not map, kept as given (``{"kind": ...}``).
    import_values: Mapped[str | None] = mapped_column(Text, nullable=True)
    manual_pin: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    potential_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    annual_revenue: Mapped[float | None] = mapped_column(Float, nullable=True)
    opening_hours: Mapped[str | None] = mapped_column(String(500), nullable=True)
    visit_minutes: Mapped[int] = mapped_column(Integer, default=30)
    visit_every_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_visit: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    source: Mapped[str | None] = mapped_column(String(100), nullable=True)
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    territory: Mapped[Territory | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    interactions: Mapped[list[Interaction]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class Contact(Base, TimestampMixin):
    """A person at an account."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: What analysts without a grant see instead of the name: random per
    #: record, so no chosen input can reproduce it.
    pseudonym: Mapped[str] = mapped_column(String(40), default=_person_pseudonym)

    account: Mapped[Account] = relationship(back_populates="contacts")


class Interaction(Base):
    """A visit, call, e-mail or note about an account."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default=InteractionKind.VISIT.value)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)
    outcome: Mapped[str | None] = mapped_column(String(100), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )

    account: Mapped[Account] = relationship(back_populates="interactions")
    user: Mapped[User | None] = relationship()


class SavedPlan(Base):
    """A rep's planned route for one day (the latest plan saved for that day)."""

    __tablename__ = "saved_plans"
    __table_args__ = (UniqueConstraint("rep_id", "day", name="uq_saved_plans_rep_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )
    stops: Mapped[int] = mapped_column(Integer)
    drive_s: Mapped[int] = mapped_column(Integer)
    distance_m: Mapped[int] = mapped_column(Integer)
    account_ids: Mapped[str] = mapped_column(Text)
    route_json: Mapped[str] = mapped_column(Text)

    rep: Mapped[User] = relationship()


class CyclePlan(Base):
    """A rep's saved call cycle over one horizon (days, visits, times as JSON)."""

    __tablename__ = "cycle_plans"
    __table_args__ = (UniqueConstraint("rep_id", "start", name="uq_cycle_plans_rep_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date, index=True)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )
    plan_json: Mapped[str] = mapped_column(Text)

    rep: Mapped[User] = relationship()


class AuditEvent(Base):
    """One line of the append-only audit log."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)
    username: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)


class VisitCheckin(Base):
    """A check-in or check-out at an account, with the device position."""

    __tablename__ = "visit_checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(3))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)
    visit_day: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    far: Mapped[bool] = mapped_column(Boolean, default=False)


class Job(Base):
    """A piece of heavy work queued for a worker (territory build, report file, ...)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    username: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_file: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The job's input file (an uploaded import), in the row so that a worker on another
    #: machine reads it; cleared when the job finishes.
    input_file: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


# --------------------------------------------------------------------------- campaigns (issue 18)


class Segment(Base):
    """A saved, re-evaluable selection of accounts (see :mod:`gcrm.segments`).

    ``definition`` is JSON: filters, a drawn area, a drive-time area from a
    point and territories; the members are computed anew each time.
    """

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    definition: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )


class Campaign(Base):
    """A segment reached through channels on a schedule (see :mod:`gcrm.campaigns`)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="RESTRICT"))
    #: The user the campaign acts as: their scope applies at every send.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    channels: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    reminder_subject: Mapped[str | None] = mapped_column(String(300), nullable=True)
    reminder_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    start_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )


class OutboxMessage(Base):
    """One e-mail of a campaign step to one address: created once, sent at most once.

    The address is the account's own (``contact_id`` empty) or a contact
    person's; the unique Message-ID, derived from (campaign, step, account,
    person), is the key.
    """

    __tablename__ = "campaign_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_outbox_contact"),
        nullable=True,
        index=True,
    )
    step: Mapped[str] = mapped_column(String(30), default="initial")
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    attempt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )


class CampaignTask(Base):
    """A suggested visit or call of a campaign for an account's rep."""

    __tablename__ = "campaign_tasks"
    __table_args__ = (
        UniqueConstraint("campaign_id", "account_id", "kind", name="uq_task_campaign_acct_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    rep_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=_now, server_default=func.current_timestamp()
    )


class CampaignResponse(Base):
    """A response to a campaign: a reply, an order, a visit/call outcome, an unsubscribe."""

    __tablename__ = "campaign_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    converted: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str | None] = mapped_column(String(50), nullable=True)
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
