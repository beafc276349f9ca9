"""The planning model: visits, reps, days and solver options.

A :class:`PlanningProblem` holds visits (:class:`Visit`), reps (:class:`Rep`)
and the days to plan. It depends on neither the UI nor the database:
:mod:`gcrm.routing.from_store` fills it from the store, tests and other
callers build it directly. :meth:`PlanningProblem.validate` rejects a
malformed problem with a message naming the rep or visit.

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
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gcrm import plan_budget
from gcrm._errors import InputError
from gcrm.routing._times import secs, to_date, to_datetime, to_time

#: Default lunch break window and duration.
DEFAULT_LUNCH = (dt.time(11, 0), dt.time(13, 30), 30)

#: Safety cap on the solver's wall time when no ``seconds`` are given.
MAX_SOLVER_SECONDS = 600.0

#: Models with this many PyVRP clients or more use two searches on two cores.
PARALLEL_MIN_CLIENTS = 150


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
        return cls(to_time(d["earliest"]), to_time(d["latest"]), int(d["minutes"]))


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
            shift_start=to_time(d["shift_start"]),
            shift_end=to_time(d["shift_end"]),
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
            fixed_start=to_datetime(d.get("fixed_start")),
            reps=tuple(d.get("reps", ())),
            earliest=to_date(d.get("earliest")),
            latest=to_date(d.get("latest")),
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
            if secs(r.shift_end) <= secs(r.shift_start):
                msg = f"rep {r.id!r}: the shift must end after it starts"
                raise InputError(msg)
            if r.lunch is not None and (
                r.lunch.minutes <= 0
                or secs(r.lunch.latest) - secs(r.lunch.earliest) < r.lunch.minutes * 60
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
        """Return the wall-time cap (seconds)."""
        if self.seconds is not None:
            return float(self.seconds)
        return MAX_SOLVER_SECONDS

    def iteration_budget(self, n_clients: int) -> int:
        """Return the iterations per search for a model of ``n_clients`` PyVRP clients."""
        if self.iterations is not None:
            return int(self.iterations)
        return plan_budget.iteration_budget(n_clients)

    def patience(self, n_clients: int) -> int | None:
        """Return the iterations without improvement before stopping (``None``: never)."""
        if self.no_improvement is not None:
            return int(self.no_improvement) or None
        return plan_budget.patience(n_clients)

    def searches(self, n_clients: int) -> int:
        """How many parallel searches to run (1 or 2)."""
        if self.workers is not None:
            return max(1, min(2, int(self.workers)))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return 2 if n_clients >= PARALLEL_MIN_CLIENTS and cores >= 2 else 1
