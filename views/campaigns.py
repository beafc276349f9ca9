"""Campaigns: build a segment, create, preview and send a campaign, log responses,
read the response report and map (managers create and send; analysts read)."""

from __future__ import annotations

import zlib

import streamlit as st

from gcrm import campaign_actions as actions
from gcrm._errors import GcrmError
from gcrm.segments import DriveArea, SegmentDefinition
from views.common import require_actor, show_error, show_map
from views.map_resources import road_graph

actor = require_actor()
st.title("Campaigns")
can_run = actor.role in ("manager", "admin")

campaigns = actions.campaigns_frame(actor)
st.dataframe(campaigns, hide_index=True, width="stretch")

if can_run:
    with st.expander("New campaign", expanded=campaigns.empty):
        opts = actions.filter_options(actor)
        with st.form("cp_new"):
            name = st.text_input("Name", key="cp_name")
            kinds = st.multiselect("Kinds", opts.get("kind", []), key="cp_kinds")
            terrs = st.multiselect("Territories", opts.get("territory", []), key="cp_terrs")
            drawn = st.session_state.get("pm_drawn") or []
            use_drawn = st.checkbox(
                f"Only the area drawn on the Prospect map ({len(drawn)} shape(s))",
                value=bool(drawn),
                disabled=not drawn,
                key="cp_use_drawn",
            )
            c1, c2, c3 = st.columns(3)
            minutes = c1.number_input("Drive minutes (0: none)", 0.0, 120.0, 0.0, key="cp_min")
            lat = c2.number_input(
                "From latitude", -90.0, 90.0, 60.1699, format="%.5f", key="cp_lat"
            )
            lon = c3.number_input(
                "From longitude", -180.0, 180.0, 24.9384, format="%.5f", key="cp_lon"
            )
            channels = st.multiselect(
                "Channels", ["email", "letter", "call", "visit"], ["email"], key="cp_channels"
            )
            subject = st.text_input("E-mail subject", "News for {{ name }}", key="cp_subject")
            body = st.text_area(
                "E-mail body (fields: name, street, housenumber, postcode, city)",
                "Hello {{ name }},\n",
                key="cp_body",
            )
            reminder = st.number_input("Reminder after days (0: none)", 0, 90, 0, key="cp_rem")
            if st.form_submit_button("Create"):
                try:
                    definition = SegmentDefinition(
                        kinds=tuple(kinds),
                        territories=tuple(terrs),
                        area=drawn if use_drawn and drawn else None,
                        drive=DriveArea(lat, lon, minutes) if minutes > 0 else None,
                    )
                    cid = actions.new_campaign(
                        actor,
                        name=name,
                        definition=definition,
                        channels=channels,
                        subject=subject,
                        body=body,
                        reminder_after_days=int(reminder) or None,
                    )
                    st.session_state["cp_open"] = cid
                    st.session_state["cp_flash"] = f"Campaign {name.strip()!r} created."
                    st.rerun()
                except GcrmError as exc:
                    show_error(exc)

flash = st.session_state.pop("cp_flash", None)
if flash:
    st.success(flash)
if campaigns.empty:
    st.info("No campaigns yet.")
    st.stop()

ids = list(campaigns["id"])
names = dict(zip(campaigns["id"], campaigns["name"], strict=True))
default = st.session_state.get("cp_open")
cid = st.selectbox(
    "Campaign", ids, index=ids.index(default) if default in ids else 0,
    format_func=lambda i: names[i], key="cp_pick",
)  # fmt: skip

if can_run:
    c1, c2 = st.columns(2)
    if c1.button("Preview", key="cp_preview"):
        try:
            st.session_state["cp_preview_out"] = (
                cid,
                actions.preview_campaign(actor, cid, G=road_graph()),
            )
        except GcrmError as exc:
            show_error(exc)
    shown = st.session_state.get("cp_preview_out")
    if shown and shown[0] == cid:
        out = shown[1]
        for channel, frame in out["members"].items():
            unit = "recipients" if channel == "email" else "members"
            st.markdown(f"{channel}: {len(frame)} {unit}")
            st.dataframe(frame[["id", "name", "postcode", "city"]], hide_index=True)
        for sample in out["samples"]:
            st.text(f"To: {sample['to']}\nSubject: {sample['subject']}\n\n{sample['text']}")
    if c2.button("Send / launch", key="cp_send"):
        try:
            result = actions.send_campaign(actor, cid, G=road_graph())
            st.success(actions.describe_send(result))
        except (GcrmError, OSError) as exc:
            show_error(exc, prefix="Sending failed: ")

    with st.form("cp_respond"):
        st.subheader("Log a response")
        account_id = st.number_input("Account id", 1, step=1, key="cp_acc")
        kind = st.selectbox("Kind", ["reply", "order", "visit", "call"], key="cp_kind")
        converted = st.checkbox("Converted (an order)", key="cp_conv")
        if st.form_submit_button("Log"):
            try:
                actions.respond(actor, cid, int(account_id), kind=kind, converted=converted)
                st.success("Response logged.")
            except GcrmError as exc:
                show_error(exc)

st.subheader("Report")
by = st.radio("By", ["territory", "postcode", "hex"], horizontal=True, key="cp_by")
try:
    table = actions.report(actor, cid, by=by)  # type: ignore[arg-type]
except GcrmError as exc:
    show_error(exc)
    st.stop()
st.dataframe(table, hide_index=True, width="stretch")
st.caption("Rates with 95 % Wilson intervals: small areas get wide intervals.")
# keyed by what it shows: a logged response redraws the map at once
state = table.to_csv(index=False).encode()
show_map(actions.report_map(actor, cid), key=f"cp_map_{cid}_{zlib.crc32(state)}", height=420)
if actor.can("export"):
    fmt = st.selectbox("Format", ["xlsx", "csv", "json"], key="cp_fmt")
    if st.button("Prepare the report file", key="cp_export"):
        try:
            st.session_state["cp_file"] = actions.export_report_file(actor, cid, by=by, fmt=fmt)  # type: ignore[arg-type]
        except GcrmError as exc:
            show_error(exc)
    export = st.session_state.get("cp_file")
    if export is not None:
        st.download_button("Download", export.data, file_name=export.filename, mime=export.mime)
