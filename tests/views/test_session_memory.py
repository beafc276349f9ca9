"""The app's session reaper against Streamlit's real session storage (issue 19)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from views import session_memory


@dataclass
class _Session:
    id: str
    state: list[int] = field(default_factory=lambda: list(range(1000)))
    shut: bool = False

    def shutdown(self) -> None:
        self.shut = True


class _Manager:
    """The two attributes and one method the reaper uses, as Streamlit 1.x has them."""

    def __init__(self, ttl_s: int) -> None:
        self._session_storage = MemorySessionStorage(ttl_seconds=ttl_s)
        self._storage_lock = threading.Lock()
        self.active: list[SessionInfo] = []

    def list_sessions(self) -> list[SessionInfo]:
        return self.active + self._session_storage.list()


def test_closed_sessions_are_ended_after_their_reconnect_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mgr = _Manager(ttl_s=1)
    monkeypatch.setattr(session_memory, "_session_manager", lambda: mgr)
    count = session_memory._StreamlitSessions()
    a, b, c = _Session("a"), _Session("b"), _Session("c")
    mgr.active = [SessionInfo(client=None, session=s) for s in (a, b, c)]  # type: ignore[arg-type]
    assert count() == 0
    # Two tabs close: Streamlit stores them for reconnecting.
    mgr.active = mgr.active[:1]
    for s in (b, c):
        mgr._session_storage.save(SessionInfo(client=None, session=s))  # type: ignore[arg-type]
    assert count() == 0  # still resumable
    assert not b.shut
    time.sleep(1.1)
    assert count() == 2  # the window passed: both ended
    assert b.shut and c.shut and not a.shut
    assert mgr._session_storage._cache._data == {}  # nothing holds their state any more
    assert count() == 0


def test_outside_a_server_there_is_nothing_to_reap() -> None:
    assert session_memory._StreamlitSessions()() == 0


def test_page_modules_are_every_import_of_every_page() -> None:
    """The warm-up imports what the pages import (submodules of ``from x import y`` too)."""
    names = session_memory.page_modules()
    for expected in (
        "gcrm.actions.my_day",  # from gcrm.actions import my_day as actions
        "gcrm.day_actions",  # from gcrm import day_actions
        "gcrm.maps.payload",
        "streamlit_folium",
        "views.common",
        "pandas",
    ):
        assert expected in names
    assert "__future__" not in names
    assert "gcrm._errors.AuthenticationError" not in names  # a class, not a module
    assert "gcrm.auth.Actor" not in names


def test_warm_up_imports_the_pages_modules_and_freezes_them() -> None:
    """In a fresh process: after the warm-up, every page module is loaded and frozen."""
    probe = """
import gc, json, sys
from views import session_memory
frozen = session_memory._warm_and_freeze()
names = session_memory.page_modules()
print(json.dumps({"frozen": frozen, "missing": [n for n in names if n not in sys.modules],
                  "walked": len(gc.get_objects())}))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["missing"] == []
    assert r["frozen"] > 100_000, r  # pandas, SQLAlchemy, folium, the gcrm package ...
    assert r["walked"] < 0.05 * r["frozen"], r


def test_pages_running_reads_each_active_sessions_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reaper waits while any session's script runs (Streamlit's AppSessionState)."""
    from streamlit.runtime.app_session import AppSessionState

    @dataclass
    class _App:
        _state: AppSessionState

    @dataclass
    class _Info:
        session: _App

    sessions = [_Info(_App(AppSessionState.APP_NOT_RUNNING)) for _ in range(3)]

    class _Active:
        def list_active_sessions(self) -> list[_Info]:
            return sessions

    monkeypatch.setattr(session_memory, "_session_manager", _Active)
    assert session_memory.pages_running() is False
    sessions[1].session._state = AppSessionState.APP_IS_RUNNING
    assert session_memory.pages_running() is True
    monkeypatch.setattr(session_memory, "_session_manager", lambda: None)
    assert session_memory.pages_running() is False
