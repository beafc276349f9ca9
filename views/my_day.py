"""My day: today's suggested visits, the optimised route, and the day on the road."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import streamlit as st

from gcrm import day_actions
from gcrm._errors import GcrmError
from gcrm.actions import my_day as actions
from gcrm.campaign_tasks import campaign_calls, with_campaign_visits
from gcrm.db.queue import JobState
from gcrm.jobs import plan_in_page
from gcrm.maps import fitted_route_map, suggested_visits_map
from gcrm.plan_warmup import warm_up_in_background
from gcrm.routing import (
    GOOGLE_TRAVEL_MODES,
    Plan,
    google_maps_links,
    itinerary_html,
    itinerary_pdf,
    itinerary_rows,
    navigate_link,
    replan,
    tel_link,
    to_gpx,
    to_ics,
)
from gcrm.suggestions import suggest_visits, suggestion_counts
from gcrm.visit_plan import with_cycle_visits
from views.common import demo_banner, plain, require_actor, require_right, show_error
from views.geolocation import geolocate
from views.jobs import follow_job, start_job
from views.map_resources import road_graph
from views.map_view import show_cached_map


@st.cache_resource(show_spinner=False)
def _planner_warmed_up() -> Any:
    """Once per server process: import the solver and index the roads in the background."""
    return warm_up_in_background(road_graph())


def _flash(kind: str, text: str) -> None:
    st.session_state.setdefault("md_flash", []).append((kind, text))


def _set_plan(plan: Any, *, save: bool = True) -> None:
    st.session_state["md_plan"] = plan
    st.session_state["md_version"] = st.session_state.get("md_version", 0) + 1
    if save:
        actions.save_plan(actor, plan)


def _act(action: str, route_key: tuple[str, dt.date], visit_id: str, **kw: Any) -> None:
    """Callback of a stop's button: change the plan, say what happened."""
    plan = st.session_state["md_plan"]
    rep_id, day_ = route_key
    stop = next(s for s in plan.route(rep_id, day_).stops if s.visit_id == visit_id)
    try:
        if action == "move":
            new = day_actions.move_stop(
                plan, rep=rep_id, day=day_, visit_id=visit_id, by=kw["by"], G=road_graph()
            )
            n = [s.visit_id for s in new.route(rep_id, day_).stops].index(visit_id) + 1
            text = f"Moved {stop.name} to stop {n}; times recomputed."
        elif action == "pin":
            new = day_actions.pin_stop(
                plan, rep=rep_id, day=day_, visit_id=visit_id, pinned=not stop.fixed
            )
            text = (
                f"Unpinned {stop.name}."
                if stop.fixed
                else f"Pinned {stop.name} at {stop.start:%H:%M}: Optimise and re-plan keep it."
            )
        elif action == "skip":
            new = day_actions.skip_stop(
                plan, rep=rep_id, day=day_, visit_id=visit_id, G=road_graph()
            )
            text = f"Skipped {stop.name}; times recomputed."
        else:
            new = actions.mark_done(actor, plan, rep=rep_id, day=day_, visit_id=visit_id)
            text = f"Done: {stop.name} (visit logged)."
        _set_plan(new)
        _flash("success", text)
    except GcrmError as exc:
        _flash("error", str(exc))


def _printable_html(plan: Any) -> str:
    return itinerary_html(plan, G=road_graph())


def _printable_pdf(plan: Any) -> bytes:
    return itinerary_pdf(plan, G=road_graph())


def _deferred(plan: Any, filename: str, build: Callable[[Any], str | bytes]) -> Callable[[], Any]:
    """A download made when tapped, from this plan, and recorded in the audit log."""
    who = actor

    def make() -> str | bytes:
        data = build(plan)
        actions.audit_download(who, plan, filename=filename, data=data)
        return data

    return make


