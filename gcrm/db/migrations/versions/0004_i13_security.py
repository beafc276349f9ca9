"""Security: a random pseudonym per contact (issue 13).

Revision ID: 0004_i13_security
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004_i13_security"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add contacts.pseudonym and give every existing contact a random one."""
    op.add_column("contacts", sa.Column("pseudonym", sa.String(40), nullable=True))
    conn = op.get_bind()
    contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("pseudonym"))
    ids = [row[0] for row in conn.execute(sa.select(contacts.c.id))]
    for i in range(0, len(ids), 1000):
        conn.execute(
            contacts.update().where(contacts.c.id == sa.bindparam("cid")),
            [
                {"cid": cid, "pseudonym": f"person-{secrets.token_hex(5)}"}
                for cid in ids[i : i + 1000]
            ],
        )
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("pseudonym", existing_type=sa.String(40), nullable=False)


def downgrade() -> None:
    """Drop contacts.pseudonym."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("pseudonym")
