"""Saved route plans: one row per rep and day, for planned-vs-done reporting.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create saved_plans."""
    op.create_table(
        "saved_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rep_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp()),
        sa.Column("stops", sa.Integer(), nullable=False),
        sa.Column("drive_s", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("account_ids", sa.Text(), nullable=False),
        sa.Column("route_json", sa.Text(), nullable=False),
        sa.UniqueConstraint("rep_id", "day", name="uq_saved_plans_rep_day"),
    )
    op.create_index("ix_saved_plans_day", "saved_plans", ["day"])


def downgrade() -> None:
    """Drop saved_plans."""
    op.drop_table("saved_plans")
