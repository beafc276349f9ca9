"""Saved call-cycle plans: one row per rep and horizon (issue 16).

Revision ID: 0006_i16_cycle_plans
Revises: 0004_i14_checkins
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i16_cycle_plans"
down_revision = "0005_i18_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create cycle_plans."""
    op.create_table(
        "cycle_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rep_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp()),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.UniqueConstraint("rep_id", "start", name="uq_cycle_plans_rep_start"),
    )
    op.create_index("ix_cycle_plans_end", "cycle_plans", ["end"])


def downgrade() -> None:
    """Drop cycle_plans."""
    op.drop_table("cycle_plans")
