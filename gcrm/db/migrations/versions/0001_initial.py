"""Initial schema: regions, users, territories, accounts, contacts, interactions, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gcrm.db.models import geometry_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_GEOM_COLUMNS = (
    ("regions", "geom"),
    ("users", "home_geom"),
    ("territories", "geom"),
    ("accounts", "geom"),
)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.current_timestamp()),
    ]


def upgrade() -> None:
    """Create every table; on PostgreSQL enable PostGIS and add GiST indexes."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    _create_regions_and_users()
    _create_territories()
    _create_accounts()
    _create_contacts_and_interactions()
    _create_audit_log()
    if postgres:
        for table, column in _GEOM_COLUMNS:
            op.create_index(f"ix_{table}_{column}_gist", table, [column], postgresql_using="gist")


def _create_regions_and_users() -> None:
    """Create ``regions`` and ``users`` (a user may belong to a region)."""
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("geom", geometry_type("MULTIPOLYGON"), nullable=True),
        *_timestamps(),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "region_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("home_lat", sa.Float(), nullable=True),
        sa.Column("home_lon", sa.Float(), nullable=True),
        sa.Column("home_geom", geometry_type("POINT"), nullable=True),
        sa.Column("work_start", sa.String(5), nullable=False),
        sa.Column("work_end", sa.String(5), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        *_timestamps(),
    )


def _create_territories() -> None:
    """Create ``territories`` (in a region, owned by a user)."""
    op.create_table(
        "territories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column(
            "region_id",
            sa.Integer(),
            sa.ForeignKey("regions.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("geom", geometry_type("MULTIPOLYGON"), nullable=True),
        *_timestamps(),
    )


def _create_accounts() -> None:
    """Create ``accounts`` and their location index."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("external_id", sa.String(100), nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False, index=True),
        sa.Column("stage", sa.String(30), nullable=False, index=True),
        sa.Column("segment", sa.String(100), nullable=True, index=True),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column(
            "territory_id",
            sa.Integer(),
            sa.ForeignKey("territories.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("street", sa.String(200), nullable=True),
        sa.Column("housenumber", sa.String(50), nullable=True),
        sa.Column("postcode", sa.String(20), nullable=True, index=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("country", sa.String(100), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("geom", geometry_type("POINT"), nullable=True),
        sa.Column("geocode_precision", sa.String(20), nullable=False),
        sa.Column("geocode_score", sa.Float(), nullable=True),
        sa.Column("geocode_source", sa.String(50), nullable=True),
        sa.Column("manual_pin", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("potential_value", sa.Float(), nullable=True),
        sa.Column("annual_revenue", sa.Float(), nullable=True),
        sa.Column("opening_hours", sa.String(500), nullable=True),
        sa.Column("visit_minutes", sa.Integer(), nullable=False),
        sa.Column("visit_every_days", sa.Integer(), nullable=True),
        sa.Column("last_visit", sa.Date(), nullable=True),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False, index=True),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column(
            "duplicate_of_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("source", sa.String(100), nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_accounts_lat_lon", "accounts", ["lat", "lon"])


def _create_contacts_and_interactions() -> None:
    """Create ``contacts`` and ``interactions`` of accounts."""
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100), nullable=True),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("outcome", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp()),
    )


def _create_audit_log() -> None:
    """Create ``audit_log``."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False, index=True),
        sa.Column("username", sa.String(100), nullable=True, index=True),
        sa.Column("action", sa.String(50), nullable=False, index=True),
        sa.Column("target", sa.String(300), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    """Drop every table (PostGIS stays installed)."""
    for table in (
        "audit_log",
        "interactions",
        "contacts",
        "accounts",
        "territories",
        "users",
        "regions",
    ):
        op.drop_table(table)
