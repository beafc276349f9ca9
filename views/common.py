"""Widgets and state shared by the pages: login state, cached resources."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from gcrm.auth import Actor, session_expired
from gcrm.settings import get_settings

ACTOR_KEY = "actor"


@st.cache_resource(show_spinner="Preparing the database…")
def _prepare_once() -> bool:
    from gcrm.demo import prepare_database

    prepare_database(load_demo=True)
    return True


def prepare() -> None:
    """Upgrade the schema and load the demo on first start (once per server)."""
    _prepare_once()


ACTIVITY_KEY = "last_activity"


def current_actor() -> Actor | None:
    """Return the logged-in user of this browser session, if any.

    A session idle for longer than ``GCRM_SESSION_TIMEOUT_MINUTES`` is logged
    out here, before any page runs.
    """
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return None
    last = st.session_state.get(ACTIVITY_KEY)
    if last is not None and session_expired(last):
        st.session_state.pop(ACTOR_KEY, None)
        st.session_state.pop(ACTIVITY_KEY, None)
        st.session_state["logout_reason"] = "Your session timed out. Please log in again."
        return None
    st.session_state[ACTIVITY_KEY] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return actor


def require_actor() -> Actor:
    """Return the logged-in user, or stop the page."""
    actor = current_actor()
    if actor is None:
        st.warning("Please log in.")
        st.stop()
    return actor


def demo_banner() -> None:
    """Tell users they are looking at demo data with a shared password."""
    if get_settings().demo_password == "demo":
        st.caption(
            "Demo mode: Helsinki demo data; every demo user's password is `demo`. "
            "Map data © OpenStreetMap contributors."
        )


def show_map(m, *, key: str, height: int = 500) -> None:  # type: ignore[no-untyped-def]
    """Show a folium map (display only: the page does not rerun on pan or zoom)."""
    from streamlit_folium import st_folium

    st_folium(m, key=key, height=height, use_container_width=True, returned_objects=[])
