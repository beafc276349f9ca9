"""Times within a call-cycle day: arrival, waiting for the opening, the break.

A cycle plan (:mod:`gcrm.cycles`) fixes which accounts a rep visits on each
day and in which order; :func:`schedule_day` gives each visit its times. The
rep leaves at the start of the shift; each visit starts on arrival, or later
when the account opens later (its OSM ``opening_hours`` within the shift) or
when it is a fixed appointment (at the appointment's time). The break is
taken before the first visit that would start after the break window opens
(or after the last visit). :func:`order_for_windows` re-orders a day whose
visits miss their opening hours when another order misses fewer.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gcrm.cycles import CycleAccount
from gcrm.routing import Rep, open_intervals


@dataclass(frozen=True)
class TimedVisit:
    """One visit of a cycle day with its times.

    Attributes
    ----------
    account_id
        The account.
    arrival, start, end
        When the rep arrives, starts and ends the visit.
    fixed
        A fixed appointment (starts at its time).
    on_time
        ``False`` when the visit misses its opening hours or appointment time.
    """

    account_id: int
    arrival: dt.datetime
    start: dt.datetime
    end: dt.datetime
    fixed: bool = False
    on_time: bool = True


def _secs(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _earliest_start(
    acc: CycleAccount, day: dt.date, t: float, shift: tuple[int, int]
) -> tuple[float, bool]:
    """Earliest start at or after ``t`` inside one open interval within the shift."""
    need = acc.minutes * 60
    intervals = open_intervals(acc.opening_hours, day)
    if intervals is None:
        return t, True
    for a, b in intervals:
        s = max(t, a, shift[0])
        if s + need <= min(b, shift[1]):
            return s, True
    return t, False


def schedule_day(
    rep: Rep,
    day: dt.date,
    ids: Sequence[int],
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    *,
    fixed: Mapping[int, dt.time] | None = None,
) -> list[TimedVisit]:
    """Give each visit of a cycle day its times.

    Parameters
    ----------
    rep
        The rep (shift and break).
    day
        The date.
    ids
        Account ids in visiting order.
    accounts, durations
        As given to :func:`gcrm.cycles.plan_rep_cycle` (row ``k + 1`` is ``accounts[k]``).
    fixed
        Per account id, the start time of a fixed appointment.

    Returns
    -------
    list of TimedVisit
        In visiting order.
    """
    fixed = fixed or {}
    out = _timed(rep, day, ids, accounts, durations, fixed, None)
    if rep.lunch is not None and any(v.fixed and not v.on_time for v in out):
        # an appointment is late: try the break before each visit (or at the end)
        for k in range(len(ids) + 1):
            other = _timed(rep, day, ids, accounts, durations, fixed, k)
            if sum(not v.on_time for v in other) < sum(not v.on_time for v in out):
                out = other
    return out


def _timed(
    rep: Rep,
    day: dt.date,
    ids: Sequence[int],
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    fixed: Mapping[int, dt.time],
    lunch_at: int | None,
) -> list[TimedVisit]:
    """Return the times of a day.

    The break comes before visit ``lunch_at`` (``None``: the default rule).
    """
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    by_id = {a.id: a for a in accounts}
    shift = (_secs(rep.shift_start), _secs(rep.shift_end))
    lunch = rep.lunch
    lunch_open = lunch is not None
    t = float(shift[0])
    at = 0
    out = []
    midnight = dt.datetime.combine(day, dt.time())
    for k, a in enumerate(ids):
        acc = by_id[a]
        t += float(durations[at, pos[a]])
        at = pos[a]
        arrival = t
        if a in fixed:
            want = _secs(fixed[a])
            start, ok = max(t, want), t <= want
        else:
            start, ok = _earliest_start(acc, day, t, shift)
        due = start >= _secs(lunch.earliest) if lunch_at is None and lunch else k == lunch_at
        if lunch is not None and lunch_open and due:
            t = max(arrival, _secs(lunch.earliest)) + lunch.minutes * 60
            lunch_open = False
            if a in fixed:
                start, ok = max(t, _secs(fixed[a])), t <= _secs(fixed[a])
            else:
                start, ok = _earliest_start(acc, day, t, shift)
        end = start + acc.minutes * 60
        out.append(
            TimedVisit(
                a,
                midnight + dt.timedelta(seconds=round(arrival)),
                midnight + dt.timedelta(seconds=round(start)),
                midnight + dt.timedelta(seconds=round(end)),
                fixed=a in fixed,
                on_time=ok and end <= shift[1],
            )
        )
        t = end
    return out


def order_for_windows(
    rep: Rep,
    day: dt.date,
    ids: Sequence[int],
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    *,
    fixed: Mapping[int, dt.time] | None = None,
    limit_seconds: float | None = None,
) -> list[int]:
    """Re-order a day's visits so that fewer miss their opening hours or appointment.

    The visits are put back one by one, those whose opening closes first
    first, each where it misses fewest windows and then adds least driving.
    The new order is kept only if it misses fewer windows than the given one
    and its drive plus visit time stays within ``limit_seconds``.

    Parameters
    ----------
    rep, day, ids, accounts, durations, fixed
        As for :func:`schedule_day`.
    limit_seconds
        Longest drive plus visit time of the day.

    Returns
    -------
    list of int
        The visiting order (``ids`` itself when nothing is missed or nothing better is found).
    """
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    by_id = {a.id: a for a in accounts}

    def score(seq: Sequence[int]) -> tuple[int, float]:
        timed = schedule_day(rep, day, seq, accounts, durations, fixed=fixed)
        drive = sum(durations[u, v] for u, v in itertools.pairwise([0, *(pos[a] for a in seq), 0]))
        return sum(not v.on_time for v in timed), float(drive)

    base = score(ids)
    if base[0] == 0:
        return list(ids)

    def closes(a: int) -> float:
        if fixed and a in fixed:
            return _secs(fixed[a])
        iv = open_intervals(by_id[a].opening_hours, day)
        return float(iv[-1][1]) if iv else float("inf")

    seq: list[int] = []
    for a in sorted(ids, key=closes):
        seq = min(([*seq[:i], a, *seq[i:]] for i in range(len(seq) + 1)), key=score)
    new = score(seq)
    work = new[1] + sum(by_id[a].minutes * 60 for a in seq)
    if new[0] < base[0] and (limit_seconds is None or work <= limit_seconds + 1e-6):
        return seq
    return list(ids)
