"""Territories: view, upload, auto-build with balance figures, assign reps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gcrm._errors import GcrmError
from gcrm.actions import territories as actions
from gcrm.actions.accounts import cluster_map
from gcrm.db.queue import JobState
from gcrm.maps import layer_map
from gcrm.territories import territories_from_drawings
from views.common import demo_banner, require_actor, show_error, show_map
from views.jobs import follow_job, start_job
from views.map_view import cached_render, render_payload, show_cached_map, show_payload

actor = require_actor()
st.title("Territories")
# The result of the last action, shown once after the page is redrawn with the new data.
flash = st.session_state.pop("terr_flash", None)
if flash:
    st.success(flash)
# Counted in the database: the page never loads a large store's accounts whole.
seen = actions.overview(actor)
territories, total, counts, accounts, view = (
    seen.territories,
    seen.total,
    seen.counts,
    seen.accounts,
    seen.view,
)

if territories.empty:
    st.info("No territory yet.")
else:
    if view is not None:
        terr_map = cluster_map(actor, None, "territory", view, territories=territories).map
        show_map(terr_map, key="terr_map", height=480)
    else:
        # Drawn once per process for these rows (this user's scope) and territories.
        show_cached_map(
            (accounts, territories),
            lambda: layer_map(accounts, "territory", territories=territories),
            key="terr_map",
            height=480,
        )
    table = territories.drop(columns="geometry").assign(
        accounts=territories["name"].map(counts).fillna(0).astype(int)
    )
    st.dataframe(table[["name", "owner", "region", "accounts"]], hide_index=True, width="stretch")
    outside = total - int(counts.sum())
    if outside:
        st.warning(f"{outside} accounts in your view lie in no territory.")

if not actor.can("territories"):
    demo_banner()
    st.stop()

tab_assign, tab_build, tab_draw, tab_upload = st.tabs(
    ["Assign reps", "Build automatically", "Draw", "Upload GeoJSON"]
)
with tab_assign:
    rep_names = actions.rep_names(actor)
    if territories.empty:
        st.caption("No territory to assign yet.")
    else:
        with st.form("assign_reps"):
            choices = ["(nobody)", *rep_names]
            picks = {}
            for row in territories.itertuples():
                current = row.owner if row.owner in rep_names else "(nobody)"
                picks[row.name] = st.selectbox(
                    row.name, choices, index=choices.index(current), key=f"terr_owner_{row.id}"
                )
            if st.form_submit_button("Save owners"):
                try:
                    actions.set_owners(
                        actor,
                        {n: None if o == "(nobody)" else o for n, o in picks.items()},
                    )
                    st.session_state["terr_flash"] = "Owners saved."
                    st.rerun()
                except GcrmError as exc:
                    show_error(exc)
with tab_draw:
    st.caption("Draw one polygon (or rectangle) per territory, then name them in drawing order.")
    # Clusters from the database above LARGE accounts (markers one by one refuse
    # more than 20,000 and would stop the page with an InputError).
    payload = None
    if view is not None:
        payload = render_payload(cluster_map(actor, None, "markers", view, draw=True).map)
    elif total:
        payload = cached_render(
            "terr_draw_map", (accounts,), lambda: layer_map(accounts, "markers", draw=True)
        )
    state = (
        show_payload(payload, key="terr_draw_map", height=420, returned_objects=["all_drawings"])
        if payload is not None
        else None
    )
    drawn = (state or {}).get("all_drawings") or []
    names_text = st.text_input("Names, comma separated", key="terr_draw_names")
    replace_drawn = st.checkbox("Replace the existing territories", key="terr_draw_replace")
    if st.button("Save drawn territories", key="terr_draw_save"):
        names = [n.strip() for n in names_text.split(",") if n.strip()]
        try:
            shapes = territories_from_drawings(drawn, names)
            result = actions.save_drawn(actor, shapes, replace=replace_drawn)
            st.session_state["terr_flash"] = (
                f"Saved {len(shapes)} territories; {result.get('assigned', 0)} accounts assigned."
            )
            st.rerun()
        except GcrmError as exc:
            show_error(exc)
with tab_build, st.form("build"):
    st.write(
        "Split the region into K contiguous, compact territories seeded at the reps' home "
        "bases, balanced on road drive times."
    )
    k = st.number_input("Number of territories (K)", min_value=1, max_value=50, value=3)
    balance = st.radio("Balance", ["workload", "potential"], horizontal=True)
    set_owners = st.checkbox("Make each territory's rep the owner of its accounts")
    if st.form_submit_button("Build and save"):
        # A build takes seconds to minutes: it runs in a worker, not in this page.
        payload = {"k": int(k), "balance": balance, "set_owners": set_owners}
        start_job("terr_job", "territories", payload, actor)


def _built(state: JobState) -> None:
    st.session_state["terr_result"] = state.result
    st.session_state["terr_flash"] = f"Built and saved {state.result['territories']} territories."


follow_job("terr_job", actor, on_done=_built, failed="The build failed: ")
if "terr_result" in st.session_state:
    r = st.session_state["terr_result"]
    c = st.columns(4)
    c[0].metric("Territories", r["territories"])
    c[1].metric("Workload max/min", f"{r['workload_max_min']:.2f}")
    c[2].metric("Potential max/min", f"{r['potential_max_min']:.2f}")
    c[3].metric("Compactness (min Polsby-Popper)", f"{r['polsby_popper_min']:.2f}")
    per = pd.DataFrame(r["per_territory"])
    if "workload_min" in per:
        per["workload_h"] = (per.pop("workload_min") / 60).round(0)
    st.dataframe(
        per,
        hide_index=True,
        width="stretch",
        column_config={
            "workload_h": st.column_config.NumberColumn("Workload (h per year)", format="%.0f"),
            "potential": st.column_config.NumberColumn("Potential (€)", format="%.0f"),
            "polsby_popper": st.column_config.NumberColumn("Compactness (0–1)", format="%.2f"),
        },
    )
with tab_upload:
    upload = st.file_uploader("Territories (GeoJSON)", type=["geojson", "json"], key="terr_up")
    replace = st.checkbox("Replace the existing territories", key="terr_replace")
    if upload is not None and st.button("Import territories", key="terr_import"):
        try:
            result = actions.import_upload(actor, upload.getvalue(), upload.name, replace=replace)
            st.session_state["terr_flash"] = (
                f"Imported {result['territories']} territories; "
                f"{int(result.get('changed') or 0)} accounts changed territory."
            )
            st.rerun()
        except GcrmError as exc:
            show_error(exc)
demo_banner()
