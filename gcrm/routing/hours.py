"""Opening hours and service windows of visits.

Opening hours are OSM ``opening_hours`` values (parsed with opening-hours-py):
whole minutes, unknown counting as closed, an unparsable value as no
constraint. A visit's service-start windows on a day are the open intervals
(or its own windows, or its fixed appointment) that can hold the whole visit.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import opening_hours

from gcrm.routing._times import DAY
from gcrm.routing.problem import Visit


@functools.lru_cache(maxsize=4096)
def _parsed_hours(text: str) -> Any:
    try:
        return opening_hours.OpeningHours(text)
    except Exception:  # invalid syntax: treated as unconstrained
        return None


def open_intervals(opening_hours: str | None, day: dt.date) -> list[tuple[int, int]] | None:
    """Open intervals of a day from an OSM ``opening_hours`` value.

    Parameters
    ----------
    opening_hours
        The OSM value (parsed with opening-hours-py).
    day
        The date.

    Returns
    -------
    list of (int, int) or None
        ``[start, end)`` seconds since that day's midnight where the state is
        *open* (unknown counts as closed); ``None`` when the value is empty or
        cannot be parsed (no constraint).
    """
    if not opening_hours or not opening_hours.strip():
        return None
    oh = _parsed_hours(opening_hours.strip())
    if oh is None:
        return None
    midnight = dt.datetime.combine(day, dt.time())
    end = midnight + dt.timedelta(days=1)
    out: list[tuple[int, int]] = []
    for start, stop, state, _ in oh.intervals(midnight, end):
        if str(state).rsplit(".", 1)[-1].upper() != "OPEN":
            continue
        a = max(start, midnight)
        b = min(stop or end, end)
        if b > a:
            out.append((int((a - midnight).total_seconds()), int((b - midnight).total_seconds())))
    return _merge(out)


def _merge(iv: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def visit_windows(visit: Visit, day: dt.date) -> list[tuple[int, int]]:
    """Service-start windows of a visit on a day (seconds since midnight).

    The whole visit must fit in an open interval: a window ``(a, b)`` means
    the visit may start at any time in ``[a, b]``.

    Parameters
    ----------
    visit
        The visit.
    day
        The date.

    Returns
    -------
    list of (int, int)
        Windows in order; ``[(0, 86400 - duration)]`` when nothing constrains
        the visit, empty when it cannot take place that day.
    """
    dur = visit.duration_s
    if visit.fixed_start is not None:
        if visit.fixed_start.date() != day:
            return []
        s = int((visit.fixed_start - dt.datetime.combine(day, dt.time())).total_seconds())
        return [(s, s)]
    if visit.windows:
        midnight = dt.datetime.combine(day, dt.time())
        iv = []
        for a, b in visit.windows:
            lo = max(a, midnight)
            hi = min(b, midnight + dt.timedelta(days=1))
            if hi > lo:
                iv.append(
                    (int((lo - midnight).total_seconds()), int((hi - midnight).total_seconds()))
                )
        intervals: list[tuple[int, int]] | None = _merge(iv)
    else:
        intervals = open_intervals(visit.opening_hours, day)
    if intervals is None:
        intervals = [(0, DAY)]
    return [(a, b - dur) for a, b in intervals if b - a >= dur]
