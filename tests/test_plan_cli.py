"""``gcrm plan`` saves its plan the way the My day page does (issue 17)."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from gcrm.auth import actor_for
from gcrm.cli import app
from gcrm.db.session import session_scope
from gcrm.routing import Plan
from gcrm.store import saved_plans_frame

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
