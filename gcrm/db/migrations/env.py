"""Alembic environment: runs gcrm's migrations on the engine given by gcrm."""

from __future__ import annotations

from alembic import context

from gcrm.db.models import Base
from gcrm.db.session import get_engine

target_metadata = Base.metadata


def _run() -> None:
    engine = context.config.attributes.get("engine") or get_engine()
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


_run()
