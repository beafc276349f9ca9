"""CPU seconds of the command line in a fresh process: ``--help`` lazy, target <= 0.6 s (issue 19).

Usage::

    python benchmarks/cli_bench.py [--runs 3]

Each case runs ``python -m gcrm ...`` in a new process (``--runs`` times) and
reports the median CPU seconds (user + system) and wall seconds of the child.
The baseline in the same run is the whole Typer app loaded eagerly (every
command module imported, as before the lazy group): the ratio reads how much
``--help`` saves on this machine now. A command group's help imports only its
own module (e.g. ``territories`` does not load routing or the importer).
Exit status 1 when ``--help`` takes more than 0.6 CPU seconds.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_CPU_S = 0.6
EAGER = "import sys; from gcrm.cli import app; sys.argv = ['gcrm', '--help']; app()"
CASES = {
    "gcrm --help (lazy)": ["-m", "gcrm", "--help"],
    "gcrm --help (every module, baseline)": ["-c", EAGER],
    "gcrm territories --help": ["-m", "gcrm", "territories", "--help"],
    "gcrm users --help": ["-m", "gcrm", "users", "--help"],
}


def _child(args: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, timeout=300)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    """Time each case, print a table, exit 1 when ``--help`` misses the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'case':40} {'median CPU s':>13} {'median wall s':>14}")
    cpu_of = {}
    for label, argv in CASES.items():
        runs = [_child(argv) for _ in range(args.runs)]
        cpu_of[label] = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(f"{label:40} {cpu_of[label]:13.3f} {wall:14.3f}")
    lazy, eager = cpu_of["gcrm --help (lazy)"], cpu_of["gcrm --help (every module, baseline)"]
    print(f"--help CPU: {lazy:.3f} s = {lazy / eager:.2f} x the eager app's {eager:.3f} s")
    ok = lazy <= TARGET_CPU_S
    print(f"PASS --help <= {TARGET_CPU_S} CPU s" if ok else f"FAIL --help > {TARGET_CPU_S} CPU s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
