"""CPU seconds of the command line in a fresh process: every ``--help`` lazy (issue 19).

Usage::

    python benchmarks/cli_bench.py [--runs 3]

Each case runs ``python -m gcrm ...`` in a new process (``--runs`` times) and
reports the median CPU seconds (user + system) and wall seconds of the child.
The baseline in the same run is the whole Typer app loaded eagerly (every
command module imported, as before the lazy group): the ratio reads how much
``--help`` saves on this machine now. A command group's help imports only its
own module (e.g. ``territories`` does not load routing or the importer), and
that module names the capabilities its command bodies call as lazy modules, so
``gcrm GROUP --help`` is measured for every top-level command and group.
Exit status 1 when ``--help`` takes more than 0.6 CPU seconds or any group's or
command's help more than 0.4 (the baseline before the lazy group modules: about
1.3 CPU seconds for ``gcrm users --help`` on this machine).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcrm.cli import COMMANDS  # the table only: no command module is loaded

ROOT = Path(__file__).resolve().parents[1]
TARGET_CPU_S = 0.6
GROUP_TARGET_CPU_S = 0.4
EAGER = "import sys; from gcrm.cli import app; sys.argv = ['gcrm', '--help']; app()"
#: ``gcrm users --help`` as before the lazy group modules: the users module's imports loaded.
USERS_BEFORE = (
    "import sys, pandas, gcrm.auth, gcrm.home_base, gcrm.store; from gcrm.cli import main; "
    "sys.argv = ['gcrm', 'users', '--help']; main()"
)
CASES = {
    "gcrm users --help (its imports eager, baseline)": ["-c", USERS_BEFORE],
    "gcrm --help (lazy)": ["-m", "gcrm", "--help"],
    "gcrm --help (every module, baseline)": ["-c", EAGER],
    **{f"gcrm {name} --help": ["-m", "gcrm", name, "--help"] for name in COMMANDS},
    "gcrm users add --help": ["-m", "gcrm", "users", "add", "--help"],
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
    """Time each case, print a table, exit 1 when a help misses its target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'case':50} {'median CPU s':>13} {'median wall s':>14}")
    cpu_of = {}
    for label, argv in CASES.items():
        runs = [_child(argv) for _ in range(args.runs)]
        cpu_of[label] = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(f"{label:50} {cpu_of[label]:13.3f} {wall:14.3f}")
    lazy, eager = cpu_of["gcrm --help (lazy)"], cpu_of["gcrm --help (every module, baseline)"]
    print(f"--help CPU: {lazy:.3f} s = {lazy / eager:.2f} x the eager app's {eager:.3f} s")
    ok = lazy <= TARGET_CPU_S
    print(f"PASS --help <= {TARGET_CPU_S} CPU s" if ok else f"FAIL --help > {TARGET_CPU_S} CPU s")
    groups = {k: v for k, v in cpu_of.items() if k.endswith("--help")}
    before = cpu_of["gcrm users --help (its imports eager, baseline)"]
    users = cpu_of["gcrm users --help"]
    print(f"gcrm users --help CPU: {users:.3f} s = {users / before:.2f} x {before:.3f} s eager")
    slow = {k: v for k, v in groups.items() if v > GROUP_TARGET_CPU_S}
    worst = max(groups, key=groups.__getitem__)
    print(f"slowest group/command help: {worst}: {groups[worst]:.3f} CPU s "
          f"= {groups[worst] / before:.2f} x users' eager baseline")  # fmt: skip
    if slow:
        print(f"FAIL help > {GROUP_TARGET_CPU_S} CPU s: {', '.join(sorted(slow))}")
    else:
        print(f"PASS every group's and command's help <= {GROUP_TARGET_CPU_S} CPU s")
    sys.exit(0 if ok and not slow else 1)


if __name__ == "__main__":
    main()
