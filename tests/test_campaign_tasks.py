"""Campaign visits and calls reach the places reps work: My day's suggestions and
saved call cycles read open campaign tasks (:mod:`gcrm.campaign_tasks`), and drop
them once done or no longer allowed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from gcrm.auth import Actor, actor_for
from gcrm.campaign_tasks import call_list, open_tasks, task_accounts, with_campaign_visits
from gcrm.campaigns import create_campaign, launch, log_response
from gcrm.cycles import rep_accounts
from gcrm.db.models import Account
from gcrm.db.session import session_scope
from gcrm.segments import SegmentDefinition, save_segment
from gcrm.store import AccountFilter, accounts_frame, get_user
from gcrm.suggestions import suggest_visits, suggestion_counts

DAY = dt.date(2027, 1, 5)  # a Tuesday


def _rep1_leads() -> set[int]:
    """rep1's leads that may be visited (the demo gives leads no visit frequency)."""
    with session_scope() as s:
        frame = accounts_frame(
            s, actor_for(s, "rep1"), AccountFilter(kinds=["lead"], owners=["rep1"])
        )
    return {int(i) for i, dnc in zip(frame["id"], frame["do_not_contact"], strict=True) if not dnc}


@pytest.fixture
def lead_campaign(demo_copy: str) -> int:
    """The manager's campaign: visit and call every lead."""
    with session_scope() as s:
        mgr = actor_for(s, "manager")
        save_segment(s, mgr, "leads", SegmentDefinition(kinds=("lead",)))
        c = create_campaign(s, mgr, name="Lead visits", segment="leads", channels="visit,call")
        launch(s, mgr, c.id)
        return c.id


def _rep1_day(viewer: str = "rep1", *, limit: int = 12):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        actor = actor_for(s, viewer)
        accounts = accounts_frame(s, actor, AccountFilter(owners=["rep1"]))
    return suggest_visits(
        with_campaign_visits(actor, "rep1", accounts), day=DAY, days=1, limit=limit
    )


def test_my_day_suggests_campaign_visits_first(demo_copy: str) -> None:
    """Leads are never due; once a campaign asks for visits they are suggested, first."""
    leads = _rep1_leads()
    assert len(leads) > 12
    before = _rep1_day()
    assert not set(before.loc[before["suggested"], "id"]) & leads
    with session_scope() as s:
        mgr = actor_for(s, "manager")
        save_segment(s, mgr, "leads", SegmentDefinition(kinds=("lead",)))
        c = create_campaign(s, mgr, name="Lead visits", segment="leads", channels="visit")
        launch(s, mgr, c.id)
    for viewer in ("rep1", "manager"):  # the rep, or their manager planning the rep's day
        ranked = _rep1_day(viewer)
        asked = set(ranked.loc[ranked["campaign_visit"], "id"].astype(int))
        assert asked == leads
        assert set(ranked.loc[ranked["campaign_visit"], "campaign"]) == {"Lead visits"}
        suggested = ranked[ranked["suggested"]]
        assert len(suggested) == 12 and suggested["campaign_visit"].all()
        counts = suggestion_counts(ranked)
        assert counts["campaign"] == int(
            (ranked["campaign_visit"] & ranked["plannable"] & ranked["open"]).sum()
        )
        assert counts["campaign"] >= 12
    # the counts of "due" (as Reports count them) are not changed by campaigns
    assert suggestion_counts(ranked)["due"] == suggestion_counts(before)["due"]


def test_done_or_forbidden_tasks_drop_out(lead_campaign: int) -> None:
    """A visit logged for the campaign, a visit since the task, a do-not-contact set
    after the launch, or a call logged: each removes that task, only that one."""
    leads = sorted(_rep1_leads())
    responded, visited, barred, called = leads[:4]
    with session_scope() as s:
        rep = actor_for(s, "rep1")
        log_response(s, rep, lead_campaign, responded, kind="visit", outcome="met")
        s.execute(
            update(Account)
            .where(Account.id == visited)
            .values(last_visit=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1))
        )
        s.execute(update(Account).where(Account.id == barred).values(do_not_contact=True))
        log_response(s, rep, lead_campaign, called, kind="call", outcome="answered")
    with session_scope() as s:
        rep = actor_for(s, "rep1")
        visits = set(open_tasks(s, rep, kind="visit")["account_id"].astype(int))
        calls = set(open_tasks(s, rep, kind="call")["account_id"].astype(int))
        theirs = set(open_tasks(s, actor_for(s, "rep2"), kind="visit")["account_id"])
    assert theirs and not theirs & set(leads)  # each rep gets the tasks of their accounts
    assert visits == set(leads) - {responded, visited, barred}
    assert calls == set(leads) - {barred, called}


def test_call_list_names_the_campaign(lead_campaign: int) -> None:
    with session_scope() as s:
        calls = call_list(s, actor_for(s, "rep1"))
        visits = task_accounts(s, actor_for(s, "rep1"), kind="visit")
    assert set(calls["id"].astype(int)) == _rep1_leads() == set(visits["id"].astype(int))
    assert set(calls["campaign"]) == {"Lead visits"}
    assert list(calls.columns) == ["id", "name", "phone", "street", "housenumber", "city",
                                   "campaign"]  # fmt: skip


def test_call_cycle_visits_each_campaign_account_once(lead_campaign: int, graph) -> None:  # type: ignore[no-untyped-def]
    """The saved call cycle asks the planner for every lead the campaign asks for, once
    in the horizon, and plans none twice (the planner leaves some out, with a reason,
    when the rep's days are full, as for any account)."""
    from gcrm.cycle_plans import plan_and_save

    leads = _rep1_leads()
    with session_scope() as s:
        user = get_user(s, "rep1")
        cycle = {a.id: a for a in rep_accounts(s, user, horizon_days=14)}
        assert leads <= set(cycle)
        assert {cycle[i].every_days for i in leads} == {14}
        out = plan_and_save(s, Actor.from_user(get_user(s, "manager")), ["rep1"],
                            "2027-01-04", weeks=2, iterations=30, G=graph)  # fmt: skip
    days = out["reps"][0]["days"]
    planned = [a for d in days for a in d["accounts"]]
    got = [a for a in planned if a in leads]
    assert len(got) == len(set(got))  # once each
    skipped = {int(k["account_id"]) for k in out["reps"][0]["skipped"]}
    assert leads <= set(got) | skipped, "each lead planned, or reported with its reason"
    assert len(got) >= 10, "the cycle plans campaign visits"
