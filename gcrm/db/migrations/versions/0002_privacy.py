"""Privacy: analysts' personal-data grant, erasure timestamps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add users.personal_data_grant, accounts.erased_at and contacts.erased_at."""
    op.add_column(
        "users",
        sa.Column("personal_data_grant", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("accounts", sa.Column("erased_at", sa.DateTime(), nullable=True))
    op.add_column("contacts", sa.Column("erased_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the privacy columns."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("personal_data_grant")
