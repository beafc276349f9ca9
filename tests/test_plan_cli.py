"""``gcrm plan`` saves its plan the way the My day page does (issue 17)."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from gcrm.auth import SYSTEM, actor_for
from gcrm.cli import app
from gcrm.db.session import session_scope
from gcrm.routing import Plan, build_problem, from_store
from gcrm.store import accounts_frame, saved_plans_frame

REP = {"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"}


def _plan(tmp_path, date: str) -> tuple[dict, Plan]:
    out = tmp_path / f"plan-{date}.json"
    result = CliRunner().invoke(
        app, ["plan", "--rep", "rep1", "--date", date, "--output", str(out)], env=REP
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1]), Plan.from_json(out)


def test_plan_command_saves_the_plan_like_the_page(demo_copy: str, tmp_path) -> None:
    summary, plan = _plan(tmp_path, "2026-12-01")
    route = plan.routes[0]
    assert summary["saved"] == len(plan.routes) == 1
    with session_scope(demo_copy) as s:
        saved = saved_plans_frame(s, actor_for(s, "rep1"))
    assert len(saved) == 1
    row = saved.iloc[0]
    assert row["rep"] == "rep1" and row["day"] == dt.date(2026, 12, 1)
    assert row["stops"] == len([x for x in route.stops if x.account_id is not None]) > 0
    assert row["drive_s"] == route.drive_s and row["distance_m"] == route.distance_m

    # Planning the same day again replaces the saved plan; another day adds one.
    _plan(tmp_path, "2026-12-01")
    _plan(tmp_path, "2026-12-02")
    with session_scope(demo_copy) as s:
        saved = saved_plans_frame(s, actor_for(s, "rep1"))
    assert sorted(saved["day"]) == [dt.date(2026, 12, 1), dt.date(2026, 12, 2)]


def test_a_rep_planning_their_own_day_reads_the_accounts_once_less(
    demo_copy: str, monkeypatch
) -> None:
    """build_problem skips the visibility re-read when the rep plans their own days;
    a manager's plan still gets it, and nobody plans an account they may not see."""
    day = dt.date(2026, 12, 1)
    with session_scope(demo_copy) as s:
        rep, manager = actor_for(s, "rep1"), actor_for(s, "manager")
        mine = accounts_frame(s, rep)["id"].astype(int).tolist()
        hidden = sorted(set(accounts_frame(s, SYSTEM)["id"].astype(int)) - set(mine))
        assert mine and hidden
        chosen = [*mine[:3], hidden[0]]
        calls: list[str] = []

        def counted(session, actor, flt=None, **kw):  # type: ignore[no-untyped-def]
            calls.append(actor.username)
            return accounts_frame(session, actor, flt, **kw)

        monkeypatch.setattr(from_store, "accounts_frame", counted)
        own, _ = build_problem(s, rep, ["rep1"], day, selected=chosen)
        assert calls == ["rep1", "rep1"]  # the rep's accounts, the chosen ones
        calls.clear()
        managed, _ = build_problem(s, manager, ["rep1"], day, selected=mine[:3])
        assert calls == ["rep1", "manager", "manager"]  # ... and the visibility check
    ids = {v.account_id for v in own.visits}
    assert set(mine[:3]) <= ids and hidden[0] not in ids
    assert ids == {v.account_id for v in managed.visits}
