"""Memory given back when sessions end (issue 19): gcrm.memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gcrm.memory import SessionReaper, mmapped_bytes, tune_malloc

_GARBAGE_PROBE = """
import gc, json
from gcrm.memory import release_memory, rss_bytes
gc.collect()
base = rss_bytes()
gc.disable()
keep = []
for i in range(60_000):  # reference cycles of about 1 KB each: only gc frees them
    a = {"payload": [i] * 100}
    b = {"other": a, "payload": [i] * 100}
    a["other"] = b
    keep.append(a)
del keep, a, b
held = rss_bytes()
rel = release_memory()
print(json.dumps({"base": base, "held": held, "collected": rel.collected,
                  "before": rel.rss_before, "freed": rel.freed}))
"""


def test_release_memory_frees_cyclic_garbage_and_gives_it_back() -> None:
    # In a fresh process: a long-lived one (the test run) reuses its own free memory.
    out = subprocess.run(
        [sys.executable, "-c", _GARBAGE_PROBE], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    r = json.loads(out.stdout)
    grown = r["held"] - r["base"]
    assert grown > 60 * 2**20, r  # about 100 MB unreachable but not yet freed
    assert r["collected"] >= 120_000
    assert r["before"] >= r["held"] - 2**20
    assert r["freed"] > 0.6 * grown, r  # most of it went back to the operating system


_FREEZE_PROBE = """
import gc, json
import pandas, sqlalchemy  # a process's long-lived objects
from gcrm.memory import freeze_long_lived, release_memory
tracked = len(gc.get_objects())
frozen = freeze_long_lived()
walked_after = len(gc.get_objects())  # what a full collection walks now
cycles = []
for i in range(20_000):  # a session's page state: reference cycles made later
    a = {"i": i}
    a["self"] = a
    cycles.append(a)
del cycles, a
rel = release_memory()
print(json.dumps({"tracked": tracked, "frozen": frozen, "walked_after": walked_after,
                  "collected": rel.collected}))
"""


def test_frozen_long_lived_objects_leave_later_garbage_collectable() -> None:
    """After freezing, a collection walks few objects and still frees later cycles."""
    out = subprocess.run(
        [sys.executable, "-c", _FREEZE_PROBE], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    r = json.loads(out.stdout)
    assert r["frozen"] >= 0.9 * r["tracked"], r  # the libraries' objects are out of the walk
    assert r["walked_after"] < 0.05 * r["tracked"], r
    assert r["collected"] >= 20_000, r  # a closed session's cycles are still freed


def test_reaper_releases_only_after_sessions_end() -> None:
    ended = iter([0, 2, 0])
    reaper = SessionReaper(lambda: next(ended))
    assert reaper.check() is None
    rel = reaper.check()
    assert rel is not None and rel.rss_after > 0
    assert reaper.check() is None
    assert reaper.releases == [rel]


def test_reaper_waits_for_an_idle_moment_but_not_for_ever() -> None:
    """Sessions ended while pages run: release when none runs, or after max_defer_s."""
    ended = iter([1, 0, 0, 0])
    running = [True]
    reaper = SessionReaper(lambda: next(ended), busy=lambda: running[0], max_defer_s=3600)
    assert reaper.check() is None and reaper.deferred == 1  # a page runs: wait
    assert reaper.check() is None and reaper.deferred == 2
    running[0] = False
    assert reaper.check() is not None  # idle now: the pending release happens
    assert reaper.check() is None and reaper.deferred == 2  # nothing pending, nothing waits
    patient = SessionReaper(lambda: 1, busy=lambda: True, max_defer_s=0.0)
    assert patient.check() is not None  # waited long enough: released although busy


def test_reaper_thread_releases_when_the_pages_stop() -> None:
    running = threading.Event()
    running.set()
    ended = iter([1])
    reaper = SessionReaper(
        lambda: next(ended, 0), interval_s=0.02, busy=running.is_set, idle_poll_s=0.01
    ).start()
    time.sleep(0.3)
    assert reaper.releases == [] and reaper.deferred > 3
    running.clear()
    deadline = time.monotonic() + 5
    while not reaper.releases and time.monotonic() < deadline:
        time.sleep(0.01)
    reaper.stop()
    assert len(reaper.releases) == 1


def test_reaper_thread_survives_a_failing_count_and_stops() -> None:
    calls: list[int] = []
    done = threading.Event()

    def ended() -> int:
        calls.append(1)
        if len(calls) == 1:
            msg = "storage changed"
            raise RuntimeError(msg)
        if len(calls) >= 3:
            done.set()
        return 1

    reaper = SessionReaper(ended, interval_s=0.02).start()
    assert done.wait(5)
    reaper.stop()
    assert len(reaper.releases) >= 1
    n = len(calls)
    time.sleep(0.1)
    assert len(calls) == n  # stopped


_MMAP_PROBE = """
import sys
from gcrm.memory import mmapped_bytes, tune_malloc
big = bytearray(8_000_000)
del big  # glibc now raises its mmap threshold to 8 MB
if sys.argv[1] == "tuned":
    assert tune_malloc()
before = mmapped_bytes()
buf = bytearray(400_000)  # a session's query result or map HTML
print(mmapped_bytes() - before)
"""


def _mapped_delta(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _MMAP_PROBE, mode], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
        env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
    )  # fmt: skip
    return int(out.stdout)


@pytest.mark.skipif(mmapped_bytes() is None, reason="needs glibc 2.33+ (mallinfo2)")
def test_tuned_malloc_maps_large_buffers_on_their_own() -> None:
    # Untuned, the 400 KB buffer lands in the heap after glibc raised its threshold.
    assert _mapped_delta("default") == 0
    assert _mapped_delta("tuned") >= 400_000


def test_an_operators_malloc_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert tune_malloc() is False
