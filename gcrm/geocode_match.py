"""Matching queries against the address index: streets, cities, house numbers.

:class:`Matcher` answers the questions :class:`gcrm.geocode.AddressIndex` asks
while it resolves a query: which streets a name may mean (exact key, an
abbreviated start, then rapidfuzz), which city, which of several same-named
streets fits the postcode and city, where a house number lies between known
ones. It memoises name matches, so a batch matches each spelling once.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import Counter
from typing import Any

import numpy as np
import shapely
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from gcrm.geocode_index import AddressData, Street
from gcrm.geocode_text import city_key, norm_postcode, normalize_street, split_address
from gcrm.geometry import M_PER_DEG

__all__ = ["FUZZY_CUTOFF", "Matcher"]

#: Minimum similarity (0-100) of a fuzzy street or city name match: for streets the
#: mean of rapidfuzz's ``ratio`` and the OSA similarity, for cities ``ratio``.
FUZZY_CUTOFF = 82.0

# Score factors (multiplied together).
F_HOUSENUMBER_APPROX = 0.95  # letter/staircase or range had to be dropped
F_ABBREVIATED = 0.9  # street name given as the start of a name ("Kalevan.")
F_POSTCODE_MISMATCH = 0.85
F_CITY_MISMATCH = 0.9

_INTERPOLATION_SNAP_M = 60.0  # anchors farther than this from the street line: straight line
_MEMO_MAX = 200_000  # entries per memo before it is emptied (long-running apps)


def _remember(memo: dict[Any, Any], key: Any, value: Any, lock: threading.Lock) -> None:
    """Store a memoised answer, emptying the memo when it grows too large."""
    with lock:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[key] = value


class Matcher:
    """Name matching and house-number placement over one :class:`AddressData`.

    Thread-safe: the only state it changes is its memos, under a lock.

    Parameters
    ----------
    data
        The index's tables.
    """

    def __init__(self, data: AddressData) -> None:
        self.d = data
        self._lock = threading.Lock()
        self._street_memo: dict[str, list[tuple[int, float]]] = {}
        self._fuzzy_memo: dict[str, list[tuple[int, float]]] = {}
        self._city_memo: dict[str, tuple[int | None, float]] = {}
        self._text_memo: dict[str, tuple[tuple[str, ...], str, str, str]] = {}
        self._lines: dict[int, Any] = {}
        self._name_list = list(data.names)
        self._sorted_names = sorted(data.names)
        self._city_list = list(data.city_keys)

    def parse_text(self, text: str) -> tuple[tuple[str, ...], str, str, str]:
        """Split free text into (street options, house number, postcode, city), memoised."""
        memo = self._text_memo.get(text)
        if memo is not None:
            return memo
        res = split_address(text, self.d.postcodes.__contains__)
        _remember(self._text_memo, text, res, self._lock)
        return res

    def street_candidates(self, street: str) -> list[tuple[int, float]]:
        """Return the streets a name may mean, with a 0-1 name score (memoised per spelling).

        Exact key first; then, for a name ending in ``"."``, the streets whose
        key starts with it (``"Kalevan."``); then fuzzy matches.
        """
        memo = self._street_memo.get(street)
        if memo is not None:
            return memo
        key = normalize_street(street)
        out: list[tuple[int, float]] = []
        if key:
            out = self.d.names.get(key) or []
            if not out and street.endswith(".") and len(key) >= 4:
                out = self._prefix_candidates(key)
            if not out:
                out = self._fuzzy_candidates(key)
        _remember(self._street_memo, street, out, self._lock)
        return out

    def _prefix_candidates(self, key: str) -> list[tuple[int, float]]:
        """Return the streets whose key starts with ``key`` (``"Kalevan."``)."""
        names = self._sorted_names
        found: dict[int, float] = {}
        i = bisect.bisect_left(names, key)
        while i < len(names) and names[i].startswith(key) and len(found) < 20:
            for sid, w in self.d.names[names[i]]:
                found[sid] = max(found.get(sid, 0.0), round(F_ABBREVIATED * w, 4))
            i += 1
        return sorted(found.items(), key=lambda t: -t[1])

    def _fuzzy_candidates(self, key: str) -> list[tuple[int, float]]:
        """Return the streets of the best fuzzy name matches (memoised per key)."""
        memo = self._fuzzy_memo.get(key)
        if memo is not None:
            return memo
        # rapidfuzz's ratio pre-selects; the mean of ratio and the OSA similarity
        # (a transposition is one edit) ranks, so "Smionkatu" is Simonkatu.
        hits = process.extract(
            key, self._name_list, scorer=fuzz.ratio, limit=10, score_cutoff=FUZZY_CUTOFF - 15
        )
        scored = sorted(
            ((r + 100.0 * OSA.normalized_similarity(key, name)) / 2.0, name) for name, r, _ in hits
        )[::-1]
        out: list[tuple[int, float]] = []
        if scored and scored[0][0] >= FUZZY_CUTOFF:
            top = scored[0][0]
            seen: dict[int, float] = {}
            for score, name in scored:
                if score < top - 2.0:
                    break
                for sid, w in self.d.names[name]:
                    seen[sid] = max(seen.get(sid, 0.0), round(score / 100.0 * w, 4))
            out = sorted(seen.items(), key=lambda t: -t[1])
        _remember(self._fuzzy_memo, key, out, self._lock)
        return out

    def city_candidate(self, city: str) -> tuple[int | None, float]:
        """Return the city id a name means (exact key, else fuzzy) and its 0-1 score."""
        memo = self._city_memo.get(city)
        if memo is not None:
            return memo
        key = city_key(city)
        res: tuple[int | None, float] = (None, 0.0)
        if key:
            cid = self.d.city_keys.get(key)
            if cid is not None:
                res = (cid, 1.0)
            elif self._city_list:
                hit = process.extractOne(
                    key, self._city_list, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                )
                if hit is not None:
                    res = (self.d.city_keys[hit[0]], round(hit[1] / 100.0, 4))
        _remember(self._city_memo, city, res, self._lock)
        return res

    def norm_query_postcode(self, postcode: str) -> str:
        """Return a query's postcode key, zero-padded to the region's usual width."""
        pc = norm_postcode(postcode)
        if (
            self.d.pc_width
            and pc.isdigit()
            and len(pc) < self.d.pc_width
            and pc not in self.d.postcodes
        ):
            pc = pc.zfill(self.d.pc_width)  # leading zeros lost by a spreadsheet
        return pc

    def choose_street(
        self, cands: list[tuple[int, float]], hkey: str, pc: str, cid: int | None
    ) -> tuple[int, float] | None:
        """Return the street a query means, or ``None`` when several fit equally well."""
        if len(cands) == 1:
            return cands[0]
        streets = self.d.streets

        def fit(sid: int) -> tuple[bool, bool, bool, bool]:
            st = streets[sid]
            return (
                bool(pc) and pc in st.postcodes,
                cid is not None and cid in st.cities,
                bool(hkey) and (sid, hkey) in self.d.addr,
                st.n_addresses > 0,
            )

        ranked = sorted(((fit(sid), score, sid) for sid, score in cands), reverse=True)
        best_fit, best_score, best_sid = ranked[0]
        for f, score, _sid in ranked[1:]:
            if f == best_fit and score >= best_score - 0.02:
                return None  # e.g. two same-named streets and nothing to tell them apart
        return best_sid, best_score

    @staticmethod
    def agreement(
        pcs: frozenset[str] | Counter[str], cities: Any, pc: str, cq: tuple[bool, int | None]
    ) -> float:
        """Return the score factor of a query's postcode and city against a match."""
        f = 1.0
        if pc and pcs and pc not in pcs:
            f *= F_POSTCODE_MISMATCH
        penalize, cid = cq
        if penalize and cities and cid not in cities:
            f *= F_CITY_MISMATCH
        return f

    def _lines_of(self, sid: int) -> tuple[float, float, float, list[Any]]:
        """Return the merged polylines of a street in a local metric frame (memoised)."""
        got = self._lines.get(sid)
        if got is None:
            st = self.d.streets[sid]
            kx = math.cos(math.radians(st.lat)) * M_PER_DEG
            merged = shapely.line_merge(
                shapely.MultiLineString([p for p in st.parts if len(p) > 1])
            )
            geoms = list(getattr(merged, "geoms", [merged]))
            lines = [
                shapely.LineString(
                    np.column_stack(
                        [
                            (np.asarray(g.coords)[:, 0] - st.lon) * kx,
                            (np.asarray(g.coords)[:, 1] - st.lat) * M_PER_DEG,
                        ]
                    )
                )
                for g in geoms
                if not g.is_empty
            ]
            got = (st.lat, st.lon, kx, lines)
            with self._lock:
                self._lines[sid] = got
        return got

    def interpolate(self, sid: int, num: int) -> tuple[float, float, int, int] | None:
        """Return the position of ``num`` between the nearest known numbers of its parity."""
        st = self.d.streets[sid]
        a = st.anchors.get(num % 2)
        if a is None:
            return None
        nums, alat, alon = a
        i = bisect.bisect_left(nums, num)
        if i == 0 or i >= len(nums):
            return None
        if nums[i] == num:
            return alat[i], alon[i], num, num
        n0, n1 = nums[i - 1], nums[i]
        t = (num - n0) / (n1 - n0)
        lat0, lon0, lat1, lon1 = alat[i - 1], alon[i - 1], alat[i], alon[i]
        lat = lat0 + t * (lat1 - lat0)
        lon = lon0 + t * (lon1 - lon0)
        if st.parts and any(len(p) > 1 for p in st.parts):
            olat, olon, kx, lines = self._lines_of(sid)
            a_pt = shapely.Point((lon0 - olon) * kx, (lat0 - olat) * M_PER_DEG)
            b_pt = shapely.Point((lon1 - olon) * kx, (lat1 - olat) * M_PER_DEG)
            best = min(lines, key=lambda g: g.distance(a_pt) + g.distance(b_pt), default=None)
            if (
                best is not None
                and best.distance(a_pt) <= _INTERPOLATION_SNAP_M
                and best.distance(b_pt) <= _INTERPOLATION_SNAP_M
            ):
                sa, sb = best.project(a_pt), best.project(b_pt)
                p = best.interpolate(sa + t * (sb - sa))
                pa, pb = best.interpolate(sa), best.interpolate(sb)
                # keep the anchors' offset from the centre line (the row of buildings)
                x = p.x + (1 - t) * (a_pt.x - pa.x) + t * (b_pt.x - pb.x)
                y = p.y + (1 - t) * (a_pt.y - pa.y) + t * (b_pt.y - pb.y)
                lat, lon = olat + y / M_PER_DEG, olon + x / kx
        return lat, lon, n0, n1

    @staticmethod
    def nearest_anchor(st: Street, num: int) -> tuple[int, float, float] | None:
        """Return the known house number nearest to ``num`` (same parity first)."""
        best: tuple[int, int, float, float] | None = None
        for parity, (nums, alat, alon) in st.anchors.items():
            i = bisect.bisect_left(nums, num)
            for j in (i - 1, i):
                if 0 <= j < len(nums):
                    cost = abs(nums[j] - num) + (0 if parity == num % 2 else 10_000)
                    if best is None or cost < best[0]:
                        best = (cost, nums[j], alat[j], alon[j])
        return None if best is None else best[1:]
