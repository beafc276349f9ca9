"""My profile: change my password."""

from __future__ import annotations

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.auth import change_password
from gcrm.db.session import session_scope
from views.common import ACTOR_KEY, require_actor, show_error

actor = require_actor()
st.title("My profile")
st.write(f"**{actor.username}** · role **{actor.role}**")
with st.form("change_password"):
    old = st.text_input("Current password", type="password", key="pw_old")
    new = st.text_input("New password", type="password", key="pw_new")
    again = st.text_input("New password again", type="password", key="pw_again")
    if st.form_submit_button("Change password"):
        if new != again:
            st.error("The new passwords differ.")
        else:
            try:
                with session_scope() as session:
                    # this session stays in; others opened with the old password end
                    st.session_state[ACTOR_KEY] = change_password(session, actor, old, new)
                st.success("Password changed.")
            except GcrmError as exc:
                show_error(exc)
