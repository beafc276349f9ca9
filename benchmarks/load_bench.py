"""A sales team at once: N simulated users against one process and the scaled-out set-up.

Usage::

    python benchmarks/load_bench.py --postgres URL [--users 1,10,20] [--apps 2] [--workers 1]

Each user speaks Streamlit's websocket protocol (``--client ws``, the
default: :mod:`st_protocol`, the browser's own messages without a browser, so
50 users fit beside the server on a 2-core machine) or is a context of one
headless Debian Chromium (``--client browser``; the browsers then take most of
the CPU). A user logs in, opens Accounts, the Prospect map and Territories
(managers, analysts) or My day (reps; ``--optimise``: then presses Optimise),
with 1-3 s of think time between actions, ``--rounds`` times; "login" is timed from
pressing "Log in" to the landing page drawn. Users arrive ``--spawn-rate``
per second (2 by default, as Locust's spawn rate or JMeter's ramp-up: a team
does not press "Log in" within the same second; 0 puts all N within 2 s, a
morning-rush burst, reported apart). N = 1 is ``--solo-repeats`` runs of the
four demo users in turn, the same mix as the N users (12 logins and 18-24
opens of each page by default), so the p95 the others are compared with is
not the larger of two samples; every app process is first warmed up by each
of the four.

At N = 1 a manager and then a rep run alone, and the server's CPU seconds
(from ``/proc``) between an action's start and its end are printed as that
action's cost: on a 2-core machine N users each doing one action per ~3 s
need N x (CPU per action) / 3 s cores; within one app process the script runs
take turns on one core (the GIL), so a 0.07 CPU-s page that arrives with a burst
of logins (0.1 CPU-s each, a third of it argon2id) waits for them. Both, and the
other work on a shared machine, bound the N = 20 ratio.
``--baseline REF`` measures the same per-action CPU for commit ``REF`` (a
``git archive`` copy, single process) in the same run.

Two set-ups are measured in the same run, on one fresh PostgreSQL/PostGIS
demo database: a single ``streamlit run`` process, and ``scripts/serve.sh``
(``--apps`` processes behind nginx with sticky sessions, plus ``--workers``
job workers). Per action: p50 and p95 seconds and errors (an exception box
on the page, or a time-out). Target (issue 19): at N = 20, the scaled-out p95
of every action <= 3x its N = 1 value; errors 0. The machine is shared with
other work, so the figures are taken under load; server CPU seconds are
printed per run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
ACTIONS = ("login", "accounts", "prospect_map", "territories", "my_day", "optimise")
PAGES = {
    "accounts": "Accounts",
    "prospect_map": "Prospect map",
    "territories": "Territories",
    "my_day": "My day",
}
TIMEOUT_MS = 180_000
#: The demo users the simulated team is made of, in turn (user i is USERS[i % 4]).
USERS = ("manager", "analyst", "rep1", "rep2")
TARGET_RATIO = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    msg = f"{url} did not answer"
    raise RuntimeError(msg)


def _pids_cpu(pids: list[int]) -> float:
    """User+system CPU seconds of processes and their children (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick
    return total


async def _settled(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished running the page script."""
    await page.wait_for_timeout(150)
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=TIMEOUT_MS,
        polling=100,
    )


async def _user(
    browser,
    base: str,
    n: int,
    rounds: int,
    out: list,
    rng,
    *,
    keep_open: bool = False,
    start: float = 0.0,
) -> None:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    username = USERS[n % len(USERS)]

    async def timed(action: str, coro) -> None:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        error = None
        try:
            await coro
            await _settled(page)
            if await page.locator('[data-testid="stException"]').count():
                error = "exception on the page"
        except Exception as exc:  # a time-out or a crash is an error of this action
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        out.append((action, time.perf_counter() - t, error, float("nan")))

    async def login() -> None:
        await page.goto(base, timeout=TIMEOUT_MS)
        await page.get_by_label("Username", exact=True).fill(username)
        await page.get_by_label("Password", exact=True).fill("demo")
        await page.get_by_role("button", name="Log in").click()
        # Reps land on My day, the others on Accounts.
        landing = "My day" if username.startswith("rep") else "Accounts"
        await page.get_by_role("heading", name=landing).first.wait_for(timeout=TIMEOUT_MS)

    async def open_page(key: str) -> None:
        # A click that lands while the previous script run is still finishing can be
        # dropped by the page: click again until the page's heading shows.
        heading = page.get_by_role("heading", name=PAGES[key]).first
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            await page.get_by_role("link", name=PAGES[key]).first.click()
            try:
                await heading.wait_for(timeout=10_000)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        if key == "prospect_map":
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while time.monotonic() < deadline:
                frames = [f for f in page.frames if "component" in f.url]
                if frames and await frames[0].locator("path.leaflet-interactive, canvas").count():
                    return
                await page.wait_for_timeout(200)
            raise TimeoutError("the map did not draw")

    await asyncio.sleep(start)
    await timed("login", login())
    for _ in range(rounds):
        for key in PAGES:
            await asyncio.sleep(rng.uniform(1, 3))
            if username.startswith("rep") and key == "territories":
                continue
            await timed(key, open_page(key))
    if not keep_open:
        await context.close()


async def _ws_user(  # type: ignore[no-untyped-def]
    base: str,
    n: int,
    rounds: int,
    out: list,
    rng,
    *,
    cpu=None,
    optimise: bool = False,
    start: float = 0.0,
) -> None:
    """One protocol-level user; ``cpu`` (N = 1 only) reads the server's CPU seconds."""
    from st_protocol import ProtocolUser

    username = USERS[n % len(USERS)]
    landing = "My day" if username.startswith("rep") else "Accounts"

    async def timed(action: str, coro, heading: str) -> None:  # type: ignore[no-untyped-def]
        error = None
        seconds = float("nan")
        cpu0 = cpu() if cpu else float("nan")
        try:
            seconds = await coro
            if user.exceptions:
                error = f"exception on the page: {user.exceptions[0]}"
            elif heading not in user.headings:
                error = f"landed on {user.headings[:1]}, not {heading}"
        except Exception as exc:  # a time-out or a dropped connection is an error
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        out.append((action, seconds, error, (cpu() - cpu0) if cpu else float("nan")))

    await asyncio.sleep(start)
    user = ProtocolUser(base, timeout_s=TIMEOUT_MS / 1000)
    try:
        await user.__aenter__()
        await user.open()
    except Exception as exc:  # the first page never came: this user's login failed
        msg = f"first page: {type(exc).__name__}: {exc}"[:160]
        out.append(("login", float("nan"), msg, float("nan")))
        if user._ws is not None:
            await user.__aexit__()
        return
    try:
        await asyncio.sleep(rng.uniform(1, 3))
        await timed("login", user.log_in(username, "demo"), landing)
        for _ in range(rounds):
            for key, title in PAGES.items():
                rep = username.startswith("rep")
                if (rep and key == "territories") or (not rep and key == "my_day"):
                    continue  # reps have no Territories page; My day is a rep's page
                await asyncio.sleep(rng.uniform(1, 3))
                await timed(key, user.go(title), title)
                if key == "my_day" and optimise:
                    await asyncio.sleep(rng.uniform(1, 3))
                    await timed("optimise", user.press("Optimise"), title)
    finally:
        await user.__aexit__()


async def _drive(  # type: ignore[no-untyped-def,type-arg]
    base: str, users: int, rounds: int, client: str = "ws", *, cpu=None, optimise: bool = False,
    first: int = 0, spawn_rate: float = 0.0,
) -> list:  # fmt: skip
    """Run ``users`` users; they arrive ``spawn_rate`` per second (0: all within 2 s)."""
    from playwright.async_api import async_playwright

    rng = random.Random(users)
    starts = [_arrival(i, spawn_rate, rng) for i in range(users)]
    if client == "ws":
        out: list = []  # type: ignore[type-arg]
        await asyncio.gather(
            *(_ws_user(base, first + i, rounds, out, rng, cpu=cpu, optimise=optimise,
                       start=starts[i])
              for i in range(users))
        )  # fmt: skip
        return out

    out = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking"],
        )  # fmt: skip
        await asyncio.gather(
            *(_user(browser, base, i, rounds, out, rng, start=starts[i]) for i in range(users))
        )
        await browser.close()
    return out


def _arrival(i: int, spawn_rate: float, rng: random.Random) -> float:
    """Seconds after the start at which user ``i`` opens the app.

    ``spawn_rate`` users per second, each at a random moment of their slot (as
    Locust's spawn rate or JMeter's ramp-up); 0: everybody within the first 2 s.
    """
    if spawn_rate <= 0:
        return rng.uniform(0, 2)
    return (i + rng.random()) / spawn_rate


def _stats(rows: list) -> dict[str, tuple[float, float, int, int, float]]:  # type: ignore[type-arg]
    """Per action: p50, p95, successes, errors and median server CPU seconds (N = 1)."""
    out = {}
    for action in ACTIONS:
        times = sorted(t for a, t, e, _ in rows if a == action and e is None)
        errors = sum(1 for a, _, e, _ in rows if a == action and e is not None)
        cpus = [c for a, _, e, c in rows if a == action and e is None and c == c]
        cpu = statistics.median(cpus) if cpus else float("nan")
        if not times:
            out[action] = (float("nan"), float("nan"), 0, errors, cpu)
            continue
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        out[action] = (statistics.median(times), p95, len(times), errors, cpu)
    return out


def _start_single(  # type: ignore[type-arg]
    env: dict[str, str], folder: str, root: Path = ROOT
) -> tuple[str, list[subprocess.Popen]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=root, env={**env, "GCRM_JOBS": "queue"},
        stdout=open(Path(folder) / f"single-{port}.log", "w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "gcrm", "worker"], cwd=root, env={**env, "GCRM_JOBS": "queue"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
    return f"http://127.0.0.1:{port}", [proc, worker]


def _start_scaled(env: dict[str, str], folder: str, apps: int, workers: int) -> tuple[str, Path]:
    port = _free_port()
    serve = Path(folder) / "serve"
    senv = {
        **env,
        "GCRM_APPS": str(apps),
        "GCRM_WORKERS": str(workers),
        "GCRM_HTTP_PORT": str(port),
        "GCRM_APP_PORT": str(_free_port()),
        "GCRM_SERVE_DIR": str(serve),
        "GCRM_SERVE_DETACH": "1",
    }
    subprocess.run(["bash", "scripts/serve.sh"], cwd=ROOT, env=senv, check=True)
    _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
    return f"http://127.0.0.1:{port}", serve


def _serve_pids(serve: Path) -> list[int]:
    return [int(p.read_text()) for p in serve.glob("*.pid") if p.read_text().strip().isdigit()]


def _postgres_db(server: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"gcrm_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = make_url(server).set(drivername="postgresql+psycopg", database=name)
    return db.render_as_string(hide_password=False), name


def _run(  # type: ignore[type-arg]
    label: str, base: str, pids: list[int], users: list[int], rounds: int, client: str,
    *, optimise: bool = False, processes: int = 1, solo_repeats: int = 3,
    spawn_rate: float = 0.0,
) -> dict:  # fmt: skip
    results = {}
    # Warm up every app process (new sessions are spread over them): each of the four
    # users per process, so the N = 1 figures do not carry one process's first imports
    # and loads, and N users do not meet maps and counts never drawn for their scope.
    for _ in range(2 * processes):
        for first in range(len(USERS)):
            asyncio.run(_drive(base, 1, 1, client, optimise=optimise, first=first))
    for n in users:
        cpu0, t0 = _pids_cpu(pids), time.perf_counter()
        if n == 1:
            # One user at a time, each of the team's four in turn (the same mix as N
            # users), so every server CPU second between an action's start and end is
            # that action's own; ``solo_repeats`` times, so the p95 the others are
            # judged against is not the larger of two samples.
            rows = []
            for _ in range(solo_repeats):
                for first in range(len(USERS)):
                    rows += asyncio.run(
                        _drive(base, 1, rounds, client, cpu=lambda: _pids_cpu(pids),
                               optimise=optimise, first=first)
                    )  # fmt: skip
        else:
            rows = asyncio.run(
                _drive(base, n, rounds, client, optimise=optimise, spawn_rate=spawn_rate)
            )
        wall, cpu = time.perf_counter() - t0, _pids_cpu(pids) - cpu0
        results[n] = _stats(rows)
        done = sum(1 for r in rows if r[2] is None)
        print(f"\n{label}, N = {n}: {wall:.0f} s wall, server CPU {cpu:.0f} s "
              f"({cpu / max(done, 1):.2f} s per action; {cpu / wall:.2f} cores busy)")  # fmt: skip
        print(f"{'action':14} {'p50 s':>7} {'p95 s':>7} {'ok':>4} {'errors':>6} {'CPU s':>6}")
        for action, (p50, p95, ok, err, c) in results[n].items():
            if ok or err:
                print(f"{action:14} {p50:7.2f} {p95:7.2f} {ok:4d} {err:6d} {c:6.2f}")
        for a, _, e, _ in rows:
            if e:
                print(f"  error in {a}: {e}")
    return results


def _baseline_tree(ref: str, folder: str) -> Path:
    """A copy of commit ``ref``'s files (``git archive``), with our virtualenv and map assets."""
    tree = Path(folder) / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", ref], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    (tree / ".venv").symlink_to((ROOT / ".venv").resolve())
    vendor = ROOT / "static" / "vendor"
    if vendor.exists() and not (tree / "static" / "vendor").exists():
        (tree / "static").mkdir(exist_ok=True)
        (tree / "static" / "vendor").symlink_to(vendor.resolve())
    return tree


def _cpu_compare(env: dict[str, str], folder: str, ref: str, ours: dict, *, optimise: bool) -> None:  # type: ignore[type-arg]
    """Server CPU seconds per action at N = 1: commit ``ref`` against this tree, same run."""
    base, procs = _start_single(env, folder, _baseline_tree(ref, folder))
    try:
        theirs = _run(
            f"baseline {ref}, single process", base, [p.pid for p in procs], [1], 2, "ws",
            optimise=optimise,
        )[1]  # fmt: skip
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
    print(f"\nServer CPU s per action at N = 1 (median): {ref} -> this tree")
    for action in ACTIONS:
        before, after = theirs[action][4], ours[action][4]
        if before == before and after == after:
            ratio = after / before if before else float("nan")
            print(f"{action:14} {before:6.2f} -> {after:6.2f}  ({ratio:.2f}x)")


def main() -> None:
    """Start both set-ups on one demo database and drive N users against each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=os.environ.get("GCRM_TEST_POSTGRES_URL"))
    parser.add_argument("--users", default="1,10,20,50")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="times each user goes through the pages (3: 30 Territories and 60 Accounts "
        "samples at N = 20, so the p95 is not the second-largest of 20)",
    )  # fmt: skip
    parser.add_argument(
        "--solo-repeats", type=int, default=3,
        help="N = 1 runs of the four users in turn per set-up: 4 x this many logins",
    )  # fmt: skip
    parser.add_argument(
        "--spawn-rate", type=float, default=2.0,
        help="users arriving per second (as Locust's spawn rate); 0: all within 2 s",
    )  # fmt: skip
    parser.add_argument("--apps", type=int, default=2)
    parser.add_argument(
        "--no-single", action="store_true",
        help="skip the single-process baseline (quicker trials; the target needs it)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--client", choices=["ws", "browser"], default="ws")
    parser.add_argument(
        "--optimise", action="store_true", help="reps also press Optimise on My day"
    )
    parser.add_argument(
        "--baseline", metavar="REF",
        help="also measure server CPU per action at N = 1 for commit REF (single process)",
    )  # fmt: skip
    args = parser.parse_args()
    if not args.postgres:
        sys.exit("needs --postgres URL (a PostgreSQL server with PostGIS)")
    if not shutil.which(os.environ.get("GCRM_NGINX", "nginx")):
        sys.exit("nginx is not installed; the scaled-out set-up needs it (Debian: nginx-light)")
    users = [int(u) for u in args.users.split(",")]
    from sqlalchemy import create_engine, text

    url, name = _postgres_db(args.postgres)
    with create_engine(url).connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        conn.commit()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GCRM_DATABASE_URL": url, "GCRM_DATA_DIR": tmp}
        subprocess.run(
            [sys.executable, "-m", "gcrm", "setup"], cwd=ROOT, env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        single: dict = {}  # type: ignore[type-arg]
        if not args.no_single:
            base, procs = _start_single(env, tmp)
            try:
                single = _run(
                    "single process", base, [p.pid for p in procs], users, args.rounds,
                    args.client, optimise=args.optimise, solo_repeats=args.solo_repeats,
                    spawn_rate=args.spawn_rate,
                )  # fmt: skip
            finally:
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                    p.wait(30)
        base, serve = _start_scaled(env, tmp, args.apps, args.workers)
        try:
            scaled = _run(
                f"scaled out ({args.apps} apps + nginx)", base, _serve_pids(serve), users,
                args.rounds, args.client, optimise=args.optimise, processes=args.apps,
                solo_repeats=args.solo_repeats, spawn_rate=args.spawn_rate,
            )  # fmt: skip
        finally:
            subprocess.run(["bash", "scripts/serve.sh", "stop"], cwd=ROOT, check=False,
                           env={**env, "GCRM_SERVE_DIR": str(serve)})  # fmt: skip
        if args.baseline and 1 in single:
            _cpu_compare(env, tmp, args.baseline, single[1], optimise=args.optimise)
    print("\np95 vs N = 1 per action (target: scaled out, N = 20, <= 3x; errors 0)")
    first = users[0]
    ok = True
    for n in users[1:]:
        for action in ACTIONS:
            if not (scaled[n][action][2] and scaled[first][action][2]):
                continue  # not measured (e.g. Optimise without --optimise)
            r_single = single[n][action][1] / single[first][action][1] if single else float("nan")
            r_scaled = scaled[n][action][1] / scaled[first][action][1]
            judged = n == 20
            good = r_scaled <= TARGET_RATIO
            ok &= good or not judged
            mark = ("yes" if good else "NO") if judged else ""
            print(f"N={n:<3} {action:14} single {r_single:6.2f}x   scaled {r_scaled:6.2f}x {mark}")
    errors = sum(v[3] for r in (single, scaled) for s in r.values() for v in s.values())
    print(f"errors: {errors}")
    ok &= errors == 0 and 20 in users and not args.no_single
    print("target met" if ok else "TARGET MISSED")
    _drop(args.postgres, name)
    sys.exit(0 if ok else 1)


def _drop(server: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
