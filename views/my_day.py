"""My day: pick visits, optimise the route over real roads, take it on the road."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.db.session import session_scope
from gcrm.maps import route_map
from gcrm.routing import (
    due_date,
    google_maps_links,
    itinerary_html,
    itinerary_pdf,
    plan_for_reps,
    replan,
    to_gpx,
    to_ics,
)
from gcrm.store import AccountFilter, accounts_frame, list_users, log_interaction, save_plan
from views.common import demo_banner, require_actor, road_graph, show_map

actor = require_actor()
st.title("My day")
if not actor.can("plan"):
    st.error("Your role does not plan routes.")
    st.stop()

with session_scope() as session:
    if actor.role == "rep":
        reps = [actor.username]
    else:
        reps = [u.username for u in list_users(session, actor) if u.role == "rep"]
if not reps:
    st.info("There is no rep to plan for.")
    st.stop()
road_graph()  # load the shared road network before the user presses Optimise

c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
rep = c1.selectbox("Rep", reps, key="md_rep", disabled=len(reps) == 1)
day = c2.date_input("Date", value=dt.date.today(), key="md_date", format="DD.MM.YYYY")
days = int(c3.number_input("Days", min_value=1, max_value=10, value=1, key="md_days"))
stops = int(c4.number_input("Stops to plan", min_value=1, max_value=300, value=12, key="md_n"))

with session_scope() as session:
    accounts = accounts_frame(
        session, actor, AccountFilter(owners=[rep], include_do_not_contact=False)
    )
accounts = accounts.dropna(subset=["lat", "lon"])
last_day = day + dt.timedelta(days=days - 1)
accounts["due"] = [
    due_date(lv, int(e) if e == e and e is not None else None)
    for lv, e in zip(accounts["last_visit"], accounts["visit_every_days"], strict=True)
]
accounts["is_due"] = [d is not None and d <= last_day for d in accounts["due"]]
suggested = accounts.sort_values(["is_due", "potential_value"], ascending=[False, False])
picked_from_map = st.session_state.get("selected_account_ids") or []
labels = {
    int(r.id): f"{r.name} ({r.street or ''} {r.housenumber or ''})" for r in suggested.itertuples()
}
default = [i for i in picked_from_map if i in labels] or list(labels)[:stops]

st.subheader("Visits")
chosen = st.multiselect(
    "Visits to plan (due and valuable first; add or remove)",
    list(labels),
    default=default[:stops],
    format_func=lambda i: labels.get(i, str(i)),
    key=f"md_visits_{rep}_{day}_{stops}",
)
st.caption(
    f"{int(suggested['is_due'].sum())} of {len(suggested)} accounts are due by {last_day:%d.%m.}; "
    "do-not-contact accounts are never planned."
)

if st.button("Optimise", type="primary", key="md_optimise"):
    if not chosen:
        st.error("Choose at least one visit.")
    else:
        budget = min(10.0, 0.5 + len(chosen) / 25)  # solver seconds: grows with the stops
        with st.status("Planning over the road network…") as status:
            try:
                with session_scope() as session:
                    plan = plan_for_reps(
                        session, actor, [rep], day, days=days, seconds=budget, due=False,
                        selected=chosen, G=road_graph(),
                    )  # fmt: skip
                    save_plan(session, actor, plan)
                st.session_state["md_plan"] = plan
                st.session_state.pop("md_print_files", None)
                status.update(label="Route planned", state="complete")
            except GcrmError as exc:
                status.update(label="Planning failed", state="error")
                st.error(str(exc))

plan = st.session_state.get("md_plan")
if plan is None:
    demo_banner()
    st.stop()

show_map(route_map(plan.routes), key="md_map", height=520)
st.subheader("Itinerary")
for route in plan.routes:
    st.markdown(
        f"**{route.rep} · {route.date:%a %d.%m.%Y}** — leave {route.departure:%H:%M}, back "
        f"{route.arrival:%H:%M}; drive {route.drive_s // 60} min, "
        f"{route.distance_m / 1000:.1f} km, {len(route.stops)} visits"
    )
    st.dataframe(
        [
            {
                "#": n,
                "account": s.name,
                "address": s.address,
                "arrive": f"{s.arrival:%H:%M}",
                "wait (min)": s.wait_s // 60,
                "visit": f"{s.start:%H:%M}–{s.end:%H:%M}",
                "drive (min)": round(s.leg_duration_s / 60, 1),
                "km": round(s.leg_distance_m / 1000, 2),
                "status": s.status,
            }
            for n, s in enumerate(route.stops, start=1)
        ],
        hide_index=True,
        width="stretch",
    )
    for i, link in enumerate(google_maps_links(route), start=1):
        st.link_button(f"Navigate leg {i} on the phone", link)
if plan.dropped:
    st.warning(f"{len(plan.dropped)} visits could not be planned:")
    st.dataframe(
        [{"visit": d.name, "reason": d.reason} for d in plan.dropped],
        hide_index=True,
        width="stretch",
    )

st.subheader("Take it with you")
d1, d2, d3, d4 = st.columns(4)
d1.download_button("GPX", to_gpx(plan), file_name="route.gpx", mime="application/gpx+xml")
d2.download_button("Calendar", to_ics(plan), file_name="visits.ics", mime="text/calendar")
if d3.button("Printable itinerary", key="md_print"):
    with st.spinner("Drawing the itinerary…"):
        st.session_state["md_print_files"] = (
            itinerary_html(plan, G=road_graph()),
            itinerary_pdf(plan, G=road_graph()),
        )
if "md_print_files" in st.session_state:
    page_html, page_pdf = st.session_state["md_print_files"]
    d3.download_button("HTML", page_html, file_name="itinerary.html", mime="text/html")
    d4.download_button("PDF", page_pdf, file_name="itinerary.pdf", mime="application/pdf")

route = plan.routes[0] if plan.routes else None
if route is not None and route.stops:
    st.subheader("On the road")
    names = {s.visit_id: f"{n}. {s.name}" for n, s in enumerate(route.stops, start=1)}
    with st.form("log_stop"):
        stop = st.selectbox("Stop", list(names), format_func=names.get, key="md_stop")
        outcome = st.selectbox(
            "Outcome", ["order", "follow-up", "no decision", "not interested", "demo booked"]
        )
        notes = st.text_input("Notes")
        if st.form_submit_button("Log visit"):
            s = next(x for x in route.stops if x.visit_id == stop)
            try:
                with session_scope() as session:
                    log_interaction(
                        session, actor, int(s.account_id), kind="visit", outcome=outcome,
                        notes=notes or None,
                    )  # fmt: skip
                st.session_state.setdefault("md_done", set()).add(stop)
                st.success(f"Logged: {s.name}.")
            except GcrmError as exc:
                st.error(str(exc))
    with st.form("replan"):
        st.caption("Re-plan the rest of the day from where you are now.")
        done = st.multiselect(
            "Done", list(names), default=sorted(st.session_state.get("md_done", set())),
            format_func=names.get,
        )  # fmt: skip
        skipped = st.multiselect("Skip", list(names), format_func=names.get)
        here = st.selectbox("I am at", list(names), format_func=names.get, key="md_here")
        at = st.time_input("Time now", value=dt.datetime.now().time().replace(second=0))
        if st.form_submit_button("Re-plan from here"):
            s = next(x for x in route.stops if x.visit_id == here)
            try:
                new_plan = replan(
                    plan, rep=route.rep, now=dt.datetime.combine(route.date, at),
                    position=(s.lat, s.lon), done=done, skipped=skipped, G=road_graph(),
                )  # fmt: skip
                with session_scope() as session:
                    save_plan(session, actor, new_plan)
                st.session_state["md_plan"] = new_plan
                st.rerun()
            except GcrmError as exc:
                st.error(str(exc))
demo_banner()
