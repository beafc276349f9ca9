"""Visit plan: call cycles for a manager's reps — plan, save, calendar, map, ICS."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.db.queue import JobState
from gcrm.visit_plan import (
    calendar_frame,
    day_map,
    figures,
    frequency_table,
    ics_for,
    planning_reps,
    saved_for,
    set_frequency,
)
from views.common import require_actor, show_error, show_map
from views.jobs import follow_job, start_job

actor = require_actor()
st.title("Visit plan")
# The result of the last action, shown once after the page is redrawn with the new data.
flash = st.session_state.pop("vp_flash", None)
if flash:
    st.success(flash)

reps = planning_reps(actor)
today = dt.date.today()
with st.form("vp_plan"):
    st.subheader("Plan call cycles")
    chosen = st.multiselect("Reps", reps, default=reps, key="vp_reps")
    c1, c2, c3 = st.columns(3)
    start = c1.date_input(
        "First day", value=today + dt.timedelta(days=(7 - today.weekday()) % 7), key="vp_start"
    )
    weeks = c2.number_input("Weeks", min_value=1, max_value=8, value=4, key="vp_weeks")
    iterations = c3.number_input(
        "Solver iterations", min_value=10, max_value=2000, value=200, step=10, key="vp_iter"
    )
    balance = st.checkbox("Balance working days", value=True, key="vp_balance")
    go = st.form_submit_button("Plan and save")
if go:
    if not chosen:
        st.error("Choose at least one rep.")
    else:
        # Planning weeks for several reps takes seconds to minutes: a worker does it.
        payload = {
            "reps": list(chosen), "start": start.isoformat(), "weeks": int(weeks),
            "iterations": int(iterations), "balance": 1.25 if balance else None,
        }  # fmt: skip
        start_job("vp_job", "cycles", payload, actor)


def _planned(state: JobState) -> None:
    r = state.result
    st.session_state["vp_flash"] = (
        f"Saved call cycles for {len(r['reps'])} reps, {r['start']} to {r['end']}."
    )


follow_job("vp_job", actor, on_done=_planned, failed="Planning failed: ")

with st.expander("Visit frequencies"):
    st.dataframe(frequency_table(actor), hide_index=True, width="stretch")
    with st.form("vp_freq"):
        segs = list(frequency_table(actor)["segment"])
        seg = st.selectbox("Segment", segs, key="vp_freq_seg")
        ids_text = st.text_input("…or account ids (comma-separated)", key="vp_freq_ids")
        every = st.number_input(
            "Visit every (days)", min_value=1, max_value=365, value=14, key="vp_freq_days"
        )
        set_it = st.form_submit_button("Set frequency")
    if set_it:
        try:
            ids = [int(x) for x in ids_text.replace(";", ",").split(",") if x.strip()]
            n = set_frequency(actor, int(every), segment=None if ids else seg, account_ids=ids)
        except ValueError:
            show_error(repr(ids_text), prefix="Account ids must be whole numbers: ")
        except GcrmError as exc:
            show_error(exc)
        else:
            msg = f"Visit frequency set to {int(every)} days for {n} accounts."
            st.session_state["vp_flash"] = msg
            st.rerun()

cycles = saved_for(actor)
if not cycles:
    st.info("No saved call cycle yet: plan one above.")
    st.stop()

labels = [f"{c['rep']}: {c['start']} to {c['end']}" for c in cycles]
pick = st.selectbox(
    "Saved cycle", range(len(cycles)), format_func=labels.__getitem__, key="vp_pick"
)
cycle = cycles[pick]
plan = cycle["plan"]
fig = figures(plan)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Frequency compliance", f"{fig['compliance']:.0%}")
m2.metric("Visits planned / needed", f"{int(fig['visits'])} / {int(fig['required'])}")
m3.metric("Hours per day (mean / max)", f"{fig['mean_work_h']:.1f} / {fig['max_work_h']:.1f}")
m4.metric("Balance (CV of hours)", f"{fig['balance_cv']:.2f}")
if plan["skipped"]:
    st.warning(f"{len(plan['skipped'])} accounts left out of this cycle.")
    st.dataframe(plan["skipped"], hide_index=True, width="stretch")

st.subheader(f"Calendar of {cycle['rep']}")
cal = calendar_frame(plan)
st.dataframe(cal, hide_index=True, width="stretch")

busy = [d for d, n in zip(cal["date"], cal["visits"], strict=True) if n]
if busy:
    day = st.selectbox("Day", busy, format_func=lambda d: f"{d:%a %d %b %Y}", key="vp_day")
    show_map(day_map(cycle["rep"], plan, day), key="vp_map", height=420)
    visits = next(d["visits"] for d in plan["days"] if d["date"] == day.isoformat())
    st.dataframe(
        [
            {"#": n, "account": v["name"], "start": v["start"][11:16], "end": v["end"][11:16],
             "appointment": v["fixed"], "in opening hours": v["on_time"]}
            for n, v in enumerate(visits, start=1)
        ],
        hide_index=True,
        width="stretch",
    )  # fmt: skip

with st.form("vp_appt"):
    st.subheader("Add a fixed appointment")
    names = {int(k): v["name"] for k, v in plan["accounts"].items()}
    acc = st.selectbox("Account", list(names), format_func=lambda k: names[k], key="vp_appt_acc")
    a1, a2 = st.columns(2)
    when_day = a1.date_input("Date", value=dt.date.fromisoformat(plan["start"]), key="vp_appt_day")
    when_time = a2.time_input("Time", value=dt.time(10, 0), key="vp_appt_time")
    add = st.form_submit_button("Add and re-plan")
if add:
    payload = {
        "rep": cycle["rep"], "account_id": int(acc),
        "when": dt.datetime.combine(when_day, when_time).isoformat(),
    }  # fmt: skip
    start_job("vp_appt_job", "cycle_appointment", payload, actor)


def _replanned(state: JobState) -> None:
    changed = ", ".join(state.result["changed"])
    st.session_state["vp_flash"] = f"Appointment added; days re-planned: {changed}."


follow_job("vp_appt_job", actor, on_done=_replanned, failed="The appointment was not added: ")

st.download_button(
    "Download the calendar (ICS)",
    ics_for(actor, cycle["rep"]),
    file_name=f"call-cycle-{cycle['rep']}.ics",
    mime="text/calendar",
    key="vp_ics",
)
