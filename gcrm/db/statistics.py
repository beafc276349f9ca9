"""Planner statistics of the accounts table, refreshed after bulk writes.

Without statistics SQLite guesses that a scope condition (``territory_id IN
(...)``) picks few accounts and sorts every account in scope for a page of the
Accounts list instead of reading the index in page order (0.25 s instead of a
few ms at 100,000 accounts). ``ANALYZE`` records how many rows a value of each
index selects; PostgreSQL's autovacuum does it too, but only some time later.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

#: Rows SQLite samples per index (``PRAGMA analysis_limit``): a bounded, fast ANALYZE.
SQLITE_ANALYSIS_LIMIT = 2000

#: Bulk writes of at least this many accounts refresh the statistics.
BULK_ROWS = 1000


def refresh_account_statistics(session: Session) -> None:
    """Run ``ANALYZE accounts`` (SQLite: sampled, :data:`SQLITE_ANALYSIS_LIMIT` rows an index).

    Parameters
    ----------
    session
        An open session (in the caller's transaction).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA analysis_limit = {int(SQLITE_ANALYSIS_LIMIT)}"))
    session.execute(text("ANALYZE accounts"))
