"""Import throughput: a generated 100,000-row CSV into SQLite and PostgreSQL.

Usage::

    python benchmarks/import_bench.py [--rows 100000] [--postgres URL] [--one-address-only]

PostgreSQL runs when ``--postgres`` or ``GCRM_TEST_POSTGRES_URL`` gives a server
(a new database is created and dropped). Target: >= 10,000 rows/s on SQLite.
The baseline is that target: the ratio printed is rows/s divided by 10,000.
It then imports 100,000 rows that share one address next to 100,000 distinct
rows and prints the ratio of their rates (issue 13: at most 1.5).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_ROWS_PER_S = 10_000
STREETS = ["Mannerheimintie", "Aleksanterinkatu", "Fredrikinkatu", "Bulevardi", "Iso Roobertinkatu"]
SEGMENTS = ["Retail", "Food & drink", "Health", "Professional services"]


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write a realistic accounts CSV (some rows deliberately bad)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "external_id",
                "name",
                "kind",
                "stage",
                "segment",
                "street",
                "housenumber",
                "postcode",
                "city",
                "lat",
                "lon",
                "email",
                "phone",
                "potential_value",
                "visit_minutes",
                "visit_every_days",
                "do_not_contact",
            ]
        )
        for i in range(rows):
            bad = i % 97 == 0
            w.writerow(
                [
                    f"B{i:07d}",
                    f"Business {i} Oy",
                    rng.choice(["lead", "prospect", "customer"]),
                    rng.choice(["new", "contacted", "qualified", "won"]),
                    rng.choice(SEGMENTS),
                    rng.choice(STREETS),
                    str(rng.randint(1, 120)),
                    f"00{rng.randint(10, 99)}0",
                    "Helsinki",
                    f"{60.15 + rng.random() * 0.05:.6f}",
                    f"{24.90 + rng.random() * 0.08:.6f}",
                    "not-an-email" if bad else f"info{i}@example.com",
                    f"+358 40 {rng.randint(1000000, 9999999)}",
                    f"{rng.randint(100, 90000)}.{rng.randint(0, 99):02d}",
                    str(rng.choice([20, 30, 45])),
                    str(rng.choice([30, 60, 90])),
                    rng.choice(["no", "no", "no", "yes"]),
                ]
            )


def run(url: str, csv_path: Path, rows: int) -> float:
    """Import once into a fresh database at ``url``; return rows/s."""
    from gcrm.auth import SYSTEM
    from gcrm.db.session import dispose_engines, session_scope, upgrade_database
    from gcrm.importer import import_file

    upgrade_database(url)
    t0, c0 = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        report = import_file(session, SYSTEM, csv_path)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    dispose_engines()
    assert report.rows == rows, report.summary()
    print(f"  summary: {report.summary()}")
    print(
        f"  wall {seconds:.2f} s, this process's CPU {cpu:.2f} s ({rows / cpu:,.0f} rows per CPU-s)"
    )
    return rows / seconds


def generate_one_address(path: Path, rows: int, seed: int = 2) -> None:
    """Write ``rows`` accounts that all share one street address (a shopping centre).

    Names differ (so the duplicate check cannot stop at the first match);
    coordinates are given so that geocoding plays no part.
    """
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        header = ["external_id", "name", "street", "housenumber", "postcode", "city", "lat", "lon"]
        w.writerow(header)
        for i in range(rows):
            w.writerow(
                [
                    f"M{i:07d}",
                    f"{rng.choice(SEGMENTS)} {i * 7919 % 100003} {rng.randint(1, 999)}",
                    "Mannerheimintie",
                    "20",
                    "00100",
                    "Helsinki",
                    "60.170000",
                    "24.938000",
                ]
            )


def one_address_ratio(tmpdir: Path, rows: int) -> float:
    """Issue 13 (finding 11): rows/s for ``rows`` rows at one address next to ``rows``
    distinct rows, each into a fresh SQLite database; returns distinct / one-address
    (target <= 1.5)."""
    distinct_csv = tmpdir / "distinct.csv"
    same_csv = tmpdir / "one_address.csv"
    generate(distinct_csv, rows, seed=3)
    generate_one_address(same_csv, rows)
    rates, cpu_rates = {}, {}
    for label, path in (("distinct", distinct_csv), ("one address", same_csv)):
        print(f"{label}: {rows:,} rows")
        c0 = time.process_time()
        rates[label] = run(f"sqlite:///{tmpdir / f'{label[:3]}.db'}", path, rows)
        cpu_rates[label] = rows / (time.process_time() - c0)
    ratio = rates["distinct"] / rates["one address"]
    cpu_ratio = cpu_rates["distinct"] / cpu_rates["one address"]
    print(
        f"one address vs distinct: {rates['one address']:,.0f} vs {rates['distinct']:,.0f} "
        f"rows/s (wall), ratio {ratio:.2f}; {cpu_rates['one address']:,.0f} vs "
        f"{cpu_rates['distinct']:,.0f} rows per CPU-s, ratio {cpu_ratio:.2f} (target <= 1.5)"
    )
    return cpu_ratio


def main() -> None:
    """Generate the file, import it, print rows/s and the ratio to the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("GCRM_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--one-address-only",
        action="store_true",
        help="Only compare rows at one address with distinct rows (issue 13).",
    )
    args = parser.parse_args()
    if args.one_address_only:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["GCRM_DATA_DIR"] = tmp
            one_address_ratio(Path(tmp), args.rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        os.environ["GCRM_DATA_DIR"] = str(tmpdir)
        csv_path = tmpdir / "accounts.csv"
        generate(csv_path, args.rows)
        print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB)")
        rate = run(f"sqlite:///{tmpdir / 'bench.db'}", csv_path, args.rows)
        print(
            f"SQLite: {rate:,.0f} rows/s; target {TARGET_ROWS_PER_S:,} rows/s; "
            f"ratio {rate / TARGET_ROWS_PER_S:.2f}x"
        )
        if args.postgres:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            name = f"gcrm_bench_{uuid.uuid4().hex[:8]}"
            base = make_url(args.postgres).set(drivername="postgresql+psycopg")
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = base.set(database=name).render_as_string(hide_password=False)
                rate = run(url, csv_path, args.rows)
                print(
                    f"PostgreSQL: {rate:,.0f} rows/s; "
                    f"ratio to target {rate / TARGET_ROWS_PER_S:.2f}x"
                )
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            print("PostgreSQL: skipped (no --postgres or GCRM_TEST_POSTGRES_URL)")
        one_address_ratio(tmpdir, args.rows)


if __name__ == "__main__":
    main()
