"""Giving memory back to the operating system when user sessions end.

A closed browser session leaves its page state (plans, maps, data frames)
as garbage in the server process. :func:`release_memory` collects it
(``gc.collect``, for reference cycles) and asks glibc to return free heap pages
to the operating system (``malloc_trim(0)``; a no-op where glibc is absent).
A full collection walks every tracked object while holding the GIL: in an app
process with its libraries loaded (~270,000 objects) that stalls every
session for 0.2-0.3 s. :func:`freeze_long_lived` moves what lives for the whole
process (modules, classes, functions) out of the collector's sight
(``gc.freeze``), so later collections only walk what sessions made.
:class:`SessionReaper` does that from a background thread whenever sessions
ended since its last look; the app's side (``views/session_memory.py``) tells
it how many sessions ended (and ends the Streamlit sessions whose reconnect
window passed).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "MMAP_THRESHOLD",
    "Release",
    "SessionReaper",
    "freeze_long_lived",
    "mmapped_bytes",
    "release_memory",
    "rss_bytes",
    "tune_malloc",
]

#: Allocations from this size (bytes) get their own memory map and go back to the
#: system when freed (glibc's ``M_MMAP_THRESHOLD``, fixed by :func:`tune_malloc`).
MMAP_THRESHOLD = 256 * 1024

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number

log = logging.getLogger(__name__)


def rss_bytes(pid: int | None = None) -> int:
    """Return a process's resident memory (``VmRSS``) in bytes.

    Parameters
    ----------
    pid
        The process; ``None`` for this one.

    Returns
    -------
    int
        0 where ``/proc`` is not available.
    """
    try:
        with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Release:
    """What one :func:`release_memory` call did.

    Attributes
    ----------
    collected
        Unreachable objects the garbage collector found.
    trimmed
        Whether glibc's ``malloc_trim`` ran and reported releasing memory.
    rss_before, rss_after
        Resident memory (bytes) before and after.
    """

    collected: int
    trimmed: bool
    rss_before: int
    rss_after: int

    @property
    def freed(self) -> int:
        """Bytes of resident memory given back (negative if it grew meanwhile)."""
        return self.rss_before - self.rss_after


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _malloc_trim() -> bool:
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:  # not glibc (musl, macOS)
        return False
    return bool(trim(0))


def tune_malloc(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold so that large buffers go back to the system when freed.

    glibc raises its threshold (up to 32 MB) each time a mapped block is freed,
    after which a session's large buffers (query results, map HTML, frames) land
    in the heap, between long-lived objects, where freeing them cannot return
    the pages. A fixed threshold keeps them in their own maps. An operator's
    ``MALLOC_MMAP_THRESHOLD_`` environment variable wins (nothing is changed).

    Parameters
    ----------
    threshold
        Bytes from which an allocation is mapped on its own.

    Returns
    -------
    bool
        Whether the setting was applied (false without glibc, or when the
        environment sets it).
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def mmapped_bytes() -> int | None:
    """Return the bytes glibc holds in blocks mapped on their own (``mallinfo2().hblkhd``).

    Returns
    -------
    int or None
        ``None`` without glibc 2.33+.
    """
    fn = getattr(_libc(), "mallinfo2", None)
    if fn is None:
        return None
    fn.restype = _MallInfo2
    return int(fn().hblkhd)


def release_memory() -> Release:
    """Collect garbage and return free heap pages to the operating system.

    Returns
    -------
    Release
        Objects collected, whether ``malloc_trim`` released memory, and the
        resident memory before and after.
    """
    before = rss_bytes()
    collected = gc.collect()
    trimmed = _malloc_trim()
    return Release(collected, trimmed, before, rss_bytes())


def freeze_long_lived() -> int:
    """Collect once, then keep every object alive now out of later collections.

    Call it once per process, after its libraries are imported and before
    sessions hold much (``gc.freeze``: the objects move to a permanent
    generation that no collection walks; reference counting still frees them,
    only reference cycles among them would stay). A full collection then costs
    milliseconds instead of a 0.2-0.3 s stall of every session in the process.

    Returns
    -------
    int
        How many objects are frozen now.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class SessionReaper:
    """Release memory in the background after user sessions end.

    Every ``interval_s`` seconds it calls ``ended()``, which returns how many
    sessions ended since the last call (and may end expired ones itself);
    when that is positive, it calls :func:`release_memory`. The collection
    holds the GIL, so with ``busy`` it waits for a moment when no page of the
    process is running (looking every ``idle_poll_s``), but not longer than
    ``max_defer_s``.

    Parameters
    ----------
    ended
        Counts (and cleans up) the sessions that ended since its last call.
    interval_s
        Seconds between looks.
    busy
        Tells whether a page (script run) of the process is running now;
        ``None``: never wait.
    max_defer_s
        Longest wait for an idle moment, in seconds.
    idle_poll_s
        Seconds between looks for an idle moment while a release waits.
    """

    def __init__(
        self,
        ended: Callable[[], int],
        *,
        interval_s: float = 5.0,
        busy: Callable[[], bool] | None = None,
        max_defer_s: float = 60.0,
        idle_poll_s: float = 0.1,
    ) -> None:
        self._ended = ended
        self._interval = interval_s
        self._busy = busy
        self._max_defer = max_defer_s
        self._idle_poll = idle_poll_s
        self._pending = 0  # sessions ended whose memory is not released yet
        self._pending_since = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gcrm-session-reaper", daemon=True)
        self.releases: list[Release] = []  # the last few, newest last
        self.deferred = 0  # looks that found sessions ended but the process busy

    def start(self) -> SessionReaper:
        """Start the background thread (once).

        Returns
        -------
        SessionReaper
            Itself.
        """
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it.

        Parameters
        ----------
        timeout
            Seconds to wait.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def check(self) -> Release | None:
        """Look once: release memory if sessions ended (and the process is idle).

        Returns
        -------
        Release or None
            The release, or ``None`` if no session ended or the release waits
            for an idle moment.
        """
        try:
            n = self._ended()
        except Exception:  # the reaper must never die: log and look again later
            log.exception("counting ended sessions failed")
            n = 0
        if n > 0:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending += n
        if self._pending <= 0:
            return None
        waited = time.monotonic() - self._pending_since
        if waited < self._max_defer and self._is_busy():
            self.deferred += 1
            return None
        n, self._pending = self._pending, 0
        rel = release_memory()
        self.releases = [*self.releases[-9:], rel]
        log.info(
            "%d session(s) ended: collected %d objects, RSS %.0f -> %.0f MB",
            n,
            rel.collected,
            rel.rss_before / 2**20,
            rel.rss_after / 2**20,
        )
        return rel

    def _is_busy(self) -> bool:
        if self._busy is None:
            return False
        try:
            return bool(self._busy())
        except Exception:  # cannot tell: release rather than keep the memory
            log.exception("asking whether pages run failed")
            return False

    def _run(self) -> None:
        while not self._stop.wait(self._idle_poll if self._pending else self._interval):
            self.check()
