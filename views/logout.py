"""Log out: forget this browser session's user and everything the session holds."""

from __future__ import annotations

import streamlit as st

from views.common import log_out

log_out()
st.rerun()