def _handle_position(value: dict[str, Any] | None, stop: Any, route: Any) -> None:
    """Store a check-in/out sent by the geolocation buttons (once per tap)."""
    if not value or value.get("nonce") in st.session_state.setdefault("md_seen", set()):
        return
    st.session_state["md_seen"].add(value.get("nonce"))
    has_pos = "lat" in value and "lon" in value
    position = (float(value["lat"]), float(value["lon"])) if has_pos else None
    accuracy = float(value["accuracy"]) if value.get("accuracy") is not None else None
    kind = "out" if value.get("action") == "out" else "in"
    try:
        ci, new = actions.check_in(
            actor, st.session_state["md_plan"], stop, route, kind=kind, position=position,
            accuracy_m=accuracy,
        )  # fmt: skip
        text = ci.message(stop.name)
        if kind == "out":
            _set_plan(new)
            text += " Visit logged as done."
        _flash("warning" if ci.far else "success", text)
    except GcrmError as exc:
        _flash("error", str(exc))
    st.rerun()


def _replan_from(position: tuple[float, float], at: dt.datetime, route: Any) -> None:
    plan = st.session_state["md_plan"]
    try:
        new = replan(
            plan, rep=route.rep, now=at, position=position,
            done=[s.visit_id for s in route.stops if s.status == "done"], G=road_graph(),
        )  # fmt: skip
        _set_plan(new)
        _flash("success", f"Re-planned from your position at {at:%H:%M}.")
    except GcrmError as exc:
        _flash("error", str(exc))


actor = require_actor()
st.title("My day")
require_right(actor, "plan", "Your role does not plan routes.")

reps = actions.reps_to_plan(actor)
if not reps:
    st.info("There is no rep to plan for.")
    st.stop()
road_graph()  # load the shared road network before the user presses Optimise
_planner_warmed_up()  # and the solver: the first Optimise costs what later ones do

today = day_actions.local_now().date()
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
rep = c1.selectbox("Rep", reps, key="md_rep", disabled=len(reps) == 1)
day = c2.date_input("Date", value=today, key="md_date", format="DD.MM.YYYY")
days = int(c3.number_input("Days", min_value=1, max_value=10, value=1, key="md_days"))
stops = int(c4.number_input("Stops to plan", min_value=1, max_value=300, value=12, key="md_n"))

accounts, home = actions.rep_accounts(actor, rep)
# The saved call cycle's visits for these dates come first (Visit plan page).
accounts, in_cycle = with_cycle_visits(actor, rep, day, accounts, days=days)
accounts = with_campaign_visits(actor, rep, accounts)  # visits campaigns ask for come first
ranked = suggest_visits(accounts, day=day, days=days, limit=stops)
counts = suggestion_counts(ranked)
plannable = ranked[ranked["plannable"]]
labels = {
    int(r.id): f"{r.name} ({r.street or ''} {r.housenumber or ''})" for r in plannable.itertuples()
}
picked_from_map = st.session_state.get("selected_account_ids") or []
cycle_ids = [i for i in in_cycle if i in labels]
default = [i for i in picked_from_map if i in labels] or list(
    dict.fromkeys([*cycle_ids, *(int(i) for i in ranked.loc[ranked["suggested"], "id"])])
)

st.subheader("Visits")
chosen = st.multiselect(
    "Visits to plan (due, open that day and valuable first; add or remove)",
    list(labels),
    default=default[: max(stops, len(cycle_ids))],
    format_func=lambda i: labels.get(i, str(i)),
    key=f"md_visits_{rep}_{day}_{days}_{stops}",
)
last_day = day + dt.timedelta(days=days - 1)
st.caption(
    f"{counts['due']} accounts are due by {last_day:%d.%m.} (as Reports counts them); "
    f"{counts['plannable_due']} can be visited, {counts['open_due']} are open then; "
    f"{counts['suggested']} suggested. Do-not-contact accounts are never planned."
    + (f" {len(cycle_ids)} visits come from the saved call cycle." if cycle_ids else "")
    + (f" {counts['campaign']} visits are asked for by campaigns." if counts["campaign"] else "")
)
calls = campaign_calls(actor, rep)
if len(calls):
    with st.expander(f"Campaign calls to make ({len(calls)})"):
        st.dataframe(calls.drop(columns="id"), hide_index=True, width="stretch")

