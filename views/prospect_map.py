"""Prospect map: density layers, selection on the map, "near here"."""

from __future__ import annotations

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.actions import prospect_map as actions
from gcrm.actions.accounts import filter_options
from gcrm.density import isochrone, near_here, select_accounts
from gcrm.maps import LAYERS, add_near_here, add_selection, layer_map
from gcrm.viewport import Viewport
from views.common import demo_banner, require_actor, show_error
from views.map_resources import map_filter_sidebar, postcode_areas_of_region, road_graph
from views.map_view import cached_render, render_payload, show_payload

actor = require_actor()
st.title("Prospect map")
options = filter_options(actor)
flt = map_filter_sidebar(options, "pm")
# Large stores are drawn from database aggregates in the viewport, never loaded whole.
data = actions.map_data(actor, flt)
total, extent, large, accounts = data.total, data.extent, data.large, data.accounts
territories, region = data.territories, data.region

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
st.caption(f"{total:,} accounts match the filters.")

areas = None
if layer == "postcode":
    if region is None:
        st.warning("No region is defined, so there are no postcode areas to show.")
        st.stop()
    areas = postcode_areas_of_region(region.wkt)
value = "value" if weight == "potential" else "count"
kept = st.session_state.get("pm_drawn") or []
view = st.session_state.get("pm_view")
if large and view is None:
    view = Viewport.fit(extent)
near = st.session_state.get("pm_near")


def _decorate(m):  # type: ignore[no-untyped-def]
    """Near-here results and the kept selection, drawn over the layer."""
    if near is not None:
        add_near_here(
            m, near["lat"], near["lon"], radius_m=near.get("radius_m"), area=near.get("area"),
            results=near["found"],
        )  # fmt: skip
    # The selection is kept across redraws (a search or a filter rebuilds the map, which
    # forgets what was drawn on it): drawn again as an outline, its accounts ringed.
    if kept:
        add_selection(m, kept, selected_large if large else select_accounts(accounts, kept))
    return m


def _layer():  # type: ignore[no-untyped-def]
    return layer_map(
        accounts, layer, weight=weight, value=value, areas=areas, territories=territories,
        draw=True,
    )  # fmt: skip


selected_large = None
try:
    if large:
        drawn_map, selected_large = actions.large_map(
            actor, flt, layer, view, kept, weight=weight, value=value, areas=areas,
            territories=territories, draw=True,
        )  # fmt: skip
        payload = render_payload(_decorate(drawn_map.map))
        st.caption(
            f"Zoom in to refine: {drawn_map.features:,} clusters or areas drawn for "
            f"{drawn_map.accounts:,} accounts in view."
        )
    else:
        # Drawn once per process for these rows (this user's scope and filter), layer,
        # selection and search: a rerun or a colleague with the same view reuses it.
        parts = (accounts, territories, layer, weight, value, region, kept, near)
        payload = cached_render("pm_map", parts, lambda: _decorate(_layer()))
except GcrmError as exc:
    show_error(exc)
    st.stop()

# A large store's map is redrawn for the new view when the user zooms or pans far.
returned = ["all_drawings", "zoom", "center"] if large else ["all_drawings"]
state = show_payload(payload, key="pm_map", height=560, returned_objects=returned)
new_drawn = (state or {}).get("all_drawings") or []
if new_drawn and new_drawn != kept:
    st.session_state["pm_drawn"] = new_drawn
    st.rerun()
if large and view is not None and (state or {}).get("center") and (state or {}).get("zoom"):
    center = state["center"]
    seen = Viewport(float(center["lat"]), float(center["lng"]), int(state["zoom"]))
    if view.moved(seen):
        st.session_state["pm_view"] = seen
        st.rerun()
drawn = kept

st.subheader("Selection")
if not drawn:
    st.caption("Draw a rectangle, polygon, circle or lasso on the map to select accounts.")
else:
    if st.button("Clear the selection", key="pm_clear"):
        st.session_state.pop("pm_drawn", None)
        st.session_state.pop("selected_account_ids", None)
        st.rerun()
    selected = selected_large if large else select_accounts(accounts, drawn)
    st.session_state["selected_account_ids"] = [int(i) for i in selected["id"]]
    st.write(f"**{len(selected)}** accounts selected.")
    st.dataframe(
        selected[["name", "kind", "stage", "owner", "territory", "potential_value", "last_visit"]],
        hide_index=True,
        width="stretch",
    )
    if actor.can("export") and len(selected):
        try:
            export = actions.export_selection(actor, [int(i) for i in selected["id"]])
            st.download_button(
                "Export the selection (CSV, audited)",
                export.data,
                file_name="selection.csv",
                mime=export.mime,
                key="pm_export",
            )
        except GcrmError as exc:
            show_error(exc)
    if actor.can("plan"):
        st.caption("The selection is kept for route planning on the My day page.")

st.subheader("Near here")
if large:
    # Too many accounts to list: search by name, street, city or id in the database.
    query = st.text_input("Find the account to search from", key="pm_near_q")
    options = actions.search_accounts(actor, query or None, limit=50)
else:
    options = accounts
with st.form("near_here"):
    labels = {f"{r.name} · #{int(r.id)}": int(r.id) for r in options.itertuples()}
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
            row = options[options["id"] == origin].iloc[0]
            lat, lon = float(row["lat"]), float(row["lon"])
            area = None
            if large:
                # Only the box the search can reach is read (drive time: at 120 km/h).
                reach = amount if mode == "radius" else amount * 2000.0
                accounts = actions.accounts_around(actor, flt, lat, lon, reach)
            if mode == "radius":
                found = near_here(accounts, int(origin), radius_m=amount)
            else:
                found = near_here(accounts, int(origin), minutes=amount, G=road_graph())
                area = isochrone(road_graph(), lat, lon, amount)
            st.session_state["pm_near"] = {
                "lat": lat,
                "lon": lon,
                "radius_m": amount if mode == "radius" else None,
                "area": area,
                "found": found,
            }
            st.rerun()
        except GcrmError as exc:
            show_error(exc)
if near is not None:
    found = near["found"]
    # Rounded, with units: kilometres and minutes, not raw metres and seconds.
    shown = found.assign(distance_km=found["distance_m"] / 1000)
    cols = ["name", "kind", "stage", "distance_km"]
    if "drive_s" in found.columns:
        shown["drive_min"] = found["drive_s"] / 60
        cols.append("drive_min")
    st.write(f"**{len(found)}** accounts found.")
    st.dataframe(
        shown[cols],
        hide_index=True,
        width="stretch",
        column_config={
            "distance_km": st.column_config.NumberColumn("Distance", format="%.2f km"),
            "drive_min": st.column_config.NumberColumn("Drive", format="%.0f min"),
        },
    )
demo_banner()
