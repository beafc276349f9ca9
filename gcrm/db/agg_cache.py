"""Aggregate results shared by every session of a server process until the data change.

A map or filter list over 100,000 accounts costs one table scan; a team opening
the same map should not pay it once per person and per rerun. :func:`rows` runs
an aggregate statement once and keeps its rows, keyed on the statement, its
parameters (scope and filter included) and the database's change stamp: a row
that triggers set to a new random value after any change to accounts, users or
territories (migration ``0007_i19_agg_stamp_k3``). Any change therefore makes
every cached aggregate unreachable at once; no result is served across a change.
Without the stamp table (an older schema) nothing is cached.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, text
from sqlalchemy.orm import Session

from gcrm.lru import BoundedLRU

#: Most results kept per process (least recently used go first).
MAX_ENTRIES = 256

#: Results with more rows than this are not kept (aggregates are small).
MAX_ROWS = 20_000

#: PostgreSQL settings for the aggregate statements (see :func:`_execute`).
_PG_SETTINGS = {"work_mem": "64MB", "jit": "off"}

_CACHE: BoundedLRU[tuple[Any, ...], list[tuple[Any, ...]]] = BoundedLRU(max_entries=MAX_ENTRIES)
_HAS_STAMP: set[str] = set()


def _stamp(session: Session) -> int | None:
    bind = session.get_bind()
    url = str(bind.engine.url)
    if url not in _HAS_STAMP:
        if bind.dialect.name == "postgresql":
            exists = session.scalar(text("SELECT to_regclass('aggregate_stamp') IS NOT NULL"))
        else:
            exists = session.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'aggregate_stamp'")
            )
        if not exists:
            return None
        _HAS_STAMP.add(url)
    value = session.scalar(text("SELECT stamp FROM aggregate_stamp WHERE id = 1"))
    return None if value is None else int(value)


def rows(session: Session, stmt: Select[Any, *tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of an aggregate statement, from the process cache while the data are unchanged.

    Parameters
    ----------
    session
        An open session.
    stmt
        A read-only statement whose result depends only on the tables the
        stamp watches (accounts, users, territories) and its parameters.

    Returns
    -------
    list of tuple
        The result rows (do not modify them: they are shared).
    """
    stamp = _stamp(session)
    if stamp is None:
        return _execute(session, stmt)
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    params = repr(sorted(compiled.params.items()))
    key = (str(session.get_bind().engine.url), stamp, str(compiled), params)
    found = _CACHE.get(key)
    if found is not None:
        return found
    result = _execute(session, stmt)
    if len(result) <= MAX_ROWS:
        _CACHE.resize(max_entries=MAX_ENTRIES)  # the budget is read at call time
        _CACHE.put(key, result)
    return result


def _execute(session: Session, stmt: Select[Any, *tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    if session.get_bind().dialect.name != "postgresql":
        return [tuple(r) for r in session.execute(stmt).all()]
    # PostgreSQL cannot estimate how many grid cells or groups an expression makes
    # (it guesses one per 10 rows: 100,000 at a million accounts), so with the default
    # 4 MB it sorts a million rows on disk instead of hashing a few hundred groups,
    # and it JIT-compiles each statement (about 0.2 s). For these statements only:
    # more memory, no JIT; the session's settings come back afterwards (after an
    # error the rollback undoes the SET LOCAL by itself).
    names = list(_PG_SETTINGS)
    old = session.execute(
        text(", ".join(f"current_setting('{n}')" for n in names).join(("SELECT ", "")))
    ).one()
    _set_local(session, dict(_PG_SETTINGS))
    result = [tuple(r) for r in session.execute(stmt).all()]
    _set_local(session, dict(zip(names, old, strict=True)))
    return result


def _set_local(session: Session, values: dict[str, str]) -> None:
    # set_config(..., true) is SET LOCAL: it ends with the transaction at the latest.
    calls = ", ".join(f"set_config('{n}', :v{i}, true)" for i, n in enumerate(values))
    params = {f"v{i}": v for i, v in enumerate(values.values())}
    session.execute(text(f"SELECT {calls}"), params)


def stats() -> dict[str, int]:
    """Hits, misses, evictions and entries of the process cache."""
    out = _CACHE.stats()
    del out["size"]
    return out


def clear() -> None:
    """Forget every cached result (benchmarks measure a cold start with it)."""
    _CACHE.clear()
    _HAS_STAMP.clear()
