"""A change stamp for aggregate caching: bumped by triggers on every account change (issue 19).

``aggregate_stamp`` holds one row whose ``stamp`` is set to a new random value
by triggers after any insert, update or delete on ``accounts``, ``users`` or
``territories`` (the tables a scoped aggregate reads). :mod:`gcrm.db.agg_cache`
keys cached aggregates on it, so a map at 100,000 accounts is counted once per
change, not once per page view. Random values (not a counter) keep a rolled-back
change from ever matching a later one.

Revision ID: 0007_i19_agg_stamp_k3
Revises: 0006_i16_cycle_plans
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_i19_agg_stamp_k3"
down_revision = "0006_i16_cycle_plans"
branch_labels = None
depends_on = None

# The columns an aggregate reads: any account change; for users and territories only
# what scope and filter lists use (a login writes users.last_login_at and must not
# make every cached map count again).
_TABLES = {
    "accounts": "",
    "users": " OF username, region_id, role, is_active",
    "territories": " OF name, region_id, owner_id",
}
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION gcrm_bump_aggregate_stamp() RETURNS trigger AS $$
BEGIN
    UPDATE aggregate_stamp SET stamp = floor(random() * 9.0e18)::bigint WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    """Create the stamp table and its triggers."""
    op.create_table(
        "aggregate_stamp",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO aggregate_stamp (id, stamp) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(_PG_FUNCTION)
    for table, columns in _TABLES.items():
        name = f"gcrm_stamp_{table}"
        if postgres:
            # One bump per statement: a bulk insert of 100,000 rows bumps once.
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE{columns} OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION gcrm_bump_aggregate_stamp()"
            )
            continue
        for event in ("INSERT", f"UPDATE{columns}", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {name}_{event.split()[0].lower()} AFTER {event} ON {table} "
                "BEGIN UPDATE aggregate_stamp SET stamp = random() WHERE id = 1; END"
            )


def downgrade() -> None:
    """Drop the triggers and the stamp table."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _TABLES:
        name = f"gcrm_stamp_{table}"
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS gcrm_bump_aggregate_stamp()")
    op.drop_table("aggregate_stamp")
