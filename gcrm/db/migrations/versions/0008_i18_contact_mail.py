"""Campaign e-mail to contact persons: the outbox names the person (issue 18).

One outbox row per campaign step and address: the account's own address, or
a contact person's (``contact_id``). The row's Message-ID, unique, is derived
from (campaign, step, account, person) and keys "created once"; the old
(campaign, account, step) key allowed one message per account only.

Revision ID: 0007_i18_contact_mail
Revises: 0007_i19_agg_stamp_k3
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_i18_contact_mail"
down_revision = "0007_i19_agg_stamp_k3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``campaign_outbox.contact_id``; drop the one-message-per-account key."""
    with op.batch_alter_table("campaign_outbox") as batch:
        batch.add_column(sa.Column("contact_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_outbox_contact", "contacts", ["contact_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_campaign_outbox_contact_id", ["contact_id"])
        batch.drop_constraint("uq_outbox_campaign_acct_step", type_="unique")


def downgrade() -> None:
    """Remove person messages and restore the old key."""
    op.execute("DELETE FROM campaign_outbox WHERE contact_id IS NOT NULL")
    with op.batch_alter_table("campaign_outbox") as batch:
        batch.create_unique_constraint(
            "uq_outbox_campaign_acct_step", ["campaign_id", "account_id", "step"]
        )
        batch.drop_index("ix_campaign_outbox_contact_id")
        batch.drop_constraint("fk_outbox_contact", type_="foreignkey")
        batch.drop_column("contact_id")
