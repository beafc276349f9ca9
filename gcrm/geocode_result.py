"""What the geocoder answers: precisions and :class:`GeocodeResult`.

Shared by the offline index (:mod:`gcrm.geocode`) and the online fallback
(:mod:`gcrm.geocode_online`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gcrm.settings import get_settings

__all__ = [
    "ADDRESS",
    "CITY",
    "DEFAULT_MIN_SCORE",
    "INTERPOLATED",
    "NONE",
    "POSTCODE",
    "PRECISIONS",
    "STREET",
    "GeocodeResult",
    "none_result",
    "resolve_min_score",
]

ADDRESS = "address"
INTERPOLATED = "interpolated"
STREET = "street"
POSTCODE = "postcode"
CITY = "city"
NONE = "none"
#: Precision values, best first (the importer adds ``provided`` and ``manual``).
PRECISIONS: tuple[str, ...] = (ADDRESS, INTERPOLATED, STREET, POSTCODE, CITY, NONE)

#: Results scoring below this are ``none`` (override per call with ``min_score=``
#: or with a ``geocode_min_score`` setting).
DEFAULT_MIN_SCORE = 0.6


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """One geocoded address.

    Attributes
    ----------
    lat, lon
        WGS84 coordinates, ``None`` when ``precision`` is ``"none"``.
    precision
        One of :data:`PRECISIONS`.
    score
        0-1 agreement between the query and ``matched``.
    matched
        The address text that was matched (``""`` when none).
    reason
        Why the result is not an exact address (fallback taken, what was not
        found); ``""`` for an exact match.
    """

    lat: float | None
    lon: float | None
    precision: str
    score: float
    matched: str
    reason: str = ""

    @property
    def found(self) -> bool:
        """Whether a location was found (precision is not ``"none"``)."""
        return self.precision != NONE


#: A result as a plain tuple (the fast path inside the index).
Res = tuple[float | None, float | None, str, float, str, str]


def none_result(reason: str) -> Res:
    """Return the tuple of a ``none`` result.

    Parameters
    ----------
    reason
        Why nothing was found.

    Returns
    -------
    tuple
        ``(None, None, "none", 0.0, "", reason)``.
    """
    return (None, None, NONE, 0.0, "", reason)


def resolve_min_score(value: float | None) -> float:
    """Return the score threshold of a query.

    Parameters
    ----------
    value
        The caller's threshold, or ``None`` for the ``geocode_min_score``
        setting (:data:`DEFAULT_MIN_SCORE` without one).

    Returns
    -------
    float
        The threshold.
    """
    if value is not None:
        return float(value)
    return float(getattr(get_settings(), "geocode_min_score", DEFAULT_MIN_SCORE))
