"""Territory report on 100,000 accounts: seconds per format.

Usage::

    python benchmarks/report_bench.py [--accounts 100000] [--formats csv,xlsx,...]

Builds the Helsinki demo (users, region, territories) in a temporary SQLite
database, adds generated accounts inside the region (with visits), then times
``gcrm.reports.export_report(..., "territories", fmt)`` as the analyst for each
format, drive-time and white-space figures included. There is no published
baseline for this: the figures are seconds per format and rows per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def populate(url: str, n: int, seed: int = 3) -> None:
    """Add ``n`` generated accounts (and some visits) to the demo database."""
    import shapely
    from sqlalchemy import insert, select

    from gcrm.db.models import Account, Interaction, Region, Territory, User, point_wkt
    from gcrm.db.session import session_scope

    rng = np.random.default_rng(seed)
    with session_scope(url) as s:
        region = s.scalar(select(Region))
        minx, miny, maxx, maxy = region.geom.bounds
        terr = [(t.id, t.owner_id, t.geom) for t in s.scalars(select(Territory))]
        rep_ids = [u.id for u in s.scalars(select(User).where(User.role == "rep"))]
        lon = rng.uniform(minx, maxx, n)
        lat = rng.uniform(miny, maxy, n)
        tid = np.full(n, None, dtype=object)
        owner = np.full(n, None, dtype=object)
        for t_id, o_id, geom in terr:
            inside = shapely.contains_xy(geom, lon, lat)
            tid[inside] = t_id
            owner[inside] = o_id
        kinds = rng.choice(["lead", "prospect", "customer"], n, p=[0.2, 0.5, 0.3])
        today = dt.date.today()
        rows = []
        for i in range(n):
            kind = str(kinds[i])
            rows.append(
                {
                    "external_id": f"bench-{i}",
                    "name": f"Bench {i} Oy",
                    "kind": kind,
                    "stage": "won" if kind == "customer" else str(rng.choice(["new", "qualified"])),
                    "segment": str(rng.choice(["Retail", "Food & drink", "Health"])),
                    "owner_id": owner[i],
                    "territory_id": tid[i],
                    "lat": float(lat[i]),
                    "lon": float(lon[i]),
                    "geom": point_wkt(lat[i], lon[i]),
                    "geocode_precision": "provided",
                    "manual_pin": False,
                    "potential_value": float(rng.integers(500, 50_000)),
                    "annual_revenue": float(rng.integers(1000, 90_000))
                    if kind == "customer"
                    else None,
                    "visit_minutes": 30,
                    "visit_every_days": 60 if kind != "lead" else None,
                    "last_visit": today - dt.timedelta(days=int(rng.integers(1, 200))),
                    "do_not_contact": False,
                    "marketing_consent": False,
                    "source": "bench",
                }
            )
        for i in range(0, n, 10_000):
            s.execute(insert(Account), rows[i : i + 10_000])
        ids = [a for (a,) in s.execute(select(Account.id).where(Account.source == "bench"))]
        visits = [
            {
                "account_id": int(a),
                "user_id": int(rng.choice(rep_ids)),
                "kind": "visit",
                "occurred_at": dt.datetime.combine(
                    today - dt.timedelta(days=int(rng.integers(0, 120))), dt.time(10)
                ),
                "outcome": "order",
            }
            for a in rng.choice(ids, size=n // 4, replace=False)
        ]
        for i in range(0, len(visits), 10_000):
            s.execute(insert(Interaction), visits[i : i + 10_000])


def main() -> None:
    """Build the data set and time each format."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx,pdf,geojson,gpkg,parquet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GCRM_DATA_DIR"] = tmp
        url = f"sqlite:///{tmp}/bench.db"
        os.environ["GCRM_DATABASE_URL"] = url
        from gcrm.auth import actor_for
        from gcrm.db.session import session_scope, upgrade_database
        from gcrm.demo import build_demo
        from gcrm.network import load_network
        from gcrm.reports import export_report

        upgrade_database(url)
        with session_scope(url) as s:
            build_demo(s)
        t0 = time.perf_counter()
        populate(url, args.accounts)
        print(f"generated {args.accounts:,} accounts in {time.perf_counter() - t0:.1f} s")
        graph = load_network()
        print(f"{'format':<8} {'seconds':>8} {'MB':>7}")
        for fmt in args.formats.split(","):
            with session_scope(url) as s:
                analyst = actor_for(s, "analyst")
                t = time.perf_counter()
                export = export_report(s, analyst, "territories", fmt, graph=graph)  # type: ignore[arg-type]
                seconds = time.perf_counter() - t
            print(f"{fmt:<8} {seconds:8.2f} {len(export.data) / 1e6:7.2f}")


if __name__ == "__main__":
    main()