if st.button("Optimise", type="primary", key="md_optimise"):
    if not chosen:
        st.error("Choose at least one visit.")
    elif not plan_in_page(days=days, stops=len(chosen)):
        # Several days or many stops take longer: a worker plans them, the page follows.
        payload = {"rep": rep, "day": day.isoformat(), "days": days, "selected": list(chosen)}
        start_job("md_job", "day_plan", payload, actor)
    else:
        with st.status("Planning over the road network…") as status:
            try:
                new_plan = actions.plan_day(
                    actor, rep, day, days=days, selected=chosen, G=road_graph()
                )
                _set_plan(new_plan)
                status.update(label="Route planned", state="complete")
                for note in new_plan.stats.get("notes", []):  # nothing due, home far from roads
                    st.warning(plain(note))
            except GcrmError as exc:
                status.update(label="Planning failed", state="error")
                show_error(exc)


def _planned(state: JobState) -> None:
    new_plan = Plan.from_dict(state.result)
    _set_plan(new_plan)
    _flash("success", "Route planned.")
    for note in new_plan.stats.get("notes", []):  # nothing due, home far from roads
        _flash("warning", plain(note))


follow_job("md_job", actor, on_done=_planned, failed="Planning failed: ")
plan = st.session_state.get("md_plan")
if plan is not None and not any(r.rep == rep for r in plan.routes):
    plan = None  # a plan of another rep: not this page's state
if plan is None:
    shown = plannable[plannable["id"].astype(int).isin(chosen)]
    st.caption(f"{len(shown)} visits on the map; press Optimise to plan the route.")
    records = shown.to_dict("records")
    # Drawn once per process for these visits and home (a rerun reuses it).
    show_cached_map(
        (records, home), lambda: suggested_visits_map(records, home=home),
        key="md_map_suggested", height=420,
    )  # fmt: skip
    demo_banner()
    st.stop()

for kind, text in st.session_state.pop("md_flash", []):
    getattr(st, kind)(text)

show_cached_map((plan.routes,), lambda: fitted_route_map(plan.routes), key="md_map", height=420)
routes = [r for r in plan.routes if r.rep == rep]
route = routes[0]
if len(routes) > 1:
    pick = st.selectbox(
        "Day", list(range(len(routes))), format_func=lambda i: f"{routes[i].date:%a %d.%m.}",
        key="md_route",
    )  # fmt: skip
    route = routes[pick]
key = (route.rep, route.date)
problems = day_actions.route_problems(plan, route)
st.subheader("Itinerary")
st.markdown(
    f"**{route.rep_name or route.rep} · {route.date:%a %d.%m.%Y}** — leave "
    f"{route.departure:%H:%M}, back {route.arrival:%H:%M}; drive {route.drive_s // 60} min, "
    f"{route.distance_m / 1000:.1f} km, {len(route.stops)} visits"
)
for k in ("lunch", "shift"):
    if k in problems:
        st.warning(problems[k])
phones = actions.stop_phones(actor, [s.account_id for s in route.stops if s.account_id is not None])
mode = GOOGLE_TRAVEL_MODES.get(plan.profile, "driving")
current = next((s.visit_id for s in route.stops if s.status != "done"), None)
rows = itinerary_rows(route)
for row in rows:
    if row["kind"] != "stop":
        st.markdown(f"*{row['visit'] or row['arrive']} · {row['account']}*")
        continue
    s = next(x for x in route.stops if x.visit_id == row["visit_id"])
    vid = s.visit_id
    with st.container(border=True, key=f"md_stop_{vid.replace(':', '_')}"):
        flags = (" ✅ done" if s.status == "done" else "") + (" 📌" if s.fixed else "")
        st.markdown(f"**{row['#']}. {row['visit']} · {s.name}**{flags}")
        st.caption(
            f"{s.address or '—'} · arrive {row['arrive']}, wait {row['wait']}, "
            f"drive {row['drive']} ({row['km']} km)"
        )
        if vid in problems:
            st.warning(problems[vid])
        with st.container(horizontal=True):
            st.link_button("Navigate", navigate_link(s.lat, s.lon, travel_mode=mode))
            tel = tel_link(phones.get(int(s.account_id))) if s.account_id is not None else None
            if tel:
                st.link_button("Call", tel)
            if s.status != "done":
                for label, action, extra in (
                    ("↑", "move", {"by": -1}),
                    ("↓", "move", {"by": 1}),
                    ("Unpin" if s.fixed else "Pin", "pin", {}),
                    ("Skip", "skip", {}),
                    ("Done", "done", {}),
                ):
                    st.button(
                        label, key=f"md_{action}{extra.get('by', '')}_{vid}",
                        on_click=_act, args=(action, key, vid), kwargs=extra,
                    )  # fmt: skip
        if vid == current and s.account_id is not None:  # the next stop: check in there
            buttons = [
                {"id": "in", "label": "📍 Check in", "primary": True},
                {"id": "out", "label": "Check out"},
            ]
            _handle_position(geolocate(buttons, key=f"md_geo_{vid}"), s, route)

