"""Prospect map: density layers, selection on the map, "near here"."""

from __future__ import annotations

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.db.session import session_scope
from gcrm.density import filtered_accounts, near_here, select_accounts
from gcrm.maps import LAYERS, add_near_here, layer_map
from gcrm.reports import export_accounts
from gcrm.settings import get_settings
from gcrm.store import AccountFilter, facets, region_geometry, territories_frame
from views.common import (
    demo_banner,
    map_filter_sidebar,
    postcode_areas_of_region,
    require_actor,
    road_graph,
    road_lines,
)

actor = require_actor()
st.title("Prospect map")
with session_scope() as session:
    options = facets(session, actor)
flt = map_filter_sidebar(options, "pm")
with session_scope() as session:
    accounts = filtered_accounts(session, actor, flt)
    territories = territories_frame(session, actor)
    region = region_geometry(session, actor)

LABELS = {
    "markers": "Clusters",
    "heat": "Heat",
    "hex": "Hexagons",
    "postcode": "Postcode areas",
    "territory": "Territories",
}
c1, c2 = st.columns([3, 2])
layer = c1.radio(
    "Layer", list(LAYERS), format_func=LABELS.get, horizontal=True, key="pm_layer", index=0
)
weight = c2.radio("Weight", ["count", "potential"], horizontal=True, key="pm_weight")
st.caption(f"{len(accounts):,} accounts match the filters.")

areas = None
if layer == "postcode":
    if region is None:
        st.warning("No region is defined, so there are no postcode areas to show.")
        st.stop()
    areas = postcode_areas_of_region(region.wkt)
value = "value" if weight == "potential" else "count"
try:
    m = layer_map(
        accounts,
        layer,
        weight=weight,
        value=value,
        areas=areas,
        territories=territories,
        draw=True,
    )
except GcrmError as exc:
    st.error(str(exc))
    st.stop()

near = st.session_state.get("pm_near")
if near is not None:
    add_near_here(m, near["lat"], near["lon"], radius_m=near.get("radius_m"), results=near["found"])

from streamlit_folium import st_folium  # noqa: E402

state = st_folium(
    m, key="pm_map", height=560, use_container_width=True, returned_objects=["all_drawings"]
)
drawn = (state or {}).get("all_drawings") or []

st.subheader("Selection")
if not drawn:
    st.caption("Draw a rectangle, polygon, circle or lasso on the map to select accounts.")
else:
    selected = select_accounts(accounts, drawn)
    st.session_state["selected_account_ids"] = [int(i) for i in selected["id"]]
    st.write(f"**{len(selected)}** accounts selected.")
    st.dataframe(
        selected[["name", "kind", "stage", "owner", "territory", "potential_value", "last_visit"]],
        hide_index=True,
        width="stretch",
    )
    if actor.can("export") and len(selected):
        try:
            with session_scope() as session:
                export = export_accounts(
                    session, actor, AccountFilter(ids=[int(i) for i in selected["id"]]), "csv"
                )
            st.download_button(
                "Export the selection (CSV, audited)",
                export.data,
                file_name="selection.csv",
                mime=export.mime,
                key="pm_export",
            )
        except GcrmError as exc:
            st.error(str(exc))
    if actor.can("plan"):
        st.caption("The selection is kept for route planning on the My day page.")

st.subheader("Near here")
with st.form("near_here"):
    labels = {f"{r.name} · #{int(r.id)}": int(r.id) for r in accounts.itertuples()}
    picked = st.selectbox("From account", list(labels), index=None, key="pm_near_from")
    origin = labels.get(picked) if picked else None
    mode = st.radio("Within", ["radius", "drive time"], horizontal=True, key="pm_near_mode")
    amount = st.number_input(
        "Metres (radius) or minutes (drive time)", min_value=1.0, value=500.0, key="pm_near_amt"
    )
    go = st.form_submit_button("Search")
if go:
    if origin is None:
        st.error("Pick an account to search from.")
    else:
        try:
            if mode == "radius":
                found = near_here(accounts, int(origin), radius_m=amount)
            else:
                found = near_here(accounts, int(origin), minutes=amount, G=road_graph())
            row = accounts[accounts["id"] == origin].iloc[0]
            st.session_state["pm_near"] = {
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
                "radius_m": amount if mode == "radius" else None,
                "found": found,
            }
            st.rerun()
        except GcrmError as exc:
            st.error(str(exc))
if near is not None:
    found = near["found"]
    cols = [c for c in ("name", "kind", "stage", "distance_m", "drive_s") if c in found.columns]
    st.write(f"**{len(found)}** accounts found.")
    st.dataframe(found[cols], hide_index=True, width="stretch")
demo_banner()
