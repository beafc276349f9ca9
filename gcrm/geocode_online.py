"""Online geocoding through Nominatim or Photon (geopy): off by default.

The offline index (:mod:`gcrm.geocode`) asks :func:`online_geocoder` for a
client only when it finds nothing, and only when ``GCRM_ALLOW_NETWORK`` is true
or an :class:`OnlineGeocoder` is passed explicitly. Answers (found or not) are
cached in SQLite and requests are spaced by a rate limit.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gcrm.geocode_result import ADDRESS, CITY, POSTCODE, STREET, GeocodeResult, none_result
from gcrm.osm import cache_dir
from gcrm.settings import get_settings

__all__ = ["OnlineGeocoder", "online_geocoder"]

_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
_ONLINE_SCORE = 0.8
_ONLINE_PRECISION = {
    "house": ADDRESS,
    "building": ADDRESS,
    "address": ADDRESS,
    "house_number": ADDRESS,
    "road": STREET,
    "street": STREET,
    "postcode": POSTCODE,
}


def _online_precision(raw: Mapping[str, Any]) -> str:
    """Return the precision of a Nominatim or Photon answer (coarsest: ``city``)."""
    nested = raw.get("properties")  # Photon answers are GeoJSON features
    props: Mapping[str, Any] = nested if isinstance(nested, Mapping) else raw
    if props.get("housenumber") or (
        isinstance(raw.get("address"), Mapping) and raw["address"].get("house_number")
    ):
        return ADDRESS
    for key in ("addresstype", "type", "osm_value", "class"):
        v = props.get(key)
        if isinstance(v, str) and v in _ONLINE_PRECISION:
            return _ONLINE_PRECISION[v]
    return CITY


def _geopy_geocoder(url: str, user_agent: str, timeout_s: float) -> Any:
    """Return a geopy Nominatim or Photon client for ``url``."""
    try:  # geopy is optional: only online geocoding needs it
        from geopy.geocoders import Nominatim, Photon
    except ImportError as exc:
        msg = "online geocoding needs the optional 'geopy' package: pip install geopy"
        raise ImportError(msg) from exc
    parts = urlsplit(url if "://" in url else f"https://{url}")
    domain = (parts.netloc + parts.path).rstrip("/")
    scheme = parts.scheme or "https"
    if "photon" in url.lower():
        return Photon(domain=domain, scheme=scheme, timeout=timeout_s, user_agent=user_agent)
    return Nominatim(domain=domain, scheme=scheme, timeout=timeout_s, user_agent=user_agent)


class OnlineGeocoder:
    """Geocode through Nominatim or Photon (geopy), with a disk cache and a rate limit.

    Parameters
    ----------
    url
        Service URL; ``None`` for the ``geocoder_url`` setting, else the public
        Nominatim. A URL containing ``photon`` selects Photon.
    geocoder
        An object with geopy's ``geocode(query, exactly_one=True)`` method to
        use instead of building one (tests inject a fake here).
    cache_path
        SQLite file of past answers (found or not);
        ``<data_dir>/cache/geocode/online.sqlite`` by default.
    min_interval_s
        Minimum time between two requests (Nominatim's policy: 1 s).
    user_agent, timeout_s
        Passed to geopy.
    clock, sleep
        Time functions (tests replace them).

    Raises
    ------
    ImportError
        If no ``geocoder`` is given and geopy is not installed.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        geocoder: Any = None,
        cache_path: str | Path | None = None,
        min_interval_s: float = 1.0,
        user_agent: str = "gcrm",
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.url = url or getattr(get_settings(), "geocoder_url", None) or _NOMINATIM_URL
        self._geocoder = (
            geocoder if geocoder is not None else _geopy_geocoder(self.url, user_agent, timeout_s)
        )
        self.cache_path = (
            Path(cache_path) if cache_path is not None else cache_dir("geocode") / "online.sqlite"
        )
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._sleep = sleep
        self._last = -math.inf
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(
                "create table if not exists answers (url text, query text, lat real, lon real,"
                " precision text, matched text, primary key (url, query))"
            )

    def _connect(self) -> sqlite3.Connection:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.cache_path, timeout=30)

    def geocode(self, text: str) -> GeocodeResult:
        """Geocode free text online (or from the cache).

        Parameters
        ----------
        text
            The address.

        Returns
        -------
        GeocodeResult
            Score 0.8 (the services give no comparable match score); the
            reason names the service. A failed request gives ``none`` and is
            not cached; "not found" is cached like an answer.
        """
        query = " ".join(text.split())
        key = query.casefold()
        con = self._connect()
        try:
            row = con.execute(
                "select lat, lon, precision, matched from answers where url = ? and query = ?",
                (self.url, key),
            ).fetchone()
        finally:
            con.close()
        host = urlsplit(self.url).netloc or self.url
        if row is not None:
            lat, lon, precision, matched = row
            if lat is None:
                return GeocodeResult(*none_result(f"not found online ({host}, cached)"))
            return GeocodeResult(
                lat, lon, precision, _ONLINE_SCORE, matched, f"online: {host} (cached)"
            )
        with self._lock:
            wait = self._last + self.min_interval_s - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                loc = self._geocoder.geocode(query, exactly_one=True)
            except Exception as exc:  # geopy's errors are many; none may stop a batch
                return GeocodeResult(*none_result(f"online geocoder failed: {exc}"))
            finally:
                self._last = self._clock()
        if loc is None:
            values: tuple[Any, ...] = (None, None, None, None)
        else:
            raw = getattr(loc, "raw", {}) or {}
            values = (
                float(loc.latitude),
                float(loc.longitude),
                _online_precision(raw),
                str(loc.address),
            )
        con = self._connect()
        try:
            with con:
                con.execute(
                    "insert or replace into answers values (?, ?, ?, ?, ?, ?)",
                    (self.url, key, *values),
                )
        finally:
            con.close()
        if loc is None:
            return GeocodeResult(*none_result(f"not found online ({host})"))
        return GeocodeResult(
            values[0], values[1], values[2], _ONLINE_SCORE, values[3], f"online: {host}"
        )


_ONLINE: dict[str, OnlineGeocoder] = {}
_ONLINE_LOCK = threading.Lock()


def online_geocoder(online: OnlineGeocoder | bool | None) -> OnlineGeocoder | None:
    """Return the online geocoder to use: the one given, or the settings' (off by default).

    Parameters
    ----------
    online
        An :class:`OnlineGeocoder` (used as is), ``False`` (never online) or
        ``None`` (the settings' service, only if ``allow_network`` is true).

    Returns
    -------
    OnlineGeocoder or None
        One shared client per service URL; ``None`` when offline.
    """
    if isinstance(online, OnlineGeocoder):
        return online
    if online is False:
        return None
    if online is None and not get_settings().allow_network:
        return None
    url = getattr(get_settings(), "geocoder_url", None) or _NOMINATIM_URL
    with _ONLINE_LOCK:
        g = _ONLINE.get(url)
        if g is None:
            g = OnlineGeocoder(url)
            _ONLINE[url] = g
    return g
