"""Import throughput: a generated 100,000-row CSV into SQLite and PostgreSQL.

Usage::

    python benchmarks/import_bench.py [--rows 100000] [--geocode-rows 20000] [--postgres URL]
                                      [--one-address-only]

PostgreSQL runs when ``--postgres`` or ``GCRM_TEST_POSTGRES_URL`` gives a server
(a new database is created and dropped). Targets: >= 10,000 rows/s on SQLite for
rows with coordinates; >= 2,000 rows/s for rows that need geocoding (a
Salesforce-layout export without coordinates whose street cells hold the house
number, staircase and floor, at real addresses of the bundled Helsinki extract:
header recognition, street splitting and offline geocoding all run). The ratio
printed is rows/s divided by the target; CPU seconds are printed too, since the
machines are shared. The address index is loaded before the timed geocoding
run (its one-off load time is printed on its own). It then imports 100,000 rows
that share one address next to 100,000 distinct rows and prints the ratio of
their rates (issue 13: at most 1.5).

Last it imports a generated file of ``--peak-mb`` megabytes (default 200, the
largest file an import takes) in a child process and prints the child's peak
memory (resident set size, ``getrusage(RUSAGE_CHILDREN)``) next to the target
of issue 13 (at most 1 GB): the importer reads and writes the file in chunks,
so its memory must not grow with the file. ``--peak-only`` runs only this step.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_ROWS_PER_S = 10_000
TARGET_GEOCODE_ROWS_PER_S = 2_000
TARGET_PEAK_MIB = 1024
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


def generate_geocode(path: Path, rows: int, seed: int = 2) -> None:
    """Write a Salesforce report export without coordinates at real Helsinki addresses."""
    from gcrm.osm import read_address_points

    pts = read_address_points(None)
    pts = pts[pts["addr:street"].notna() & pts["addr:housenumber"].notna()]
    addresses = list(
        zip(pts["addr:street"], pts["addr:housenumber"], pts["addr:postcode"], strict=True)
    )
    rng = random.Random(seed)
    habits = ("{} {}", "{} {} A", "{} {}, 2. krs", "{} {} B 12", "{} {}\nPL 45")
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(
            ["Account Owner", "Account Name", "Type", "Billing Street", "Billing City",
             "Billing Zip/Postal Code", "Billing Country", "Phone", "Account ID"]
        )  # fmt: skip
        for i in range(rows):
            street, hn, pc = rng.choice(addresses)
            w.writerow(
                [
                    "Maria Virtanen",
                    f"Business {i} Oy",
                    rng.choice(["Customer - Direct", "Prospect", "Customer - Channel"]),
                    rng.choice(habits).format(street, hn),
                    "Helsinki",
                    pc if isinstance(pc, str) else "",
                    "Finland",
                    f"+358 40 {rng.randint(1000000, 9999999)}",
                    f"0015g{i:010d}",
                ]
            )


def run_geocode(url: str, csv_path: Path, rows: int) -> float:
    """Import a file whose rows all need geocoding; return rows/s."""
    from gcrm.auth import SYSTEM
    from gcrm.db.session import dispose_engines, session_scope, upgrade_database
    from gcrm.geocode import default_index
    from gcrm.importer import import_file

    upgrade_database(url)
    t0 = time.perf_counter()
    default_index()
    print(f"  address index loaded in {time.perf_counter() - t0:.2f} s (once per process)")
    t0, c0 = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        report = import_file(session, SYSTEM, csv_path)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    dispose_engines()
    assert report.rows == rows, report.summary()
    assert report.geocoded >= 0.95 * rows, report.precisions
    print(f"  summary: {report.summary()}; precisions {report.precisions}")
    print(
        f"  wall {seconds:.2f} s, this process's CPU {cpu:.2f} s ({rows / cpu:,.0f} rows per CPU-s)"
    )
    return rows / seconds


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


def generate_bytes(path: Path, megabytes: float) -> int:
    """Write an accounts file of about ``megabytes`` MB (as :func:`generate`); return rows."""
    sample = path.with_suffix(".sample.csv")
    generate(sample, 2000)
    per_row = sample.stat().st_size / 2000
    sample.unlink()
    rows = int(megabytes * 1e6 / per_row)
    generate(path, rows)
    return rows


def child_import(url: str, csv_path: Path) -> None:
    """Import one file (run in a child process whose peak memory the parent reads)."""
    from gcrm.auth import SYSTEM
    from gcrm.db.session import dispose_engines, session_scope, upgrade_database
    from gcrm.importer import import_file

    upgrade_database(url)
    t0, c0 = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        report = import_file(session, SYSTEM, csv_path, geocoder=None)
    dispose_engines()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  summary: {report.summary()}")
    print(f"  wall {seconds:.1f} s ({report.rows / seconds:,.0f} rows/s), CPU {cpu:.1f} s")


def peak_memory(tmpdir: Path, megabytes: float) -> float:
    """Import a file of ``megabytes`` MB in a child process; return its peak RSS in MiB."""
    path = tmpdir / "large.csv"
    rows = generate_bytes(path, megabytes)
    size = path.stat().st_size
    print(f"generated {rows:,} rows ({size / 1e6:,.1f} MB) for the peak-memory run")
    url = f"sqlite:///{tmpdir / 'large.db'}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        [sys.executable, __file__, "--child-import", url, str(path)], check=True, env=os.environ
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    if before / 1024 > peak:
        print("  (an earlier child had a larger peak)")
    print(
        f"peak memory of a {size / 1e6:,.0f} MB import: {peak:,.0f} MiB; target "
        f"<= {TARGET_PEAK_MIB:,} MiB; ratio {peak / TARGET_PEAK_MIB:.2f}"
    )
    path.unlink()
    return peak


def main() -> None:
    """Generate the file, import it, print rows/s and the ratio to the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--geocode-rows", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("GCRM_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--one-address-only",
        action="store_true",
        help="Only compare rows at one address with distinct rows (issue 13).",
    )
    parser.add_argument("--peak-mb", type=float, default=200.0)
    parser.add_argument(
        "--peak-only", action="store_true", help="Only measure the peak memory (issue 13)."
    )
    parser.add_argument("--child-import", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import[0], Path(args.child_import[1]))
        return
    if args.peak_only:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["GCRM_DATA_DIR"] = tmp
            peak_memory(Path(tmp), args.peak_mb)
        return
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
        geo_path = tmpdir / "geocode.csv"
        generate_geocode(geo_path, args.geocode_rows)
        print(f"generated {args.geocode_rows:,} rows needing geocoding (Salesforce layout)")
        rate = run_geocode(f"sqlite:///{tmpdir / 'geo.db'}", geo_path, args.geocode_rows)
        print(
            f"SQLite, geocoding: {rate:,.0f} rows/s; target {TARGET_GEOCODE_ROWS_PER_S:,} rows/s; "
            f"ratio {rate / TARGET_GEOCODE_ROWS_PER_S:.2f}x"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process: {peak:,.0f} MiB")
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
        peak_memory(tmpdir, args.peak_mb)


if __name__ == "__main__":
    main()
