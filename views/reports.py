"""Reports: territory and rep figures with charts, downloads in every format."""

from __future__ import annotations

import streamlit as st

from gcrm.actions.reports import PAGE_WHITE_SPACE_LIMIT, report_figures
from gcrm.db.queue import JobState
from gcrm.jobs import result_file
from gcrm.reports import REGION_ROW, display_summary
from views.common import demo_banner, require_actor
from views.jobs import follow_job, start_job
from views.map_resources import road_graph

actor = require_actor()
st.title("Reports")

with st.spinner("Computing the territory report…"):
    report, reps = report_figures(actor, graph=road_graph())

summary = report.summary
st.subheader("Territories")
st.dataframe(display_summary(summary), hide_index=True, width="stretch")
if not report.white_space_computed:
    st.caption(
        f"White space is left out here above {PAGE_WHITE_SPACE_LIMIT:,} prospects and "
        "customers: download the territory report (below) for it."
    )
per = summary[summary["territory"] != REGION_ROW].set_index("territory")
c1, c2, c3 = st.columns(3)
stage = report.breakdown[report.breakdown["dimension"] == "stage"]
c1.caption("Accounts per stage")
c1.bar_chart(stage, x="territory", y="accounts", color="value", horizontal=True)
c2.caption("Coverage per territory (share visited within target)")
c2.bar_chart(per["coverage"], horizontal=True)
c3.caption("Value per territory (€)")
c3.bar_chart(per[["potential_value", "pipeline_value"]], horizontal=True, stack=False)

st.subheader("Reps")
st.dataframe(reps, hide_index=True, width="stretch")

if actor.can("export"):
    st.subheader("Download")
    kind = st.radio("Report", ["territories", "reps", "accounts"], horizontal=True, key="rp_kind")
    formats = (
        ["xlsx", "pdf", "csv", "geojson", "gpkg", "parquet"]
        if kind == "territories"
        else ["xlsx", "csv", "parquet"]
    )
    fmt = st.selectbox("Format", formats, key="rp_fmt")
    if st.button("Prepare the file", key="rp_prepare"):
        # Report files can take a while: a worker writes them, the page shows progress.
        if start_job("rp_job", "report", {"kind": kind, "fmt": fmt}, actor):
            st.session_state.pop("rp_file", None)

    def _ready(state: JobState) -> None:
        data = result_file(state.id, actor.username) or b""
        st.session_state["rp_file"] = {**state.result, "data": data}

    follow_job("rp_job", actor, on_done=_ready, failed="The report failed: ")
    export = st.session_state.get("rp_file")
    if export is not None:
        st.download_button(
            f"Download {export['filename']} ({export['rows']} rows)",
            export["data"],
            file_name=export["filename"],
            mime=export["mime"],
            key="rp_download",
        )
        st.caption(f"Recorded in the audit log (SHA-256 {export['sha256'][:12]}…).")
demo_banner()
