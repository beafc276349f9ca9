"""A Streamlit user at the protocol level: the browser's websocket messages, no browser.

Load tests with one Chromium per user measure the browsers as much as the
server on a small machine. :class:`ProtocolUser` speaks Streamlit's own
websocket protocol (protobuf ``BackMsg`` / ``ForwardMsg`` on
``/_stcore/stream``, as the front end sends them): it starts a session, fills
and submits forms by widget id, switches pages by their script hash, and
times each action until the server reports the script run finished. Every
page script runs on the server exactly as for a browser user; only the
browser's own drawing (and a component's reply, such as a map's view) is left
out.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

_DONE = (
    ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR,
)


def _page_cookies(base: str, timeout_s: float) -> str:
    with urllib.request.urlopen(base + "/", timeout=timeout_s) as response:
        found = response.headers.get_all("Set-Cookie") or []
    return "; ".join(c.split(";", 1)[0] for c in found)


class ProtocolError(RuntimeError):
    """The server answered with an exception, a compile error or nothing in time."""


class ProtocolUser:
    """One browser tab's session, driven over the websocket.

    Parameters
    ----------
    base
        ``http://host:port`` of the app (or of the proxy in front of it).
    timeout_s
        Longest wait for one script run.
    """

    def __init__(self, base: str, *, timeout_s: float = 180.0) -> None:
        self.base = base.rstrip("/")
        self.url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.timeout_s = timeout_s
        self.pages: dict[str, str] = {}  # page title -> script hash
        self.page_hash = ""
        self.widgets: dict[str, Any] = {}  # label -> element proto of the last run
        self.headings: list[str] = []
        self.exceptions: list[str] = []
        self._ws: Any = None

    async def __aenter__(self) -> ProtocolUser:
        # Like a browser: load the page first and keep its cookies (the proxy's route
        # cookie sends this session's websocket and later requests to one app process).
        cookies = await asyncio.to_thread(_page_cookies, self.base, self.timeout_s)
        # No client pings: a browser sends none either (Streamlit has its own heartbeat),
        # and a server busy with 50 scripts may answer a ping late.
        self._ws = await connect(
            self.url,
            subprotocols=["streamlit"],  # type: ignore[list-item]
            max_size=None,
            ping_interval=None,
            open_timeout=self.timeout_s,
            additional_headers={"Cookie": cookies} if cookies else None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()

    async def _run(self, **state: Any) -> float:
        msg = BackMsg()
        msg.rerun_script.page_script_hash = state.pop("page_script_hash", self.page_hash)
        for wid, kind, value in state.pop("widgets", ()):
            w = msg.rerun_script.widget_states.widgets.add()
            w.id = wid
            setattr(w, kind, value)
        self.widgets, self.headings, self.exceptions = {}, [], []
        t = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"no answer in {self.timeout_s:.0f} s")
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self._ws.recv(), left))
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in fwd.navigation.app_pages}
                self.page_hash = fwd.navigation.page_script_hash
            elif kind == "new_session":
                self.page_hash = fwd.new_session.page_script_hash or self.page_hash
                self.widgets, self.headings, self.exceptions = {}, [], []
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._element(fwd.delta.new_element)
            elif kind == "script_finished" and fwd.script_finished in _DONE:
                if fwd.script_finished == _DONE[1]:
                    self.exceptions.append("compile error")
                return time.perf_counter() - t

    def _element(self, el: Any) -> None:
        which = el.WhichOneof("type")
        if which == "exception":
            self.exceptions.append(f"{el.exception.type}: {el.exception.message[:120]}")
        elif which == "heading":
            self.headings.append(el.heading.body)
        elif which in ("text_input", "button"):
            self.widgets[getattr(el, which).label] = getattr(el, which)

    async def open(self) -> float:
        """Start the session (the first page load); seconds until drawn."""
        return await self._run(page_script_hash="")

    async def log_in(self, username: str, password: str) -> float:
        """Fill the login form and press "Log in"; seconds until the landing page is drawn."""
        try:
            user, pw, button = (self.widgets[k] for k in ("Username", "Password", "Log in"))
        except KeyError as exc:
            raise ProtocolError(f"no login form (missing {exc})") from None
        return await self._run(
            widgets=[
                (user.id, "string_value", username),
                (pw.id, "string_value", password),
                (button.id, "trigger_value", True),
            ]
        )

    async def press(self, label: str) -> float:
        """Press a button of the last page drawn by its label; seconds until drawn again."""
        if label not in self.widgets:
            raise ProtocolError(f"no button {label!r} in {sorted(self.widgets)}")
        return await self._run(widgets=[(self.widgets[label].id, "trigger_value", True)])

    async def go(self, title: str) -> float:
        """Open a page of the navigation by its title; seconds until drawn."""
        if title not in self.pages:
            raise ProtocolError(f"no page {title!r} in {sorted(self.pages)}")
        return await self._run(page_script_hash=self.pages[title])
