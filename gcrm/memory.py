"""Giving memory back to the operating system when user sessions end.

A closed browser session leaves its page state (plans, maps, data frames)
as garbage in the server process. :func:`release_memory` collects it
(``gc.collect``, for reference cycles) and asks glibc to return free heap pages
to the operating system (``malloc_trim(0)``; a no-op where glibc is absent).
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
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Release", "SessionReaper", "release_memory", "rss_bytes"]

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


class SessionReaper:
    """Release memory in the background after user sessions end.

    Every ``interval_s`` seconds it calls ``ended()``, which returns how many
    sessions ended since the last call (and may end expired ones itself);
    when that is positive, it calls :func:`release_memory`.

    Parameters
    ----------
    ended
        Counts (and cleans up) the sessions that ended since its last call.
    interval_s
        Seconds between looks.
    """

    def __init__(self, ended: Callable[[], int], *, interval_s: float = 5.0) -> None:
        self._ended = ended
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gcrm-session-reaper", daemon=True)
        self.releases: list[Release] = []  # the last few, newest last

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
        """Look once: release memory if sessions ended.

        Returns
        -------
        Release or None
            The release, or ``None`` if no session ended.
        """
        try:
            n = self._ended()
        except Exception:  # the reaper must never die: log and look again later
            log.exception("counting ended sessions failed")
            return None
        if n <= 0:
            return None
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

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()
