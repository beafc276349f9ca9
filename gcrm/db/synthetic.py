"""Large synthetic account tables for scale tests and benchmarks.

:func:`add_synthetic_accounts` multiplies the accounts already in a database
(e.g. the Helsinki demo): each new account copies a random existing one (kind,
stage, segment, owner, territory, postcode, value, visit target) and is moved a
little, so maps, territories and filters look like the demo's, only denser.
Rows go in with bulk inserts of 10,000.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gcrm.db.models import Account

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
        Random seed (the same seed gives the same accounts).
    jitter_m
        Standard deviation of the move from the copied account, in metres.
    batch
        Rows per bulk insert.

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
    rows = session.execute(
        select(Account.lat, Account.lon, *cols).where(Account.lat.is_not(None))
    ).all()
    if not rows:
        msg = "no located account to copy: load the demo first"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    start = int(session.scalar(select(Account.id).order_by(Account.id.desc()).limit(1)) or 0)
    deg = jitter_m / 111_000
    added = 0
    while added < n:
        size = min(batch, n - added)
        picks = rng.integers(0, len(rows), size)
        dlat = rng.normal(0, deg, size)
        dlon = rng.normal(0, deg * 2, size)
        values = []
        for j in range(size):
            src = rows[int(picks[j])]
            lat = round(float(src[0]) + float(dlat[j]), 6)
            lon = round(float(src[1]) + float(dlon[j]), 6)
            number = start + added + j + 1
            row = dict(zip(_COPIED, src[2:], strict=True))
            row.update(
                external_id=f"SYN-{seed}-{number}",
                name=f"Synthetic account {number:07d}",
                housenumber=str(1 + number % 90),
                lat=lat,
                lon=lon,
                geom=f"POINT({lon} {lat})",
                geocode_precision="address",
                source="synthetic",
            )
            values.append(row)
        session.execute(insert(Account), values)
        added += size
    return added
