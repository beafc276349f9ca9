"""Jobs carry their input file (an uploaded import) so a worker on another machine gets it.

Revision ID: 0009_i19_job_input_w20
Revises: 0007_i18_contact_mail
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_i19_job_input_w20"
down_revision = "0007_i18_contact_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add jobs.input_file (cleared when the job finishes)."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("input_file", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop jobs.input_file."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("input_file")
