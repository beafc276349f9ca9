"""Take a plan on the road: GPX, iCalendar, Google Maps and phone links.

Times in a :class:`gcrm.routing.Plan` are naive local times of the region
(``GCRM_TIMEZONE``). GPX requires UTC, so waypoint times are converted;
iCalendar events carry a ``TZID`` with the matching ``VTIMEZONE``.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import gpxpy.gpx
from icalendar import Calendar, Event

from gcrm._errors import InputError
from gcrm.routing.plan import Plan, RoutePlan
from gcrm.settings import get_settings

#: Travel modes of Google Maps links, per network profile.
GOOGLE_TRAVEL_MODES: dict[str, str] = {
    "drive": "driving",
    "walk": "walking",
    "bike": "bicycling",
}

#: Most waypoints one Google Maps directions link may hold (besides origin and
#: destination).
MAX_LINK_WAYPOINTS = 9

__all__ = [
    "GOOGLE_TRAVEL_MODES",
    "MAX_LINK_WAYPOINTS",
    "geo_link",
    "google_maps_links",
    "navigate_link",
    "tel_link",
    "to_gpx",
    "to_ics",
]


def _zone(timezone: str | None) -> ZoneInfo:
    return ZoneInfo(timezone or get_settings().timezone)


def _utc(t: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Return a plan's naive local time as an aware UTC datetime."""
    return t.replace(tzinfo=tz).astimezone(dt.UTC)


def to_gpx(plan: Plan, *, timezone: str | None = None) -> str:
    """Write a plan as GPX 1.1: a waypoint per visit and a track per route.

    Parameters
    ----------
    plan
        The plan.
    timezone
        IANA zone of the plan's local times (default ``GCRM_TIMEZONE``).

    Returns
    -------
    str
        GPX XML. Waypoints are named ``"<rep> <date> #<n> <name>"`` and carry
        the visit's start time in UTC (``Z``), as GPX requires; tracks follow
        the route geometry (or straight lines between stops when the plan has
        none).
    """
    tz = _zone(timezone)
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "gcrm"
    for r in plan.routes:
        for n, s in enumerate(r.stops, start=1):
            wpt = gpxpy.gpx.GPXWaypoint(
                latitude=s.lat,
                longitude=s.lon,
                time=_utc(s.start, tz),
                name=f"{r.rep} {r.date.isoformat()} #{n} {s.name}".strip(),
                description=(
                    f"{s.start:%H:%M}-{s.end:%H:%M} {s.address}".strip()
                    + (" (done)" if s.status == "done" else "")
                ),
            )
            wpt.type = "visit"
            gpx.waypoints.append(wpt)
        track = gpxpy.gpx.GPXTrack(name=f"{r.rep} {r.date.isoformat()}")
        seg = gpxpy.gpx.GPXTrackSegment()
        pts = r.geometry or [list(p) for p in r.points()]
        for lat, lon in pts:
            seg.points.append(gpxpy.gpx.GPXTrackPoint(lat, lon))
        track.segments.append(seg)
        gpx.tracks.append(track)
    return str(gpx.to_xml(version="1.1"))


def to_ics(plan: Plan, *, timezone: str | None = None) -> str:
    """Write a plan as iCalendar: one event per visit (RFC 5545).

    Parameters
    ----------
    plan
        The plan.
    timezone
        IANA zone of the plan's local times (default ``GCRM_TIMEZONE``).

    Returns
    -------
    str
        The calendar (``text/calendar``): times carry ``TZID`` and the
        calendar holds the matching ``VTIMEZONE``, so calendar apps place the
        visits at the right local time wherever the phone is.
    """
    tz = _zone(timezone)
    cal = Calendar()
    cal.add("prodid", "-//gcrm//route planning//EN")
    cal.add("version", "2.0")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for r in plan.routes:
        for n, s in enumerate(r.stops, start=1):
            ev = Event()
            ev.add("uid", f"{s.visit_id}-{r.date.isoformat()}-{r.rep}@gcrm")
            ev.add("dtstamp", stamp)
            ev.add("dtstart", s.start.replace(tzinfo=tz))
            ev.add("dtend", s.end.replace(tzinfo=tz))
            ev.add("summary", f"Visit: {s.name}" if s.name else f"Visit {s.visit_id}")
            if s.address:
                ev.add("location", s.address)
            ev.add("geo", (s.lat, s.lon))
            ev.add(
                "description",
                f"Stop {n} of {len(r.stops)} for {r.rep_name or r.rep}; "
                f"arrive {s.arrival:%H:%M}, drive {round(s.leg_duration_s / 60)} min.",
            )
            ev.add("categories", ["gcrm-visit"])
            cal.add_component(ev)
    cal.add_missing_timezones()
    return str(cal.to_ical().decode("utf-8"))


