"""Re-plan a call cycle around an absence, keeping every other day as it was.

The visits of the days a rep cannot work move to other days of the plan: each
goes to the day where it adds the least driving, among the days on which the
account is open, that still have time for it, and on which the account's
visits keep the frequency rules of :mod:`gcrm.cycles`. It is inserted into
that day's route at the cheapest place, the order of the other visits kept.
Days that neither lose nor gain a visit are not touched. Visits that fit
nowhere are reported.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from gcrm.cycles import CycleAccount, RepCycle, fits_opening_hours, visits_keep_rules
from gcrm.routing import Rep


def replan_absence(
    plan: RepCycle,
    rep: Rep,
    accounts: Sequence[CycleAccount],
    durations: np.ndarray,
    absent: Iterable[dt.date],
    *,
    start: dt.date,
    end: dt.date,
) -> RepCycle:
    """Move the visits of absent days to other days; leave the rest alone.

    Parameters
    ----------
    plan
        The cycle plan (from :func:`gcrm.cycles.plan_rep_cycle`).
    rep
        The rep (shift, for opening hours).
    accounts, durations
        As given to :func:`gcrm.cycles.plan_rep_cycle`.
    absent
        Dates the rep will not work.
    start, end
        The horizon (inclusive).

    Returns
    -------
    RepCycle
        The new plan without the absent dates; visits that could not move are
        in ``skipped`` with the reason (the account's other visits stay).
    """
    off = set(absent)
    pos = {a.id: k + 1 for k, a in enumerate(accounts)}
    by_id = {a.id: a for a in accounts}
    keep = [k for k, d in enumerate(plan.dates) if d not in off]
    days = {plan.dates[k]: list(plan.days[k]) for k in keep}
    work = {plan.dates[k]: plan.work_seconds[k] for k in keep}
    visits: dict[int, list[dt.date]] = {}
    for d, ids in days.items():
        for a in ids:
            visits.setdefault(a, []).append(d)
    moved = [a for k, d in enumerate(plan.dates) if d in off for a in plan.days[k]]
    skipped = list(plan.skipped)
    shift = (rep.shift_start, rep.shift_end)
    for a in moved:
        acc = by_id[a]
        best: tuple[float, dt.date, int] | None = None
        for d, ids in days.items():
            if a in ids or not fits_opening_hours(acc.opening_hours, d, shift, acc.minutes):
                continue
            if not visits_keep_rules(acc, [*visits.get(a, []), d], start, end):
                continue
            seq = [0, *(pos[x] for x in ids), 0]
            p = pos[a]
            deltas = [durations[u, p] + durations[p, v] - durations[u, v]
                      for u, v in itertools.pairwise(seq)]  # fmt: skip
            i = int(np.argmin(deltas))
            if work[d] + deltas[i] + acc.minutes * 60 > plan.limit_seconds:
                continue
            if best is None or deltas[i] < best[0]:
                best = (float(deltas[i]), d, i)
        if best is None:
            reason = "absence: no other day can take this visit"
            skipped.append({"account_id": a, "name": acc.name, "reason": reason})
            continue
        delta, d, i = best
        days[d].insert(i, a)
        work[d] += delta + acc.minutes * 60
        visits.setdefault(a, []).append(d)
    dates = [plan.dates[k] for k in keep]
    drive = []
    for d in dates:
        seq = [0, *(pos[x] for x in days[d]), 0]
        drive.append(float(sum(durations[u, v] for u, v in itertools.pairwise(seq))))
    return RepCycle(
        plan.rep,
        dates,
        [days[d] for d in dates],
        drive,
        [drive[k] + sum(by_id[a].minutes * 60 for a in days[d]) for k, d in enumerate(dates)],
        plan.limit_seconds,
        dict(plan.required),
        skipped,
        plan.feasible,
    )
