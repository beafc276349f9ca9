"""Memory given back when sessions end (issue 19): gcrm.memory."""

from __future__ import annotations

import gc
import threading
import time

from gcrm.memory import SessionReaper, release_memory, rss_bytes


def _cyclic_garbage(n: int) -> None:
    """Make ``n`` reference cycles of about 1 KB each and drop them (only gc frees them)."""
    keep = []
    for i in range(n):
        a: dict[str, object] = {"payload": [i] * 100}
        b: dict[str, object] = {"other": a, "payload": [i] * 100}
        a["other"] = b
        keep.append(a)
    del keep


def test_release_memory_frees_cyclic_garbage_and_gives_it_back() -> None:
    gc.collect()
    base = rss_bytes()
    gc.disable()
    try:
        _cyclic_garbage(60_000)  # about 100 MB, unreachable but not yet freed
        held = rss_bytes()
        rel = release_memory()
    finally:
        gc.enable()
    assert held - base > 60 * 2**20, (base, held)
    assert rel.collected >= 120_000
    assert rel.rss_before >= held - 2**20
    # Most of the garbage went back to the operating system.
    assert rel.freed > 0.6 * (held - base), (base, held, rel)


def test_reaper_releases_only_after_sessions_end() -> None:
    ended = iter([0, 2, 0])
    reaper = SessionReaper(lambda: next(ended))
    assert reaper.check() is None
    rel = reaper.check()
    assert rel is not None and rel.rss_after > 0
    assert reaper.check() is None
    assert reaper.releases == [rel]


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
