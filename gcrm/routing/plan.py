"""Plans: routes, stops, the break, dropped visits; results that check themselves.

A :class:`Plan` holds per rep and day the ordered stops with arrival, wait,
start and end times, drive time and distance per leg and in total, the lunch
break, the route geometry along the streets, and the visits left out with
the reason. Like PyVRP's ``Result``, it checks itself
(:meth:`Plan.is_feasible`, :meth:`Plan.violations`), tells its cost
(:meth:`Plan.cost`) and prints a summary (:meth:`Plan.summary`). Plans are
JSON-serialisable (``to_dict`` / ``from_dict``, ``to_json`` / ``from_json``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcrm._errors import GcrmError
from gcrm.routing.problem import PlanningProblem


class PlanningError(GcrmError):
    """A plan broke a rule it must keep (a bug, never a user error)."""


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
        """Return ``(lat, lon)`` of the way still to go.

        From the resume point (or the start) through the stops not done, to
        the end.
        """
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
        """Return the route of a rep on a date, if any."""
        return next((r for r in self.routes if r.rep == rep and r.date == date), None)

    def planned_visit_ids(self) -> list[str]:
        """Ids of every visit in a route (done ones included)."""
        return [s.visit_id for r in self.routes for s in r.stops]

    def rule_violations(self) -> list[str]:
        """Return the rules no plan may break that this one breaks.

        Returns
        -------
        list of str
            Empty, or messages for a do-not-contact visit in a route and for
            a visit that appears twice.
        """
        out = []
        dnc = {v.id for v in self.problem.visits if v.do_not_contact}
        ids = self.planned_visit_ids()
        bad = sorted(dnc.intersection(ids))
        if bad:
            out.append(f"do-not-contact visit(s) in the plan: {', '.join(bad[:5])}")
        if len(ids) != len(set(ids)):
            out.append("a visit appears twice in the plan")
        return out

    def violations(self) -> list[str]:
        """Return everything that makes this plan unusable (empty: none).

        Besides :meth:`rule_violations`: a stop whose times are out of order
        (arrival, start, end, departure), a visit both in a route and among
        the dropped ones, and a solver run that found no feasible plan.

        Returns
        -------
        list of str
            One message per problem, naming the route and visit.
        """
        out = self.rule_violations()
        for r in self.routes:
            for s in r.stops:
                if not s.arrival <= s.start <= s.end <= s.departure:
                    out.append(f"{r.rep} on {r.date}: the times of {s.visit_id!r} are out of order")
        both = sorted(set(self.planned_visit_ids()) & {d.visit_id for d in self.dropped})
        if both:
            out.append(f"visit(s) both planned and dropped: {', '.join(both[:5])}")
        if self.stats.get("feasible") is False:
            out.append("the solver found no feasible plan")
        return out

    def is_feasible(self) -> bool:
        """Return whether the plan keeps every rule (:meth:`violations` is empty)."""
        return not self.violations()

    def cost(self) -> float:
        """Return the plan's objective: travel of all routes, ``inf`` if infeasible.

        Returns
        -------
        float
            Drive seconds (objective ``"time"``, the default) or metres
            (``stats["objective"] == "distance"``) summed over the routes;
            ``math.inf`` when :meth:`is_feasible` is false. PyVRP's own
            objective (travel plus uncollected prizes) is ``stats["cost"]``.
        """
        if not self.is_feasible():
            return math.inf
        if self.stats.get("objective") == "distance":
            return float(sum(r.distance_m for r in self.routes))
        return float(sum(r.drive_s for r in self.routes))

    def summary(self) -> str:
        """Return a readable summary: totals, one line per route, drops by reason.

        Returns
        -------
        str
            Lines of text (no trailing newline).
        """
        drive = sum(r.drive_s for r in self.routes)
        dist = sum(r.distance_m for r in self.routes)
        lines = [
            f"{len(self.planned_visit_ids())} visits in {len(self.routes)} routes, "
            f"{len(self.dropped)} dropped; drive {drive / 60:.0f} min, {dist / 1000:.1f} km; "
            f"feasible: {self.is_feasible()}",
        ]
        for r in self.routes:
            lunch = f", lunch {r.lunch.start:%H:%M}" if r.lunch is not None else ""
            lines.append(
                f"  {r.rep} {r.date}: {len(r.stops)} stops {r.departure:%H:%M}-"
                f"{r.arrival:%H:%M}, drive {r.drive_s / 60:.0f} min, {r.distance_m / 1000:.1f} km"
                f"{lunch}"
            )
        for reason, n in sorted(Counter(d.reason for d in self.dropped).items()):
            lines.append(f"  dropped ({reason}): {n}")
        return "\n".join(lines)

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


def check_plan_rules(plan: Plan) -> None:
    """Assert the rules a plan must keep whatever the solver did.

    Checks that no do-not-contact visit is in a route and no visit appears
    twice (:meth:`Plan.rule_violations`).

    Parameters
    ----------
    plan
        The plan.

    Raises
    ------
    PlanningError
        If a rule is broken.
    """
    broken = plan.rule_violations()
    if broken:
        raise PlanningError(broken[0])
