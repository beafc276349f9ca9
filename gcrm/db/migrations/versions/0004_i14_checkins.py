"""Visit check-ins: device position, accuracy and distance to the account.

Revision ID: 0004_i14_checkins
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_i14_checkins"
down_revision = "0004_i13_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create visit_checkins."""
    op.create_table(
        "visit_checkins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("visit_day", sa.Date(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("far", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_visit_checkins_account_id", "visit_checkins", ["account_id"])
    op.create_index("ix_visit_checkins_user_id", "visit_checkins", ["user_id"])
    op.create_index("ix_visit_checkins_at", "visit_checkins", ["at"])


def downgrade() -> None:
    """Drop visit_checkins."""
    op.drop_table("visit_checkins")
