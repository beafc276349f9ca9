"""Aggregates kept per process until the data change: never stale, never shared across scopes."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event, insert, select, text, update

from gcrm.auth import actor_for
from gcrm.db import agg_cache
from gcrm.db.models import Account, Territory, User
from gcrm.db.session import session_scope, upgrade_database
from gcrm.store import AccountFilter, account_cells, account_group_stats, accounts_extent, facets


def _snapshot(session, actor) -> tuple:  # type: ignore[no-untyped-def]
    cells = account_cells(session, actor, AccountFilter(), cell_deg=0.01)
    groups = account_group_stats(session, actor, by="territory")
    return (
        accounts_extent(session, actor),
        sorted(map(tuple, cells[["gx", "gy", "count", "value"]].to_numpy().tolist())),
        sorted(map(tuple, groups[["key", "count", "value"]].to_numpy().tolist())),
        facets(session, actor),
    )


def _fresh(session, actor) -> tuple:  # type: ignore[no-untyped-def]
    agg_cache.clear()
    return _snapshot(session, actor)


CHANGES = {
    "account moved": update(Account).where(Account.id == 1).values(potential_value=1e6, lat=60.2),
    "account deleted": delete(Account).where(Account.id == 2),
    "account added": insert(Account).values(
        name="New shop", external_id="new-1", kind="prospect", lat=60.17, lon=24.94, territory_id=1
    ),
    "territory renamed": update(Territory).where(Territory.id == 1).values(name="Renamed West"),
    "user renamed": update(User).where(User.username == "rep1").values(username="rep1b"),
}


def test_every_change_is_seen_at_once(demo_db: str) -> None:
    """After each kind of change the manager's aggregates differ and match a fresh count."""
    agg_cache.clear()
    with session_scope() as s:
        manager = actor_for(s, "manager")
        before = _snapshot(s, manager)
        assert _snapshot(s, manager) == before
        assert agg_cache.stats()["hits"] >= 4  # the second look was served from the cache
    for name, change in CHANGES.items():
        with session_scope() as s:
            s.execute(change)
        with session_scope() as s:
            after = _snapshot(s, manager)
            assert after != before, name
            assert after == _fresh(s, manager), name
        before = after


def test_a_rolled_back_change_never_leaks(demo_db: str) -> None:
    agg_cache.clear()
    with session_scope() as s:
        manager = actor_for(s, "manager")
        before = _snapshot(s, manager)
    with session_scope() as s:
        s.execute(update(Account).values(potential_value=1.0))
        assert _snapshot(s, manager) != before  # counted inside the uncommitted change
        s.rollback()
    with session_scope() as s:
        assert _snapshot(s, manager) == before


def test_each_scope_gets_its_own_counts(demo_db: str) -> None:
    agg_cache.clear()
    with session_scope() as s:
        manager, rep = actor_for(s, "manager"), actor_for(s, "rep2")
        m_total = accounts_extent(s, manager)[0]
        r_total = accounts_extent(s, rep)[0]
        own = s.scalar(
            select(Account.id).where(Account.owner_id == rep.id).order_by(Account.id).limit(1)
        )
        assert own is not None
    assert 0 < r_total < m_total
    with session_scope() as s:
        assert accounts_extent(s, rep)[0] == r_total
        assert accounts_extent(s, manager)[0] == m_total


def test_an_older_schema_is_simply_not_cached(empty_db: str) -> None:
    from gcrm.auth import SYSTEM

    upgrade_database(empty_db, "0006_i16_cycle_plans")
    agg_cache.clear()
    with session_scope() as s:
        row = {"kind": "prospect", "lat": 60.0, "lon": 24.0}
        s.execute(insert(Account).values(name="A", external_id="a", **row))
        assert accounts_extent(s, SYSTEM)[0] == 1
        s.execute(insert(Account).values(name="B", external_id="b", **row))
        assert accounts_extent(s, SYSTEM)[0] == 2
    assert agg_cache.stats()["entries"] == 0


def test_a_login_keeps_the_team_s_cached_counts(demo_db: str) -> None:
    from gcrm.auth import login

    agg_cache.clear()
    with session_scope() as s:
        manager = actor_for(s, "manager")
        accounts_extent(s, manager)
    with session_scope() as s:
        login(s, "rep1", "demo")  # writes users.last_login_at and an audit line
    with session_scope() as s:
        accounts_extent(s, manager)
    assert agg_cache.stats()["hits"] == 1


def test_postgres_settings_for_aggregates_come_back(demo_db: str) -> None:
    """Aggregates run with more work_mem and no JIT; the session's own settings return."""
    with session_scope() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        s.execute(text("SET LOCAL work_mem = '5MB'"))
        seen = []
        listen = lambda conn, cur, stmt, *a: seen.append(stmt)  # noqa: E731
        event.listen(s.get_bind(), "before_cursor_execute", listen)
        try:
            agg_cache.clear()
            accounts_extent(s, actor_for(s, "manager"))
        finally:
            event.remove(s.get_bind(), "before_cursor_execute", listen)
        assert any("set_config('work_mem'" in q and "set_config('jit'" in q for q in seen)
        assert s.scalar(text("SHOW work_mem")) == "5MB"  # what the transaction had
        assert s.scalar(text("SHOW jit")) == "on"
