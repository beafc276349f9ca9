"""Login page."""

from __future__ import annotations

import streamlit as st

from gcrm._errors import AuthenticationError
from gcrm.auth import login
from gcrm.db.session import session_scope
from views.common import ACTOR_KEY, demo_banner, show_error

st.title("gcrm")
st.write("A geographic CRM for field sales, on OpenStreetMap data.")
demo_banner()
if reason := st.session_state.pop("logout_reason", None):
    st.warning(reason)
with st.form("login"):
    username = st.text_input("Username", key="login_username")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Log in")
if submitted:
    try:
        with session_scope() as session:
            actor = login(session, username.strip(), password)
    except AuthenticationError as exc:
        show_error(exc)
    else:
        st.session_state[ACTOR_KEY] = actor
        st.rerun()
