"""Widgets and state shared by the pages: login state, cached resources."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st

from gcrm._errors import PermissionDeniedError
from gcrm.auth import Actor, audit_event, recheck, session_expired
from gcrm.demo import prepare_database
from gcrm.settings import get_settings

ACTOR_KEY = "actor"


@st.cache_resource(show_spinner="Preparing the database…")
def _prepare_once() -> bool:
    prepare_database(load_demo=True)
    return True


def prepare() -> None:
    """Upgrade the schema and load the demo on first start (once per server)."""
    _prepare_once()


ACTIVITY_KEY = "last_activity"


def log_out(reason: str | None = None) -> None:
    """End this browser session: forget everything it holds, not only the user.

    Prepared downloads, plans, search results and widget values of the
    previous user must not reach the next person at the same browser.
    """
    st.session_state.clear()
    if reason:
        st.session_state["logout_reason"] = reason


def current_actor() -> Actor | None:
    """Return the logged-in user of this browser session, if any.

    Before any page runs, the user is re-read from the database: a session
    idle for longer than ``GCRM_SESSION_TIMEOUT_MINUTES``, or whose user was
    deactivated, locked, changed their password or got another role, region
    or personal-data grant, is logged out here and keeps nothing.
    """
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return None
    last = st.session_state.get(ACTIVITY_KEY)
    if last is not None and session_expired(last):
        log_out("Your session timed out. Please log in again.")
        return None
    fresh = recheck(actor)
    if fresh is None:
        log_out("Your session has ended (account or password changed). Please log in again.")
        return None
    if fresh != actor:
        log_out("Your rights have changed. Please log in again.")
        return None
    st.session_state[ACTIVITY_KEY] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return actor


def audited_download(
    label: str,
    data: bytes | str,
    *,
    actor: Actor,
    file_name: str,
    mime: str,
    what: str,
    key: str | None = None,
    where: Any = None,
) -> None:
    """A download button whose click writes an audit line (``download``).

    Every file the app hands out goes through here (or through an audited
    export of :mod:`gcrm.reports`).

    Parameters
    ----------
    label, data, file_name, mime, key
        As ``st.download_button``.
    actor
        The logged-in user.
    what
        What the file holds (``route GPX``, ``itinerary PDF``...).
    where
        A container (a column) to put the button in; default the page.
    """
    size = len(data.encode() if isinstance(data, str) else data)
    (where or st).download_button(
        label,
        data,
        file_name=file_name,
        mime=mime,
        key=key,
        on_click=audit_event,
        args=(actor, "download", file_name, {"what": what, "bytes": size}),
    )


def require_actor() -> Actor:
    """Return the logged-in user, or stop the page."""
    actor = current_actor()
    if actor is None:
        st.warning("Please log in.")
        st.stop()
    return actor


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=^&\"'/@])")


def plain(value: object) -> str:
    """Return text that Streamlit shows as typed, never as Markdown.

    Account names, addresses, outcomes and file names come from users and
    imported files: ``![x](http://host/…)`` must not make browsers fetch a
    remote image, ``[text](http://…)`` must not become a link, ``**`` must not
    bold. Every ASCII punctuation character is backslash-escaped (CommonMark:
    an escaped character is literal), which also breaks bare-URL autolinks,
    Streamlit's ``:color[…]`` directives and ``$…$`` maths; line breaks
    become spaces. Use it for every stored or uploaded text put into
    ``st.markdown``, ``st.header``, ``st.success``...
    """
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def _page() -> str | None:
    """Return the name of the page script that called into this module (``admin``...)."""
    frame = sys._getframe(1)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.parent.name == "views" and path.name != "common.py":
            return path.stem
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _audit_denied(actor: Actor | None, reason: str, right: str | None = None) -> None:
    """Leave an audit line ``denied`` (its own transaction: nothing rolls it back)."""
    details = {"reason": reason, "page": _page()}
    if right:
        details["right"] = right
    audit_event(actor, "denied", _page(), details)


def show_error(exc: BaseException | str, *, prefix: str = "") -> None:
    """Show an error message as plain text; a denied action also leaves an audit line.

    The one way pages show an error: messages name accounts, files and
    users, whose text must never render as Markdown (see :func:`plain`); a
    :class:`~gcrm._errors.PermissionDeniedError` is audited (``denied``), as
    the CLI does.

    Parameters
    ----------
    exc
        The error (or a message).
    prefix
        Our own words before it (``"Nothing was imported: "``).
    """
    if isinstance(exc, PermissionDeniedError):
        _audit_denied(st.session_state.get(ACTOR_KEY), str(exc))
    st.error(prefix + plain(exc))


def require_right(actor: Actor, right: str, message: str) -> None:
    """Stop the page unless the user's role has a right; a refusal is audited.

    Parameters
    ----------
    actor
        The logged-in user.
    right
        The right (see :meth:`gcrm.auth.Actor.can`).
    message
        What the user is told.
    """
    if not actor.can(right):
        deny(actor, right, message)


def deny(actor: Actor, right: str, message: str) -> NoReturn:
    """Refuse the page: show ``message``, leave an audit line ``denied``, stop.

    Parameters
    ----------
    actor
        The logged-in user.
    right
        The right the user lacks.
    message
        What the user is told.
    """
    _audit_denied(actor, message, right)
    st.error(message)
    st.stop()


def demo_banner() -> None:
    """Tell users they are looking at demo data with a shared password."""
    if get_settings().demo_password == "demo":
        st.caption(
            "Demo mode: Helsinki demo data; every demo user's password is `demo`. "
            "Map data © OpenStreetMap contributors."
        )


def show_map(m, *, key: str, height: int = 500) -> None:  # type: ignore[no-untyped-def]
    """Show a folium map (display only: the page does not rerun on pan or zoom)."""
    # folium and streamlit-folium are heavy: pages without maps (login) never load them.
    from views.map_view import show_folium

    show_folium(m, key=key, height=height)
