"""A fixed appointment in a call cycle: re-plan the days it touches, keep the rest.

The appointment goes onto its day (at the place in the route where its time
is kept with the least extra driving). If the account already has a cycle
visit within half its period of that day, the appointment replaces it (that
visit's day loses it). If the appointment's day is then longer than the rep's
working day, the visits that save most driving leave it and move to other
days under the rules of :mod:`gcrm.cycles`, as for an absence
(:func:`gcrm.cycle_replan.place_visit`). Every other day stays as it was.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gcrm._errors import InputError
from gcrm.cycle_day import schedule_day
from gcrm.cycle_replan import place_visit, rebuild
from gcrm.cycles import CycleAccount, RepCycle
from gcrm.routing import Rep


@dataclass
class AppointmentResult:
    """A cycle after adding an appointment.

    Attributes
    ----------
    plan
        The new plan.
    changed
        Dates whose visits changed.
    replaced
        The date of the cycle visit the appointment replaces, if any.
    """

    plan: RepCycle
    changed: list[dt.date] = field(default_factory=list)
    replaced: dt.date | None = None


def _route_cost(ids: Sequence[int], durations: np.ndarray, pos: Mapping[int, int]) -> float:
    seq = [0, *(pos[a] for a in ids), 0]
    return float(sum(durations[u, v] for u, v in itertools.pairwise(seq)))


def add_appointment(
    plan: RepCycle,
    rep: Rep,
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    *,
    account_id: int,
    when: dt.datetime,
    start: dt.date,
    end: dt.date,
    fixed: Mapping[dt.date, Mapping[int, dt.time]] | None = None,
) -> AppointmentResult:
    """Add a fixed appointment to a cycle, re-planning only the days it affects.

    Parameters
    ----------
    plan
        The cycle plan.
    rep
        The rep (shift, break).
    accounts, durations
        As given to :func:`gcrm.cycles.plan_rep_cycle`; must include the account.
    account_id
        The account of the appointment.
    when
        Its start (local time).
    start, end
        The horizon.
    fixed
        Appointments already in the plan (per date, account id to time): never moved.

    Returns
    -------
    AppointmentResult
        The new plan and the dates that changed.

    Raises
    ------
    InputError
        The date is not a working day of the plan, or the account is unknown.
    """
    day = when.date()
    by_id = {a.id: a for a in accounts}
    if account_id not in by_id:
        msg = f"appointment: account {account_id} is not among the rep's accounts"
        raise InputError(msg)
    if day not in plan.dates:
        msg = f"appointment: {day} is not a working day of {plan.rep}'s cycle"
        raise InputError(msg)
    acc = by_id[account_id]
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    days = {d: list(ids) for d, ids in zip(plan.dates, plan.days, strict=True)}
    changed = {day}
    replaced = None
    near = [d for d, ids in days.items() if account_id in ids]
    if near:
        closest = min(near, key=lambda d: abs((d - day).days))
        if abs((closest - day).days) <= acc.every_days // 2:
            replaced = closest
            days[closest].remove(account_id)
            changed.add(closest)
    pinned = {**(fixed or {}).get(day, {}), account_id: when.time()}
    if account_id not in days[day]:
        days[day] = _insert_on_time(rep, day, days[day], account_id, accounts, durations, pinned)
    work = {d: _route_cost(days[d], durations, pos) + sum(by_id[a].minutes * 60 for a in ids)
            for d, ids in days.items()}  # fmt: skip
    visits: dict[int, list[dt.date]] = {}
    for d, ids in days.items():
        for a in ids:
            visits.setdefault(a, []).append(d)
    skipped = list(plan.skipped)
    shift = (rep.shift_start, rep.shift_end)
    while work[day] > plan.limit_seconds + 1e-6:
        movable = [a for a in days[day] if a not in pinned]
        if not movable:
            break
        base = _route_cost(days[day], durations, pos)
        gone = max(movable, key=lambda a: base - _route_cost(
            [x for x in days[day] if x != a], durations, pos) + by_id[a].minutes * 60)  # fmt: skip
        days[day].remove(gone)
        visits[gone].remove(day)
        work[day] = _route_cost(days[day], durations, pos) + sum(
            by_id[a].minutes * 60 for a in days[day]
        )
        moved_to = place_visit(by_id[gone], days, work, visits, durations, pos,
                               limit=plan.limit_seconds, shift=shift, start=start, end=end,
                               exclude=[day])  # fmt: skip
        if moved_to is None:
            reason = f"appointment on {day}: no other day can take this visit"
            skipped.append({"account_id": gone, "name": by_id[gone].name, "reason": reason})
        else:
            changed.add(moved_to)
    new = rebuild(plan, plan.dates, days, accounts, durations, skipped)
    return AppointmentResult(new, sorted(changed), replaced)


def _insert_on_time(
    rep: Rep,
    day: dt.date,
    ids: list[int],
    account_id: int,
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    pinned: Mapping[int, dt.time],
) -> list[int]:
    """Return the day's visits with the appointment where it is on time at least extra driving."""
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    options = []
    for i in range(len(ids) + 1):
        seq = [*ids[:i], account_id, *ids[i:]]
        timed = schedule_day(rep, day, seq, accounts, durations, fixed=pinned)
        late = sum(1 for v in timed if v.fixed and not v.on_time)
        options.append((late, _route_cost(seq, durations, pos), seq))
    return min(options, key=lambda o: (o[0], o[1]))[2]
