"""Offline geocoding against OpenStreetMap addresses.

An :class:`AddressIndex` is built once from any OSM file :mod:`gcrm.osm` can
read (PBF, XML, ``.osm.gz``/``.osm.bz2``; the region of the settings by
default) and cached on disk, keyed by the file's SHA-256. It holds

* address points: nodes with ``addr:housenumber`` and building ways' centroids
  (read by :func:`gcrm.osm.read_address_points`; streets and places by
  :func:`gcrm.osm.read_streets_and_places`);
* named streets (``highway=*`` ways) with their geometry and every name form
  (``name``, ``name:<lang>``, ``official_name``, ``alt_name``, ``short_name``,
  ``old_name``), plus streets known only from ``addr:street``/``addr:place``;
* postcode areas derived from the address points;
* places (``place=city``, ``town``, ``village``, ``suburb``, ...) and the
  ``addr:city`` values of the address points.

Forward geocoding walks a fallback chain and says where it stopped:

=================  ===========================================================
precision          location
=================  ===========================================================
``address``        an OSM address point (the mean of points sharing an address)
``interpolated``   along the street between the nearest known house numbers of
                   the same parity
``street``         a point on the street (near the query's postcode if given)
``postcode``       the address point nearest the centre of the postcode's points
``city``           the place node (or the centre of the city's addresses)
``none``           nothing: ``lat``/``lon`` are ``None`` and ``reason`` says why
=================  ===========================================================

Every result carries a 0-1 ``score``: how well the query agrees with the
``matched`` text at that precision (1.0 exact; a fuzzy street name scores its
similarity; a house-number letter or range that had to be dropped costs 5%; a
postcode or city that contradicts the match costs 15% or 10%). A result that
scores below the threshold is ``none``, never a guess. The importer adds the
precisions ``provided`` and ``manual`` for coordinates it did not geocode.

Online look-ups (Nominatim or Photon through geopy) are off by default: they
happen only when ``GCRM_ALLOW_NETWORK`` is true or an :class:`OnlineGeocoder`
is passed explicitly, and only for queries the offline index cannot place.

The geocoder's modules: :mod:`gcrm.geocode_text` (normalising address text),
:mod:`gcrm.geocode_index` (building the index's tables and their disk cache),
:mod:`gcrm.geocode_match` (name matching and house-number placement),
:mod:`gcrm.geocode_result` (precisions and :class:`GeocodeResult`),
:mod:`gcrm.geocode_online` (the online fallback) and this one (querying).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from gcrm._errors import InputError
from gcrm.geocode_index import AddressData, build_address_data, load_address_data
from gcrm.geocode_match import F_HOUSENUMBER_APPROX, Matcher
from gcrm.geocode_online import OnlineGeocoder, online_geocoder
from gcrm.geocode_result import (
    ADDRESS,
    CITY,
    DEFAULT_MIN_SCORE,
    INTERPOLATED,
    NONE,
    POSTCODE,
    PRECISIONS,
    STREET,
    GeocodeResult,
    Res,
    none_result,
    resolve_min_score,
)
from gcrm.geocode_text import (
    city_key,
    clean,
    hn_display,
    hn_key,
    normalize_street,
    parse_housenumber,
)
from gcrm.geometry import ecef, haversine_m
from gcrm.osm import resolve_osm_file

__all__ = [
    "ADDRESS",
    "CITY",
    "DEFAULT_MIN_SCORE",
    "INTERPOLATED",
    "NONE",
    "OUTPUT_COLUMNS",
    "POSTCODE",
    "PRECISIONS",
    "STREET",
    "AddressIndex",
    "GeocodeResult",
    "OnlineGeocoder",
    "default_index",
    "geocode_file",
]

_REVERSE_MAX_M = 250.0
_PROGRESS_MIN_ROWS = 2000
_BATCH_CHUNK = 5000


class AddressIndex:
    """Addresses, streets, postcodes and places of one OSM file, for geocoding.

    Build it with :meth:`from_osm` (cached on disk) or, for small synthetic
    data, with the constructor (the tables come from
    :func:`gcrm.geocode_index.build_address_data`). Queries are thread-safe
    (the only shared state they change is the matcher's memo of name matches).

    Parameters
    ----------
    points
        Address points as returned by :func:`gcrm.osm.read_address_points`:
        ``lat``, ``lon`` and the ``addr:*`` tag columns (``addr:street`` or
        ``addr:place``, ``addr:housenumber``, ``addr:postcode``, ``addr:city``,
        and optionally ``addr:street:<lang>``).
    streets
        Named streets: mappings with ``"tags"`` (``name``, ``name:sv``, ...)
        and ``"coords"``, a list of polylines of ``(lon, lat)``.
    places
        Places: mappings with ``"tags"`` (``place``, ``name``, ...), ``"lat"``
        and ``"lon"``.
    source
        Where the data came from (shown in summaries).
    """

    def __init__(
        self,
        points: pd.DataFrame,
        streets: Sequence[Mapping[str, Any]] = (),
        places: Sequence[Mapping[str, Any]] = (),
        *,
        source: str = "",
    ) -> None:
        self._attach(build_address_data(points, streets, places), source)

    def _attach(self, data: AddressData, source: str) -> None:
        self.source = source
        self._d = data
        self._m = Matcher(data)

    @classmethod
    def from_osm(cls, path: str | Path | None = None, *, cache: bool = True) -> AddressIndex:
        """Build (or load from the disk cache) the index of an OSM file.

        Parameters
        ----------
        path
            PBF, OSM XML, ``.osm.gz``/``.osm.bz2``; ``None`` for the region of
            the settings (the bundled Helsinki extract by default).
        cache
            Read and write ``<data_dir>/cache/geocode/``, keyed by the file's
            SHA-256 (and the index format), so a changed file is re-indexed.

        Returns
        -------
        AddressIndex
            The index.

        Raises
        ------
        OSMFileError
            If the file is missing, empty or unreadable.
        """
        p = resolve_osm_file(path)
        idx = cls.__new__(cls)
        idx._attach(load_address_data(p, cache=cache), str(p))
        return idx

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the tables only (the matcher's memos are rebuilt)."""
        return {"source": self.source, "data": self._d}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`__getstate__`."""
        self._attach(state["data"], state["source"])

    # -- summary -----------------------------------------------------------------------

    def summary(self) -> dict[str, int]:
        """Return counts of what the index holds.

        Returns
        -------
        dict
            ``points`` (address points with coordinates), ``addresses``
            (distinct street + house number), ``shared_addresses`` (addresses
            carried by more than one point), ``points_sharing`` (points on
            them), ``streets``, ``street_names`` (name keys), ``postcodes`` and
            ``cities``.
        """
        shared = [self._d.g_size[g] for g in self._d.addr.values() if self._d.g_size[g] > 1]
        return {
            "points": len(self._d.pt_lat),
            "addresses": len(self._d.addr),
            "shared_addresses": len(shared),
            "points_sharing": sum(shared),
            "streets": len(self._d.streets),
            "street_names": len(self._d.names),
            "postcodes": len(self._d.postcodes),
            "cities": len(self._d.cities),
        }

    # -- forward geocoding -------------------------------------------------------------

    def _resolve(
        self, street: str, housenumber: str, postcode: str, city: str, min_score: float
    ) -> Res:
        pc = self._m.norm_query_postcode(postcode) if postcode else ""
        cid: int | None = None
        cscore = 0.0
        cq: tuple[bool, int | None] = (False, None)
        if city.isdigit():
            city = ""  # a number is no city (seen in addr:city)
        if city:
            cid, cscore = self._m.city_candidate(city)
            cq = (cid is None or self._d.cities[cid].rank == 0, cid)
        hnp = parse_housenumber(housenumber) if housenumber else None
        reason = ""
        if street:
            cands = self._m.street_candidates(street)
            if cands:
                hkey = hn_key(*hnp) if hnp else ""
                chosen = self._m.choose_street(cands, hkey, pc, cid)
                if chosen is None:
                    names = sorted({self._d.street_label(s) for s, _ in cands})
                    reason = f"street {street!r} is ambiguous ({'; '.join(names[:5])})"
                else:
                    res = self._on_street(chosen[0], chosen[1], hnp, hkey, housenumber, pc, cq)
                    if res[3] >= min_score:
                        if chosen[1] < 1.0 and normalize_street(street) not in self._d.names:
                            note = f"street {street!r} read as {self._d.streets[chosen[0]].name}"
                            return (*res[:5], f"{note}; {res[5]}" if res[5] else note)
                        return res
                    reason = f"best match {res[4]!r} scored {res[3]:.2f} < {min_score:.2f}"
                    if chosen[1] < min_score:  # the name itself is too far: no such street
                        return none_result(f"street {street!r} not found ({reason})")
            else:
                # a street that does not exist is no place: never a postcode or city pin
                return none_result(f"street {street!r} not found in the region's OSM data")
        elif housenumber:
            reason = "no street given"
        if pc:
            hit = self._d.postcodes.get(pc)
            if hit is not None:
                lat, lon, matched, pc_cities = hit
                score = round(self._m.agreement(frozenset(), pc_cities, "", cq), 4)
                if score >= min_score:
                    return (lat, lon, POSTCODE, score, matched, reason or "postcode only")
            reason = (
                f"{reason}; postcode {postcode!r} not found"
                if reason
                else f"postcode {postcode!r} not found"
            )
        if city:
            if cid is not None:
                c = self._d.cities[cid]
                score = round(cscore, 4)
                if score >= min_score:
                    return (c.lat, c.lon, CITY, score, c.name, reason or "city only")
            reason = f"{reason}; city {city!r} not found" if reason else f"city {city!r} not found"
        return none_result(reason or "empty query")

    def _on_street(
        self,
        sid: int,
        s_score: float,
        hnp: tuple[int, str, int] | None,
        hkey: str,
        housenumber: str,
        pc: str,
        cq: tuple[bool, int | None],
    ) -> Res:
        st = self._d.streets[sid]
        if hnp is not None:
            num, letter, end = hnp
            factor = 1.0
            gid = None
            keys = [hkey]
            if end:
                keys.append(hn_key(num, letter, 0))
            if letter:
                keys.append(str(num))
            for j, key in enumerate(keys):
                if pc:
                    gid = self._d.addr_pc.get((sid, key, pc))
                if gid is None:
                    gid = self._d.addr.get((sid, key))
                if gid is not None:
                    factor = 1.0 if j == 0 else F_HOUSENUMBER_APPROX
                    break
            if gid is None:
                factor = F_HOUSENUMBER_APPROX
                gid = self._d.num.get((sid, num))  # "5" when only "5 A", "5 B" or "5-7" exist
            if gid is None:
                for a, b, g in st.ranges:  # "16" inside "14-20"
                    if a <= num <= b and (num - a) % 2 == 0:
                        gid = g
                        break
            if gid is not None:
                score = round(
                    s_score
                    * factor
                    * self._m.agreement(self._d.g_postcodes[gid], self._d.g_cities[gid], pc, cq),
                    4,
                )
                reason = (
                    "" if factor == 1.0 else f"house number {housenumber!r} matched approximately"
                )
                return (
                    self._d.g_lat[gid],
                    self._d.g_lon[gid],
                    ADDRESS,
                    score,
                    self._d.g_matched[gid],
                    reason,
                )
            ip = self._m.interpolate(sid, num)
            if ip is not None:
                lat, lon, n0, n1 = ip
                score = round(s_score * self._m.agreement(st.postcodes, st.cities, pc, cq), 4)
                matched = f"{st.name} {hn_display(num, letter, 0)}" + self._d.tail(
                    Counter({pc: 1}) if pc in st.postcodes else st.postcodes, st.cities
                )
                return (
                    lat,
                    lon,
                    INTERPOLATED,
                    score,
                    matched,
                    f"interpolated between {n0} and {n1}",
                )
            near = self._m.nearest_anchor(st, num)
            if near is not None:
                n, lat, lon = near
                score = round(s_score * self._m.agreement(st.postcodes, st.cities, pc, cq), 4)
                matched = st.name + self._d.tail(
                    Counter({pc: 1}) if pc in st.postcodes else st.postcodes, st.cities
                )
                reason = f"house number {housenumber!r} not found on {st.name}; at its number {n}"
                return (lat, lon, STREET, score, matched, reason)
            reason = f"house number {housenumber!r} not found on {st.name}"
        elif housenumber:
            reason = f"house number {housenumber!r} not understood"
        else:
            reason = "no house number given"
        lat, lon = st.pc_rep.get(pc, (st.lat, st.lon)) if pc else (st.lat, st.lon)
        score = round(s_score * self._m.agreement(st.postcodes, st.cities, pc, cq), 4)
        matched = st.name + self._d.tail(
            Counter({pc: 1}) if pc in st.postcodes else st.postcodes, st.cities
        )
        return (lat, lon, STREET, score, matched, reason)

    def _resolve_text(self, text: str, postcode: str, city: str, min_score: float) -> Res:
        if not text:
            return self._resolve("", "", postcode, city, min_score)
        opts, hn, pc, t_city = self._m.parse_text(text)
        pc = pc or postcode
        t_city = t_city or city
        street = ""
        if opts:
            street = next((o for o in opts if normalize_street(o) in self._d.names), "")
            if not street and len(opts) > 1:
                # "Kaivopiha, Mannerheimntie": the best fuzzy option, longest on ties
                best = max(
                    opts,
                    key=lambda o: max((sc for _s, sc in self._m.street_candidates(o)), default=0.0),
                )
                if self._m.street_candidates(best):
                    street = best
            if not street:
                street = opts[-1]
                if not hn and not t_city:
                    # one bare name: a street, else a place
                    key = city_key(street)
                    if key in self._d.city_keys or not self._m.street_candidates(street):
                        street, t_city = "", street
        return self._resolve(street, hn, pc, t_city, min_score)

    # -- public queries ----------------------------------------------------------------

    def geocode(
        self,
        street: str | None = None,
        housenumber: str | int | None = None,
        postcode: str | None = None,
        city: str | None = None,
        *,
        min_score: float | None = None,
        online: OnlineGeocoder | bool | None = None,
    ) -> GeocodeResult:
        """Geocode a structured address.

        Parameters
        ----------
        street, housenumber, postcode, city
            Parts of the address; any may be missing. The street may be in any
            language OSM knows it in (``name``, ``name:sv``, ``old_name``...),
            abbreviated, in any case or misspelt.
        min_score
            Results scoring below this are ``none``; default: the
            ``geocode_min_score`` setting if present, else
            :data:`DEFAULT_MIN_SCORE`.
        online
            Try an online geocoder when the index finds nothing: an
            :class:`OnlineGeocoder`, ``False`` (never) or ``None`` (only if
            the ``allow_network`` setting is true).

        Returns
        -------
        GeocodeResult
            The best result down the fallback chain.
        """
        ms = resolve_min_score(min_score)
        res = self._resolve(clean(street), clean(housenumber), clean(postcode), clean(city), ms)
        if res[2] == NONE:
            geocoder = online_geocoder(online)
            if geocoder is not None:
                text = ", ".join(
                    x
                    for x in (
                        f"{clean(street)} {clean(housenumber)}".strip(),
                        clean(postcode),
                        clean(city),
                    )
                    if x
                )
                return geocoder.geocode(text) if text else GeocodeResult(*res)
        return GeocodeResult(*res)

    def has_street(self, name: str) -> bool:
        """Whether a text is a street name of the region (in any of its spellings).

        Parameters
        ----------
        name
            A street name as written (``"Hauptstr."`` is found as
            ``"Hauptstraße"``).

        Returns
        -------
        bool
            ``True`` when the normalised name is an OSM street name here.
        """
        return normalize_street(name) in self._d.names

    def lookup(
        self,
        street: str | None,
        housenumber: str | None,
        postcode: str | None,
        city: str | None,
    ) -> tuple[float, float, str, float] | None:
        """Geocode offline and return ``(lat, lon, precision, score)`` or ``None``.

        The importer's geocoder signature (``gcrm.importer.Geocoder``); never
        goes online.

        Parameters
        ----------
        street, housenumber, postcode, city
            As for :meth:`geocode`.

        Returns
        -------
        tuple or None
            ``None`` when the precision is ``none``.
        """
        r = self.geocode(street, housenumber, postcode, city, online=False)
        if r.lat is None or r.lon is None:
            return None
        return r.lat, r.lon, r.precision, r.score

    def geocode_text(
        self,
        text: str,
        *,
        min_score: float | None = None,
        online: OnlineGeocoder | bool | None = None,
    ) -> GeocodeResult:
        """Geocode a free-text address such as ``"Annankatu 5 A, 00120 Helsinki"``.

        Parameters
        ----------
        text
            Street and house number (either order), postcode and city, in any
            order, separated by commas or spaces. Text before the street part
            (a building or company name) is ignored unless it is part of an OSM
            street name.
        min_score, online
            As for :meth:`geocode`.

        Returns
        -------
        GeocodeResult
            The best result down the fallback chain.
        """
        t = clean(text)
        res = self._resolve_text(t, "", "", resolve_min_score(min_score))
        if res[2] == NONE and t:
            geocoder = online_geocoder(online)
            if geocoder is not None:
                return geocoder.geocode(t)
        return GeocodeResult(*res)

    def reverse(
        self, lat: float, lon: float, *, max_distance_m: float = _REVERSE_MAX_M
    ) -> GeocodeResult:
        """Return the address point nearest to a location.

        Parameters
        ----------
        lat, lon
            WGS84 coordinates.
        max_distance_m
            Farther addresses are not returned (precision ``none``).

        Returns
        -------
        GeocodeResult
            Precision ``address`` at the address point; ``score`` falls
            linearly from 1 at the point to 0 at ``max_distance_m``;
            ``reason`` gives the distance.
        """
        if self._d.tree is None:
            return GeocodeResult(*none_result("the index holds no addresses"))
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            msg = f"not a WGS84 location: lat={lat}, lon={lon}"
            raise InputError(msg)
        _, i = self._d.tree.query(ecef(np.array([lat]), np.array([lon]))[0])
        plat, plon = float(self._d.pt_lat[i]), float(self._d.pt_lon[i])
        d = float(haversine_m(lat, lon, plat, plon))
        if d > max_distance_m:
            return GeocodeResult(
                *none_result(f"nearest address is {d:.0f} m away (> {max_distance_m:.0f} m)")
            )
        score = round(max(0.0, 1.0 - d / max_distance_m), 4)
        return GeocodeResult(plat, plon, ADDRESS, score, self._d.pt_matched[i], f"{d:.1f} m away")

    def geocode_many(
        self,
        queries: pd.DataFrame | Sequence[str] | Sequence[Mapping[str, Any]],
        *,
        min_score: float | None = None,
        online: OnlineGeocoder | bool | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> pd.DataFrame:
        """Geocode many addresses (the fast batch path).

        Repeated queries are answered once; street names are matched once per
        distinct spelling (exact key look-up, then rapidfuzz on misses).

        Parameters
        ----------
        queries
            A DataFrame with a ``street`` column (and optionally
            ``housenumber``, ``postcode``, ``city``) or an ``address`` column
            of free text (``postcode``/``city`` columns then fill what the
            text lacks); or a sequence of free-text strings; or a sequence of
            mappings with those keys. Column names are case-insensitive.
        min_score, online
            As for :meth:`geocode`.
        progress
            Called with the number of rows done after each chunk.

        Returns
        -------
        pandas.DataFrame
            ``lat``, ``lon``, ``precision``, ``score``, ``matched``, ``reason``,
            one row per query, with the DataFrame's index.

        Raises
        ------
        InputError
            If a DataFrame has neither a ``street`` nor an ``address`` column.
        """
        df = _as_frame(queries)
        cols = {str(c).strip().lower(): c for c in df.columns}
        n = len(df)

        def column(name: str) -> list[Any]:
            return df[cols[name]].tolist() if name in cols else [""] * n

        if "street" in cols:
            text = False
            a, b, c, d = column("street"), column("housenumber"), column("postcode"), column("city")
        elif "address" in cols:
            text = True
            a, b, c, d = column("address"), [""] * n, column("postcode"), column("city")
        else:
            msg = "queries need a 'street' or an 'address' column"
            raise InputError(msg)
        ms = resolve_min_score(min_score)
        out: list[Res] = []
        memo: dict[tuple[str, str, str, str], Res] = {}
        for start in range(0, n, _BATCH_CHUNK):
            stop = min(n, start + _BATCH_CHUNK)
            for i in range(start, stop):
                q = (clean(a[i]), clean(b[i]), clean(c[i]), clean(d[i]))
                r = memo.get(q)
                if r is None:
                    if text:
                        r = self._resolve_text(q[0], q[2], q[3], ms)
                    else:
                        r = self._resolve(q[0], q[1], q[2], q[3], ms)
                    memo[q] = r
                out.append(r)
            if progress is not None:
                progress(stop - start)
        geocoder = online_geocoder(online) if any(r[2] == NONE for r in out) else None
        if geocoder is not None:
            for i, r in enumerate(out):
                if r[2] == NONE:
                    q = (clean(a[i]), clean(b[i]), clean(c[i]), clean(d[i]))
                    t = ", ".join(x for x in (f"{q[0]} {q[1]}".strip(), q[2], q[3]) if x)
                    if t:
                        g = geocoder.geocode(t)
                        out[i] = (g.lat, g.lon, g.precision, g.score, g.matched, g.reason)
        res = pd.DataFrame.from_records(
            out, columns=["lat", "lon", "precision", "score", "matched", "reason"], index=df.index
        )
        res["lat"] = res["lat"].astype(float)
        res["lon"] = res["lon"].astype(float)
        res["score"] = res["score"].astype(float)
        return res


def _as_frame(queries: pd.DataFrame | Sequence[str] | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return batch queries as a DataFrame (strings become an ``address`` column)."""
    if isinstance(queries, pd.DataFrame):
        return queries
    items = list(queries)
    if all(isinstance(q, str) for q in items):
        return pd.DataFrame({"address": items})
    return pd.DataFrame.from_records([dict(q) for q in items])


# --------------------------------------------------------------------------------------
# The default index
# --------------------------------------------------------------------------------------

_DEFAULT: dict[str, AddressIndex] = {}
_DEFAULT_LOCK = threading.Lock()


def default_index() -> AddressIndex:
    """Return the index of the settings' region (built or loaded once per process).

    Returns
    -------
    AddressIndex
        Cached per resolved OSM file, so changing ``GCRM_OSM_FILE`` (and
        calling ``get_settings.cache_clear()``) gives the new region's index.
    """
    p = resolve_osm_file(None).resolve()
    key = str(p)
    with _DEFAULT_LOCK:
        idx = _DEFAULT.get(key)
        if idx is None:
            idx = AddressIndex.from_osm(p)
            _DEFAULT[key] = idx
    return idx


# --------------------------------------------------------------------------------------
# Batch geocoding of a CSV file
# --------------------------------------------------------------------------------------

#: Columns :func:`geocode_file` adds to the input.
OUTPUT_COLUMNS: tuple[str, ...] = ("lat", "lon", "precision", "score", "matched", "reason")


def geocode_file(
    input_csv: str | Path,
    output_csv: str | Path,
    osm: str | Path | None = None,
    progress: bool = True,
    *,
    index: AddressIndex | None = None,
    min_score: float | None = None,
    online: OnlineGeocoder | bool | None = None,
) -> dict[str, Any]:
    """Geocode every row of a CSV file and write it out with coordinates.

    Parameters
    ----------
    input_csv
        UTF-8 CSV with an ``id`` column and either an ``address`` column (free
        text; optional ``postcode``/``city`` columns fill what it lacks) or a
        ``street`` column with optional ``housenumber``, ``postcode``,
        ``city``. Column names are case-insensitive.
    output_csv
        Written with every input row and column, plus ``lat``, ``lon``,
        ``precision``, ``score``, ``matched``, ``reason`` (unmatched rows:
        empty ``lat``/``lon``, precision ``none`` and a reason).
    osm
        OSM file to geocode against; ``None`` for the settings' region.
    progress
        Show a progress bar on stderr for long batches.
    index
        An index to use instead of building/loading one from ``osm``.
    min_score, online
        As for :meth:`AddressIndex.geocode`.

    Returns
    -------
    dict
        ``input``, ``output``, ``rows``, ``matched``, ``unmatched``,
        ``by_precision`` (count per precision), ``seconds``.

    Raises
    ------
    InputError
        If the file is missing, empty, not CSV, lacks the ``id`` or address
        column, or already has one of the output columns.
    """
    src = Path(input_csv)
    if not src.is_file():
        msg = f"{src}: file not found"
        raise InputError(msg)
    try:
        df = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        msg = f"{src}: the file is empty (expected a header with 'id' and 'address' columns)"
        raise InputError(msg) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = f"{src}: not a readable UTF-8 CSV file: {exc}"
        raise InputError(msg) from exc
    cols = {str(c).strip().lower(): c for c in df.columns}
    if "id" not in cols:
        msg = f"{src}: missing column 'id'"
        raise InputError(msg)
    if "address" not in cols and "street" not in cols:
        msg = (
            f"{src}: missing column 'address' (or 'street' with 'housenumber', 'postcode', 'city')"
        )
        raise InputError(msg)
    clash = [c for c in OUTPUT_COLUMNS if c in cols]
    if clash:
        msg = (
            f"{src}: already has output column(s) {', '.join(repr(c) for c in clash)}; rename them"
        )
        raise InputError(msg)
    t0 = time.perf_counter()
    idx = (
        index
        if index is not None
        else (AddressIndex.from_osm(osm) if osm is not None else default_index())
    )
    with tqdm(
        total=len(df),
        desc="geocoding",
        unit="addr",
        file=sys.stderr,
        disable=not progress or len(df) < _PROGRESS_MIN_ROWS,
    ) as bar:
        res = idx.geocode_many(df, min_score=min_score, online=online, progress=bar.update)
    out = df.copy()
    out["lat"] = res["lat"].round(7)
    out["lon"] = res["lon"].round(7)
    out["precision"] = res["precision"]
    out["score"] = res["score"].round(3)
    out["matched"] = res["matched"]
    out["reason"] = res["reason"]
    dst = Path(output_csv)
    dst.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(dst, index=False, encoding="utf-8")
    counts = res["precision"].value_counts()
    by_precision = {p: int(counts.get(p, 0)) for p in PRECISIONS}
    return {
        "input": str(src),
        "output": str(dst),
        "rows": len(df),
        "matched": len(df) - by_precision[NONE],
        "unmatched": by_precision[NONE],
        "by_precision": by_precision,
        "seconds": round(time.perf_counter() - t0, 3),
    }
