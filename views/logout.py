"""Log out: forget this browser session's user."""

from __future__ import annotations

import streamlit as st

from views.common import ACTOR_KEY

st.session_state.pop(ACTOR_KEY, None)
st.rerun()
