"""Saved call cycles: times in a day, appointments, the store, the ICS export.

Plans are judged by :func:`tests.test_cycles.check_cycle` (the independent
rule checker) and by checks written here from the rules (opening hours read
with the ``opening_hours`` library, times recomputed from the drive times).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import opening_hours
import pytest
from icalendar import Calendar

from gcrm._errors import InputError, PermissionDeniedError
from gcrm.cycle_appointments import add_appointment
from gcrm.cycle_day import schedule_day
from gcrm.cycles import CycleAccount, plan_rep_cycle, working_dates
from tests.test_cycles import REP, START, _synthetic, check_cycle

END = START + dt.timedelta(days=27)
LIMIT_MIN = 8 * 60 - 30


def _open_all_along(text: str | None, start: dt.datetime, end: dt.datetime) -> bool:
    if not text:
        return True
    oh = opening_hours.OpeningHours(text)
    t = start
    while t < end:
        if not oh.is_open(t):
            return False
        t += dt.timedelta(minutes=1)
    return True


def _check_times(
    day: dt.date, ids: list[int], timed, accounts, durations, fixed: dict[int, dt.time]
) -> list[str]:
    """Every timing rule a scheduled day breaks."""
    problems = []
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    by_id = {a.id: a for a in accounts}
    if [v.account_id for v in timed] != ids:
        problems.append("order changed")
    prev_end = dt.datetime.combine(day, REP.shift_start)
    at = 0
    for v in timed:
        acc = by_id[v.account_id]
        drive = dt.timedelta(seconds=float(durations[at, pos[v.account_id]]))
        if v.arrival < prev_end + drive - dt.timedelta(seconds=1):
            problems.append(f"{v.account_id}: arrives before it can")
        if v.start < v.arrival:
            problems.append(f"{v.account_id}: starts before arriving")
        if (v.end - v.start) != dt.timedelta(minutes=acc.minutes):
            problems.append(f"{v.account_id}: wrong length")
        if v.account_id in fixed:
            want = dt.datetime.combine(day, fixed[v.account_id])
            if v.on_time != (v.start == want):
                problems.append(f"{v.account_id}: appointment at {v.start}, wanted {want}")
        elif v.on_time and not _open_all_along(acc.opening_hours, v.start, v.end):
            problems.append(f"{v.account_id}: visited while closed")
        prev_end, at = v.end, pos[v.account_id]
    return problems


def _plan(n: int = 30, seed: int = 9):  # type: ignore[no-untyped-def]
    accounts, durations = _synthetic(n=n, seed=seed)
    dates = working_dates(START, 4, country="FI")
    plan = plan_rep_cycle(
        REP, accounts, dates, durations, start=START, end=END, iterations=80, balance=1.25
    )
    return accounts, durations, plan


# ------------------------------------------------------------------ times


def test_day_times_keep_opening_hours_and_appointments() -> None:
    """Each planned day gets times: visits inside opening hours, an appointment
    at its exact time, arrivals no earlier than the drive allows."""
    accounts, durations, plan = _plan()
    checked = 0
    for day, ids in zip(plan.dates, plan.days, strict=True):
        if not ids:
            continue
        timed = schedule_day(REP, day, ids, accounts, durations)
        assert _check_times(day, ids, timed, accounts, durations, {}) == []
        assert all(v.on_time for v in timed), day
        checked += 1
    assert checked >= 10
    # a shop that opens at 10:00, visited first: the visit waits for the opening
    late_opener = CycleAccount(id=1, name="opens 10", lat=0, lon=0, every_days=7,
                               minutes=30, opening_hours="Mo-Fr 10:00-18:00")  # fmt: skip
    d = np.array([[0.0, 600.0], [600.0, 0.0]])
    (v,) = schedule_day(REP, START, [1], [late_opener], d)
    assert v.arrival == dt.datetime.combine(START, dt.time(8, 10))
    assert v.start == dt.datetime.combine(START, dt.time(10, 0)) and v.on_time
    (v,) = schedule_day(REP, START, [1], [late_opener], d, fixed={1: dt.time(14, 15)})
    assert v.start == dt.datetime.combine(START, dt.time(14, 15)) and v.fixed


# ------------------------------------------------------------ appointments


@pytest.mark.parametrize("hour", [9, 14])
def test_appointment_replans_only_the_days_it_touches(hour: int) -> None:
    """An appointment on the busiest day: it is on that day at its time, the
    day still fits, the visits moved keep the rules, every other day is as it was."""
    accounts, durations, plan = _plan()
    busy = max(range(len(plan.dates)), key=lambda k: plan.work_seconds[k])
    day = plan.dates[busy]
    # an account not visited on that day, visited in the plan at least once
    target = next(a for a in accounts if a.id not in plan.days[busy] and a.opening_hours is None
                  and any(a.id in ids for ids in plan.days))  # fmt: skip
    when = dt.datetime.combine(day, dt.time(hour, 0))
    res = add_appointment(plan, REP, accounts, durations, account_id=target.id, when=when,
                          start=START, end=END)  # fmt: skip
    new = res.plan
    assert new.dates == plan.dates
    k = new.dates.index(day)
    assert target.id in new.days[k]
    before = dict(zip(plan.dates, plan.days, strict=True))
    for d, ids in zip(new.dates, new.days, strict=True):
        if d not in res.changed:
            assert ids == before[d], d
    assert len(res.changed) <= 1 + 1 + len(plan.days[busy])
    timed = schedule_day(REP, day, new.days[k], accounts, durations, fixed={target.id: when.time()})
    (ap,) = [v for v in timed if v.account_id == target.id]
    assert ap.start == when and ap.on_time
    assert new.work_seconds[k] <= new.limit_seconds + 1e-6
    if res.replaced is not None:
        assert abs((res.replaced - day).days) <= target.every_days // 2
        assert sum(target.id in ids for ids in new.days) == sum(
            target.id in ids for ids in plan.days
        )
    lost = {s["account_id"] for s in new.skipped if s["reason"].startswith("appointment")}
    shift = (REP.shift_start, REP.shift_end)
    problems = check_cycle(new, accounts, durations, start=START, weeks=4, absences=set(),
                           shift=shift, limit_minutes=LIMIT_MIN)  # fmt: skip
    assert [p for p in problems if not any(f"account {a}:" in p for a in {*lost, target.id})] == []


def test_appointment_on_a_day_off_is_refused() -> None:
    """A holiday (Christmas Day) is not a day of the cycle: a clear error naming it."""
    accounts, durations, plan = _plan(n=10)
    with pytest.raises(InputError, match="2026-12-25"):
        add_appointment(plan, REP, accounts, durations, account_id=accounts[0].id,
                        when=dt.datetime(2026, 12, 25, 10), start=START, end=END)  # fmt: skip
    with pytest.raises(InputError, match="account 424242"):
        add_appointment(plan, REP, accounts, durations, account_id=424242,
                        when=dt.datetime(2026, 12, 21, 10), start=START, end=END)  # fmt: skip


# --------------------------------------------------------------- the store


@pytest.fixture
def saved(demo_copy: str, graph):  # type: ignore[no-untyped-def]
    from gcrm.auth import Actor
    from gcrm.cycle_plans import plan_and_save
    from gcrm.db.session import session_scope
    from gcrm.store import get_user

    with session_scope() as s:
        manager = Actor.from_user(get_user(s, "manager"))
        out = plan_and_save(s, manager, ["rep1", "rep2"], "2027-01-04", weeks=2,
                            iterations=20, G=graph)  # fmt: skip
    return out


def _actor(s, name: str):  # type: ignore[no-untyped-def]
    from gcrm.auth import Actor
    from gcrm.store import get_user

    return Actor.from_user(get_user(s, name))


def test_saved_cycle_is_read_back_in_scope(saved, graph) -> None:  # type: ignore[no-untyped-def]
    """The manager saves rep1's and rep2's cycles; each rep reads their own only;
    saving again over the same horizon replaces, not duplicates."""
    from gcrm.cycle_plans import cycle_visits, plan_and_save
    from gcrm.db.session import session_scope
    from gcrm.store import saved_cycles

    with session_scope() as s:
        mine = saved_cycles(s, _actor(s, "rep1"))
        assert [c["rep"] for c in mine] == ["rep1"]
        assert {c["rep"] for c in saved_cycles(s, _actor(s, "manager"))} == {"rep1", "rep2"}
        stored = next(r for r in saved["reps"] if r["rep"] == "rep1")
        assert mine[0]["plan"]["days"] == stored["days"]
        day = next(d for d in stored["days"] if d["accounts"])
        visits = cycle_visits(s, _actor(s, "rep1"), "rep1", dt.date.fromisoformat(day["date"]))
        assert [v["account_id"] for v in visits] == day["accounts"]
        assert cycle_visits(s, _actor(s, "rep2"), "rep1", dt.date(2027, 1, 5)) == []
        assert cycle_visits(s, _actor(s, "rep1"), "rep1", dt.date(2027, 3, 1)) == []
        with pytest.raises(PermissionDeniedError, match="may not plan"):
            plan_and_save(s, _actor(s, "rep1"), ["rep2"], "2027-01-04", weeks=1, G=graph)
        plan_and_save(s, _actor(s, "rep1"), ["rep1"], "2027-01-11", weeks=1, iterations=10,
                      G=graph)  # fmt: skip
        again = saved_cycles(s, _actor(s, "manager"), rep="rep1")
        assert [(c["start"], c["end"]) for c in again] == [
            (dt.date(2027, 1, 11), dt.date(2027, 1, 17))
        ]


def test_saved_appointment_keeps_other_days(saved, graph) -> None:  # type: ignore[no-untyped-def]
    """An appointment through the store changes only the days it reports, and
    is saved with its time."""
    from gcrm.cycle_plans import add_cycle_appointment, cycle_visits
    from gcrm.db.session import session_scope

    stored = next(r for r in saved["reps"] if r["rep"] == "rep1")
    days = {d["date"]: d["accounts"] for d in stored["days"]}
    target = int(next(iter(stored["accounts"])))
    day = next(d for d, ids in days.items() if target not in ids)
    when = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(13, 30))
    with session_scope() as s:
        res = add_cycle_appointment(s, _actor(s, "manager"), "rep1", target, when, G=graph)
    after = {d["date"]: d["accounts"] for d in res["days"]}
    assert day in res["changed"]
    for d, ids in days.items():
        if d not in res["changed"]:
            assert after[d] == ids, d
    with session_scope() as s:
        visits = cycle_visits(s, _actor(s, "rep1"), "rep1", when.date())
    (ap,) = [v for v in visits if v["account_id"] == target]
    assert ap["fixed"] and dt.datetime.fromisoformat(ap["start"]) == when
    with session_scope() as s, pytest.raises(PermissionDeniedError):
        add_cycle_appointment(s, _actor(s, "rep2"), "rep1", target, when, G=graph)


def test_cycle_ics_has_every_visit(saved) -> None:  # type: ignore[no-untyped-def]
    """The ICS export of the whole horizon: one event per saved visit, at its
    times, in the Helsinki zone; a rep's export holds only their own visits."""
    from gcrm.cycle_plans import cycle_ics
    from gcrm.db.session import session_scope

    with session_scope() as s:
        text = cycle_ics(s, _actor(s, "rep1"))
    cal = Calendar.from_ical(text)
    events = list(cal.walk("VEVENT"))
    stored = next(r for r in saved["reps"] if r["rep"] == "rep1")
    visits = [v for d in stored["days"] for v in d["visits"]]
    assert len(events) == len(visits) > 0
    starts = sorted(e.decoded("dtstart").replace(tzinfo=None) for e in events)
    assert starts == sorted(dt.datetime.fromisoformat(v["start"]) for v in visits)
    assert all(str(e.decoded("dtstart").tzinfo) == "Europe/Helsinki" for e in events)
    assert len({str(e["uid"]) for e in events}) == len(events)
    (zone,) = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Helsinki"
    assert 'DTSTART;TZID="Europe/Helsinki"' in text or "DTSTART;TZID=Europe/Helsinki" in text


