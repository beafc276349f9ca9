"""A rep's home base and shift: where the day's route starts and ends, and when.

An admin sets them on the Admin page or with ``python -m gcrm users set NAME
--home "Mannerheimintie 5, Helsinki" --shift 08:00-16:00``. A home given as an
address is geocoded offline against the region's OSM addresses and must be
found at least on its street; a home given as ``lat, lon`` must be numbers in
range.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gcrm._errors import InputError
from gcrm.auth import Actor, update_user
from gcrm.geocode import default_index

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gcrm.db.models import User

_LAT_LON = re.compile(r"^\s*([+-]?\d{1,3}(?:\.\d+)?)\s*[,; ]\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$")
_SHIFT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
#: Geocoding precisions precise enough for a home base.
_HOME_PRECISIONS = ("address", "interpolated", "street")


def parse_shift(text: str) -> tuple[str, str]:
    """Parse a shift such as ``"08:00-16:00"``.

    Parameters
    ----------
    text
        ``HH:MM-HH:MM``.

    Returns
    -------
    tuple of str
        Start and end as ``"HH:MM"``.

    Raises
    ------
    InputError
        If it is not a shift, or ends before it starts.
    """
    m = _SHIFT.match(text or "")
    if m is None:
        msg = f"shift: {text!r} is not HH:MM-HH:MM (e.g. 08:00-16:00)"
        raise InputError(msg)
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if not (0 <= h1 <= 23 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
        msg = f"shift: {text!r} is not a time of day"
        raise InputError(msg)
    if (h2, m2) <= (h1, m1):
        msg = f"shift: {text!r} ends before it starts"
        raise InputError(msg)
    return f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"


def resolve_home(text: str, *, index: Any = None) -> tuple[float, float, str]:
    """Turn a home base given as ``"lat, lon"`` or as an address into a location.

    Parameters
    ----------
    text
        ``"60.1699, 24.9384"`` or ``"Mannerheimintie 5, 00100 Helsinki"``.
    index
        An :class:`gcrm.geocode.AddressIndex`; default: the region's.

    Returns
    -------
    tuple
        ``(lat, lon, how)``, ``how`` naming the matched address or
        ``"coordinates"``.

    Raises
    ------
    InputError
        If the coordinates are out of range or the address is not found at
        least on its street in the region.
    """
    m = _LAT_LON.match(text or "")
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            msg = f"home: {text!r} is outside -90..90 / -180..180"
            raise InputError(msg)
        return lat, lon, "coordinates"
    if index is None:
        index = default_index()
    r = index.geocode_text(text, online=False)
    if r.precision not in _HOME_PRECISIONS or r.lat is None or r.lon is None:
        msg = (
            f"home: {text!r} was not found in the region's addresses "
            f"(precision {r.precision}: {r.reason or 'no match'}); give the street and "
            "number, or 'lat, lon'"
        )
        raise InputError(msg)
    return float(r.lat), float(r.lon), f"{r.matched} ({r.precision})"


def set_home_base(
    session: Session,
    actor: Actor,
    username: str,
    *,
    home: str | None = None,
    clear_home: bool = False,
    shift: str | None = None,
    index: Any = None,
) -> User:
    """Set a user's home base and/or shift (admins only; audited).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting admin.
    username
        Whose.
    home
        ``"lat, lon"`` or an address; ``None`` keeps it.
    clear_home
        Remove the home base.
    shift
        ``"HH:MM-HH:MM"``; ``None`` keeps it.
    index
        The address index for an address (default: the region's).

    Returns
    -------
    User
        The changed user.

    Raises
    ------
    InputError
        On a bad home or shift, or an unknown user.
    """
    where: tuple[float, float] | bool | None = False
    if clear_home:
        where = None
    elif home:
        lat, lon, _ = resolve_home(home, index=index)
        where = (lat, lon)
    start = end = None
    if shift:
        start, end = parse_shift(shift)
    return update_user(session, actor, username, home=where, work_start=start, work_end=end)
