"""Large synthetic account tables for scale tests and benchmarks.

:func:`add_synthetic_accounts` multiplies the accounts already in a database
(e.g. the Helsinki demo): each new account copies a random existing one (kind,
stage, segment, owner, territory, postcode, value, visit target) and is moved a
little, so maps, territories and filters look like the demo's, only denser.
On PostgreSQL the rows stream in with ``COPY ... FROM STDIN`` (psycopg 3), a
million in about a minute; elsewhere they go in as bulk inserts of 10,000. The
account triggers (the aggregate change stamp) fire once per statement either
way, so cached aggregates are invalidated by the load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gcrm.db.models import Account
from gcrm.db.statistics import refresh_account_statistics

_COPIED = (
    "kind",
    "stage",
    "segment",
    "owner_id",
    "territory_id",
    "street",
    "postcode",
    "city",
    "country",
    "potential_value",
    "visit_minutes",
    "visit_every_days",
    "last_visit",
)

#: Columns set for every synthetic account; with ``_COPIED`` these are all the
#: columns a ``COPY`` writes (the rest take their server defaults or NULL).
_OWN = (
    "external_id",
    "name",
    "housenumber",
    "lat",
    "lon",
    "geom",
    "geocode_precision",
    "source",
    "manual_pin",
    "do_not_contact",
    "marketing_consent",
    "created_at",
    "updated_at",
)


def add_synthetic_accounts(
    session: Session, n: int, *, seed: int = 0, jitter_m: float = 150.0, batch: int = 10_000
) -> int:
    """Add ``n`` accounts shaped like the located accounts already stored.

    Parameters
    ----------
    session
        An open session (the caller commits).
    n
        How many accounts to add.
    seed
        Random seed (the same seed gives the same accounts on either database).
    jitter_m
        Standard deviation of the move from the copied account, in metres.
    batch
        Rows per bulk insert (or per ``COPY`` write on PostgreSQL).

    Returns
    -------
    int
        The number of accounts added.

    Raises
    ------
    ValueError
        When no located account exists to copy.
    """
    cols = [getattr(Account, c) for c in _COPIED]
    sources = session.execute(
        select(Account.lat, Account.lon, *cols).where(Account.lat.is_not(None)).order_by(Account.id)
    ).all()
    if not sources:
        msg = "no located account to copy: load the demo first"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    start = int(session.scalar(select(Account.id).order_by(Account.id.desc()).limit(1)) or 0)
    postgres = session.get_bind().dialect.name == "postgresql"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    copy = _copy_writer(session) if postgres else None
    added = 0
    while added < n:
        size = min(batch, n - added)
        rows = _rows(sources, rng, size, start + added, seed=seed, jitter_m=jitter_m, now=now)
        if copy is not None:
            copy(rows)
        else:
            for row in rows:
                row["geom"] = f"POINT({row['lon']} {row['lat']})"
            session.execute(insert(Account), rows)
        added += size
    if copy is not None:
        copy(None)
    refresh_account_statistics(session)
    return added


def _rows(
    sources: Sequence[Any],
    rng: np.random.Generator,
    size: int,
    before: int,
    *,
    seed: int,
    jitter_m: float,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    deg = jitter_m / 111_000
    picks = rng.integers(0, len(sources), size)
    dlat = rng.normal(0, deg, size)
    dlon = rng.normal(0, deg * 2, size)
    out = []
    for j in range(size):
        src = sources[int(picks[j])]
        number = before + j + 1
        row = dict(zip(_COPIED, src[2:], strict=True))
        row.update(
            external_id=f"SYN-{seed}-{number}",
            name=f"Synthetic account {number:07d}",
            housenumber=str(1 + number % 90),
            lat=round(float(src[0]) + float(dlat[j]), 6),
            lon=round(float(src[1]) + float(dlon[j]), 6),
            geom=None,
            geocode_precision="address",
            source="synthetic",
            manual_pin=False,
            do_not_contact=False,
            marketing_consent=False,
            created_at=now,
            updated_at=now,
        )
        out.append(row)
    return out


def _copy_writer(session: Session) -> Any:
    """Return a function that streams row batches into ``accounts`` with one ``COPY``.

    Called with a list of rows it writes them; called with ``None`` it ends the
    ``COPY``. The geometry goes in as EWKT text, which PostGIS parses on input.
    """
    raw = session.connection().connection.driver_connection
    names = (*_COPIED, *_OWN)
    cursor = raw.cursor()  # type: ignore[union-attr]
    ctx = cursor.copy(f"COPY accounts ({', '.join(names)}) FROM STDIN")
    copy = ctx.__enter__()

    def write(rows: list[dict[str, Any]] | None) -> None:
        if rows is None:
            ctx.__exit__(None, None, None)
            cursor.close()
            return
        for row in rows:
            row["geom"] = f"SRID=4326;POINT({row['lon']} {row['lat']})"
            copy.write_row([row[name] for name in names])

    return write