if plan.dropped:
    with st.expander(f"{len(plan.dropped)} visits not planned"):
        st.dataframe(
            [{"visit": d.name, "reason": d.reason} for d in plan.dropped],
            hide_index=True,
            width="stretch",
        )

st.subheader("Re-plan")
st.caption("From where you are now and the current time; done stops stay done.")
with st.container(key="md_replan"):
    value = geolocate(
        [{"id": "replan", "label": "📍 Re-plan from my position", "primary": True}],
        key="md_geo_replan",
    )
if value and value.get("nonce") not in st.session_state.setdefault("md_seen", set()):
    st.session_state["md_seen"].add(value.get("nonce"))
    if "lat" in value:
        _replan_from((float(value["lat"]), float(value["lon"])), day_actions.local_now(), route)
    else:
        _flash("error", f"No position from the device ({value.get('error')}): use the form below.")
    st.rerun()
with st.expander("Re-plan without the device position"):
    names = {s.visit_id: f"{n}. {s.name}" for n, s in enumerate(route.stops, start=1)}
    with st.form("replan"):
        here = st.selectbox("I am at", list(names), format_func=names.get, key="md_here")
        at = st.time_input("Time now", value=day_actions.local_now().time().replace(second=0))
        if st.form_submit_button("Re-plan from here"):
            s = next(x for x in route.stops if x.visit_id == here)
            _replan_from((s.lat, s.lon), dt.datetime.combine(route.date, at), route)
            st.rerun()
    with st.form("log_stop"):
        stop = st.selectbox("Stop", list(names), format_func=names.get, key="md_stop")
        outcome = st.selectbox(
            "Outcome", ["order", "follow-up", "no decision", "not interested", "demo booked"]
        )
        notes = st.text_input("Notes")
        if st.form_submit_button("Log visit"):
            try:
                done_plan = actions.mark_done(
                    actor, plan, rep=route.rep, day=route.date, visit_id=stop,
                    outcome=outcome, notes=notes or None,
                )  # fmt: skip
                _set_plan(done_plan)
                _flash("success", f"Logged: {names[stop]}.")
            except GcrmError as exc:
                _flash("error", str(exc))
            st.rerun()

st.subheader("Take it with you")
st.caption("Each file is made from the plan as it is now, when you tap it; downloads are audited.")
with st.container(horizontal=True):
    for label, filename, mime, build in (
        ("GPX", "route.gpx", "application/gpx+xml", to_gpx),
        ("Calendar", "visits.ics", "text/calendar", to_ics),
        ("Itinerary (HTML)", "itinerary.html", "text/html", _printable_html),
        ("Itinerary (PDF)", "itinerary.pdf", "application/pdf", _printable_pdf),
    ):
        st.download_button(
            label, _deferred(plan, filename, build), file_name=filename, mime=mime,
            key=f"md_dl_{filename}", on_click="ignore",
        )  # fmt: skip
for i, link in enumerate(google_maps_links(route, travel_mode=mode), start=1):
    st.link_button(f"Whole route in Google Maps, part {i}", link)
demo_banner()
