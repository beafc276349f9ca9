"""Import: upload a CSV/XLSX, map its columns, preview (dry run), commit: both as jobs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.actions.imports import suggest_upload_mapping
from gcrm.db.queue import JobState
from gcrm.import_report import imported_rows, report_from_dict, report_tables
from gcrm.importer import CANONICAL_COLUMNS, ImportReport
from gcrm.reports import to_bytes
from views.common import audited_download, plain, require_actor, require_right, show_error
from views.jobs import follow_job, start_job

actor = require_actor()
st.title("Import accounts")
require_right(actor, "import", "Your role may not import accounts.")

st.write(
    "Upload a CSV or Excel file of accounts. Rows are matched on `external_id`: "
    "importing the same file twice changes nothing. Nothing is written until you commit."
)
upload = st.file_uploader("Accounts file", type=["csv", "txt", "tsv", "xlsx"], key="imp_file")
if upload is None:
    st.stop()

try:
    suggested = suggest_upload_mapping(upload.getvalue(), upload.name)
except GcrmError as exc:
    show_error(exc)
    st.stop()

IGNORE = "(ignore)"
with st.expander("Column mapping", expanded=True):
    choices = [IGNORE, *CANONICAL_COLUMNS]
    mapping: dict[str, str | None] = {}
    cols = st.columns(3)
    for i, (header, target) in enumerate(suggested.items()):
        picked = cols[i % 3].selectbox(
            header, choices, index=choices.index(target or IGNORE), key=f"imp_map_{i}"
        )
        mapping[header] = None if picked == IGNORE else picked


def _show(report: ImportReport) -> None:
    summary = report.summary()
    c = st.columns(len(summary))
    for col, (label, value) in zip(c, summary.items(), strict=True):
        col.metric(label.capitalize(), value)
    if report.rows and not imported_rows(report):
        st.error("No row of this file can be imported: see the reasons below.")
    tables = report_tables(report)
    for warning in report.warnings:
        st.warning(warning)
    with st.expander("Which column fed which field, and mapped values", expanded=False):
        st.dataframe(tables["columns"], hide_index=True, key="imp_cols_table")
        if not tables["values"].empty:
            st.dataframe(tables["values"], hide_index=True, key="imp_values_table")
    if not tables["locations"].empty:
        st.caption("Locations found (rows per precision)")
        st.dataframe(tables["locations"], hide_index=True, key="imp_loc_table")
    if report.skipped:
        st.caption(f"Skipped lines ({len(report.skipped)}): report footers and blank lines")
        st.dataframe(tables["skipped"], hide_index=True, key="imp_skipped_table")
    if report.rejects:
        st.subheader(f"Rejected rows ({report.rejected})")
        frame = report.rejects_frame()
        st.dataframe(frame, hide_index=True, width="stretch")
        audited_download(
            "Download rejected rows (CSV)",
            to_bytes(frame, "csv"),
            actor=actor,
            file_name=f"{Path(upload.name).stem}.rejected.csv",
            mime="text/csv",
            what="rejected import rows",
            key="imp_rejects",
        )
    if report.duplicate_pairs:
        st.subheader("Likely duplicates (flagged, not merged)")
        st.dataframe(
            [{"row": r, "external_id": a, "looks like": b} for r, a, b in report.duplicate_pairs],
            hide_index=True,
        )
    if report.ignored_columns:
        st.caption("Ignored columns: " + ", ".join(report.ignored_columns))


left, right = st.columns(2)
# Both run as jobs (a worker reads the file from the job row): a preview geocodes and
# checks every row, which costs about what the import does.
job = {"name": upload.name, "mapping": mapping}
if left.button("Preview (dry run)", key="imp_dry"):
    start_job("imp_job", "import", {**job, "dry_run": True}, actor, file=upload.getvalue())
if right.button("Import", type="primary", key="imp_commit"):
    start_job("imp_job", "import", {**job, "dry_run": False}, actor, file=upload.getvalue())


def _imported(state: JobState) -> None:
    report = report_from_dict(state.result)
    if report.dry_run:
        st.session_state["imp_preview"] = report
        return
    st.session_state["imp_done"] = report
    st.session_state.pop("imp_preview", None)
    st.session_state["imp_flash"] = f"Imported {plain(state.payload['name'])}."


follow_job("imp_job", actor, on_done=_imported, failed="Nothing was imported: ")
flash = st.session_state.pop("imp_flash", None)
if flash:
    st.success(flash)

if "imp_done" in st.session_state:
    _show(st.session_state["imp_done"])
elif "imp_preview" in st.session_state:
    st.info("Preview: nothing has been written yet.")
    _show(st.session_state["imp_preview"])
