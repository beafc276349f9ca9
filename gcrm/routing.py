"""Visit route planning: planning model -> PyVRP -> itineraries; re-plan; exports.

The planning model (:class:`PlanningProblem`) holds visits (:class:`Visit`),
reps (:class:`Rep`) and the days to plan. It does not depend on the UI or the
database: :func:`build_problem` fills it from the store, tests and other
callers build it directly. :func:`plan_routes` computes travel times along the
streets (:mod:`gcrm.matrix`), turns the problem into PyVRP data
(:func:`build_model`), solves it (:func:`solve_model`), schedules every route
and returns a :class:`Plan`: per rep and day the ordered stops with arrival,
wait, start and end times, drive time and distance per leg and in total, the
lunch break, the route geometry along the streets, and the visits left out
with the reason. Plans are JSON-serialisable (``to_dict`` / ``from_dict``).

Time and rounding
-----------------
All model times are integer seconds since midnight of the day a vehicle
works. Travel durations are rounded *up* to the second (a schedule built on
them is never optimistic: each leg is given at least its true duration) and
distances to the nearest metre. Visit and break durations are whole seconds,
opening hours whole minutes. Times in the plan are naive local datetimes.

How the model maps to PyVRP
---------------------------
- One depot per distinct start or end point of the reps; one vehicle type per
  rep and day with that day's shift as its time window (``tw_early``,
  ``tw_late``) and the maximum working time (plus the break) as its
  ``shift_duration``.
- One client per visit and service window: a visit has a window for each open
  interval of the day that can hold the whole visit (start no earlier than
  opening, end no later than closing). Since every day uses the same time
  axis, a visit whose windows are the same on every planned day is one
  client that any day's vehicle can serve; windows that differ by day become
  separate clients tied to their days. Alternatives of one visit form a
  mutually exclusive client group, required for required visits.
- Restrictions (a visit only on some days, or only by some reps, as fixed
  appointments are) use load dimensions: such a client delivers one unit in
  the restriction's dimension and only the allowed vehicles have capacity
  there. Fixed appointments have a zero-width window at their time.
- Prize collecting: optional visits carry a prize ``B (1 + 9 q)`` where ``q``
  is the visit's value quantile among the visits and ``B`` is at least four
  times the longest trip, so a visit is worth more than the detour to reach
  it: visits are dropped when the day is full, and the least valuable first
  (the most valuable visit counts as much as ten of the least valuable).
  Required visits are required clients or groups; if no plan holds them all,
  the problem is solved again with them as optional visits of a much larger
  prize, and those left out are reported.
- The objective is travel time (seconds; ``objective="distance"``: metres).

The lunch break
---------------
A rep takes the break where they are: after a visit, before leaving, or at
the end location after returning. PyVRP has no breaks, and the usual
pseudo-client "with zero travel to and from everywhere" is wrong: a route
``i -> break -> j`` would then skip the trip from ``i`` to ``j``. Instead
every client also has a *lunch variant* at the same location: the visit
followed by the break, with service time ``visit + break`` and a window that
makes the break start and end inside the break window. The variants are
alternatives in the visit's group, carry a bonus (larger than any visit's
prize) and deliver one unit in a "lunch" load dimension where each vehicle
has capacity one: each route takes at most one break, and takes one when it
can. Travel times stay exact, so the solver sees the true day.

After solving, each route is scheduled exactly: the break is placed in the
best gap of the route (the one the solver chose is always among them: after a
visit, at the start, at the end, or during a wait), the departure is delayed
as far as waiting allows (the shortest working day), and every window,
appointment, shift end and the maximum working time (which excludes the
break) are checked. A route with no valid place for the break loses visits,
the least valuable optional ones first, each reported with the reason.
Do-not-contact accounts are never scheduled: the builders leave them out
and :func:`plan_routes` checks the result.

Determinism
-----------
The default budget is work, not wall time (:class:`PlanOptions`): an
iteration budget that grows with the number of PyVRP clients, and an early
stop after a run of iterations without a significant improvement
(:mod:`gcrm.plan_budget`). The same problem and seed
give the same plan whatever the machine's load (unless the wall-time cap,
``seconds`` or :data:`MAX_SOLVER_SECONDS`, is hit first). Large models run two
searches with seeds ``seed`` and ``seed + 1`` in two processes and keep the
better plan (the first on a tie), so they repeat too.

Benchmark instances
-------------------
:func:`solve_instance` solves TSPLIB, Solomon and VRPLIB instances read by
:mod:`gcrm.instances` (the ``solve`` command: :func:`solve_instance_file`).
A single tour without time windows is first solved by PyVRP and then improved
by an iterated 2-opt / Or-opt local search (PyVRP has no intra-route 2-opt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import multiprocessing
import os
import random
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gcrm import plan_budget
from gcrm._errors import GcrmError, InputError, NotFoundError, PermissionDeniedError
from gcrm.due import due_date
from gcrm.plan_notes import explain_plan

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor
    from gcrm.instances import Instance
    from gcrm.matrix import TravelMatrix

#: Default lunch break window and duration.
DEFAULT_LUNCH = (dt.time(11, 0), dt.time(13, 30), 30)

#: Travel modes of Google Maps links, per network profile.
GOOGLE_TRAVEL_MODES: dict[str, str] = {
    "drive": "driving",
    "walk": "walking",
    "bike": "bicycling",
}

#: Most waypoints one Google Maps directions link may hold (besides origin and
#: destination).
MAX_LINK_WAYPOINTS = 9

#: Largest benchmark instance :func:`solve_instance` accepts (full matrices).
MAX_INSTANCE_NODES = 5000

#: Credit shown on every map drawn from OpenStreetMap data.
OSM_CREDIT = "© OpenStreetMap contributors"

#: Safety cap on the solver's wall time when no ``seconds`` are given.
MAX_SOLVER_SECONDS = 600.0

#: Models with this many PyVRP clients or more use two searches on two cores.
PARALLEL_MIN_CLIENTS = 150

_DAY = 86_400
_BIG_TIME = 10**7  # stands for "unreachable" in the integer matrices
_VALUE_SPREAD = 9  # the most valuable visit is worth 1 + 9 times the least
_LUNCH_BONUS = 20  # times the base prize
_REQUIRED_PRIZE = 1_000  # times the base prize (fallback solve only)
_MAX_TOUR_SEARCH = 3000  # largest tour the pure-Python 2-opt/Or-opt search improves

# Reasons a visit is left out.
REASON_DNC = "do not contact"
REASON_NO_LOCATION = "no location"
REASON_UNREACHABLE = "not reachable on the road network"
REASON_CLOSED = "closed on the planned day(s)"
REASON_OUTSIDE_SHIFT = "opening hours do not overlap the working hours"
REASON_NO_REP = "no planned rep may make this visit"
REASON_NO_DAY = "no allowed rep works on the allowed dates"
REASON_APPOINTMENT = "appointment outside the rep's working hours or planned days"
REASON_FULL = "not enough time: lower-value visits are dropped first"
REASON_REQUIRED_FULL = "required, but no feasible plan holds it"
REASON_LUNCH = "no room left for the lunch break"
REASON_SKIPPED = "skipped by the rep"
REASON_DUPLICATE = "duplicate visit id"


class PlanningError(GcrmError):
    """A plan broke a rule it must keep (a bug, never a user error)."""


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class LunchBreak:
    """A break each working day.

    Attributes
    ----------
    earliest, latest
        The break lies entirely within ``[earliest, latest]``.
    minutes
        Its length.
    """

    earliest: dt.time = DEFAULT_LUNCH[0]
    latest: dt.time = DEFAULT_LUNCH[1]
    minutes: int = DEFAULT_LUNCH[2]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "earliest": self.earliest.strftime("%H:%M"),
            "latest": self.latest.strftime("%H:%M"),
            "minutes": self.minutes,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LunchBreak:
        """Build from :meth:`to_dict` output."""
        return cls(_time(d["earliest"]), _time(d["latest"]), int(d["minutes"]))


@dataclass(frozen=True)
class Rep:
    """A field rep: where their days start and end, and when they work.

    Attributes
    ----------
    id
        Unique id (the username).
    start
        ``(lat, lon)`` where each day starts (home or office).
    end
        ``(lat, lon)`` where each day ends; default ``start``.
    shift_start, shift_end
        Working hours: leave no earlier, be back no later.
    max_work_minutes
        Longest working day (travel, visits and waits; the break excluded).
    lunch
        The daily break, or ``None``.
    days
        Dates the rep works; empty: every planned date.
    name
        Display name.
    """

    id: str
    start: tuple[float, float]
    end: tuple[float, float] | None = None
    shift_start: dt.time = dt.time(8, 0)
    shift_end: dt.time = dt.time(16, 0)
    max_work_minutes: float | None = None
    lunch: LunchBreak | None = field(default_factory=LunchBreak)
    days: tuple[dt.date, ...] = ()
    name: str = ""

    @property
    def end_point(self) -> tuple[float, float]:
        """Where each day ends."""
        return self.end if self.end is not None else self.start

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "id": self.id,
            "start": list(self.start),
            "end": list(self.end) if self.end is not None else None,
            "shift_start": self.shift_start.strftime("%H:%M:%S"),
            "shift_end": self.shift_end.strftime("%H:%M:%S"),
            "max_work_minutes": self.max_work_minutes,
            "lunch": self.lunch.to_dict() if self.lunch else None,
            "days": [d.isoformat() for d in self.days],
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rep:
        """Build from :meth:`to_dict` output."""
        return cls(
            id=str(d["id"]),
            start=(float(d["start"][0]), float(d["start"][1])),
            end=(float(d["end"][0]), float(d["end"][1])) if d.get("end") else None,
            shift_start=_time(d["shift_start"]),
            shift_end=_time(d["shift_end"]),
            max_work_minutes=d.get("max_work_minutes"),
            lunch=LunchBreak.from_dict(d["lunch"]) if d.get("lunch") else None,
            days=tuple(dt.date.fromisoformat(x) for x in d.get("days", ())),
            name=str(d.get("name", "")),
        )


@dataclass(frozen=True)
class Visit:
    """A visit to plan.

    Attributes
    ----------
    id
        Unique id (e.g. ``"account:12"``).
    lat, lon
        Where (WGS 84).
    minutes
        How long the visit takes.
    name
        Display name.
    account_id
        The account, if any.
    opening_hours
        OSM ``opening_hours`` of the place: the whole visit must fall in an
        open interval (an unparsable value does not constrain).
    windows
        Explicit ``(start, end)`` datetimes the whole visit must fall in;
        they replace ``opening_hours``.
    value
        Value used to choose which optional visits to drop (higher: kept).
    required
        Must be planned (optional visits are dropped first).
    fixed_start
        A fixed appointment: the visit starts exactly then (implies
        ``required``; needs exactly one allowed rep when several are planned).
    reps
        Rep ids allowed to make the visit; empty: any.
    earliest, latest
        First and last date the visit may be planned on.
    do_not_contact
        Never planned.
    address
        Printable address.
    """

    id: str
    lat: float
    lon: float
    minutes: float = 30.0
    name: str = ""
    account_id: int | None = None
    opening_hours: str | None = None
    windows: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    value: float = 0.0
    required: bool = False
    fixed_start: dt.datetime | None = None
    reps: tuple[str, ...] = ()
    earliest: dt.date | None = None
    latest: dt.date | None = None
    do_not_contact: bool = False
    address: str = ""

    @property
    def duration_s(self) -> int:
        """Visit length in whole seconds (rounded up)."""
        return math.ceil(self.minutes * 60 - 1e-9)

    @property
    def is_required(self) -> bool:
        """Required or a fixed appointment."""
        return self.required or self.fixed_start is not None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "id": self.id,
            "lat": self.lat,
            "lon": self.lon,
            "minutes": self.minutes,
            "name": self.name,
            "account_id": self.account_id,
            "opening_hours": self.opening_hours,
            "windows": [[a.isoformat(), b.isoformat()] for a, b in self.windows],
            "value": self.value,
            "required": self.required,
            "fixed_start": self.fixed_start.isoformat() if self.fixed_start else None,
            "reps": list(self.reps),
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "latest": self.latest.isoformat() if self.latest else None,
            "do_not_contact": self.do_not_contact,
            "address": self.address,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Visit:
        """Build from :meth:`to_dict` output."""
        return cls(
            id=str(d["id"]),
            lat=float(d["lat"]),
            lon=float(d["lon"]),
            minutes=float(d.get("minutes", 30.0)),
            name=str(d.get("name", "")),
            account_id=d.get("account_id"),
            opening_hours=d.get("opening_hours"),
            windows=tuple(
                (dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b))
                for a, b in d.get("windows", ())
            ),
            value=float(d.get("value", 0.0)),
            required=bool(d.get("required", False)),
            fixed_start=_dtm(d.get("fixed_start")),
            reps=tuple(d.get("reps", ())),
            earliest=_date(d.get("earliest")),
            latest=_date(d.get("latest")),
            do_not_contact=bool(d.get("do_not_contact", False)),
            address=str(d.get("address", "")),
        )


@dataclass(frozen=True)
class PlanningProblem:
    """What to plan: visits, reps and days.

    Attributes
    ----------
    visits
        Candidate visits.
    reps
        Reps available.
    dates
        Days to plan, in order.
    profile
        Road network profile: ``"drive"`` (default), ``"walk"`` or ``"bike"``.
    """

    visits: tuple[Visit, ...]
    reps: tuple[Rep, ...]
    dates: tuple[dt.date, ...]
    profile: str = "drive"

    def validate(self) -> None:
        """Reject malformed problems with a clear message.

        Raises
        ------
        InputError
            If there is no rep or date, a rep id repeats, a shift or break is
            empty, or a visit has a bad location or duration.
        """
        if not self.reps:
            raise InputError("a plan needs at least one rep")
        if not self.dates:
            raise InputError("a plan needs at least one date")
        if len({r.id for r in self.reps}) != len(self.reps):
            raise InputError("rep ids must be unique")
        if list(self.dates) != sorted(set(self.dates)):
            raise InputError("dates must be distinct and in order")
        for r in self.reps:
            for lat, lon in (r.start, r.end_point):
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    msg = f"rep {r.id!r}: invalid location ({lat}, {lon})"
                    raise InputError(msg)
            if _secs(r.shift_end) <= _secs(r.shift_start):
                msg = f"rep {r.id!r}: the shift must end after it starts"
                raise InputError(msg)
            if r.lunch is not None and (
                r.lunch.minutes <= 0
                or _secs(r.lunch.latest) - _secs(r.lunch.earliest) < r.lunch.minutes * 60
            ):
                msg = f"rep {r.id!r}: the lunch window must hold the break"
                raise InputError(msg)
            if r.max_work_minutes is not None and r.max_work_minutes <= 0:
                msg = f"rep {r.id!r}: max_work_minutes must be positive"
                raise InputError(msg)
        for v in self.visits:
            if v.minutes < 0 or not math.isfinite(v.minutes):
                msg = f"visit {v.id!r}: invalid duration {v.minutes}"
                raise InputError(msg)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "visits": [v.to_dict() for v in self.visits],
            "reps": [r.to_dict() for r in self.reps],
            "dates": [d.isoformat() for d in self.dates],
            "profile": self.profile,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlanningProblem:
        """Build from :meth:`to_dict` output."""
        return cls(
            visits=tuple(Visit.from_dict(v) for v in d["visits"]),
            reps=tuple(Rep.from_dict(r) for r in d["reps"]),
            dates=tuple(dt.date.fromisoformat(x) for x in d["dates"]),
            profile=str(d.get("profile", "drive")),
        )


@dataclass(frozen=True)
class PlanOptions:
    """How to solve.

    The default budget is *work*, not wall time: a number of PyVRP
    iterations that grows with the problem, and an early stop after a run of
    iterations without a significant improvement (:mod:`gcrm.plan_budget`; a
    small problem is solved in a fraction of a second). The same problem and
    seed give the same plan whatever the machine's load. Large problems run
    two searches (seeds ``seed`` and
    ``seed + 1``) on two cores and keep the better plan (ties: the first).

    Attributes
    ----------
    seconds
        Wall-time cap; ``None``: :data:`MAX_SOLVER_SECONDS` (a safety net
        that an overloaded machine may hit; then the plan can differ).
    seed
        Random seed.
    iterations
        Iteration budget per search; ``None``: :meth:`iteration_budget`.
    no_improvement
        Stop after this many iterations without a better plan; ``None``:
        :meth:`patience`; ``0``: never stop early.
    workers
        Parallel searches; ``None``: two when the model has at least
        :data:`PARALLEL_MIN_CLIENTS` clients and the machine two cores.
    objective
        ``"time"`` (travel seconds, default) or ``"distance"`` (metres).
    geometry
        Compute the route geometry along the streets (default).
    """

    seconds: float | None = None
    seed: int = 0
    iterations: int | None = None
    no_improvement: int | None = None
    workers: int | None = None
    objective: str = "time"
    geometry: bool = True

    def time_limit(self, n_visits: int) -> float:
        """The wall-time cap (seconds)."""
        if self.seconds is not None:
            return float(self.seconds)
        return MAX_SOLVER_SECONDS

    def iteration_budget(self, n_clients: int) -> int:
        """Iterations per search for a model of ``n_clients`` PyVRP clients."""
        if self.iterations is not None:
            return int(self.iterations)
        return plan_budget.iteration_budget(n_clients)

    def patience(self, n_clients: int) -> int | None:
        """Iterations without improvement before stopping (``None``: never)."""
        if self.no_improvement is not None:
            return int(self.no_improvement) or None
        return plan_budget.patience(n_clients)

    def searches(self, n_clients: int) -> int:
        """How many parallel searches to run (1 or 2)."""
        if self.workers is not None:
            return max(1, min(2, int(self.workers)))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return 2 if n_clients >= PARALLEL_MIN_CLIENTS and cores >= 2 else 1


# --------------------------------------------------------------------------- results


@dataclass
class PlannedStop:
    """One visit in a route.

    Attributes
    ----------
    visit_id, account_id, name, address, lat, lon
        What and where.
    arrival
        Arrival time.
    wait_s
        Waiting before the visit starts (e.g. for the opening).
    start, end
        The visit.
    departure
        When the rep leaves (after the break if it is taken here).
    leg_duration_s, leg_distance_m
        Drive from the previous point (start location or stop).
    required, fixed, value
        From the visit.
    status
        ``"planned"`` or ``"done"``.
    """

    visit_id: str
    account_id: int | None
    name: str
    address: str
    lat: float
    lon: float
    arrival: dt.datetime
    wait_s: int
    start: dt.datetime
    end: dt.datetime
    departure: dt.datetime
    leg_duration_s: int
    leg_distance_m: int
    required: bool = False
    fixed: bool = False
    value: float = 0.0
    status: str = "planned"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        d = dataclasses.asdict(self)
        for k in ("arrival", "start", "end", "departure"):
            d[k] = d[k].isoformat()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlannedStop:
        """Build from :meth:`to_dict` output."""
        kw = dict(d)
        for k in ("arrival", "start", "end", "departure"):
            kw[k] = dt.datetime.fromisoformat(kw[k])
        return cls(**kw)


@dataclass
class LunchSlot:
    """The break of a route.

    Attributes
    ----------
    start, end
        When.
    place
        ``"start"`` (at the start location before leaving), ``"stop"`` (after
        the visit ``stops[stop_index]``), ``"end"`` (at the end location after
        returning), ``"resume"`` (at the resume point of a re-planned route,
        before leaving it) or ``"taken"`` (before the route was re-planned).
    stop_index
        For ``place == "stop"``.
    """

    start: dt.datetime
    end: dt.datetime
    place: str
    stop_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "place": self.place,
            "stop_index": self.stop_index,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LunchSlot:
        """Build from :meth:`to_dict` output."""
        return cls(
            dt.datetime.fromisoformat(d["start"]),
            dt.datetime.fromisoformat(d["end"]),
            str(d["place"]),
            d.get("stop_index"),
        )


@dataclass
class ResumePoint:
    """Where and when a re-planned route resumes.

    Attributes
    ----------
    lat, lon
        The rep's position when re-planning.
    at
        The time of re-planning.
    departure
        When the rep leaves that position (after the break if taken there).
    """

    lat: float
    lon: float
    at: dt.datetime
    departure: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "lat": self.lat,
            "lon": self.lon,
            "at": self.at.isoformat(),
            "departure": self.departure.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResumePoint:
        """Build from :meth:`to_dict` output."""
        return cls(
            float(d["lat"]),
            float(d["lon"]),
            dt.datetime.fromisoformat(d["at"]),
            dt.datetime.fromisoformat(d["departure"]),
        )


@dataclass
class RoutePlan:
    """One rep's day.

    Attributes
    ----------
    rep, rep_name, date
        Whose day.
    start_lat, start_lon, end_lat, end_lon
        Where it starts and ends.
    departure
        When the rep leaves the start location.
    arrival
        When the rep is back at the end location.
    stops
        The visits in order.
    lunch
        The break, if any.
    return_leg_duration_s, return_leg_distance_m
        The last drive, to the end location.
    geometry
        ``[lat, lon]`` vertices of the route along the streets (from the
        resume point for a re-planned route).
    resume
        For a re-planned route: where the rest of the day starts. Stops
        before it are ``"done"``; the legs after it start there.
    """

    rep: str
    rep_name: str
    date: dt.date
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    departure: dt.datetime
    arrival: dt.datetime
    stops: list[PlannedStop]
    lunch: LunchSlot | None
    return_leg_duration_s: int
    return_leg_distance_m: int
    geometry: list[list[float]] = field(default_factory=list)
    resume: ResumePoint | None = None

    @property
    def drive_s(self) -> int:
        """Total drive time (s)."""
        return sum(s.leg_duration_s for s in self.stops) + self.return_leg_duration_s

    @property
    def distance_m(self) -> int:
        """Total drive distance (m)."""
        return sum(s.leg_distance_m for s in self.stops) + self.return_leg_distance_m

    @property
    def wait_s(self) -> int:
        """Total waiting (s)."""
        return sum(s.wait_s for s in self.stops)

    @property
    def service_s(self) -> int:
        """Total time at visits (s)."""
        return sum(int((s.end - s.start).total_seconds()) for s in self.stops)

    @property
    def day_start(self) -> dt.datetime:
        """Start of the working day (the break may come before leaving)."""
        if self.lunch is not None and self.lunch.place == "start":
            return min(self.departure, self.lunch.start)
        return self.departure

    @property
    def work_s(self) -> int:
        """Working time (s): from leaving to returning, the break excluded."""
        total = int((self.arrival - self.day_start).total_seconds())
        if self.lunch is not None and self.lunch.place != "end":
            if self.lunch.start >= self.day_start:
                total -= int((self.lunch.end - self.lunch.start).total_seconds())
        return total

    def points(self) -> list[tuple[float, float]]:
        """``(lat, lon)`` of the start, every stop and the end."""
        return [
            (self.start_lat, self.start_lon),
            *[(s.lat, s.lon) for s in self.stops],
            (self.end_lat, self.end_lon),
        ]

    def remaining_points(self) -> list[tuple[float, float]]:
        """``(lat, lon)`` of the way still to go: from the resume point (or the
        start) through the stops not done, to the end."""
        if self.resume is None:
            return self.points()
        return [
            (self.resume.lat, self.resume.lon),
            *[(s.lat, s.lon) for s in self.stops if s.status != "done"],
            (self.end_lat, self.end_lon),
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (totals included)."""
        return {
            "rep": self.rep,
            "rep_name": self.rep_name,
            "date": self.date.isoformat(),
            "start_lat": self.start_lat,
            "start_lon": self.start_lon,
            "end_lat": self.end_lat,
            "end_lon": self.end_lon,
            "departure": self.departure.isoformat(),
            "arrival": self.arrival.isoformat(),
            "stops": [s.to_dict() for s in self.stops],
            "lunch": self.lunch.to_dict() if self.lunch else None,
            "return_leg_duration_s": self.return_leg_duration_s,
            "return_leg_distance_m": self.return_leg_distance_m,
            "geometry": self.geometry,
            "resume": self.resume.to_dict() if self.resume else None,
            "totals": {
                "drive_s": self.drive_s,
                "distance_m": self.distance_m,
                "wait_s": self.wait_s,
                "service_s": self.service_s,
                "work_s": self.work_s,
                "visits": len(self.stops),
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RoutePlan:
        """Build from :meth:`to_dict` output."""
        return cls(
            rep=str(d["rep"]),
            rep_name=str(d.get("rep_name", "")),
            date=dt.date.fromisoformat(d["date"]),
            start_lat=float(d["start_lat"]),
            start_lon=float(d["start_lon"]),
            end_lat=float(d["end_lat"]),
            end_lon=float(d["end_lon"]),
            departure=dt.datetime.fromisoformat(d["departure"]),
            arrival=dt.datetime.fromisoformat(d["arrival"]),
            stops=[PlannedStop.from_dict(s) for s in d["stops"]],
            lunch=LunchSlot.from_dict(d["lunch"]) if d.get("lunch") else None,
            return_leg_duration_s=int(d["return_leg_duration_s"]),
            return_leg_distance_m=int(d["return_leg_distance_m"]),
            geometry=[list(map(float, p)) for p in d.get("geometry", [])],
            resume=ResumePoint.from_dict(d["resume"]) if d.get("resume") else None,
        )


@dataclass
class DroppedVisit:
    """A visit left out of the plan, and why."""

    visit_id: str
    account_id: int | None
    name: str
    reason: str
    required: bool = False
    value: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DroppedVisit:
        """Build from :meth:`to_dict` output."""
        return cls(**dict(d))


@dataclass
class Plan:
    """A planned set of routes.

    Attributes
    ----------
    routes
        One per rep and day that has visits, ordered by date then rep.
    dropped
        Visits left out, with reasons.
    problem
        The problem it solves (kept for re-planning).
    profile
        Road network profile used.
    stats
        Figures of the run: ``seed``, ``objective``, ``time_limit_s``,
        ``iterations``, ``solver_s``, ``matrix_s``, ``geometry_s``, ``cost``
        (PyVRP's objective: travel plus uncollected prizes), ``feasible``,
        ``fallback`` (required visits had to be made optional), ``clients``
        (PyVRP clients) and ``visits``.
    created
        When it was made.
    """

    routes: list[RoutePlan]
    dropped: list[DroppedVisit]
    problem: PlanningProblem
    profile: str = "drive"
    stats: dict[str, Any] = field(default_factory=dict)
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    def route(self, rep: str, date: dt.date) -> RoutePlan | None:
        """The route of a rep on a date, if any."""
        return next((r for r in self.routes if r.rep == rep and r.date == date), None)

    def planned_visit_ids(self) -> list[str]:
        """Ids of every visit in a route (done ones included)."""
        return [s.visit_id for r in self.routes for s in r.stops]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "version": 1,
            "created": self.created.isoformat(),
            "profile": self.profile,
            "stats": self.stats,
            "routes": [r.to_dict() for r in self.routes],
            "dropped": [d.to_dict() for d in self.dropped],
            "problem": self.problem.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Build from :meth:`to_dict` output."""
        return cls(
            routes=[RoutePlan.from_dict(r) for r in d["routes"]],
            dropped=[DroppedVisit.from_dict(x) for x in d["dropped"]],
            problem=PlanningProblem.from_dict(d["problem"]),
            profile=str(d.get("profile", "drive")),
            stats=dict(d.get("stats", {})),
            created=dt.datetime.fromisoformat(d["created"]),
        )

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON, and write it to ``path`` if given."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Plan:
        """Read a plan written by :meth:`to_json` (a JSON string or a file)."""
        if isinstance(text_or_path, Path) or not str(text_or_path).lstrip().startswith("{"):
            text = Path(text_or_path).read_text(encoding="utf-8")
        else:
            text = str(text_or_path)
        return cls.from_dict(json.loads(text))


# --------------------------------------------------------------------------- small helpers


def _time(value: str | dt.time) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        msg = f"invalid time {value!r}: expected HH:MM"
        raise InputError(msg) from None


def _date(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _dtm(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _secs(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _at(day: dt.date, seconds: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=int(seconds))


# --------------------------------------------------------------------------- opening hours


@functools.lru_cache(maxsize=4096)
def _parsed_hours(text: str) -> Any:
    import opening_hours

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
        intervals = [(0, _DAY)]
    return [(a, b - dur) for a, b in intervals if b - a >= dur]


# --------------------------------------------------------------------------- builder (store)


def visits_from_accounts(
    accounts: Any,
    *,
    start: dt.date,
    days: int = 1,
    due: bool = True,
    selected: Iterable[int] = (),
    required: Iterable[int] = (),
    owner_only: bool = False,
) -> tuple[list[Visit], list[DroppedVisit]]:
    """Turn account rows into visits: those due, plus a selection.

    Parameters
    ----------
    accounts
        A frame with :data:`gcrm.store.ACCOUNT_COLUMNS` (as from
        :func:`gcrm.store.accounts_frame`).
    start
        First planned date.
    days
        Number of planned dates.
    due
        Include accounts due by the last planned date (last visit plus
        ``visit_every_days``).
    selected
        Account ids chosen by a manager or rep (planned even if not due).
    required
        Account ids that must be planned (also selected).
    owner_only
        Only the account's owner (``owner`` column) may visit it.

    Returns
    -------
    visits, dropped
        Visits ``account:<id>``, and the chosen accounts left out (no
        location, do not contact). Do-not-contact accounts are never visits.
    """
    import pandas as pd

    last_day = start + dt.timedelta(days=max(days, 1) - 1)
    sel = {int(x) for x in selected} | {int(x) for x in required}
    req = {int(x) for x in required}
    values = pd.to_numeric(accounts["potential_value"], errors="coerce").fillna(0.0)
    visits: list[Visit] = []
    dropped: list[DroppedVisit] = []
    for row, value in zip(accounts.itertuples(index=False), values, strict=True):
        aid = int(row.id)
        lv = row.last_visit
        if isinstance(lv, str):
            lv = dt.date.fromisoformat(lv)
        elif isinstance(lv, dt.datetime):  # pandas Timestamps too
            lv = None if pd.isna(lv) else lv.date()
        elif not isinstance(lv, dt.date):
            lv = None
        every = row.visit_every_days
        every = None if every is None or pd.isna(every) else int(every)
        d = due_date(lv, every)
        is_due = due and d is not None and d <= last_day
        if not (is_due or aid in sel):
            continue
        name = str(row.name or "")
        if bool(row.do_not_contact):
            dropped.append(DroppedVisit(f"account:{aid}", aid, name, REASON_DNC, aid in req))
            continue
        lat, lon = row.lat, row.lon
        if lat is None or lon is None or not (np.isfinite(lat) and np.isfinite(lon)):
            dropped.append(
                DroppedVisit(f"account:{aid}", aid, name, REASON_NO_LOCATION, aid in req)
            )
            continue
        minutes = row.visit_minutes
        minutes = 30.0 if minutes is None or pd.isna(minutes) else float(minutes)
        address = " ".join(str(x) for x in (row.street, row.housenumber) if x and not pd.isna(x))
        if row.city and not pd.isna(row.city):
            address = f"{address}, {row.city}" if address else str(row.city)
        oh = row.opening_hours if isinstance(row.opening_hours, str) else None
        owner = row.owner if isinstance(row.owner, str) and owner_only else None
        visits.append(
            Visit(
                id=f"account:{aid}",
                lat=float(lat),
                lon=float(lon),
                minutes=minutes,
                name=name,
                account_id=aid,
                opening_hours=oh,
                value=float(value),
                required=aid in req,
                reps=(owner,) if owner else (),
                address=address,
            )
        )
    return visits, dropped


def rep_from_user(
    user: Any,
    *,
    lunch: LunchBreak | None = None,
    max_work_minutes: float | None = None,
    end: tuple[float, float] | None = None,
) -> Rep:
    """Build a :class:`Rep` from a stored user (home base and working hours).

    Parameters
    ----------
    user
        A :class:`gcrm.db.models.User` with ``home_lat``/``home_lon``.
    lunch
        The break; default :class:`LunchBreak` ().
    max_work_minutes
        Longest working day.
    end
        Where days end, if not at home (e.g. the office).

    Returns
    -------
    Rep
        The rep.

    Raises
    ------
    InputError
        If the user has no home base.
    """
    if user.home_lat is None or user.home_lon is None:
        msg = f"user {user.username!r} has no home base: set it before planning"
        raise InputError(msg)
    return Rep(
        id=user.username,
        start=(float(user.home_lat), float(user.home_lon)),
        end=end,
        shift_start=_time(user.work_start or "08:00"),
        shift_end=_time(user.work_end or "16:00"),
        max_work_minutes=max_work_minutes,
        lunch=lunch if lunch is not None else LunchBreak(),
        name=user.display_name or user.username,
    )


def _check_can_plan(actor: Actor, rep_user: Any) -> None:
    """A rep plans their own days; a manager those of their region's reps."""
    from gcrm.auth import require

    require(actor, "plan")
    if actor.role in ("admin", "system"):
        return
    if actor.role == "rep" and rep_user.id == actor.id:
        return
    if actor.role == "manager" and actor.region_id is not None:
        if rep_user.region_id == actor.region_id:
            return
    msg = f"user {actor.username!r} ({actor.role}) may not plan for {rep_user.username!r}"
    raise PermissionDeniedError(msg)


def build_problem(
    session: Session,
    actor: Actor,
    reps: Sequence[str],
    start: dt.date,
    *,
    days: int = 1,
    due: bool = True,
    selected: Iterable[int] = (),
    required: Iterable[int] = (),
    owner_only: bool = True,
    profile: str = "drive",
    lunch: LunchBreak | None = None,
    max_work_minutes: float | None = None,
) -> tuple[PlanningProblem, list[DroppedVisit]]:
    """Build a planning problem from the store.

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans: a rep for themselves, a manager for their region's reps.
    reps
        Usernames of the reps to plan.
    start
        First date.
    days
        Number of consecutive dates.
    due
        Include the accounts due by the last date (in the reps' scopes).
    selected, required
        Account ids to plan as well (see :func:`visits_from_accounts`); they
        must be in the actor's scope.
    owner_only
        Each account is visited by its owner when the owner is planned.
    profile
        Road network profile.
    lunch, max_work_minutes
        Break and longest day of every rep.

    Returns
    -------
    problem, dropped
        The problem and the chosen accounts left out before planning.

    Raises
    ------
    PermissionDeniedError
        If the actor may not plan for one of the reps.
    NotFoundError
        If a rep does not exist.
    InputError
        If a rep has no home base or ``days`` is not positive.
    """
    from gcrm.auth import Actor as _Actor
    from gcrm.store import AccountFilter, accounts_frame, get_user

    if days < 1:
        raise InputError("days must be at least 1")
    rep_users = []
    for name in reps:
        user = get_user(session, name)
        if user is None or not user.is_active:
            msg = f"no active user {name!r}"
            raise NotFoundError(msg)
        _check_can_plan(actor, user)
        rep_users.append(user)
    flt = AccountFilter(include_do_not_contact=False)
    chosen = sorted({int(x) for x in selected} | {int(x) for x in required})
    # Without ``due``, only the chosen accounts become visits: one read, as the
    # actor (so already only what the actor may see), instead of every rep's book.
    whole_books = due or not chosen
    frames = []
    for user in rep_users if whole_books else []:
        frames.append(accounts_frame(session, _Actor.from_user(user), flt))
    if chosen:
        frames.append(accounts_frame(session, actor, AccountFilter(ids=chosen)))
    import pandas as pd

    frame = pd.concat(frames, ignore_index=True).drop_duplicates("id")
    if whole_books and actor.role not in ("admin", "system") and len(frame):
        visible = accounts_frame(session, actor, AccountFilter(ids=frame["id"].tolist()))
        frame = frame[frame["id"].isin(visible["id"])]
    planned = {u.username for u in rep_users}
    visits, dropped = visits_from_accounts(
        frame,
        start=start,
        days=days,
        due=due,
        selected=selected,
        required=required,
        owner_only=owner_only and len(rep_users) > 1,
    )
    visits = [dataclasses.replace(v, reps=tuple(r for r in v.reps if r in planned)) for v in visits]
    rep_objs = tuple(
        rep_from_user(u, lunch=lunch, max_work_minutes=max_work_minutes) for u in rep_users
    )
    dates = tuple(start + dt.timedelta(days=k) for k in range(days))
    return PlanningProblem(tuple(visits), rep_objs, dates, profile=profile), dropped


# --------------------------------------------------------------------------- PyVRP model


@dataclass(frozen=True)
class _ClientInfo:
    """What a PyVRP client stands for."""

    visit: int  # index into RoutingModel.visits
    early: int  # service-start window of the visit itself
    late: int
    lunch: bool  # the lunch variant (visit then break)


@dataclass(frozen=True)
class _VehicleInfo:
    rep: int  # index into RoutingModel.reps
    day: int  # index into RoutingModel.dates


@dataclass(eq=False)
class RoutingModel:
    """A planning problem as PyVRP data, with the maps back to the problem.

    Attributes
    ----------
    data
        The PyVRP ``ProblemData`` (objective in ``distance``, time in
        ``duration``).
    visits, reps, dates
        The problem's plannable visits, reps and dates.
    clients
        What each PyVRP client stands for.
    vehicles
        Rep and day of each vehicle type.
    durations, distances
        Integer seconds (rounded up) and metres between model locations:
        depots first, then one location per visit.
    depot_of_rep
        ``(start, end)`` depot index of each rep.
    prizes
        Prize of each visit (for repairs).
    dropped
        Visits left out while building, with reasons.
    base_prize
        The prize unit ``B``.
    """

    data: Any
    visits: list[Visit]
    reps: list[Rep]
    dates: list[dt.date]
    clients: list[_ClientInfo]
    vehicles: list[_VehicleInfo]
    durations: np.ndarray
    distances: np.ndarray
    depot_of_rep: list[tuple[int, int]]
    prizes: list[int]
    dropped: list[DroppedVisit]
    base_prize: int
    num_depots: int
    travel: TravelMatrix | None = None

    def visit_location(self, visit: int) -> int:
        """Model location of a visit."""
        return self.num_depots + visit

    def with_required_as_prizes(self) -> RoutingModel:
        """The same model with required visits made optional with a huge prize."""
        from pyvrp import Client, ClientGroup

        big = _REQUIRED_PRIZE * self.base_prize
        data = self.data
        clients = []
        for c, info in zip(data.clients(), self.clients, strict=True):
            v = self.visits[info.visit]
            prize = c.prize + (big if v.is_required else 0)
            clients.append(
                Client(
                    c.location,
                    delivery=list(c.delivery),
                    service_duration=c.service_duration,
                    tw_early=c.tw_early,
                    tw_late=c.tw_late,
                    prize=prize,
                    required=False,
                    group=c.group,
                    name=c.name,
                )
            )
        groups = [ClientGroup(list(g.clients), required=False, name=g.name) for g in data.groups()]
        new = dataclasses.replace(self, data=data.replace(clients=clients, groups=groups))
        return new


def _quantiles(values: Sequence[float]) -> np.ndarray:
    """Average-rank quantiles in ``[0, 1]`` (ties share their mean rank)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n <= 1:
        return np.ones(n)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(n)
    sv = v[order]
    starts = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]])
    ends = np.r_[starts[1:], n]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b - 1) / 2  # 0-based mean rank of the tie
    out: np.ndarray = ranks / (n - 1)
    return out


def build_model(
    problem: PlanningProblem,
    matrix: TravelMatrix,
    *,
    objective: str = "time",
) -> RoutingModel:
    """Turn a planning problem and its travel matrix into PyVRP data.

    Parameters
    ----------
    problem
        The problem (validated here).
    matrix
        Travel times and distances between the rep locations and the visits,
        in the order of :func:`model_points`.
    objective
        ``"time"`` or ``"distance"``.

    Returns
    -------
    RoutingModel
        The data and the maps back (see the module docstring for the mapping).

    Raises
    ------
    InputError
        For a malformed problem or an unknown objective.
    """
    from pyvrp import Client, ClientGroup, Depot, Location, ProblemData, VehicleType

    problem.validate()
    if objective not in ("time", "distance"):
        msg = f"unknown objective {objective!r}: expected 'time' or 'distance'"
        raise InputError(msg)
    depot_pts, depot_of_rep = _depots(problem.reps)
    n_dep = len(depot_pts)
    visits_all = list(problem.visits)
    if matrix.durations.shape[0] != n_dep + len(visits_all):
        msg = "the travel matrix does not match the problem's points"
        raise InputError(msg)
    dropped: list[DroppedVisit] = []
    seen: set[str] = set()
    keep: list[int] = []
    for i, v in enumerate(visits_all):
        reason = None
        if v.id in seen:
            reason = REASON_DUPLICATE
        elif v.do_not_contact:
            reason = REASON_DNC
        elif not (np.isfinite(v.lat) and np.isfinite(v.lon)):
            reason = REASON_NO_LOCATION
        else:
            row = matrix.durations[n_dep + i, :n_dep]
            col = matrix.durations[:n_dep, n_dep + i]
            if not (np.isfinite(row).any() and np.isfinite(col).any()):
                reason = REASON_UNREACHABLE
        seen.add(v.id)
        if reason is not None:
            dropped.append(_dropped(v, reason))
        else:
            keep.append(i)

    dates = list(problem.dates)
    reps = list(problem.reps)
    works = [[(not r.days) or (d in r.days) for d in dates] for r in reps]

    # Integer matrices over depots + kept visits.
    idx = list(range(n_dep)) + [n_dep + i for i in keep]
    dur_f = matrix.durations[np.ix_(idx, idx)]
    dist_f = matrix.distances[np.ix_(idx, idx)]
    durations = np.where(np.isfinite(dur_f), np.ceil(dur_f - 1e-9), _BIG_TIME).astype(np.int64)
    distances = np.where(np.isfinite(dist_f), np.rint(dist_f), _BIG_TIME).astype(np.int64)
    np.fill_diagonal(durations, 0)
    np.fill_diagonal(distances, 0)
    objm = durations if objective == "time" else distances
    finite = objm[objm < _BIG_TIME]
    base = int(max(600, 4 * (int(finite.max()) if finite.size else 0)))

    visits = [visits_all[i] for i in keep]
    q = _quantiles([v.value for v in visits])
    prizes = [int(base * (1 + _VALUE_SPREAD * qi)) for qi in q]

    # Lunch configurations and restriction dimensions.
    lunch_cfg: list[tuple[int, int, int]] = []
    for r in reps:
        if r.lunch is not None:
            key = (_secs(r.lunch.earliest), _secs(r.lunch.latest), r.lunch.minutes * 60)
            if key not in lunch_cfg:
                lunch_cfg.append(key)
    rep_lunch = [
        lunch_cfg.index((_secs(r.lunch.earliest), _secs(r.lunch.latest), r.lunch.minutes * 60))
        if r.lunch is not None and _lunch_fits(r)
        else None
        for r in reps
    ]
    restrict_dims: dict[tuple[str, frozenset[int]], int] = {}

    def restrict(kind: str, members: frozenset[int]) -> int:
        key = (kind, members)
        if key not in restrict_dims:
            restrict_dims[key] = len(restrict_dims)
        return restrict_dims[key]

    specs: list[tuple[_ClientInfo, int, int, int, list[int], int]] = []
    # (info, tw_early, tw_late, service, restriction dims, lunch cfg or -1)
    for vi, v in enumerate(visits):
        allowed = [k for k, r in enumerate(reps) if not v.reps or r.id in v.reps]
        if not allowed:
            dropped.append(_dropped(v, REASON_NO_REP))
            continue
        if v.fixed_start is not None and len(allowed) > 1:
            msg = f"appointment {v.id!r} must name its rep (reps=...) when several reps are planned"
            raise InputError(msg)
        by_windows: dict[tuple[tuple[int, int], ...], set[int]] = {}
        any_open = any_day = False
        for k, d in enumerate(dates):
            if (v.earliest and d < v.earliest) or (v.latest and d > v.latest):
                continue
            on_day = [a for a in allowed if works[a][k]]
            if not on_day:
                continue
            any_day = True
            wins = visit_windows(v, d)
            any_open = any_open or bool(wins)
            lo = min(_secs(reps[a].shift_start) for a in on_day)
            hi = max(_secs(reps[a].shift_end) for a in on_day) - v.duration_s
            clipped = tuple((max(a, lo), min(b, hi)) for a, b in wins if max(a, lo) <= min(b, hi))
            if clipped:
                by_windows.setdefault(clipped, set()).add(k)
        if not by_windows:
            if v.fixed_start is not None:
                reason = REASON_APPOINTMENT
            elif not any_day:
                reason = REASON_NO_DAY
            else:
                reason = REASON_OUTSIDE_SHIFT if any_open else REASON_CLOSED
            dropped.append(_dropped(v, reason))
            continue
        rep_dim = restrict("rep", frozenset(allowed)) if len(allowed) < len(reps) else None
        for day_wins, dayset in by_windows.items():
            dims = [] if rep_dim is None else [rep_dim]
            all_days = {k for k in range(len(dates)) if any(works[a][k] for a in allowed)} <= dayset
            if not all_days:
                dims.append(restrict("day", frozenset(dayset)))
            cfgs = sorted(
                {
                    cfg
                    for a in allowed
                    if (cfg := rep_lunch[a]) is not None and any(works[a][k] for k in dayset)
                }
            )
            for early, late in day_wins:
                info = _ClientInfo(vi, early, late, lunch=False)
                specs.append((info, early, late, v.duration_s, dims, -1))
                for c in cfgs:
                    ws, we, length = lunch_cfg[c]
                    e2 = max(early, ws - v.duration_s)
                    l2 = min(late, we - length - v.duration_s)
                    if e2 <= l2:
                        info2 = _ClientInfo(vi, early, late, lunch=True)
                        specs.append((info2, e2, l2, v.duration_s + length, dims, c))

    n_lunch = len(lunch_cfg)
    n_dims = n_lunch + len(restrict_dims)
    dim_members = {dim: key for key, dim in restrict_dims.items()}
    locations = [Location(x=lon, y=lat) for lat, lon in depot_pts]
    locations += [Location(x=v.lon, y=v.lat, name=v.id[:40]) for v in visits]
    depots = [Depot(i) for i in range(n_dep)]

    by_visit: dict[int, list[int]] = {}
    for ci, spec in enumerate(specs):
        by_visit.setdefault(spec[0].visit, []).append(ci)
    groups: list[Any] = []
    group_of: dict[int, int] = {}
    for vi, members in by_visit.items():
        if len(members) > 1:
            group_of[vi] = len(groups)
            groups.append(
                ClientGroup(members, required=visits[vi].is_required, name=visits[vi].id[:40])
            )
    clients = []
    infos = []
    for info, early, late, service, dims, cfg in specs:
        v = visits[info.visit]
        delivery = [0] * n_dims
        for dim in dims:
            delivery[n_lunch + dim] = 1
        prize = 0 if v.is_required else prizes[info.visit]
        if cfg >= 0:
            delivery[cfg] = 1
            prize += _LUNCH_BONUS * base
        grouped = info.visit in group_of
        clients.append(
            Client(
                n_dep + info.visit,
                delivery=delivery,
                service_duration=int(service),
                tw_early=int(early),
                tw_late=int(late),
                prize=int(prize),
                required=v.is_required and not grouped,
                group=group_of.get(info.visit),
                name=v.id[:40],
            )
        )
        infos.append(info)

    vehicle_types = []
    vinfo = []
    big_cap = max(1, len(clients))
    for k, r in enumerate(reps):
        for di in range(len(dates)):
            if not works[k][di]:
                continue
            cap = [0] * n_dims
            own = rep_lunch[k]
            if own is not None:
                cap[own] = 1
            for dim, (kind, allowed_set) in dim_members.items():
                if (kind == "rep" and k in allowed_set) or (kind == "day" and di in allowed_set):
                    cap[n_lunch + dim] = big_cap
            lunch_s = r.lunch.minutes * 60 if rep_lunch[k] is not None and r.lunch else 0
            shift = (
                math.floor(r.max_work_minutes * 60) + lunch_s
                if r.max_work_minutes is not None
                else None
            )
            s, e = depot_of_rep[k]
            kw: dict[str, Any] = {}
            if shift is not None:
                kw["shift_duration"] = shift
            vehicle_types.append(
                VehicleType(
                    1,
                    capacity=cap,
                    start_depot=s,
                    end_depot=e,
                    tw_early=_secs(r.shift_start),
                    tw_late=_secs(r.shift_end),
                    unit_distance_cost=1,
                    unit_duration_cost=0,
                    name=f"{r.id}|{dates[di].isoformat()}"[:60],
                    **kw,
                )
            )
            vinfo.append(_VehicleInfo(k, di))
    if not clients:
        data = None
    else:
        data = ProblemData(
            locations,
            clients,
            depots,
            vehicle_types,
            [objm],  # type: ignore[list-item]  # PyVRP's stub: ndarray[int]
            [durations],  # type: ignore[list-item]
            groups=groups,
        )
    model_prizes = [prizes[i] for i in range(len(visits))]
    return RoutingModel(
        data=data,
        visits=visits,
        reps=reps,
        dates=dates,
        clients=infos,
        vehicles=vinfo,
        durations=durations,
        distances=distances,
        depot_of_rep=depot_of_rep,
        prizes=model_prizes,
        dropped=dropped,
        base_prize=base,
        num_depots=n_dep,
        travel=matrix,
    )


def _lunch_fits(r: Rep) -> bool:
    """Whether the rep's shift can hold the break inside its window."""
    if r.lunch is None:
        return False
    lo = max(_secs(r.shift_start), _secs(r.lunch.earliest))
    hi = min(_secs(r.shift_end), _secs(r.lunch.latest))
    return hi - lo >= r.lunch.minutes * 60


def _dropped(v: Visit, reason: str) -> DroppedVisit:
    return DroppedVisit(v.id, v.account_id, v.name, reason, v.is_required, v.value)


def _depots(reps: Sequence[Rep]) -> tuple[list[tuple[float, float]], list[tuple[int, int]]]:
    pts: list[tuple[float, float]] = []
    of_rep = []
    for r in reps:
        ids = []
        for p in (r.start, r.end_point):
            key = (float(p[0]), float(p[1]))
            if key not in pts:
                pts.append(key)
            ids.append(pts.index(key))
        of_rep.append((ids[0], ids[1]))
    return pts, of_rep


def model_points(problem: PlanningProblem) -> tuple[list[float], list[float], list[str]]:
    """Latitudes, longitudes and ids of the matrix points of a problem.

    The reps' distinct start and end points come first (``depot:<k>``), then
    one point per visit, in the problem's order.

    Parameters
    ----------
    problem
        The problem.

    Returns
    -------
    lats, lons, ids
        Inputs for :func:`gcrm.matrix.travel_matrix`.
    """
    pts, _ = _depots(problem.reps)
    lats = [p[0] for p in pts] + [v.lat for v in problem.visits]
    lons = [p[1] for p in pts] + [v.lon for v in problem.visits]
    ids = [f"depot:{k}" for k in range(len(pts))] + [v.id for v in problem.visits]
    return lats, lons, ids


# --------------------------------------------------------------------------- solving


@dataclass
class ModelSolution:
    """PyVRP's answer, mapped back.

    Attributes
    ----------
    routes
        ``(vehicle type, [client indices])`` of every non-empty route.
    feasible, cost, iterations, seconds
        From PyVRP.
    fallback
        Whether required visits had to be made optional.
    """

    routes: list[tuple[int, list[int]]]
    feasible: bool
    cost: float
    iterations: int
    seconds: float
    fallback: bool = False


def solve_model(model: RoutingModel, options: PlanOptions = PlanOptions()) -> ModelSolution:
    """Solve a routing model with PyVRP.

    Parameters
    ----------
    model
        From :func:`build_model`.
    options
        Budget (iterations, early stop, wall-time cap), seed and searches.

    Returns
    -------
    ModelSolution
        The routes. If no feasible solution holds every required visit, the
        model is solved again with required visits as optional ones of a huge
        prize (``fallback``), with the same budget.
    """
    if model.data is None:
        return ModelSolution([], True, 0.0, 0, 0.0)
    res = _search(model.data, options)
    fallback = False
    if not res.feasible and any(v.is_required for v in model.visits):
        res = _search(model.with_required_as_prizes().data, options)
        fallback = True
    return ModelSolution(
        res.routes if res.feasible else [],
        res.feasible,
        res.cost if res.feasible else math.inf,
        res.iterations,
        res.seconds,
        fallback,
    )


@dataclass(frozen=True)
class _Run:
    """One PyVRP search, in a form that crosses process boundaries."""

    routes: list[tuple[int, list[int]]]
    feasible: bool
    cost: float
    iterations: int
    seconds: float


def _one_search(data: Any, options: PlanOptions, seed: int) -> _Run:
    n = data.num_clients
    res = _pyvrp_solve(
        data,
        options.time_limit(n),
        dataclasses.replace(options, seed=seed, iterations=options.iteration_budget(n)),
        prizes=True,
        patience=options.patience(n),
    )
    best = res.best
    routes: list[tuple[int, list[int]]] = []
    if best.is_feasible():
        for r in best.routes():
            clients = [a.idx for a in r if a.is_client()]
            if clients:
                routes.append((r.vehicle_type(), clients))
    cost = float(res.cost()) if best.is_feasible() else math.inf
    return _Run(routes, best.is_feasible(), cost, res.num_iterations, res.runtime)


def _search(data: Any, options: PlanOptions) -> _Run:
    """One search, or two on two cores (seeds ``seed``, ``seed + 1``), best kept.

    Each search stops on its own iteration budget, so the result does not
    depend on which finishes first: the better cost wins, the first seed on
    a tie.
    """
    if options.searches(data.num_clients) < 2:
        return _one_search(data, options, options.seed)
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        other = pool.submit(_one_search, data, options, options.seed + 1)
        first = _one_search(data, options, options.seed)
        second = other.result()
    best = first if (first.feasible, -first.cost) >= (second.feasible, -second.cost) else second
    return dataclasses.replace(
        best,
        iterations=first.iterations + second.iterations,
        seconds=time.perf_counter() - t0,
    )


def _pyvrp_solve(
    data: Any,
    seconds: float,
    options: PlanOptions,
    *,
    prizes: bool = False,
    patience: int | None = None,
) -> Any:
    """Run PyVRP; with ``prizes``, penalties can outgrow every prize.

    PyVRP caps its penalty weights (per unit of time warp or excess load) at
    ``1e5`` by default. A prize above the cap makes breaking a window or a
    restriction pay off, and the search may never find a feasible plan: the
    cap is raised to a hundred times the largest prize, and the search starts
    from the empty plan (feasible when nothing is required). ``patience``
    stops the search after that many iterations without improvement.
    """
    from pyvrp import PenaltyParams, Solution, SolveParams, solve
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    criteria: list[Any] = [MaxRuntime(max(seconds, 0.01))]
    if options.iterations is not None:
        criteria.append(MaxIterations(options.iterations))
    if patience is not None:
        criteria.append(plan_budget.SignificantNoImprovement(patience))
    stop: Any = criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)
    kw: dict[str, Any] = {}
    if prizes:
        top = max((c.prize for c in data.clients()), default=0)
        cap = max(PenaltyParams().max_penalty, 100.0 * top)
        kw["params"] = SolveParams(penalty=PenaltyParams(max_penalty=cap))
        kw["initial_solution"] = Solution(data, [])
    with warnings.catch_warnings():
        # Infeasible runs are handled by the caller (fallback solve, reports).
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return solve(data, stop=stop, seed=options.seed, collect_stats=False, display=False, **kw)


# --------------------------------------------------------------------------- scheduling


@dataclass
class _Item:
    """A stop of the simulated day (a visit or the break)."""

    loc: int
    early: int
    late: int
    service: int
    visit: int  # -1: the break


@dataclass
class _Timed:
    depart: int
    arrivals: list[int]
    starts: list[int]
    back: int
    lunch_gap: int | None  # items before the break; None: no break; -1: at the end
    lunch_start: int | None
    work: int
    items: list[_Item]


def _simulate(
    start_loc: int,
    end_loc: int,
    items: list[_Item],
    dur: np.ndarray,
    shift_start: int,
    shift_end: int,
) -> tuple[int, list[int], list[int], int] | None:
    """Earliest schedule with the shortest working day, or ``None`` if infeasible.

    Returns the departure, arrivals, service starts and the return time.
    """

    def forward(depart: int) -> tuple[list[int], list[int], int] | None:
        t, prev = depart, start_loc
        arr, sta = [], []
        for it in items:
            a = t + int(dur[prev, it.loc])
            s = max(a, it.early)
            if s > it.late:
                return None
            arr.append(a)
            sta.append(s)
            t, prev = s + it.service, it.loc
        back = t + int(dur[prev, end_loc])
        if back > shift_end:
            return None
        return arr, sta, back

    first = forward(shift_start)
    if first is None:
        return None
    arr, sta, back = first
    # Leave later when waits allow: the day gets shorter, no window is missed.
    cum, delay = 0, None
    for it, a, s in zip(items, arr, sta, strict=True):
        cum += s - a
        slack = cum + it.late - s
        delay = slack if delay is None else min(delay, slack)
    delay = min(cum, delay) if delay is not None else 0
    if delay > 0:
        later = forward(shift_start + delay)
        if later is not None:
            return shift_start + delay, later[0], later[1], later[2]
    return shift_start, arr, sta, back


def _schedule(
    model: RoutingModel,
    rep_k: int,
    visits: list[tuple[int, int, int]],
) -> _Timed | None:
    """Schedule visits ``(visit, early, late)`` in order for a rep, with the break.

    Every place for the break is tried (before leaving, after each visit, after
    returning); the one giving the earliest end of the day wins.
    """
    rep = model.reps[rep_k]
    s_dep, e_dep = model.depot_of_rep[rep_k]
    ss, se = _secs(rep.shift_start), _secs(rep.shift_end)
    dur = model.durations
    base = [
        _Item(model.visit_location(v), e, lt, model.visits[v].duration_s, v) for v, e, lt in visits
    ]
    max_work = None if rep.max_work_minutes is None else int(rep.max_work_minutes * 60)
    lunch = rep.lunch if (rep.lunch is not None and _lunch_fits(rep)) else None
    if lunch is None or not base:
        sim = _simulate(s_dep, e_dep, base, dur, ss, se)
        if sim is None:
            return None
        depart, arr, sta, back = sim
        work = back - depart
        if max_work is not None and work > max_work:
            return None
        return _Timed(depart, arr, sta, back, None, None, work, base)
    ws, we, length = _secs(lunch.earliest), _secs(lunch.latest), lunch.minutes * 60
    best: _Timed | None = None
    best_key: tuple[int, int, int] | None = None
    for gap in range(len(base) + 2):
        if gap <= len(base):
            loc = s_dep if gap == 0 else base[gap - 1].loc
            items = [*base[:gap], _Item(loc, ws, we - length, length, -1), *base[gap:]]
            sim = _simulate(s_dep, e_dep, items, dur, ss, se)
            if sim is None:
                continue
            depart, arr, sta, back = sim
            lunch_start = sta[gap]
            work = back - depart - length
            day_end = back
            timed = _Timed(depart, arr, sta, back, gap, lunch_start, work, items)
        else:  # after returning
            sim = _simulate(s_dep, e_dep, base, dur, ss, se)
            if sim is None:
                continue
            depart, arr, sta, back = sim
            lunch_start = max(back, ws)
            if lunch_start + length > min(we, se):
                continue
            work = back - depart
            day_end = lunch_start + length
            timed = _Timed(depart, arr, sta, back, -1, lunch_start, work, base)
        if max_work is not None and work > max_work:
            continue
        key = (day_end, work, gap)
        if best_key is None or key < best_key:
            best, best_key = timed, key
    return best


def _schedule_with_repair(
    model: RoutingModel, rep_k: int, visits: list[tuple[int, int, int]]
) -> tuple[_Timed | None, list[tuple[int, str]]]:
    """Schedule a route; drop visits (least valuable optional first) until it fits."""
    removed: list[tuple[int, str]] = []
    current = list(visits)
    while True:
        timed = _schedule(model, rep_k, current)
        if timed is not None:
            return timed, removed
        if not current:
            return None, removed
        # Prefer a single removal that makes the route feasible, cheapest first.
        order = sorted(
            range(len(current)),
            key=lambda i: (
                model.visits[current[i][0]].is_required,
                model.prizes[current[i][0]],
            ),
        )
        pick = None
        for i in order:
            trial = current[:i] + current[i + 1 :]
            if _schedule(model, rep_k, trial) is not None:
                pick = i
                break
        if pick is None:
            pick = order[0]
        v = current.pop(pick)[0]
        removed.append((v, REASON_LUNCH))


def _route_from_timed(
    model: RoutingModel,
    vehicle: _VehicleInfo,
    timed: _Timed,
) -> RoutePlan:
    rep = model.reps[vehicle.rep]
    day = model.dates[vehicle.day]
    s_dep, e_dep = model.depot_of_rep[vehicle.rep]
    dur, dist = model.durations, model.distances
    stops: list[PlannedStop] = []
    lunch: LunchSlot | None = None
    prev = s_dep
    depart = timed.depart
    for pos, it in enumerate(timed.items):
        if it.visit < 0:  # the break
            start = timed.starts[pos]
            place = "start" if not stops else "stop"
            lunch = LunchSlot(
                _at(day, start),
                _at(day, start + it.service),
                place,
                None if place == "start" else len(stops) - 1,
            )
            if stops:
                stops[-1].departure = _at(day, start + it.service)
            else:
                depart = start + it.service
            continue
        v = model.visits[it.visit]
        a, s = timed.arrivals[pos], timed.starts[pos]
        loc = it.loc
        stops.append(
            PlannedStop(
                visit_id=v.id,
                account_id=v.account_id,
                name=v.name,
                address=v.address,
                lat=v.lat,
                lon=v.lon,
                arrival=_at(day, a),
                wait_s=s - a,
                start=_at(day, s),
                end=_at(day, s + it.service),
                departure=_at(day, s + it.service),
                leg_duration_s=int(dur[prev, loc]),
                leg_distance_m=int(dist[prev, loc]),
                required=v.is_required,
                fixed=v.fixed_start is not None,
                value=v.value,
            )
        )
        prev = loc
    if timed.lunch_gap == -1 and timed.lunch_start is not None and rep.lunch is not None:
        lunch = LunchSlot(
            _at(day, timed.lunch_start),
            _at(day, timed.lunch_start + rep.lunch.minutes * 60),
            "end",
        )
    sp, ep = rep.start, rep.end_point
    return RoutePlan(
        rep=rep.id,
        rep_name=rep.name,
        date=day,
        start_lat=sp[0],
        start_lon=sp[1],
        end_lat=ep[0],
        end_lon=ep[1],
        departure=_at(day, depart),
        arrival=_at(day, timed.back),
        stops=stops,
        lunch=lunch,
        return_leg_duration_s=int(dur[prev, e_dep]),
        return_leg_distance_m=int(dist[prev, e_dep]),
    )


def schedule_solution(
    model: RoutingModel, solution: ModelSolution
) -> tuple[list[RoutePlan], list[DroppedVisit]]:
    """Turn solver routes into timed itineraries; report every visit left out.

    Parameters
    ----------
    model
        The model.
    solution
        From :func:`solve_model`.

    Returns
    -------
    routes, dropped
        Routes ordered by date then rep (no geometry yet), and the visits not
        planned (the model's own drops included).
    """
    routes: list[RoutePlan] = []
    dropped = list(model.dropped)
    planned: set[int] = set()
    built_dropped = {d.visit_id for d in dropped}
    for vt, clients in solution.routes:
        vehicle = model.vehicles[vt]
        seq = [
            (model.clients[c].visit, model.clients[c].early, model.clients[c].late) for c in clients
        ]
        timed, removed = _schedule_with_repair(model, vehicle.rep, seq)
        for vi, reason in removed:
            dropped.append(_dropped(model.visits[vi], reason))
            built_dropped.add(model.visits[vi].id)
        if timed is None or not any(it.visit >= 0 for it in timed.items):
            continue
        route = _route_from_timed(model, vehicle, timed)
        routes.append(route)
        planned.update(it.visit for it in timed.items if it.visit >= 0)
    for vi, v in enumerate(model.visits):
        if vi in planned or v.id in built_dropped:
            continue
        reason = REASON_REQUIRED_FULL if v.is_required else REASON_FULL
        dropped.append(_dropped(v, reason))
    routes.sort(key=lambda r: (r.date, r.rep))
    return routes, dropped


# --------------------------------------------------------------------------- planning


def plan_routes(
    problem: PlanningProblem,
    *,
    G: nx.MultiDiGraph | None = None,
    matrix: TravelMatrix | None = None,
    options: PlanOptions = PlanOptions(),
) -> Plan:
    """Plan the visits of a problem: matrix, model, solve, schedule, geometry.

    Parameters
    ----------
    problem
        What to plan.
    G
        Road graph of ``problem.profile`` (default: loaded with
        :func:`gcrm.network.load_network`).
    matrix
        Precomputed travel matrix over :func:`model_points` (default: computed
        on ``G``).
    options
        Solver options.

    Returns
    -------
    Plan
        Routes per rep and day, dropped visits with reasons, solver figures.

    Raises
    ------
    InputError
        For a malformed problem.
    PlanningError
        If the result broke a rule it must keep (a do-not-contact visit in a
        route): never expected.
    """
    from gcrm.matrix import travel_matrix

    problem.validate()
    t0 = time.perf_counter()
    if G is None and (matrix is None or options.geometry):
        from gcrm.network import load_network

        G = load_network(profile=problem.profile)
    if matrix is None:
        assert G is not None
        lats, lons, ids = model_points(problem)
        matrix = travel_matrix(G, lats, lons, ids=ids, weight="time")
    t_matrix = time.perf_counter() - t0
    model = build_model(problem, matrix, objective=options.objective)
    solution = solve_model(model, options)
    routes, dropped = schedule_solution(model, solution)
    t1 = time.perf_counter()
    if options.geometry and G is not None:
        add_geometry(routes, G)
    plan = Plan(
        routes=routes,
        dropped=dropped,
        problem=problem,
        profile=problem.profile,
        stats={
            "seed": options.seed,
            "objective": options.objective,
            "time_limit_s": options.time_limit(len(model.visits)),
            "iteration_budget": options.iteration_budget(len(model.clients)),
            "searches": options.searches(len(model.clients)),
            "iterations": solution.iterations,
            "solver_s": round(solution.seconds, 3),
            "matrix_s": round(t_matrix, 3),
            "geometry_s": round(time.perf_counter() - t1, 3),
            "cost": solution.cost if math.isfinite(solution.cost) else None,
            "feasible": solution.feasible,
            "fallback": solution.fallback,
            "clients": len(model.clients),
            "visits": len(model.visits),
        },
    )
    check_plan_rules(plan)
    return plan


def add_geometry(routes: Iterable[RoutePlan], G: nx.MultiDiGraph) -> None:
    """Fill each route's geometry along the streets of ``G`` (in place).

    Parameters
    ----------
    routes
        Routes to draw.
    G
        The road graph the plan was made on.
    """
    from gcrm.matrix import route_coords

    for r in routes:
        pts = r.points()
        coords = route_coords(G, [p[0] for p in pts], [p[1] for p in pts], weight="time")
        r.geometry = [[round(a, 7), round(b, 7)] for a, b in coords]


def check_plan_rules(plan: Plan) -> None:
    """Assert the rules a plan must keep whatever the solver did.

    Checks that no do-not-contact visit is in a route and no visit appears
    twice.

    Parameters
    ----------
    plan
        The plan.

    Raises
    ------
    PlanningError
        If a rule is broken.
    """
    dnc = {v.id for v in plan.problem.visits if v.do_not_contact}
    ids = plan.planned_visit_ids()
    bad = sorted(dnc.intersection(ids))
    if bad:
        msg = f"do-not-contact visit(s) in the plan: {', '.join(bad[:5])}"
        raise PlanningError(msg)
    if len(ids) != len(set(ids)):
        raise PlanningError("a visit appears twice in the plan")


# --------------------------------------------------------------------------- re-plan


def replan(
    plan: Plan,
    *,
    rep: str,
    now: dt.datetime,
    position: tuple[float, float],
    done: Iterable[str] = (),
    skipped: Iterable[str] = (),
    lunch_taken: bool | None = None,
    include_dropped: bool = False,
    G: nx.MultiDiGraph | None = None,
    options: PlanOptions = PlanOptions(),
) -> Plan:
    """Plan the rest of a rep's day from where they are.

    Parameters
    ----------
    plan
        The current plan.
    rep
        Whose day.
    now
        The current time (its date picks the route).
    position
        ``(lat, lon)`` of the rep now.
    done
        Visit ids already made: kept in the route, marked ``"done"``.
    skipped
        Visit ids the rep will not make today: reported as dropped.
    lunch_taken
        Whether the break is over; default: the plan's break ended by ``now``.
    include_dropped
        Also try the visits the plan had dropped for lack of time.
    G
        Road graph (default: loaded for the plan's profile).
    options
        Solver options.

    Returns
    -------
    Plan
        A new plan: this route re-planned (done stops first, then the rest from
        ``position`` at ``now``), the other routes unchanged.

    Raises
    ------
    NotFoundError
        If the rep has no route that day.
    InputError
        If a done or skipped id is not a stop of that route.
    """
    day = now.date()
    route = plan.route(rep, day)
    if route is None:
        msg = f"{rep!r} has no route on {day.isoformat()}"
        raise NotFoundError(msg)
    done_ids, skip_ids = set(done), set(skipped)
    stop_ids = {s.visit_id for s in route.stops}
    unknown = (done_ids | skip_ids) - stop_ids
    if unknown:
        msg = f"not stops of this route: {', '.join(sorted(unknown))}"
        raise InputError(msg)
    rep_obj = next(r for r in plan.problem.reps if r.id == rep)
    by_id = {v.id: v for v in plan.problem.visits}
    kept = [  # done now or in an earlier re-plan
        dataclasses.replace(s, status="done")
        for s in route.stops
        if s.visit_id in done_ids or s.status == "done"
    ]
    remaining_ids = [
        s.visit_id
        for s in route.stops
        if s.visit_id not in done_ids and s.visit_id not in skip_ids and s.status != "done"
    ]
    extra: list[str] = []
    if include_dropped:
        extra = [d.visit_id for d in plan.dropped if d.reason == REASON_FULL]
    if lunch_taken is None:
        lunch_taken = route.lunch is not None and route.lunch.end <= now
    now_s = int((now - dt.datetime.combine(day, dt.time())).total_seconds())
    shift_start = max(_secs(rep_obj.shift_start), now_s)
    if shift_start >= _secs(rep_obj.shift_end):
        shift_start = _secs(rep_obj.shift_end) - 1
    lunch = None if lunch_taken else rep_obj.lunch
    max_work = rep_obj.max_work_minutes
    if max_work is not None:
        worked = (now - route.day_start).total_seconds() / 60
        if lunch_taken and route.lunch is not None and route.lunch.place != "end":
            worked -= (route.lunch.end - route.lunch.start).total_seconds() / 60
        max_work = max(1.0, max_work - max(0.0, worked))
    sub_rep = dataclasses.replace(
        rep_obj,
        start=(float(position[0]), float(position[1])),
        end=rep_obj.end_point,
        shift_start=_clock(shift_start),
        max_work_minutes=max_work,
        lunch=lunch,
        days=(),
    )
    if sub_rep.lunch is not None and not _lunch_fits(sub_rep):
        sub_rep = dataclasses.replace(sub_rep, lunch=None)
    sub_visits = tuple(
        dataclasses.replace(by_id[i], reps=(rep,), earliest=None, latest=None)
        for i in [*remaining_ids, *extra]
        if i in by_id
    )
    sub = PlanningProblem(sub_visits, (sub_rep,), (day,), profile=plan.problem.profile)
    if G is None:
        from gcrm.network import load_network

        G = load_network(profile=plan.problem.profile)
    sub_plan = plan_routes(sub, G=G, options=options)
    sub_route = sub_plan.route(rep, day)
    if sub_route is None:  # nothing left to visit: head to the end point
        sub_route = _empty_route(sub_rep, day, now, position, G)
    lunch_slot = sub_route.lunch
    if lunch_taken and route.lunch is not None:
        lunch_slot = LunchSlot(route.lunch.start, route.lunch.end, "taken")
    elif lunch_slot is not None and lunch_slot.place == "start":
        lunch_slot.place = "resume"
    elif lunch_slot is not None and lunch_slot.stop_index is not None:
        lunch_slot.stop_index += len(kept)
    new_route = RoutePlan(
        rep=rep,
        rep_name=route.rep_name,
        date=day,
        start_lat=route.start_lat,
        start_lon=route.start_lon,
        end_lat=sub_route.end_lat,
        end_lon=sub_route.end_lon,
        departure=route.departure,
        arrival=sub_route.arrival,
        stops=kept + sub_route.stops,
        lunch=lunch_slot,
        return_leg_duration_s=sub_route.return_leg_duration_s,
        return_leg_distance_m=sub_route.return_leg_distance_m,
        geometry=sub_route.geometry,
        resume=ResumePoint(
            float(position[0]), float(position[1]), now.replace(microsecond=0), sub_route.departure
        ),
    )
    routes = [new_route if r is route else r for r in plan.routes]
    planned_now = {s.visit_id for s in new_route.stops}
    dropped = [
        d for d in plan.dropped if d.visit_id not in planned_now and d.visit_id not in skip_ids
    ]
    known = {d.visit_id for d in dropped}
    for d in sub_plan.dropped:
        if d.visit_id not in known:
            dropped.append(d)
            known.add(d.visit_id)
    for i in sorted(skip_ids):
        v = by_id.get(i)
        if v is not None:
            dropped = [d for d in dropped if d.visit_id != i]
            dropped.append(_dropped(v, REASON_SKIPPED))
    stats = dict(plan.stats)
    stats["replanned"] = {
        "rep": rep,
        "at": now.replace(microsecond=0).isoformat(),
        "position": [float(position[0]), float(position[1])],
        "done": sorted(done_ids),
        "skipped": sorted(skip_ids),
        "solver_s": sub_plan.stats.get("solver_s"),
    }
    out = Plan(routes, dropped, plan.problem, plan.profile, stats)
    check_plan_rules(out)
    return out


def _clock(seconds: int) -> dt.time:
    seconds = max(0, min(_DAY - 1, int(seconds)))
    return dt.time(seconds // 3600, (seconds % 3600) // 60, seconds % 60)


def _empty_route(
    rep: Rep, day: dt.date, now: dt.datetime, position: tuple[float, float], G: Any
) -> RoutePlan:
    from gcrm.matrix import route_coords, travel_matrix

    end = rep.end_point
    tm = travel_matrix(G, [position[0], end[0]], [position[1], end[1]])
    d = math.ceil(float(tm.durations[0, 1])) if np.isfinite(tm.durations[0, 1]) else 0
    m = round(float(tm.distances[0, 1])) if np.isfinite(tm.distances[0, 1]) else 0
    coords = route_coords(G, [position[0], end[0]], [position[1], end[1]])
    return RoutePlan(
        rep=rep.id,
        rep_name=rep.name,
        date=day,
        start_lat=position[0],
        start_lon=position[1],
        end_lat=end[0],
        end_lon=end[1],
        departure=now.replace(microsecond=0),
        arrival=now.replace(microsecond=0) + dt.timedelta(seconds=d),
        stops=[],
        lunch=None,
        return_leg_duration_s=d,
        return_leg_distance_m=m,
        geometry=[[a, b] for a, b in coords],
    )


# --------------------------------------------------------------------------- store + CLI


def plan_for_reps(
    session: Session,
    actor: Actor,
    reps: Sequence[str],
    start: dt.date | str,
    *,
    days: int = 1,
    seconds: float | None = None,
    seed: int = 0,
    iterations: int | None = None,
    profile: str = "drive",
    due: bool = True,
    selected: Iterable[int] = (),
    required: Iterable[int] = (),
    output: str | Path | None = None,
    G: nx.MultiDiGraph | None = None,
) -> Plan:
    """Plan reps' days from the store (the ``plan`` command).

    Parameters
    ----------
    session
        An open session.
    actor
        Who plans: a rep plans their own days, a manager their region's reps.
    reps
        Usernames.
    start
        First date (``YYYY-MM-DD`` or a date).
    days
        Number of days.
    seconds, seed, iterations
        Solver options (see :class:`PlanOptions`).
    profile
        Road network profile (``drive``, ``walk``, ``bike``).
    due
        Plan the accounts due by the last date (default).
    selected, required
        Extra account ids to plan, and those that must be planned.
    output
        Write the plan's JSON here.
    G
        Road graph (default: loaded for ``profile``).

    Returns
    -------
    Plan
        The plan (also written to ``output``); the accounts left out before
        planning are among its dropped visits.
    """
    from gcrm.store import audit

    start_date = dt.date.fromisoformat(start) if isinstance(start, str) else start
    problem, pre_dropped = build_problem(
        session,
        actor,
        reps,
        start_date,
        days=days,
        due=due,
        selected=selected,
        required=required,
        profile=profile,
    )
    plan = plan_routes(
        problem, G=G, options=PlanOptions(seconds=seconds, seed=seed, iterations=iterations)
    )
    plan.dropped = pre_dropped + plan.dropped
    explain_plan(plan, full_reason=REASON_FULL, G=G)  # nothing due / home far from roads
    audit(
        session,
        actor,
        "plan",
        ",".join(reps),
        {
            "start": start_date.isoformat(),
            "days": days,
            "visits": len(plan.planned_visit_ids()),
            "dropped": len(plan.dropped),
        },
    )
    if output is not None:
        plan.to_json(output)
    return plan


# --------------------------------------------------------------------------- benchmark instances


@dataclass
class InstanceSolution:
    """A solution of a benchmark instance.

    Attributes
    ----------
    routes
        Routes in the file's node numbers, depot excluded (a TSPLIB tour lists
        every city once, from the first city).
    cost
        Recomputed from the instance with its own rounding convention.
    feasible
        Whether :func:`gcrm.instances.check_solution` found no violation.
    seconds, iterations
        Solver figures.
    """

    routes: list[list[int]]
    cost: float
    feasible: bool
    seconds: float
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        """The ``solve`` command's output: ``routes`` and ``cost``."""
        cost: float | int = int(self.cost) if float(self.cost).is_integer() else self.cost
        return {"routes": self.routes, "cost": cost}


def instance_data(inst: Instance) -> tuple[Any, int]:
    """PyVRP data of a benchmark instance, and the integer scale used.

    Distances are scaled to integers by :func:`gcrm.instances.scale_of` and
    rounded to nearest; travel times (equal to distances) are rounded up
    except under a convention that defines them rounded (``nint``,
    ``dimacs``), where they are exact.

    Parameters
    ----------
    inst
        The instance.

    Returns
    -------
    data, scale
        ``pyvrp.ProblemData`` and the scale.
    """
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    from gcrm.instances import scale_of, scaled

    s = scale_of(inst)
    d = inst.distances()
    dist = scaled(d, s)
    dur = scaled(d, s, up=True) if inst.has_time_windows else np.zeros_like(dist)
    n = inst.dimension
    if len(inst.coords):
        locs = [Location(float(x), float(y)) for x, y in inst.coords]
    else:
        locs = [Location(0.0, 0.0) for _ in range(n)]
    demands = inst.demands if inst.demands is not None else np.zeros(n, dtype=np.int64)
    cap = [int(inst.capacity)] if inst.capacity else []
    tw = inst.has_time_windows
    ready = scaled(inst.ready, s) if tw and inst.ready is not None else None
    due = scaled(inst.due, s) if tw and inst.due is not None else None
    serv = scaled(inst.service, s, up=True) if tw and inst.service is not None else None
    clients = []
    for i in range(1, n):
        kw: dict[str, Any] = {}
        if cap:
            kw["delivery"] = [int(demands[i])]
        if tw:
            assert ready is not None and due is not None and serv is not None
            kw.update(service_duration=int(serv[i]), tw_early=int(ready[i]), tw_late=int(due[i]))
        clients.append(Client(i, **kw))
    dkw: dict[str, Any] = {}
    vkw: dict[str, Any] = {}
    if tw:
        assert ready is not None and due is not None
        dkw = {"tw_early": int(ready[0]), "tw_late": int(due[0])}
        vkw = {"tw_early": int(ready[0]), "tw_late": int(due[0])}
    fleet = inst.num_vehicles or (n - 1)
    vt = VehicleType(fleet, capacity=cap, start_depot=0, end_depot=0, **vkw)
    data = ProblemData(
        locs,
        clients,
        [Depot(0, **dkw)],
        [vt],
        [dist],  # type: ignore[list-item]  # PyVRP's stub: ndarray[int]
        [dur],  # type: ignore[list-item]
    )
    return data, s


def solve_instance(
    inst: Instance, *, seconds: float, seed: int = 0, iterations: int | None = None
) -> InstanceSolution:
    """Solve a benchmark instance (TSP, CVRP or VRPTW, distance objective).

    Parameters
    ----------
    inst
        From :func:`gcrm.instances.read_instance`.
    seconds
        Time limit.
    seed
        Random seed.
    iterations
        PyVRP iteration budget (deterministic runs).

    Returns
    -------
    InstanceSolution
        Routes and the recomputed cost.

    Notes
    -----
    The fleet is the file's vehicle count (unbounded when absent); vehicles
    cost nothing, so the distance is minimised with the fleet size free, as
    in the distance-only best-known solutions. A TSP gets 35% of the time in
    PyVRP and the rest in :func:`improve_tour` (2-opt and Or-opt moves with
    neighbour lists, and segment double-bridge kicks).
    """
    from gcrm.instances import check_solution, route_cost

    if inst.dimension > MAX_INSTANCE_NODES:
        msg = (
            f"instance {inst.name} has {inst.dimension} nodes: at most {MAX_INSTANCE_NODES} "
            "are solved (the solver holds full distance matrices)"
        )
        raise InputError(msg)
    t0 = time.perf_counter()
    data, _ = instance_data(inst)
    opts = PlanOptions(seconds=seconds, seed=seed, iterations=iterations)
    single_tour = inst.kind == "tsp" and not inst.has_time_windows
    budget = seconds * 0.35 if single_tour and inst.dimension > 8 else seconds
    res = _pyvrp_solve(data, budget, dataclasses.replace(opts, seconds=budget))
    pos_routes = [[a.idx + 1 for a in r if a.is_client()] for r in res.best.routes()]
    if single_tour:
        tour = [0, *(pos_routes[0] if pos_routes else [])]
        missing = sorted(set(range(inst.dimension)) - set(tour))
        tour += missing
        left = seconds - (time.perf_counter() - t0)
        if 3 < inst.dimension <= _MAX_TOUR_SEARCH and left > 0:
            tour = improve_tour(inst.distances(), tour, seconds=left, seed=seed)
        k = tour.index(0)
        tour = tour[k:] + tour[:k]
        if inst.fmt == "tsplib":
            routes = [[inst.node_ids[c] for c in tour]]
        else:
            routes = [[inst.node_ids[c] for c in tour[1:]]]
    else:
        routes = [[inst.node_ids[c] for c in r] for r in pos_routes if r]
    cost = route_cost(inst, routes)
    feasible = not check_solution(inst, routes)
    return InstanceSolution(
        routes, cost, feasible, time.perf_counter() - t0, int(res.num_iterations)
    )


def solve_instance_file(
    instance: str | Path,
    *,
    seconds: float,
    output: str | Path | None = None,
    seed: int = 0,
    rounding: str | None = None,
) -> dict[str, Any]:
    """Run ``python -m gcrm solve INSTANCE --seconds S --output sol.json``.

    Parameters
    ----------
    instance
        A TSPLIB ``.tsp``, Solomon ``.txt`` or VRPLIB ``.vrp`` file.
    seconds
        Time limit.
    output
        Where to write ``{"routes": [[...], ...], "cost": ...}``.
    seed
        Random seed.
    rounding
        Override the file's distance convention (``nint``, ``exact``,
        ``dimacs``).

    Returns
    -------
    dict
        What was written: ``routes`` in the file's node numbers (depot
        excluded; a TSPLIB tour lists every city once) and the ``cost``
        recomputed from the instance. Note that VRPLIB ``.sol`` files number
        clients one lower than the ``.vrp`` file does (depot 0); see
        :func:`gcrm.instances.read_solution`.

    Raises
    ------
    InputError
        For an unreadable instance or a non-positive time limit.
    """
    from gcrm.instances import read_instance

    if seconds <= 0:
        raise InputError("seconds must be positive")
    inst = read_instance(instance, rounding=rounding)
    sol = solve_instance(inst, seconds=seconds, seed=seed)
    out = sol.to_dict()
    if output is not None:
        Path(output).write_text(json.dumps(out), encoding="utf-8")
    return out


def improve_tour(
    dist: np.ndarray,
    tour: Sequence[int],
    *,
    seconds: float,
    seed: int = 0,
    neighbours: int = 10,
    max_iterations: int | None = None,
) -> list[int]:
    """Improve a closed tour by iterated local search (2-opt and Or-opt).

    Parameters
    ----------
    dist
        Symmetric ``n x n`` distances.
    tour
        A permutation of ``0..n-1``.
    seconds
        Time limit.
    seed
        Random seed for the kicks.
    neighbours
        Size of each city's candidate list.
    max_iterations
        Stop after this many kicks (deterministic runs).

    Returns
    -------
    list of int
        The best tour found (never longer than the input).
    """
    return _TourSearch(dist, tour, neighbours, seed).run(seconds, max_iterations)


class _TourSearch:
    """2-opt + Or-opt local search with neighbour lists, and double-bridge kicks."""

    def __init__(self, dist: np.ndarray, tour: Sequence[int], k: int, seed: int) -> None:
        n = len(tour)
        self.n = n
        self.D: list[list[float]] = np.asarray(dist, dtype=float).tolist()
        srt = np.argsort(dist, axis=1, kind="stable")[:, : k + 1]
        self.near = [[int(c) for c in row if c != a][:k] for a, row in enumerate(srt)]
        self.t = list(tour)
        self.pos = [0] * n
        for i, c in enumerate(self.t):
            self.pos[c] = i
        self.rng = random.Random(seed)

    def length(self) -> float:
        D, t = self.D, self.t
        return sum(D[t[k - 1]][t[k]] for k in range(self.n))

    def _reverse(self, i: int, j: int) -> None:
        """Reverse tour positions ``i..j`` (``i <= j``), or the complement."""
        n, t, pos = self.n, self.t, self.pos
        if (j - i + 1) * 2 > n:
            a, b = j + 1, i - 1 + n
            for k in range((b - a + 1) // 2):
                p, q = (a + k) % n, (b - k) % n
                cp, cq = t[p], t[q]
                t[p], t[q] = cq, cp
                pos[cq], pos[cp] = p, q
        else:
            seg = t[i : j + 1]
            seg.reverse()
            t[i : j + 1] = seg
            for k in range(i, j + 1):
                pos[t[k]] = k

    def _reverse_circ(self, i: int, j: int) -> None:
        if i <= j:
            self._reverse(i, j)
        else:
            self._reverse(j + 1, i - 1)

    def _two_opt(self, a: int) -> tuple[int, ...] | None:
        D, t, pos, n = self.D, self.t, self.pos, self.n
        i = pos[a]
        for step in (1, -1):
            b = t[(i + step) % n]
            dab = D[a][b]
            for c in self.near[a]:
                g1 = dab - D[a][c]
                if g1 <= 0:
                    break
                j = pos[c]
                d = t[(j + step) % n]
                if c == b or d == a:
                    continue
                if g1 + D[c][d] - D[b][d] > 1e-9:
                    if step == 1:
                        self._reverse_circ((i + 1) % n, j)
                    else:
                        self._reverse_circ(i, (j - 1) % n)
                    return (a, b, c, d)
        return None

    def _or_opt(self, a: int) -> tuple[int, ...] | None:
        D, t, pos, n = self.D, self.t, self.pos, self.n
        for seg_len in (1, 2, 3):
            if seg_len >= n - 2:
                break
            i = pos[a]
            e = t[(i + seg_len - 1) % n]
            p = t[(i - 1) % n]
            nx_ = t[(i + seg_len) % n]
            gain = D[p][a] + D[e][nx_] - D[p][nx_]
            if gain <= 1e-9:
                continue
            seg = [t[(i + k) % n] for k in range(seg_len)]
            for end, other in ((a, e), (e, a)):
                for c in self.near[end]:
                    if D[end][c] >= gain:
                        break
                    if c in seg:
                        continue
                    jc = pos[c]
                    for c2 in (t[(jc + 1) % n], t[(jc - 1) % n]):
                        if c2 in seg:
                            continue
                        if gain - D[c][end] - D[other][c2] + D[c][c2] > 1e-9:
                            self._move(i, seg_len, c, c2, end == a)
                            return (*seg, p, nx_, c, c2)
        return None

    def _move(self, i: int, seg_len: int, c: int, c2: int, a_next_to_c: bool) -> None:
        n, t = self.n, self.t
        seg = [t[(i + k) % n] for k in range(seg_len)]
        start = (i + seg_len) % n
        rest = [t[(start + k) % n] for k in range(n - seg_len)]
        kc = rest.index(c)
        if rest[(kc + 1) % len(rest)] == c2:
            ins = seg if a_next_to_c else seg[::-1]
            new = rest[: kc + 1] + ins + rest[kc + 1 :]
        else:
            ins = seg[::-1] if a_next_to_c else seg
            new = rest[:kc] + ins + rest[kc:]
        t[:] = new
        for k, cc in enumerate(t):
            self.pos[cc] = k

    def _local_search(self, active: Iterable[int]) -> None:
        queue = list(active)
        inq = set(queue)
        while queue:
            a = queue.pop()
            inq.discard(a)
            moved = self._two_opt(a) or self._or_opt(a)
            if moved is not None:
                for x in (*moved, a):
                    if x not in inq:
                        inq.add(x)
                        queue.append(x)

    def _kick(self) -> list[int]:
        """Segment double bridge: swap two adjacent sub-segments of a window."""
        n, t, pos, rng = self.n, self.t, self.pos, self.rng
        span = min(n - 1, 50)
        i0 = rng.randrange(n)
        c1, c2, c3 = sorted(rng.sample(range(1, span), 3))
        idx = [(i0 + k) % n for k in range(c3 + 1)]
        cities = [t[x] for x in idx[:c3]]
        new = cities[:c1] + cities[c2:c3] + cities[c1:c2]
        for x, c in zip(idx[:c3], new, strict=True):
            t[x] = c
            pos[c] = x
        return [
            t[idx[0]],
            t[idx[c1]],
            t[idx[c2]],
            t[idx[c3 - 1]],
            t[idx[c3]],
            t[(i0 - 1) % n],
            t[idx[c1 - 1]],
            t[idx[c2 - 1]],
        ]

    def run(self, seconds: float, max_iterations: int | None) -> list[int]:
        n = self.n
        if n < 8:
            self._local_search(range(n))
            return list(self.t)
        start_len = self.length()
        start_tour = list(self.t)
        self._local_search(range(n))
        cur = self.length()
        best, best_t = cur, list(self.t)
        deadline = time.perf_counter() + seconds
        it = 0
        while time.perf_counter() < deadline and (max_iterations is None or it < max_iterations):
            it += 1
            saved = list(self.t)
            self._local_search(self._kick())
            new = self.length()
            if new <= cur + 1e-9:
                cur = new
                if new < best - 1e-9:
                    best, best_t = new, list(self.t)
            else:
                self.t[:] = saved
                for k, c in enumerate(self.t):
                    self.pos[c] = k
        return best_t if best <= start_len else start_tour


__all__ = [
    "GOOGLE_TRAVEL_MODES",
    "MAX_INSTANCE_NODES",
    "MAX_LINK_WAYPOINTS",
    "OSM_CREDIT",
    "DroppedVisit",
    "InstanceSolution",
    "LunchBreak",
    "LunchSlot",
    "ModelSolution",
    "Plan",
    "PlanOptions",
    "PlannedStop",
    "PlanningError",
    "PlanningProblem",
    "Rep",
    "ResumePoint",
    "RoutePlan",
    "RoutingModel",
    "Visit",
    "add_geometry",
    "build_model",
    "build_problem",
    "check_plan_rules",
    "due_date",
    "improve_tour",
    "instance_data",
    "model_points",
    "open_intervals",
    "plan_for_reps",
    "plan_routes",
    "rep_from_user",
    "replan",
    "schedule_solution",
    "solve_instance",
    "solve_instance_file",
    "solve_model",
    "visit_windows",
    "visits_from_accounts",
]
