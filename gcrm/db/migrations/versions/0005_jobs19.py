"""Job queue: heavy work (territory builds, report files) runs in worker processes.

Revision ID: 0004_jobs19
Revises: 0004_i14_checkins
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_jobs19"
down_revision = "0004_i12_geocode_detail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create jobs, and an index for viewport queries on SQLite (lon, lat)."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(500), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_file", sa.LargeBinary(), nullable=True),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_jobs_status", "jobs", ["status", "id"])
    op.create_index("ix_jobs_username", "jobs", ["username"])
    op.create_index("ix_accounts_lon_lat", "accounts", ["lon", "lat"])


def downgrade() -> None:
    """Drop jobs and the viewport index."""
    op.drop_index("ix_accounts_lon_lat", table_name="accounts")
    op.drop_table("jobs")