def test_cycle_save_and_ics_commands(demo_copy: str, graph, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``cycle --save`` keeps rep1's cycle; ``cycle-ics`` writes it with one event per visit."""
    import json

    from typer.testing import CliRunner

    import gcrm.cycle_plans as cycle_plans
    import gcrm.cycles as cycles
    from gcrm.cli import app

    monkeypatch.setattr(cycle_plans, "load_network", lambda **_: graph)
    monkeypatch.setattr(cycles, "load_network", lambda **_: graph)  # plans load it here
    monkeypatch.setenv("GCRM_USER", "rep1")
    monkeypatch.setenv("GCRM_PASSWORD", "demo")
    args = [
        "cycle",
        "--reps",
        "rep1",
        "--start",
        "2027-01-04",
        "--weeks",
        "1",
        "--iterations",
        "10",
    ]
    res = CliRunner().invoke(app, [*args, "--save"])
    assert res.exit_code == 0, res.output
    visits = sum(len(d["visits"]) for d in json.loads(res.output)["reps"][0]["days"])
    target = tmp_path / "cycle.ics"
    res = CliRunner().invoke(app, ["cycle-ics", "-o", str(target)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["events"] == visits > 0
    assert len(Calendar.from_ical(target.read_text()).walk("VEVENT")) == visits


def test_day_order_keeps_opening_hours_when_it_can() -> None:
    """A morning-only shop planned second would miss its hours: the day is re-ordered
    so every visit is inside its hours; with no time for the longer drive, it is not."""
    from gcrm.cycle_day import order_for_windows

    morning = CycleAccount(id=1, name="morning", lat=0, lon=0, every_days=7, minutes=30,
                           opening_hours="Mo-Fr 08:00-08:50")  # fmt: skip
    anytime = CycleAccount(id=2, name="any", lat=0, lon=0, every_days=7, minutes=30)
    accounts = [morning, anytime]
    d = np.array([[0, 300, 600], [300, 0, 1200], [600, 1200, 0]], dtype=float)
    before = schedule_day(REP, START, [2, 1], accounts, d)
    assert not all(v.on_time for v in before)  # the given order misses the opening
    order = order_for_windows(REP, START, [2, 1], accounts, d)
    assert order == [1, 2]
    after = schedule_day(REP, START, order, accounts, d)
    assert _check_times(START, order, after, accounts, d, {}) == [] and all(
        v.on_time for v in after
    )
    assert order_for_windows(REP, START, [2, 1], accounts, d, limit_seconds=60 * 60) == [2, 1]
    # on a whole plan: no day misses more windows after re-ordering
    accounts, durations, plan = _plan(n=24, seed=3)
    for day, ids in zip(plan.dates, plan.days, strict=True):
        new = order_for_windows(REP, day, ids, accounts, durations,
                                limit_seconds=plan.limit_seconds)  # fmt: skip
        assert sorted(new) == sorted(ids)
        missed = [sum(not v.on_time for v in schedule_day(REP, day, s, accounts, durations))
                  for s in (ids, new)]  # fmt: skip
        assert missed[1] <= missed[0]


def test_the_break_moves_so_appointments_keep_their_time() -> None:
    """A long appointment from 10:55 and one at 13:00: the break does not go
    between them, where it would make the second late."""
    a = CycleAccount(id=1, name="a", lat=0, lon=0, every_days=7, minutes=100)
    b = CycleAccount(id=2, name="b", lat=0, lon=0, every_days=7, minutes=30)
    d = np.array([[0, 300, 300], [300, 0, 540], [300, 540, 0]], dtype=float)
    fixed = {1: dt.time(10, 55), 2: dt.time(13, 0)}
    timed = schedule_day(REP, START, [1, 2], [a, b], d, fixed=fixed)
    assert [v.start.time() for v in timed] == [dt.time(10, 55), dt.time(13, 0)]
    assert all(v.on_time for v in timed)
    assert _check_times(START, [1, 2], timed, [a, b], d, fixed) == []


def test_cycle_options_have_one_home(demo_copy: str, graph) -> None:  # type: ignore[no-untyped-def]
    """plan_cycles and plan_and_save take the same CycleOptions; keywords override them
    and the plan is the same either way; an unknown option is refused."""
    from gcrm.cycle_options import CycleOptions
    from gcrm.cycle_plans import plan_and_save
    from gcrm.cycles import plan_cycles
    from gcrm.db.session import session_scope

    options = CycleOptions(weeks=1, iterations=10, seed=3)
    with session_scope() as s:
        manager = _actor(s, "manager")
        by_options = plan_cycles(s, manager, ["rep1"], "2027-01-04", options=options, G=graph)
        by_keywords = plan_cycles(s, manager, ["rep1"], "2027-01-04", weeks=1, iterations=10,
                                  seed=3, G=graph)  # fmt: skip
        saved = plan_and_save(s, manager, ["rep1"], "2027-01-04", options=options, G=graph)
        with pytest.raises(TypeError, match="weekz"):
            plan_and_save(s, manager, ["rep1"], "2027-01-04", weekz=2, G=graph)
    assert by_options == by_keywords
    assert (saved["start"], saved["end"], saved["weeks"]) == ("2027-01-04", "2027-01-10", 1)
    # the same visits each day (the saved day is ordered for opening hours)
    assert [sorted(d["accounts"]) for d in saved["reps"][0]["days"]] == [
        sorted(d["accounts"]) for d in by_options["reps"][0]["days"]
    ]
    assert CycleOptions.of(options, weeks=2) == CycleOptions(weeks=2, iterations=10, seed=3)
