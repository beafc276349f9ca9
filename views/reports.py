"""Reports: territory and rep figures with charts, downloads in every format."""

from __future__ import annotations

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.db.session import session_scope
from gcrm.jobs import result_file, status, submit
from gcrm.reports import (
    REGION_ROW,
    display_summary,
    rep_report,
    territory_report,
)
from views.common import demo_banner, require_actor, road_graph, show_error

actor = require_actor()
st.title("Reports")

with st.spinner("Computing the territory report…"):
    with session_scope() as session:
        report = territory_report(session, actor, graph=road_graph())
        reps = rep_report(session, actor)

summary = report.summary
st.subheader("Territories")
st.dataframe(display_summary(summary), hide_index=True, width="stretch")
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
        try:
            job = submit("report", {"kind": kind, "fmt": fmt}, actor.username)
            st.session_state["rp_job"] = job
            st.session_state.pop("rp_file", None)
        except GcrmError as exc:
            show_error(exc)

    @st.fragment(run_every=1.0)
    def _report_progress() -> None:
        """Progress of the report job; the download once the file is ready."""
        job_id = st.session_state.get("rp_job")
        if job_id is not None:
            state = status(job_id, actor.username)
            if not state.finished:
                st.progress(state.progress, text=state.message or "Queued, waiting for a worker…")
                return
            del st.session_state["rp_job"]
            if state.status == "failed":
                show_error(state.message or "", prefix="The report failed: ")
                return
            data = result_file(job_id, actor.username) or b""
            st.session_state["rp_file"] = {**state.result, "data": data}
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

    _report_progress()
demo_banner()
