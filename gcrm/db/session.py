"""Engine and session factory; database upgrades.

``GCRM_DATABASE_URL`` picks the engine. SQLite files are opened with WAL
journaling, a busy timeout and foreign keys on; PostgreSQL gets PostGIS.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gcrm.settings import get_settings

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    timeout_ms = int(get_settings().sqlite_busy_timeout_s * 1000)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={timeout_ms}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    # SQLite's own lower() folds ASCII only: a search for "ölhus" must find "Ølhus" as on
    # PostgreSQL, so lower() is Python's (the same for ASCII; no index uses lower()).
    dbapi_conn.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


_ENGINES: dict[str, Engine] = {}


def _private_file(path: Path) -> None:
    """Create the SQLite file readable and writable by its owner only (0600).

    SQLite gives the ``-wal`` and ``-shm`` files the database file's mode, so
    they are private too. A new folder is made 0700.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, 0o600)


def purge_freed_bytes(url: str | None = None) -> None:
    """Make sure deleted or overwritten values are gone from the database files.

    Call after a committed erasure. SQLite: the write-ahead log is
    checkpointed and truncated, the file rebuilt (``VACUUM``, which drops
    free pages and old cell contents) and the log truncated again.
    PostgreSQL: ``VACUUM`` the tables that hold personal data (old row
    versions become free space; the server reuses it).

    Parameters
    ----------
    url
        Database URL; ``None`` for the settings' database.
    """
    engine = get_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            for table in ("contacts", "accounts", "interactions", "audit_log", "saved_plans"):
                conn.exec_driver_sql(f"VACUUM {table}")


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for a database URL.

    Parameters
    ----------
    url
        SQLAlchemy URL; ``None`` for the settings' database.

    Returns
    -------
    sqlalchemy.Engine
        A pooled engine. For SQLite the file's folder is created.
    """
    url = url or get_settings().resolved_database_url
    if url not in _ENGINES:
        _ENGINES[url] = _create_engine(url)
    return _ENGINES[url]


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _on_sqlite_connect)
    else:
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        engine = create_engine(url, pool_pre_ping=True)
    return engine


@functools.cache
def _sessionmaker(url: str | None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """Open a session in one transaction: committed on success, rolled back on error.

    Parameters
    ----------
    url
        Database URL; ``None`` for the settings' database.

    Yields
    ------
    sqlalchemy.orm.Session
        The session.
    """
    session = _sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]
    """Return an Alembic ``Config`` for gcrm's migrations and a database URL.

    Parameters
    ----------
    url
        Database URL; ``None`` for the settings' database.

    Returns
    -------
    alembic.config.Config
        Ready for ``alembic.command.upgrade(cfg, "head")``.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = get_engine(url)
    return cfg


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    """Create or upgrade the schema by running the Alembic migrations.

    Parameters
    ----------
    url
        Database URL; ``None`` for the settings' database.
    revision
        Target revision (default the newest).
    """
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def database_is_current(url: str | None = None) -> bool:
    """Tell whether the schema exists and is at the newest revision.

    Parameters
    ----------
    url
        Database URL; ``None`` for the settings' database.

    Returns
    -------
    bool
        ``True`` when no migration is pending.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    engine = get_engine(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = MigrationContext.configure(conn).get_current_heads()
    return set(current) == set(script.get_heads())


def dispose_engines() -> None:
    """Close every cached engine (tests switching databases call this)."""
    _sessionmaker.cache_clear()
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        engine.dispose()
