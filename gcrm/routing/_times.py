"""Times of the planning model: parsing and seconds since midnight.

All model times are integer seconds since midnight of the day a vehicle
works; plan times are naive local datetimes.
"""

from __future__ import annotations

import datetime as dt

from gcrm._errors import InputError

#: Seconds in a day.
DAY = 86_400


def to_time(value: str | dt.time) -> dt.time:
    """Return a time of day from ``HH:MM`` (or a time).

    Parameters
    ----------
    value
        ``HH:MM[:SS]`` or a :class:`datetime.time`.

    Returns
    -------
    datetime.time
        The time.

    Raises
    ------
    InputError
        If the text is not a time.
    """
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        msg = f"invalid time {value!r}: expected HH:MM"
        raise InputError(msg) from None


def to_date(value: str | dt.date | None) -> dt.date | None:
    """Return a date from ``YYYY-MM-DD`` (a date or ``None`` pass through)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def to_datetime(value: str | None) -> dt.datetime | None:
    """Return a datetime from ISO text (``None`` for empty text)."""
    return dt.datetime.fromisoformat(value) if value else None


def secs(t: dt.time) -> int:
    """Return the seconds since midnight of a time of day."""
    return t.hour * 3600 + t.minute * 60 + t.second


def at_secs(day: dt.date, seconds: int) -> dt.datetime:
    """Return the datetime ``seconds`` after midnight of ``day``."""
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=int(seconds))


def clock(seconds: int) -> dt.time:
    """Return the time of day of ``seconds`` since midnight (clamped to the day)."""
    seconds = max(0, min(DAY - 1, int(seconds)))
    return dt.time(seconds // 3600, (seconds % 3600) // 60, seconds % 60)
