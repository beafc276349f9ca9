"""Accounts: search and filter, the accounts on a map, one account's page."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from gcrm._errors import GcrmError
from gcrm.actions import accounts as actions
from gcrm.db.models import STAGES, AccountKind
from gcrm.due import due_date
from gcrm.maps import accounts_map
from gcrm.store import SORTS, AccountFilter
from gcrm.viewport import Viewport
from views.common import demo_banner, plain, require_actor, show_error, show_map
from views.map_view import show_cached_map

actor = require_actor()
st.title("Accounts")
st.caption(f"Signed in as **{actor.username}** ({actor.role}).")

options = actions.filter_options(actor)

with st.sidebar:
    st.header("Filters")
    text = st.text_input("Search name or address", key="acc_text")
    kinds = st.multiselect("Kind", options["kind"], key="acc_kind")
    stages = st.multiselect("Stage", options["stage"], key="acc_stage")
    segments = st.multiselect("Segment", options["segment"], key="acc_segment")
    territories = st.multiselect("Territory", options["territory"], key="acc_territory")
    owners = st.multiselect("Owner", options["owner"], key="acc_owner")

flt = AccountFilter(
    kinds=kinds,
    stages=stages,
    segments=segments,
    territories=territories,
    owners=owners,
    text=text or None,
)
PER_PAGE = 200
sort = st.session_state.get("acc_sort", "name")
if st.session_state.get("acc_seen") != (flt, sort):  # new filter or order: back to page 1
    st.session_state["acc_seen"] = (flt, sort)
    st.session_state["acc_page"] = 1
# One page of rows is read, searched and sorted in the database; counts and value are
# SQL aggregates over every match, and the map shows what the viewport can (clusters).
listed = actions.account_list(
    actor,
    flt,
    page=int(st.session_state.get("acc_page", 1)),
    per_page=PER_PAGE,
    sort=sort,
)
total, n_located, extent, large = listed.total, listed.located, listed.extent, listed.large
accounts, value = listed.accounts, listed.value

c1, c2, c3 = st.columns(3)
c1.metric("Accounts", total)
c2.metric("On the map", n_located)
c3.metric("Potential value (€)", f"{value:,.0f}")

if total == 0:
    st.info("No account matches these filters.")
    demo_banner()
    st.stop()

if large and extent is not None:
    clusters = actions.cluster_map(actor, flt, "markers", Viewport.fit(extent))
    show_map(clusters.map, key="accounts_map", height=480)
    st.caption(
        f"{n_located:,} accounts on the map, grouped where they are close: click a group "
        "to zoom in (the Prospect map has every layer)."
    )
else:
    located = accounts[~accounts.geometry.is_empty & accounts.geometry.notna()]
    # Drawn once per process for these rows (this user's scope and filter).
    show_cached_map((located,), lambda: accounts_map(located), key="accounts_map", height=480)
TABLE_COLUMNS = [
    "name", "kind", "stage", "segment", "owner", "territory", "street",
    "housenumber", "postcode", "city", "geocode_precision", "potential_value", "last_visit",
]  # fmt: skip
left_sort, left_page = st.columns([2, 1])
left_sort.selectbox("Sort by", list(SORTS), format_func=SORTS.__getitem__, key="acc_sort")
if listed.pages > 1:
    # A filter may leave fewer pages than the one asked for: show the page shown.
    st.session_state["acc_page"] = listed.page
    left_page.number_input(
        f"Page (of {listed.pages:,}; {PER_PAGE} accounts a page)",
        min_value=1, max_value=listed.pages, key="acc_page",
    )  # fmt: skip
st.dataframe(accounts[TABLE_COLUMNS], hide_index=True, width="stretch")
if listed.needs_pin_total:
    n_pins = listed.needs_pin_total
    with st.expander(f"Needs a pin ({n_pins}): no location or only an approximate one"):
        st.caption("Open the account below and use “Move the pin” to place it by hand.")
        if n_pins > len(listed.needs_pin):
            st.caption(f"The first {len(listed.needs_pin)} by name; filter to see the others.")
        st.dataframe(listed.needs_pin, hide_index=True, width="stretch", key="acc_needs_pin")
labels = {
    int(r.id): f"{r.name} — {r.street or ''} {r.housenumber or ''}".strip()
    for r in accounts.itertuples()
}
picked = st.selectbox(
    "Open an account",
    list(labels),
    index=None,
    format_func=lambda i: labels[i],
    placeholder="Type a name to search…",
    key="acc_open",
)
if picked is None:
    demo_banner()
    st.stop()

account_id = int(picked)
try:
    detail = actions.account_detail(actor, account_id)
except GcrmError as exc:
    show_error(exc)
    st.stop()
acc = detail["account"]

st.divider()
st.header(plain(acc["name"]))
# The result of the last action, shown after the page was redrawn from the store
# (so the header, history and pin show the new state at once).
for kind, message in st.session_state.pop("acc_flash", []):
    getattr(st, kind)(message)
left, right = st.columns([3, 2])
with left:
    address = plain(" ".join(str(x) for x in (acc["street"], acc["housenumber"]) if x))
    st.markdown(
        f"**{plain(acc['kind'])}** · stage **{plain(acc['stage'])}** · "
        f"{plain(acc['segment'] or 'no segment')}  \n"
        f"{address}, {plain(acc['postcode'])} {plain(acc['city'])}  \n"
        f"Owner: {plain(acc['owner'] or '—')} · Territory: {plain(acc['territory'] or '—')}  \n"
        f"Location: {plain(acc['geocode_precision'])}"
        + (" (pin placed by hand)" if acc["manual_pin"] else "")
    )
    if acc["do_not_contact"]:
        st.warning("Do not contact: this account is never planned or called.")
    every = acc["visit_every_days"]
    due = due_date(acc["last_visit"], every)
    if due is not None and every:
        if due <= dt.date.today():
            st.info(f"Next action: visit due now (every {int(every)} days).")
        else:
            st.info(f"Next action: visit by {due:%d.%m.%Y} (every {int(every)} days).")
    st.subheader("Contacts")
    if detail["contacts"]:
        st.dataframe(detail["contacts"], hide_index=True, width="stretch")
    else:
        st.caption("No contacts.")
    st.subheader("History")
    history = detail["interactions"]
    if history.empty:
        st.caption("No interactions yet.")
    else:
        st.dataframe(
            history[["occurred_at", "kind", "user", "outcome", "notes"]],
            hide_index=True,
            width="stretch",
        )
with right:
    if acc["lat"] is not None:
        one = accounts[accounts["id"] == account_id]
        show_map(accounts_map(one, cluster=False), key="account_map", height=300)


def _done(message: str) -> None:
    """Redraw the page from the store, then say what was done."""
    st.session_state.setdefault("acc_flash", []).append(("success", message))
    st.rerun()


if actor.can("edit"):
    tab_edit, tab_log, tab_pin = st.tabs(["Edit", "Log an interaction", "Move the pin"])
    with tab_edit, st.form("edit_account"):
        kinds_all = [k.value for k in AccountKind]
        values = {
            "name": st.text_input("Name", acc["name"]),
            "kind": st.selectbox("Kind", kinds_all, index=kinds_all.index(acc["kind"])),
            "stage": st.selectbox("Stage", STAGES, index=STAGES.index(acc["stage"])),
            "segment": st.text_input("Segment", acc["segment"] or "") or None,
            "potential_value": st.number_input(
                "Potential value (€)", value=float(acc["potential_value"] or 0), min_value=0.0
            ),
            "visit_every_days": st.number_input(
                "Visit every (days)", value=int(acc["visit_every_days"] or 30), min_value=1
            ),
            "do_not_contact": st.checkbox("Do not contact", acc["do_not_contact"]),
            "marketing_consent": st.checkbox("Marketing consent", acc["marketing_consent"]),
        }
        if st.form_submit_button("Save"):
            try:
                actions.update_account(actor, account_id, values)
                _done("Saved.")
            except GcrmError as exc:
                show_error(exc)
    with tab_log, st.form("log_interaction"):
        kind = st.selectbox("Kind", ["visit", "call", "email", "note"])
        outcome = st.text_input("Outcome")
        notes = st.text_area("Notes")
        if st.form_submit_button("Log"):
            try:
                actions.log_interaction(
                    actor, account_id, kind=kind, outcome=outcome or None, notes=notes or None
                )
                _done(f"Logged the {kind}: it is in the history above.")
            except GcrmError as exc:
                show_error(exc)
    with tab_pin, st.form("move_pin"):
        st.caption("Place the pin by hand where the address data is wrong.")
        lat = st.number_input("Latitude", value=float(acc["lat"] or 60.17), format="%.6f")
        lon = st.number_input("Longitude", value=float(acc["lon"] or 24.94), format="%.6f")
        if st.form_submit_button("Set pin"):
            try:
                actions.set_manual_pin(actor, account_id, lat, lon)
                _done("Pin moved (location: manual); geocoding will not move it again.")
            except GcrmError as exc:
                show_error(exc)
demo_banner()
