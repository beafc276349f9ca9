"""gcrm's Streamlit app: page config, login gate and navigation.

Run with ``streamlit run app.py``. Pages live in ``views/``; they lay out
widgets and call the ``gcrm`` package, nothing else. Which pages a user gets
depends on their role.
"""

from __future__ import annotations

import streamlit as st

from views.common import current_actor, prepare
from views.session_memory import start_session_reaper
from views.unsubscribe import handle_unsubscribe

st.set_page_config(page_title="gcrm", layout="wide")
prepare()
start_session_reaper()  # gives closed sessions' memory back (once per process)
if handle_unsubscribe():  # the link in campaign e-mail: no login, nothing else shown
    st.stop()

actor = current_actor()
if actor is None:
    pages = [st.Page("views/login.py", title="Log in", icon="🔑")]
else:
    pages = []
    rep_lands_on_day = actor.role == "rep" and actor.can("plan")  # a rep starts on the day
    if actor.can("plan"):
        pages.append(
            st.Page("views/my_day.py", title="My day", icon="🚗", default=rep_lands_on_day)
        )
    pages += [
        st.Page("views/accounts.py", title="Accounts", icon="📇", default=not rep_lands_on_day),
        st.Page("views/prospect_map.py", title="Prospect map", icon="🗺️"),
        st.Page("views/territories.py", title="Territories", icon="🧭"),
        st.Page("views/reports.py", title="Reports", icon="📊"),
    ]
    if actor.can("plan") and actor.role in ("manager", "admin"):
        pages.append(st.Page("views/visit_plan.py", title="Visit plan", icon="📅"))
    if actor.role in ("manager", "admin", "analyst"):
        pages.append(st.Page("views/campaigns.py", title="Campaigns", icon="📣"))
    if actor.can("import"):
        pages.append(st.Page("views/import_accounts.py", title="Import", icon="📥"))
    if actor.can("admin"):
        pages.append(st.Page("views/admin.py", title="Admin", icon="🛡️"))
    pages += [
        st.Page("views/profile.py", title="My profile", icon="👤"),
        st.Page("views/logout.py", title="Log out", icon="🚪"),
    ]
st.navigation(pages).run()
