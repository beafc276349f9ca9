"""AppTest: a campaign's visits and calls show up on the rep's My day."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.campaigns import create_campaign, launch
from gcrm.db.session import session_scope
from gcrm.segments import SegmentDefinition, save_segment
from gcrm.store import AccountFilter, accounts_frame

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_rep_sees_campaign_visits_suggested_and_calls_listed(demo_copy: str) -> None:
    with session_scope() as s:
        mgr = actor_for(s, "manager")
        save_segment(s, mgr, "leads", SegmentDefinition(kinds=("lead",)))
        c = create_campaign(s, mgr, name="Lead drive", segment="leads", channels="visit,call")
        launch(s, mgr, c.id)
        rep = actor_for(s, "rep1")
        leads = accounts_frame(s, rep, AccountFilter(kinds=["lead"], owners=["rep1"]))
    reachable = {int(i) for i, d in zip(leads["id"], leads["do_not_contact"], strict=True) if not d}
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["actor"] = rep
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["My day"]
    chosen = set(at.multiselect[0].value)
    assert chosen and chosen <= reachable, "the campaign's visits are suggested first"
    assert any("visits are asked for by campaigns" in c.value for c in at.caption)
    (calls,) = [e for e in at.expander if "Campaign calls to make" in e.label]
    assert calls.label == f"Campaign calls to make ({len(reachable)})"
    table = calls.dataframe[0].value
    assert set(table["campaign"]) == {"Lead drive"} and len(table) == len(reachable)