def google_maps_links(
    route: RoutePlan,
    *,
    max_waypoints: int = MAX_LINK_WAYPOINTS,
    travel_mode: str | None = "driving",
) -> list[str]:
    """Google Maps direction links for a route, split into legs.

    Each link goes from an origin to a destination through at most
    ``max_waypoints`` waypoints; the next link starts at the previous link's
    destination. The points are the start, the stops and the end (for a
    re-planned route: the resume point, the stops not done and the end).

    Parameters
    ----------
    route
        The route.
    max_waypoints
        Waypoints per link (Google allows 9 on mobile).
    travel_mode
        ``driving``, ``walking``, ``bicycling`` or ``None``.

    Returns
    -------
    list of str
        URLs of the form ``https://www.google.com/maps/dir/?api=1&origin=...``.
    """
    if max_waypoints < 0:
        raise InputError("max_waypoints must not be negative")
    pts = route.remaining_points()
    if len(pts) < 2:
        return []
    links = []
    i = 0
    step = max_waypoints + 1
    while i < len(pts) - 1:
        j = min(i + step, len(pts) - 1)
        params = {
            "api": "1",
            "origin": _ll(pts[i]),
            "destination": _ll(pts[j]),
        }
        if j - i > 1:
            params["waypoints"] = "|".join(_ll(p) for p in pts[i + 1 : j])
        if travel_mode:
            params["travelmode"] = travel_mode
        links.append("https://www.google.com/maps/dir/?" + urlencode(params, safe="|,"))
        i = j
    return links


def _ll(p: tuple[float, float]) -> str:
    return f"{p[0]:.6f},{p[1]:.6f}"


def navigate_link(lat: float, lon: float, *, travel_mode: str | None = "driving") -> str:
    """One-tap navigation to a point: a Google Maps directions link.

    Phones open it in the maps app (Android and iOS hand ``google.com/maps``
    links to Google Maps when installed), computers in the browser; the
    origin is the device's own position.

    Parameters
    ----------
    lat, lon
        The destination.
    travel_mode
        ``driving``, ``walking``, ``bicycling`` or ``None``.

    Returns
    -------
    str
        ``https://www.google.com/maps/dir/?api=1&destination=LAT,LON...``.
    """
    params = {"api": "1", "destination": _ll((lat, lon))}
    if travel_mode:
        params["travelmode"] = travel_mode
    return "https://www.google.com/maps/dir/?" + urlencode(params, safe=",")


def geo_link(lat: float, lon: float, label: str = "") -> str:
    """Return a ``geo:`` URI (RFC 5870) that phones open in their default maps app."""
    q = f"{lat:.6f},{lon:.6f}" + (f"({label})" if label else "")
    return f"geo:{lat:.6f},{lon:.6f}?" + urlencode({"q": q}, safe=",()")


def tel_link(phone: str | None) -> str | None:
    """Return a ``tel:`` URI from a phone number as people type it, or ``None``.

    Spaces, dashes, dots and brackets are dropped; a leading ``00`` becomes
    ``+``. A value with fewer than five digits gives ``None``.
    """
    if not phone or not isinstance(phone, str):
        return None
    kept = "".join(ch for ch in phone.strip() if ch.isdigit() or ch == "+")
    if kept.startswith("00"):
        kept = "+" + kept[2:]
    kept = kept[:1] + kept[1:].replace("+", "")
    if sum(ch.isdigit() for ch in kept) < 5:
        return None
    return f"tel:{kept}"
