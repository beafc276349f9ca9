"""Locating imported rows: split their address cells and geocode the parts.

The importer hands each row's address cells here. :func:`locate` splits a
street cell (:func:`gcrm.addresses.parse_address`, with the region's OSM
street names as its dictionary), geocodes the parts offline and returns the
account values to store: the location, its precision and score, and a JSON
``geocode_detail`` keeping the original text, the parsed parts, the matched
address and the reason.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, Protocol

from gcrm._errors import OSMFileError
from gcrm.addresses import AddressParts, parse_address
from gcrm.geocode import default_index

#: What a found location looks like: lat, lon, precision, score, matched, reason
#: (lat/lon ``None`` and precision ``"none"`` when nothing was found).
Found = tuple[float | None, float | None, str, float, str, str]

#: A plain geocoder: (street, housenumber, postcode, city) -> (lat, lon,
#: precision, score) or ``None``.
PlainGeocoder = Callable[
    [str | None, str | None, str | None, str | None], tuple[float, float, str, float] | None
]


class _Index(Protocol):
    def geocode(self, *args: Any, **kwargs: Any) -> Any: ...

    def has_street(self, name: str) -> bool: ...


_NONE = "none"
_MANUAL = "manual"
_PROVIDED = "provided"
_SAME_POINT_DEG = 1e-7


@dataclasses.dataclass
class Geo:
    """A geocoder for imports, with the region's street names as a dictionary.

    Build it with :meth:`of`.
    """

    find: Callable[[str | None, str | None, str | None, str | None], Found]
    known_street: Callable[[str], bool] | None = None
    _memo: dict[tuple[str | None, ...], AddressParts] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, geocoder: Any) -> Geo | None:
        """Wrap what ``import_file`` was given.

        Parameters
        ----------
        geocoder
            ``"default"`` (the region's offline index, loaded on first use),
            an :class:`gcrm.geocode.AddressIndex`, a plain callable
            (:data:`PlainGeocoder`) or ``None`` (no geocoding).

        Returns
        -------
        Geo or None
            ``None`` when rows are not to be geocoded.
        """
        if geocoder is None:
            return None
        if isinstance(geocoder, str):
            return _lazy_default()
        if hasattr(geocoder, "geocode") and hasattr(geocoder, "has_street"):
            return _from_index(geocoder)
        plain: PlainGeocoder = geocoder

        def find(st: str | None, hn: str | None, pc: str | None, city: str | None) -> Found:
            got = plain(st, hn, pc, city)
            if got is None:
                return (None, None, _NONE, 0.0, "", "not found")
            return (got[0], got[1], got[2], got[3], "", "")

        return cls(find)

    def parts(
        self, street: str | None, extra: str | None, pc: str | None, city: str | None
    ) -> AddressParts:
        """Split address cells (memoised per import)."""
        key = (street, extra, pc, city)
        got = self._memo.get(key)
        if got is None:
            got = parse_address(
                street, extra=extra, postcode=pc, city=city, known_street=self.known_street
            )
            self._memo[key] = got
        return got


def _from_index(index: _Index) -> Geo:
    def find(st: str | None, hn: str | None, pc: str | None, city: str | None) -> Found:
        r = index.geocode(st, hn, pc, city, online=False)
        return (r.lat, r.lon, r.precision, r.score, r.matched, r.reason)

    return Geo(find, index.has_street)


def _lazy_default() -> Geo:
    """Return a geocoder on the region's offline index, loaded on first use.

    It finds nothing when the region's OSM file is unusable.
    """
    state: dict[str, Any] = {}

    def index() -> Any:
        if "index" not in state:
            try:
                state["index"] = default_index()
            except (OSMFileError, ImportError):
                state["index"] = None
        return state["index"]

    def find(st: str | None, hn: str | None, pc: str | None, city: str | None) -> Found:
        idx = index()
        if idx is None:
            return (None, None, _NONE, 0.0, "", "no offline address index for this region")
        r = idx.geocode(st, hn, pc, city, online=False)
        return (r.lat, r.lon, r.precision, r.score, r.matched, r.reason)

    def known(name: str) -> bool:
        idx = index()
        return bool(idx is not None and idx.has_street(name))

    return Geo(find, known)


_ADDRESS_KEYS = ("street", "housenumber", "postcode", "city")


def locate(
    values: dict[str, Any],
    cells: dict[str, Any],
    old: dict[str, Any] | None,
    geo: Geo | None,
) -> bool:
    """Set an account's address parts and location in ``values``.

    Parameters
    ----------
    values
        The account values being built (changed in place).
    cells
        The row's parsed cells: street, housenumber, postcode, city, country,
        full_address, address_extra, lat, lon.
    old
        The stored account, if any.
    geo
        The geocoder (``None``: do not geocode).

    Returns
    -------
    bool
        Whether the geocoder was asked.
    """
    parts = _split(values, cells, geo)
    if old is not None and old.get("manual_pin"):
        return False
    lat, lon = cells.get("lat"), cells.get("lon")
    if lat is not None and lon is not None:
        same = (
            old is not None
            and old.get("lat") is not None
            and abs(old["lat"] - lat) < _SAME_POINT_DEG
            and abs(old["lon"] - lon) < _SAME_POINT_DEG
        )
        if not same:  # the same point again keeps how it was found (export → import)
            values.update(
                lat=lat, lon=lon, geocode_precision=_PROVIDED, geocode_score=1.0,
                geocode_source="file",
            )  # fmt: skip
        return False
    if geo is None or not any(values.get(k) for k in ("street", "postcode", "city")):
        return False
    if old is not None and old.get("lat") is not None and not _address_changed(old, values):
        return False
    street = parts.street if parts else values.get("street")
    hn = parts.housenumber if parts else values.get("housenumber")
    found = geo.find(street, hn, values.get("postcode"), values.get("city"))
    f_lat, f_lon, precision, score, matched, reason = found
    original = (
        parts.original
        if parts
        else " ".join(str(values[k]) for k in ("street", "housenumber") if values.get(k))
    )
    detail: dict[str, Any] = {
        "text": ", ".join(x for x in (original, values.get("postcode"), values.get("city")) if x),
        "parts": parts.as_dict()
        if parts
        else {k: values[k] for k in _ADDRESS_KEYS if values.get(k)},
        "matched": matched,
        "reason": reason,
    }
    values["geocode_detail"] = json.dumps(detail, ensure_ascii=False)
    if f_lat is None or f_lon is None or precision == _NONE:
        values.update(lat=None, lon=None, geocode_precision=_NONE, geocode_score=0.0)
        values["geocode_source"] = None
        return True
    values.update(
        lat=f_lat, lon=f_lon, geocode_precision=precision, geocode_score=score,
        geocode_source="osm",
    )  # fmt: skip
    return True


def _split(values: dict[str, Any], cells: dict[str, Any], geo: Geo | None) -> AddressParts | None:
    """Split the street (or whole-address) cell into ``values``' address fields."""
    street, hn = cells.get("street"), cells.get("housenumber")
    full, extra = cells.get("full_address"), cells.get("address_extra")
    source = street or full
    if not source or (hn and not extra and street):
        return None
    if not extra and "\n" not in source and not any(ch.isdigit() for ch in source):
        return None  # no number, one line: the cell is a street name ("Kaivopiha, Mannerheimintie")
    splitter = geo or Geo(lambda *_: (None, None, _NONE, 0.0, "", ""))
    parts = splitter.parts(source, extra, cells.get("postcode"), cells.get("city"))
    if parts.street:
        values["street"] = parts.street
        if not hn:
            values["housenumber"] = parts.stored_housenumber()
    if parts.postcode and not cells.get("postcode"):
        values["postcode"] = parts.postcode
    if parts.city and not cells.get("city"):
        values["city"] = parts.city
    if parts.country and not cells.get("country"):
        values["country"] = parts.country
    return parts


def _address_changed(old: dict[str, Any], values: dict[str, Any]) -> bool:
    return any(k in values and old.get(k) != values[k] for k in _ADDRESS_KEYS)
