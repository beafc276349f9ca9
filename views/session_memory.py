"""Give a closed browser session's memory back: one reaper thread per server process.

Streamlit keeps a disconnected session (its ``st.session_state``: plans, maps,
data frames) for ``server.disconnectedSessionTTL`` seconds so that a dropped
connection can resume it (``.streamlit/config.toml`` sets 20 s). Its storage
only drops expired sessions on its next write, so an idle server would keep
them for good; the reaper ends them (``session.shutdown()``, as Streamlit's own
close does) and then, at a moment no page of the process runs, collects garbage and trims
the heap (:func:`gcrm.memory.release_memory`). Before the first session, glibc's mmap
threshold is fixed (:func:`gcrm.memory.tune_malloc`) so that large buffers
are returned to the system when freed, and the modules every page imports are
imported and frozen out of the garbage collector's walks
(:func:`gcrm.memory.freeze_long_lived`): a collection after a session ends then
no longer stalls the other sessions of the process.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

import streamlit as st

from gcrm.memory import SessionReaper, freeze_long_lived, tune_malloc

log = logging.getLogger(__name__)


class _StreamlitSessions:
    """Counts ended sessions of this server and ends the expired stored ones."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._warned = False

    def __call__(self) -> int:
        mgr = _session_manager()
        if mgr is None:
            return 0
        expired = self._expire(mgr)
        for info in expired:
            info.session.shutdown()
        now = {info.session.id for info in mgr.list_sessions()}
        gone = len(self._seen - now)
        self._seen = now
        return max(gone, len(expired))

    def _expire(self, mgr: Any) -> list[Any]:
        """Drop stored sessions whose reconnect window passed; return their infos."""
        try:
            cache = mgr._session_storage._cache  # Streamlit's TTLCache of stored sessions
            lock = mgr._storage_lock
        except AttributeError:
            if not self._warned:
                log.warning("this Streamlit version hides its session storage: not reaping")
                self._warned = True
            return []
        with lock:
            return [info for _key, info in cache.expire()]


def pages_running() -> bool:
    """Tell whether a page of this server process is running now (any session).

    Returns
    -------
    bool
        ``False`` outside a server.
    """
    mgr = _session_manager()
    if mgr is None:
        return False
    for info in mgr.list_active_sessions():
        state = getattr(info.session, "_state", None)  # AppSession keeps no public accessor
        if getattr(state, "value", None) == "APP_IS_RUNNING":
            return True
    return False


def _session_manager() -> Any:
    """The running server's session manager, or ``None`` outside a server."""
    from streamlit.runtime import Runtime  # the running server's runtime

    if not Runtime.exists():
        return None
    # No public accessor in Streamlit 1.x; AppTest's stand-in runtime has none at all.
    return getattr(Runtime.instance(), "_session_mgr", None)


_PAGES = Path(__file__).resolve().parent


def page_modules(folder: Path = _PAGES) -> list[str]:
    """Return the modules the pages in ``folder`` import at their top, sorted.

    ``from x import y`` gives ``x``, and ``x.y`` too where ``y`` is a module
    (finding that out imports ``x``).

    Parameters
    ----------
    folder
        The pages' folder (``views/``).

    Returns
    -------
    list of str
        Module names (``__future__`` left out).
    """
    names: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(
                    f"{node.module}.{a.name}" for a in node.names if _is_module(node.module, a.name)
                )
    names.discard("__future__")
    return sorted(names)


def _is_module(package: str, name: str) -> bool:
    try:
        return importlib.util.find_spec(f"{package}.{name}") is not None
    except (ImportError, ValueError):  # ``name`` is a function or class, not a module
        return False


def _warm_and_freeze() -> int:
    """Import what every page imports, then freeze it out of the collector's walks."""
    for name in page_modules():
        try:
            importlib.import_module(name)
        except Exception:  # a page's own import error shows on that page, not here
            log.exception("warming up: importing %s failed", name)
    return freeze_long_lived()


@st.cache_resource(show_spinner=False)
def start_session_reaper() -> SessionReaper:
    """Start this process's reaper (once; later calls return the same one)."""
    tune_malloc()  # large per-session buffers in their own maps: freed back to the system
    frozen = _warm_and_freeze()
    log.info("page modules imported; %d long-lived objects frozen out of GC walks", frozen)
    # The collection holds the GIL: wait (up to a minute) for a moment no page runs.
    return SessionReaper(
        _StreamlitSessions(), interval_s=5.0, busy=pages_running, max_defer_s=60.0
    ).start()
