"""AppTest: the Visit plan page plans, saves and shows call cycles at once."""

from __future__ import annotations

import datetime as dt

from gcrm.auth import login
from gcrm.cycle_plans import cycle_visits
from gcrm.db.session import session_scope
from gcrm.store import AccountFilter, accounts_frame, saved_cycles
from tests.views.jobwait import finish_jobs
from tests.views.test_map_pages import _page


def test_manager_plans_saves_and_adds_an_appointment(demo_copy: str) -> None:
    """Plan and save for the region's reps; the calendar, figures and day map show
    at once; an appointment re-plans and is saved with its time."""
    at = _page("manager", "views/visit_plan.py")
    assert any("No saved call cycle" in i.value for i in at.info)
    at.date_input(key="vp_start").set_value(dt.date(2027, 1, 4))
    at.number_input(key="vp_weeks").set_value(1)
    at.number_input(key="vp_iter").set_value(10)
    at.button(key="FormSubmitter:vp_plan-Plan and save").click().run()
    assert not at.exception, at.exception
    finish_jobs(at)  # planning runs as a job; the page shows it when done
    assert not at.exception, at.exception
    assert any("Saved call cycles for 3 reps" in s.value for s in at.success)
    with session_scope() as s:
        saved = saved_cycles(s, login(s, "manager", "demo"))
    assert {c["rep"] for c in saved} == {"rep1", "rep2", "rep3"}
    first = saved[0]["plan"]
    shown = next(d.value for d in at.dataframe if "weekday" in getattr(d.value, "columns", []))
    assert list(shown["visits"]) == [len(d["accounts"]) for d in first["days"]]
    labels = {m.label for m in at.metric}
    assert {"Frequency compliance", "Balance (CV of hours)"} <= labels
    # an appointment for rep1's first account on Tuesday 5 January at 13:00
    acc = int(next(iter(first["accounts"])))
    at.selectbox(key="vp_appt_acc").set_value(acc)
    at.date_input(key="vp_appt_day").set_value(dt.date(2027, 1, 5))
    at.time_input(key="vp_appt_time").set_value(dt.time(13, 0))
    at.button(key="FormSubmitter:vp_appt-Add and re-plan").click().run()
    assert not at.exception, at.exception
    finish_jobs(at)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("2027-01-05" in s.value for s in at.success)
    with session_scope() as s:
        visits = cycle_visits(s, login(s, "manager", "demo"), first["rep"], dt.date(2027, 1, 5))
    (ap,) = [v for v in visits if v["account_id"] == acc]
    assert ap["fixed"] and ap["start"].endswith("13:00:00")


def test_frequency_by_segment_is_saved(demo_copy: str) -> None:
    """Setting a segment's frequency changes those accounts and the table at once."""
    at = _page("manager", "views/visit_plan.py")
    seg = at.selectbox(key="vp_freq_seg").options[0]
    at.selectbox(key="vp_freq_seg").set_value(seg)
    at.number_input(key="vp_freq_days").set_value(21)
    at.button(key="FormSubmitter:vp_freq-Set frequency").click().run()
    assert not at.exception, at.exception
    assert any("21 days" in s.value for s in at.success)
    with session_scope() as s:
        frame = accounts_frame(s, login(s, "manager", "demo"), AccountFilter())
    mine = frame[frame["segment"].fillna("(none)") == seg]
    assert len(mine) and (mine["visit_every_days"] == 21).all()
    table = at.dataframe[0].value.set_index("segment")
    assert table.at[seg, "every_days"] == 21
    at.text_input(key="vp_freq_ids").set_value("12, abc")
    at.button(key="FormSubmitter:vp_freq-Set frequency").click().run()
    assert any("whole numbers" in e.value for e in at.error)


def test_my_day_suggests_the_saved_cycle_visits(demo_copy: str) -> None:
    """My day for a date of rep1's saved cycle pre-selects that day's cycle visits,
    in the cycle's order, and says how many came from the cycle."""
    from gcrm.auth import SYSTEM
    from gcrm.cycle_plans import plan_and_save
    from gcrm.network import load_network

    with session_scope() as s:
        out = plan_and_save(s, SYSTEM, ["rep1"], "2027-01-04", weeks=1, iterations=10,
                            G=load_network())  # fmt: skip
    day = next(d for d in out["reps"][0]["days"] if d["accounts"])
    date = dt.date.fromisoformat(day["date"])
    at = _page("rep1", "views/my_day.py")
    at.date_input(key="md_date").set_value(date).run()
    assert not at.exception, at.exception
    (box,) = [m for m in at.multiselect if m.key.startswith("md_visits_")]
    assert box.value[: len(day["accounts"])] == day["accounts"]
    assert any(f"{len(day['accounts'])} visits come from the saved call cycle" in c.value
               for c in at.caption)  # fmt: skip
    at.date_input(key="md_date").set_value(dt.date(2027, 3, 1)).run()
    assert not any("saved call cycle" in c.value for c in at.caption)
