"""Indexes that serve the Accounts page's orders and its "needs a pin" list.

The page reads one page of rows (``ORDER BY <sort>, name, id LIMIT 200``):
with an index in that order the database reads 200 index entries instead of
sorting every account in scope (a full scan and sort at 1,000,000 accounts).
``name`` already has an index (``id`` is its tie-break: the row id on SQLite,
an incremental sort of the few equal names on PostgreSQL).

Revision ID: 0010_i30_account_order_q7
Revises: 0009_i19_job_input_w20
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_i30_account_order_q7"
down_revision = "0009_i19_job_input_w20"
branch_labels = None
depends_on = None

#: Index name -> its columns on PostgreSQL and on SQLite (SQLite has no NULLS FIRST/LAST
#: in an index, and its own null order already matches: first ascending, last descending).
_INDEXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ix_accounts_order_value": (
        ("potential_value DESC NULLS LAST", "name", "id"),
        ("potential_value DESC", "name", "id"),
    ),
    "ix_accounts_order_last_visit": (
        ("last_visit ASC NULLS FIRST", "name", "id"),
        ("last_visit", "name", "id"),
    ),
    "ix_accounts_order_stage": (("stage", "name", "id"), ("stage", "name", "id")),
}
#: The "needs a pin" list (approximate locations, :data:`gcrm.pins.APPROXIMATE` when
#: written): a partial index in name order, so the list and its count read only those.
_NEEDS_PIN = "geocode_precision IN ('none', 'city', 'postcode', 'street')"


def upgrade() -> None:
    """Add an index for each order of the Accounts page and for the pin list."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, (pg_columns, sqlite_columns) in _INDEXES.items():
        columns = pg_columns if postgres else sqlite_columns
        op.create_index(name, "accounts", [sa.text(c) for c in columns])
    op.create_index(
        "ix_accounts_needs_pin",
        "accounts",
        ["name", "id"],
        sqlite_where=sa.text(_NEEDS_PIN),
        postgresql_where=sa.text(_NEEDS_PIN),
    )


def downgrade() -> None:
    """Drop the indexes."""
    for name in (*_INDEXES, "ix_accounts_needs_pin"):
        op.drop_index(name, table_name="accounts")
