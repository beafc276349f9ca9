"""Admin: users and roles, the audit log."""

from __future__ import annotations

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.auth import create_user, update_user
from gcrm.db.models import Role
from gcrm.db.session import session_scope
from gcrm.home_base import set_home_base
from gcrm.store import audit_frame, list_users, regions
from views.common import require_actor, require_right, show_error

actor = require_actor()
st.title("Admin")
require_right(actor, "admin", "Only admins can manage users.")

ROLES = [r.value for r in Role]
with session_scope() as session:
    users = [
        {
            "username": u.username,
            "name": u.display_name,
            "role": u.role,
            "region": u.region.name if u.region else None,
            "active": u.is_active,
            "personal data": u.personal_data_grant or u.role != "analyst",
            "grant": bool(u.personal_data_grant),
            "territories": ", ".join(t.name for t in u.territories),
            "home": f"{u.home_lat:.5f}, {u.home_lon:.5f}" if u.home_lat is not None else "",
            "shift": f"{u.work_start}-{u.work_end}",
            "last login": u.last_login_at,
        }
        for u in list_users(session, actor)
    ]
    region_names = {r.name: r.id for r in regions(session)}

tab_users, tab_add, tab_audit = st.tabs(["Users", "Add a user", "Audit log"])
with tab_users:
    st.dataframe(users, hide_index=True, width="stretch")
    who = st.selectbox("User", [u["username"] for u in users], key="adm_user")
    current = next(u for u in users if u["username"] == who)
    with st.form("edit_user"):
        role = st.selectbox(
            "Role", ROLES, index=ROLES.index(current["role"]), key=f"adm_role_{who}"
        )
        region_options = ["(none)", *region_names]
        region = st.selectbox(
            "Region",
            region_options,
            index=region_options.index(current["region"] or "(none)"),
            key=f"adm_region_{who}",
        )
        active = st.checkbox("Active", current["active"], key=f"adm_active_{who}")
        grant = st.checkbox(
            "Analyst may see personal data",
            bool(current["grant"]),
            key=f"adm_grant_{who}",
        )
        if st.form_submit_button("Save"):
            try:
                with session_scope() as session:
                    update_user(
                        session,
                        actor,
                        who,
                        role=role,
                        region_id=region_names.get(region),
                        is_active=active,
                        personal_data_grant=grant,
                    )
                st.success(f"Saved {who}.")
            except GcrmError as exc:
                show_error(exc)
    with st.form("home_base"):
        st.markdown("**Home base and shift** (where the day's route starts and ends)")
        if "adm_home_msg" in st.session_state:
            st.success(st.session_state.pop("adm_home_msg"))
        home_text = st.text_input(
            "Home: an address or 'lat, lon' (empty: keep)",
            placeholder=current["home"] or "Mannerheimintie 5, Helsinki",
            key=f"adm_home_{who}",
        )
        shift_text = st.text_input("Shift", current["shift"], key=f"adm_shift_{who}")
        clear = st.checkbox("Remove the home base", key=f"adm_home_clear_{who}")
        if st.form_submit_button("Save home and shift"):
            try:
                with session_scope() as session:
                    u = set_home_base(
                        session, actor, who, home=home_text.strip() or None,
                        clear_home=clear, shift=shift_text.strip() or None,
                    )  # fmt: skip
                    where = (
                        f"{u.home_lat:.5f}, {u.home_lon:.5f}" if u.home_lat is not None else "none"
                    )
                    shift_now = f"{u.work_start}-{u.work_end}"
                st.session_state["adm_home_msg"] = f"Saved {who}: home {where}, shift {shift_now}."
                st.rerun()
            except GcrmError as exc:
                show_error(exc)
with tab_add, st.form("add_user"):
    username = st.text_input("New username", key="adm_new_username")
    display = st.text_input("Full name", key="adm_new_name")
    new_role = st.selectbox("Role", ROLES, key="adm_new_role")
    password = st.text_input("Initial password", type="password", key="adm_new_password")
    if st.form_submit_button("Add user"):
        try:
            with session_scope() as session:
                create_user(
                    session,
                    actor,
                    username.strip(),
                    password,
                    role=new_role,
                    display_name=display,
                )
            st.success(f"Added {username}.")
        except GcrmError as exc:
            show_error(exc)
with tab_audit:
    action = st.selectbox(
        "Action",
        [
            "(all)",
            "login",
            "login_failed",
            "lockout",
            "view",
            "edit",
            "import",
            "export",
            "erase",
            "admin",
            "password_change",
        ],
        key="adm_audit_action",
    )
    with session_scope() as session:
        log = audit_frame(session, actor, limit=500, action=None if action == "(all)" else action)
    st.dataframe(log, hide_index=True, width="stretch")
