"""Alembic environment: runs gcrm's migrations on the engine given by gcrm."""

from __future__ import annotations

from alembic import context

from gcrm.db.models import Base
from gcrm.db.session import get_engine

target_metadata = Base.metadata


def _run() -> None:
    engine = context.config.attributes.get("engine") or get_engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies and drops tables: with foreign keys on,
            # SQLite would run ON DELETE actions (SET NULL, CASCADE) on the
            # referencing rows. The pragma only works outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


_run()
