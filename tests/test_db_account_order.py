"""The Accounts page's statements are served by indexes (issue 19: pages scale with the screen).

One page of the list is ``ORDER BY <sort>, name, id LIMIT 200``: without an index
in that order the database reads and sorts every account in scope (a full
scan and sort at 1,000,000 accounts, half a second on PostGIS). These tests read
the plan of the very statements the page runs, for every sort choice and for
the "needs a pin" list, over the demo plus synthetic accounts: they fail if the
migration's indexes are missing or no longer match the statements.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from gcrm import store
from gcrm.auth import SYSTEM, actor_for
from gcrm.db.session import session_scope
from gcrm.db.statistics import BULK_ROWS
from gcrm.db.synthetic import add_synthetic_accounts
from gcrm.importer import import_file
from gcrm.store import SORTS, AccountFilter


@contextmanager
def _captured(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """Collect the SELECTs over accounts that run inside the block."""
    engine = session.get_bind().engine
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "accounts" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _plan(session: Session, statement: str, parameters: Any) -> str:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        return "\n".join(str(r[0]) for r in rows)
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return "\n".join(str(r[-1]) for r in rows)


def _page_statements(session: Session, username: str, **kwargs: Any) -> list[tuple[str, Any]]:
    actor = actor_for(session, username)
    with _captured(session) as seen:
        frame, total = store.accounts_page(session, actor, AccountFilter(), per_page=200, **kwargs)
    assert total > 0 and len(frame) > 0
    # The page's rows: the statement with ORDER BY and LIMIT (the count is another).
    return [(s, p) for s, p in seen if "ORDER BY" in s.upper() and "LIMIT" in s.upper()]


@pytest.fixture
def large_store(demo_db: str) -> str:
    """The demo plus 20,000 synthetic accounts (the bulk load refreshes the statistics)."""
    with session_scope() as session:
        add_synthetic_accounts(session, 20_000)
    return demo_db


@pytest.mark.parametrize("username", ["admin", "manager"])
def test_every_sort_of_the_page_reads_an_index_in_order(large_store: str, username: str) -> None:
    """No sort of the whole scope for any order: an index gives the rows in order."""
    with session_scope() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for sort in SORTS:
            (statement, parameters), *_ = _page_statements(session, username, sort=sort)
            plan = _plan(session, statement, parameters)
            if postgres:
                assert "Index Scan using ix_accounts_" in plan, (sort, plan)
                assert "Seq Scan on accounts" not in plan, (sort, plan)
                # A sort above the index may only break ties (id after name).
                for line in plan.splitlines():
                    assert "Sort Key" not in line or "Presorted" in plan, (sort, plan)
            else:
                assert "TEMP B-TREE FOR ORDER BY" not in plan, (sort, plan)
                assert "USING INDEX ix_accounts_" in plan, (sort, plan)


def test_the_needs_a_pin_list_reads_an_index(large_store: str) -> None:
    """The accounts to pin are found by their precision, not by scanning every account."""
    with session_scope() as session:
        # Make some accounts approximate, so the list is not empty.
        session.execute(
            text(
                "UPDATE accounts SET geocode_precision = 'city' WHERE id IN "
                "(SELECT id FROM accounts ORDER BY id LIMIT 30)"
            )
        )
    with session_scope() as session:
        (statement, parameters), *_ = _page_statements(session, "admin", approximate_only=True)
        plan = _plan(session, statement, parameters)
        assert "ix_accounts_needs_pin" in plan, plan
        assert "Seq Scan on accounts" not in plan, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def _analyzed(session: Session) -> bool:
    """Whether ``accounts`` has planner statistics from an explicit ANALYZE."""
    if session.get_bind().dialect.name == "postgresql":
        sql = "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'accounts'"
        return session.scalar(text(sql)) is not None
    if not session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
        return False
    return bool(session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'accounts'")))


@pytest.mark.parametrize("rows", [10, BULK_ROWS + 200])
def test_a_bulk_import_refreshes_the_planner_statistics(db: str, tmp_path: Path, rows: int) -> None:
    """After importing many accounts the page's plans are made with statistics (not before)."""
    path = tmp_path / "export.csv"
    lines = ["external_id,name,city,lat,lon"] + [
        f"X{i},Yritys {i} Oy,Helsinki,{60.15 + i / 100_000:.5f},24.94" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with session_scope() as session:
        assert not _analyzed(session)
        report = import_file(session, SYSTEM, path, geocoder=None)
    assert report.inserted == rows
    with session_scope() as session:
        assert _analyzed(session) == (rows >= BULK_ROWS)
