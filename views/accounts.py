"""Accounts: a filterable table and the accounts on a map."""

from __future__ import annotations

import streamlit as st

from gcrm.db.session import session_scope
from gcrm.maps import accounts_map
from gcrm.store import AccountFilter, accounts_frame, facets
from views.common import demo_banner, require_actor

actor = require_actor()
st.title("Accounts")
st.caption(f"Signed in as **{actor.username}** ({actor.role}).")

with session_scope() as session:
    options = facets(session, actor)

with st.sidebar:
    st.header("Filters")
    text = st.text_input("Search name or address", key="acc_text")
    kinds = st.multiselect("Kind", options["kind"], key="acc_kind")
    stages = st.multiselect("Stage", options["stage"], key="acc_stage")
    segments = st.multiselect("Segment", options["segment"], key="acc_segment")
    territories = st.multiselect("Territory", options["territory"], key="acc_territory")
    owners = st.multiselect("Owner", options["owner"], key="acc_owner")

flt = AccountFilter(
    kinds=kinds,
    stages=stages,
    segments=segments,
    territories=territories,
    owners=owners,
    text=text or None,
)
with session_scope() as session:
    accounts = accounts_frame(session, actor, flt)

located = accounts[~accounts.geometry.is_empty & accounts.geometry.notna()]
c1, c2, c3 = st.columns(3)
c1.metric("Accounts", len(accounts))
c2.metric("On the map", len(located))
c3.metric("Potential value (€)", f"{accounts['potential_value'].fillna(0).sum():,.0f}")

if accounts.empty:
    st.info("No account matches these filters.")
else:
    from streamlit_folium import st_folium

    st_folium(
        accounts_map(located),
        key="accounts_map",
        height=520,
        use_container_width=True,
        returned_objects=[],
    )
    st.dataframe(
        accounts.drop(columns=["geometry"])[
            [
                "name",
                "kind",
                "stage",
                "segment",
                "owner",
                "territory",
                "street",
                "housenumber",
                "postcode",
                "city",
                "potential_value",
                "last_visit",
            ]
        ],
        hide_index=True,
        use_container_width=True,
    )
demo_banner()
