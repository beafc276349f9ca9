"""Geocoding detail and values kept as given on accounts.

``geocode_detail`` keeps what a location was found from: the original address
text, its parsed parts, the matched address and the reason (JSON text).
``import_values`` keeps an imported value that gcrm could not map (an unknown
account type or stage, JSON text), so nothing in a file is lost.

Revision ID: 0004_i12_geocode_detail
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_i12_geocode_detail"
down_revision = "0004_i14_checkins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add accounts.geocode_detail and accounts.import_values."""
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("geocode_detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("import_values", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("import_values")
        batch.drop_column("geocode_detail")
