"""gcrm's Streamlit app: page config, login gate and navigation.

Run with ``streamlit run app.py``. Pages live in ``views/``; they lay out
widgets and call the ``gcrm`` package, nothing else.
"""

from __future__ import annotations

import streamlit as st

from views.common import current_actor, prepare

st.set_page_config(page_title="gcrm", layout="wide")
prepare()

actor = current_actor()
if actor is None:
    pages = [st.Page("views/login.py", title="Log in", icon="🔑")]
else:
    pages = [
        st.Page("views/accounts.py", title="Accounts", icon="🗺️", default=True),
        st.Page("views/logout.py", title="Log out", icon="🚪"),
    ]
st.navigation(pages).run()
