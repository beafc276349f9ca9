"""Schema and engine: migrations on SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy import inspect, select, text

from gcrm.db.models import Account, Base, Region
from gcrm.db.session import (
    database_is_current,
    get_engine,
    session_scope,
    upgrade_database,
)


def test_migrations_upgrade_from_empty(empty_db: str) -> None:
    """Running the migrations on an empty database creates every table of the model."""
    assert not database_is_current(empty_db)
    upgrade_database(empty_db)
    assert database_is_current(empty_db)
    tables = set(inspect(get_engine(empty_db)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migrations_are_reversible(db: str) -> None:
    """Downgrading to base drops the tables and upgrading again restores them."""
    from alembic import command

    from gcrm.db.session import alembic_config

    command.downgrade(alembic_config(db), "base")
    assert "accounts" not in inspect(get_engine(db)).get_table_names()
    upgrade_database(db)
    assert database_is_current(db)


def test_geometry_round_trip(db: str) -> None:
    """Points and multipolygons come back as the same shapely geometries."""
    poly = MultiPolygon([box(24.9, 60.1, 25.0, 60.2)])
    with session_scope() as s:
        s.add(Region(name="R", geom=poly))
        s.add(Account(external_id="x1", name="A", lat=60.17, lon=24.94, geom=Point(24.94, 60.17)))
    with session_scope() as s:
        assert s.scalar(select(Region.geom)).equals(poly)
        assert s.scalar(select(Account.geom)).equals(Point(24.94, 60.17))


def test_postgis_columns_and_spatial_indexes(db: str) -> None:
    """On PostgreSQL, geometry columns are PostGIS geometry with GiST indexes."""
    engine = get_engine(db)
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
        return
    with engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text(
                    "select f_table_name, type from geometry_columns "
                    "where f_geometry_column in ('geom', 'home_geom')"
                )
            ).all()
        )
        assert kinds["accounts"] == "POINT"
        assert kinds["territories"] == "MULTIPOLYGON"
        gist = {
            r[0]
            for r in conn.execute(
                text("select indexname from pg_indexes where indexdef ilike '%using gist%'")
            )
        }
        assert {"ix_accounts_geom_gist", "ix_territories_geom_gist"} <= gist
        # the spatial index is usable by PostGIS functions
        with session_scope() as s:
            s.add(
                Account(external_id="p", name="P", lat=60.17, lon=24.94, geom=Point(24.94, 60.17))
            )
        n = conn.execute(
            text(
                "select count(*) from accounts where "
                "ST_Intersects(geom, ST_MakeEnvelope(24.9, 60.1, 25.0, 60.2, 4326))"
            )
        ).scalar()
        assert n == 1


def test_upgrading_keeps_existing_rows_and_links(empty_db: str) -> None:
    """Upgrading a database that holds data (0001 -> head) keeps every row and foreign key."""
    from gcrm.db.session import session_scope

    upgrade_database(empty_db, "0001")
    engine = get_engine(empty_db)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into users (id, username, display_name, role, is_active, work_start,"
                " work_end, failed_logins) values (1, 'u', 'U', 'rep', true, '08:00', '16:00', 0)"
            )
        )
        conn.execute(
            text(
                "insert into accounts (id, external_id, name, kind, stage, owner_id,"
                " geocode_precision, manual_pin, visit_minutes, do_not_contact,"
                " marketing_consent) values (1, 'e', 'A', 'lead', 'new', 1, 'none', false, 30,"
                " false, false)"
            )
        )
    upgrade_database(empty_db)
    with session_scope() as s:
        assert s.scalar(select(Account.owner_id).where(Account.id == 1)) == 1
