"""Building the offline address index: OSM data in, plain lookup tables out.

:func:`build_address_data` turns address points, named streets and places
(read by :mod:`gcrm.osm`) into an :class:`AddressData`: streets (same-named
ways close together are one street), their name keys in every language and
spelling, cities, address groups (points sharing street and house number),
house-number anchors for interpolation, postcode areas and a k-d tree of the
points for reverse geocoding. :func:`load_address_data` caches the result on
disk, keyed by the OSM file's SHA-256, and maps the points' coordinates (the
k-d tree's data) from :mod:`gcrm.shared_arrays`, once per machine. Querying
lives in :mod:`gcrm.geocode`.
"""

from __future__ import annotations

import math
import os
import pickle
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from gcrm.geocode_text import (
    city_key,
    clean,
    hn_display,
    hn_key,
    norm_postcode,
    normalize_street,
    parse_housenumber,
)
from gcrm.geometry import ecef
from gcrm.osm import (
    LANG_SUFFIX,
    PLACE_RANK,
    cache_dir,
    file_digest,
    name_forms,
    read_address_points,
    read_streets_and_places,
)
from gcrm.shared_arrays import shared_arrays

__all__ = ["AddressData", "City", "Street", "build_address_data", "load_address_data"]

# Version of the pickled index layout: bump it when AddressData changes.
_FORMAT_VERSION = 4

_STREET_CLUSTER_M = 500.0  # same-named ways closer than this are one street
_ADDRESS_TO_STREET_M = 2000.0  # farther than this, addr:street is its own street


@dataclass
class Street:
    """A street: same-named ways close together, or an addr:street without ways."""

    name: str
    parts: list[np.ndarray]  # polylines, (k, 2) lon/lat; empty when known from addresses only
    lat: float = math.nan  # representative point on the street
    lon: float = math.nan
    postcodes: Counter[str] = field(default_factory=Counter)
    cities: Counter[int] = field(default_factory=Counter)
    pc_rep: dict[str, tuple[float, float]] = field(default_factory=dict)
    # parity -> (sorted numbers, lats, lons) of known house numbers, for interpolation
    anchors: dict[int, tuple[list[int], list[float], list[float]]] = field(default_factory=dict)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, group)
    n_addresses: int = 0


@dataclass
class City:
    """A place: a ``place=*`` feature, or an ``addr:city`` value without one."""

    name: str
    lat: float
    lon: float
    rank: int  # 0 a town of its own, 1 part of one


@dataclass
class AddressData:
    """Everything the index knows, as lookup tables (pickled in the disk cache).

    Address groups (points sharing a street and house number) are columns
    ``g_*`` indexed by group id; ``addr`` maps ``(street id, house-number
    key)`` to a group, ``addr_pc`` the same per postcode where one address
    has several, ``num`` ``(street id, number)`` to the group of a bare
    number when only lettered or ranged ones exist.
    """

    streets: list[Street] = field(default_factory=list)
    names: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    cities: list[City] = field(default_factory=list)
    city_keys: dict[str, int] = field(default_factory=dict)
    g_lat: list[float] = field(default_factory=list)
    g_lon: list[float] = field(default_factory=list)
    g_matched: list[str] = field(default_factory=list)
    g_postcodes: list[frozenset[str]] = field(default_factory=list)
    g_cities: list[frozenset[int]] = field(default_factory=list)
    g_size: list[int] = field(default_factory=list)
    addr: dict[tuple[int, str], int] = field(default_factory=dict)
    addr_pc: dict[tuple[int, str, str], int] = field(default_factory=dict)
    num: dict[tuple[int, int], int] = field(default_factory=dict)
    postcodes: dict[str, tuple[float, float, str, frozenset[int]]] = field(default_factory=dict)
    pc_width: int = 0  # numeric postcodes' usual width (0: none)
    pt_lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pt_lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pt_matched: list[str] = field(default_factory=list)
    tree: Any = None  # cKDTree over the points' ECEF coordinates, None without points

    def tail(self, pcs: Counter[str], cities: Counter[int]) -> str:
        """Return ``", 00120 Helsinki"`` from the most common postcode and city.

        Parameters
        ----------
        pcs, cities
            Postcodes and city ids with their counts.

        Returns
        -------
        str
            ``""`` when both are empty.
        """
        pc = pcs.most_common(1)[0][0] if pcs else ""
        city = self.cities[cities.most_common(1)[0][0]].name if cities else ""
        tail = f"{pc} {city}".strip()
        return f", {tail}" if tail else ""

    def street_label(self, sid: int) -> str:
        """Return ``"Hauptstraße in Heinersreuth"`` (the street's most common city).

        Parameters
        ----------
        sid
            Street id.

        Returns
        -------
        str
            The street's name, with its city when known.
        """
        st = self.streets[sid]
        if not st.cities:
            return st.name
        return f"{st.name} in {self.cities[st.cities.most_common(1)[0][0]].name}"


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


def build_address_data(
    points: pd.DataFrame,
    streets: Sequence[Mapping[str, Any]] = (),
    places: Sequence[Mapping[str, Any]] = (),
) -> AddressData:
    """Build the lookup tables from address points, streets and places.

    Parameters
    ----------
    points
        Address points as returned by :func:`gcrm.osm.read_address_points`.
    streets, places
        As returned by :func:`gcrm.osm.read_streets_and_places`.

    Returns
    -------
    AddressData
        The tables.
    """
    builder = _Builder()
    builder.build(points, streets, places)
    return builder.d


class _Builder:
    """Fills an :class:`AddressData` step by step (places, streets, points)."""

    def __init__(self) -> None:
        self.d = AddressData()

    def build(
        self,
        points: pd.DataFrame,
        streets: Sequence[Mapping[str, Any]],
        places: Sequence[Mapping[str, Any]],
    ) -> None:
        """Run every step in order."""
        self._build_places(places)
        self._build_streets(streets)
        pts = self._prepare_points(points)
        self._build_cities_from_points(pts)
        self._assign_streets(pts)
        self._build_groups(pts)
        self._build_postcodes(pts)
        self._build_reverse(pts)

    def _add_name(self, form: str, sid: int, weight: float) -> None:
        key = normalize_street(form)
        if not key:
            return
        lst = self.d.names.setdefault(key, [])
        for i, (s, w) in enumerate(lst):
            if s == sid:
                if weight > w:
                    lst[i] = (sid, weight)
                return
        lst.append((sid, weight))

    def _add_city(self, name: str, lat: float, lon: float, rank: int) -> int:
        cid = len(self.d.cities)
        self.d.cities.append(City(name, lat, lon, rank))
        return cid

    def _build_places(self, places: Sequence[Mapping[str, Any]]) -> None:
        ranked = sorted(places, key=lambda p: PLACE_RANK.get(p["tags"].get("place", ""), 2))
        for p in ranked:
            tags = p["tags"]
            rank = PLACE_RANK.get(tags.get("place", ""), 1)
            forms = name_forms(tags)
            if not forms:
                continue
            name = tags.get("name") or forms[0][0]
            cid = self._add_city(name, float(p["lat"]), float(p["lon"]), rank)
            for form, _w in forms:
                self.d.city_keys.setdefault(city_key(form), cid)

    def _build_streets(self, streets: Sequence[Mapping[str, Any]]) -> None:
        by_name: dict[str, list[tuple[dict[str, Any], list[np.ndarray]]]] = defaultdict(list)
        for s in streets:
            tags = dict(s["tags"])
            parts = [np.asarray(c, dtype=float).reshape(-1, 2) for c in s["coords"] if len(c)]
            forms = name_forms(tags)
            if not parts or not forms:
                continue
            name = tags.get("name") or forms[0][0]
            key = normalize_street(name)
            if key:
                by_name[key].append((tags, parts))
        for group in by_name.values():
            xyz = [ecef(np.concatenate(p)[:, 1], np.concatenate(p)[:, 0]) for _t, p in group]
            labels = _cluster(xyz, _STREET_CLUSTER_M) if len(group) > 1 else [0]
            clusters: dict[int, list[int]] = defaultdict(list)
            for i, lab in enumerate(labels):
                clusters[lab].append(i)
            for members in clusters.values():
                names = Counter(group[i][0].get("name", "") for i in members)
                parts = [part for i in members for part in group[i][1]]
                verts = np.concatenate(parts)
                lat, lon = _nearest_to_mean(verts[:, 1], verts[:, 0])
                sid = len(self.d.streets)
                self.d.streets.append(Street(names.most_common(1)[0][0], parts, lat, lon))
                for i in members:
                    for form, w in name_forms(group[i][0]):
                        self._add_name(form, sid, w)

    @staticmethod
    def _prepare_points(points: pd.DataFrame) -> pd.DataFrame:
        if points.empty or "lat" not in points.columns:
            return pd.DataFrame(
                columns=["lat", "lon", "street", "hn", "postcode", "city", "street_forms"]
            )
        df = pd.DataFrame(
            {
                "lat": pd.to_numeric(points["lat"], errors="coerce"),
                "lon": pd.to_numeric(points["lon"], errors="coerce"),
            }
        )

        def col(name: str) -> list[str]:
            if name not in points.columns:
                return [""] * len(points)
            return [clean(v) for v in points[name].tolist()]

        street = col("addr:street")
        place = col("addr:place")
        df["street"] = [s or p for s, p in zip(street, place, strict=True)]
        df["hn"] = col("addr:housenumber")
        df["postcode"] = [norm_postcode(v) for v in col("addr:postcode")]
        df["city"] = col("addr:city")
        lang_cols = [
            c
            for c in points.columns
            if c.startswith("addr:street:") and LANG_SUFFIX.match(c.split(":", 2)[2])
        ]
        extra = [col(c) for c in lang_cols]
        df["street_forms"] = (
            [tuple(e[i] for e in extra if e[i]) for i in range(len(points))]
            if extra
            else [()] * len(points)
        )
        return df[df["lat"].notna() & df["lon"].notna()].reset_index(drop=True)

    def _build_cities_from_points(self, pts: pd.DataFrame) -> None:
        city_ids: list[int] = []
        unknown: dict[str, list[int]] = defaultdict(list)
        names: dict[str, Counter[str]] = defaultdict(Counter)
        for i, c in enumerate(pts["city"].tolist()):
            key = city_key(c) if c else ""
            if not key or key.isdigit():
                city_ids.append(-1)
                continue
            cid = self.d.city_keys.get(key)
            if cid is None:
                unknown[key].append(i)
                names[key][c] += 1
                city_ids.append(-2)
            else:
                city_ids.append(cid)
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        for key, idx in unknown.items():
            cid = self._add_city(
                names[key].most_common(1)[0][0], float(lats[idx].mean()), float(lons[idx].mean()), 0
            )
            self.d.city_keys[key] = cid
            for i in idx:
                city_ids[i] = cid
        pts["city_id"] = city_ids

    def _assign_streets(self, pts: pd.DataFrame) -> None:
        """Give every address point a street id (-1 when it has no street)."""
        sids = np.full(len(pts), -1, dtype=np.int64)
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        by_key: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(pts["street"].tolist()):
            key = normalize_street(s) if s else ""
            if key:
                by_key[key].append(i)
        trees: dict[int, cKDTree] = {}
        orphans: dict[str, list[int]] = defaultdict(list)
        for key, idx in by_key.items():
            cands = [(s, w) for s, w in self.d.names.get(key, []) if self.d.streets[s].parts]
            if not cands:
                orphans[key].extend(idx)
                continue
            xyz = ecef(lats[idx], lons[idx])
            best = np.full(len(idx), np.inf)
            choice = np.full(len(idx), -1, dtype=np.int64)
            for s, w in cands:
                if s not in trees:
                    verts = np.concatenate(self.d.streets[s].parts)
                    trees[s] = cKDTree(ecef(verts[:, 1], verts[:, 0]))
                d, _ = trees[s].query(xyz)
                cost = d + (1.0 - w) * 10 * _ADDRESS_TO_STREET_M  # current names first
                better = (d <= _ADDRESS_TO_STREET_M) & (cost < best)
                best[better] = cost[better]
                choice[better] = s
            for j, i in enumerate(idx):
                if choice[j] >= 0:
                    sids[i] = choice[j]
                else:
                    orphans[key].append(i)
        # Streets known only from addresses (no named way nearby): cluster them too.
        street_col = pts["street"].tolist()
        for idx in orphans.values():
            singles = [ecef(lats[[i]], lons[[i]]) for i in idx]
            labels = _cluster(singles, _ADDRESS_TO_STREET_M) if len(idx) > 1 else [0]
            clusters: dict[int, list[int]] = defaultdict(list)
            for i, lab in zip(idx, labels, strict=True):
                clusters[lab].append(i)
            for members in clusters.values():
                name = Counter(street_col[i] for i in members).most_common(1)[0][0]
                lat, lon = _nearest_to_mean(lats[members], lons[members])
                sid = len(self.d.streets)
                self.d.streets.append(Street(name, [], lat, lon))
                for i in members:
                    sids[i] = sid
                    self._add_name(street_col[i], sid, 1.0)
        # Other-language forms on the points (addr:street:sv) name their street too.
        for i, forms in enumerate(pts["street_forms"].tolist()):
            if sids[i] >= 0:
                for form in forms:
                    self._add_name(form, int(sids[i]), 1.0)
        pts["sid"] = sids

    def _new_group(
        self,
        lats: np.ndarray,
        lons: np.ndarray,
        matched: str,
        pcs: Iterable[str],
        cities: Iterable[int],
    ) -> int:
        gid = len(self.d.g_lat)
        self.d.g_lat.append(float(lats.mean()))
        self.d.g_lon.append(float(lons.mean()))
        self.d.g_matched.append(matched)
        self.d.g_postcodes.append(frozenset(p for p in pcs if p))
        self.d.g_cities.append(frozenset(c for c in cities if c >= 0))
        self.d.g_size.append(len(lats))
        return gid

    def _build_groups(self, pts: pd.DataFrame) -> None:
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        pcs = pts["postcode"].tolist()
        cids = pts["city_id"].tolist()
        parsed = [parse_housenumber(h) if h else None for h in pts["hn"].tolist()]
        sids = pts["sid"].tolist()
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        by_num: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (sid, p) in enumerate(zip(sids, parsed, strict=True)):
            if sid < 0:
                continue
            st = self.d.streets[sid]
            st.n_addresses += 1
            if pcs[i]:
                st.postcodes[pcs[i]] += 1
            if cids[i] >= 0:
                st.cities[cids[i]] += 1
            if p is not None:
                groups[(sid, hn_key(*p))].append(i)
                by_num[(sid, p[0])].append(i)
        point_group = [-1] * len(pts)
        anchors: dict[tuple[int, int], dict[int, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for (sid, key), idx in groups.items():
            st = self.d.streets[sid]
            num, letter, end = parse_housenumber(key) or (0, "", 0)
            g_pcs = Counter(pcs[i] for i in idx if pcs[i])
            g_cities = Counter(cids[i] for i in idx if cids[i] >= 0)
            if not g_cities and st.cities:
                g_cities = Counter({st.cities.most_common(1)[0][0]: 1})
            head = f"{st.name} {hn_display(num, letter, end)}"
            gid = self._new_group(
                lats[idx], lons[idx], head + self.d.tail(g_pcs, g_cities), g_pcs, g_cities
            )
            self.d.addr[(sid, key)] = gid
            for i in idx:
                point_group[i] = gid
            if len(g_pcs) > 1:  # one address, several postcodes: keep them apart too
                for pc in g_pcs:
                    sub = [i for i in idx if pcs[i] == pc]
                    self.d.addr_pc[(sid, key, pc)] = self._new_group(
                        lats[sub],
                        lons[sub],
                        head + self.d.tail(Counter({pc: 1}), g_cities),
                        [pc],
                        g_cities,
                    )
            for n in (num, end) if end else (num,):
                anchors[(sid, n % 2)][n].extend(idx)
            if end:
                st.ranges.append((num, end, gid))
        for (sid, num), idx in by_num.items():
            if (sid, str(num)) in self.d.addr:
                continue
            st = self.d.streets[sid]
            g_pcs = Counter(pcs[i] for i in idx if pcs[i])
            g_cities = Counter(cids[i] for i in idx if cids[i] >= 0)
            self.d.num[(sid, num)] = self._new_group(
                lats[idx],
                lons[idx],
                f"{st.name} {num}" + self.d.tail(g_pcs, g_cities),
                g_pcs,
                g_cities,
            )
        for (sid, parity), nums in anchors.items():
            ordered = sorted(nums)
            self.d.streets[sid].anchors[parity] = (
                ordered,
                [float(lats[nums[n]].mean()) for n in ordered],
                [float(lons[nums[n]].mean()) for n in ordered],
            )
        # A representative point per street and postcode (for street precision).
        by_street_pc: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i, sid in enumerate(sids):
            if sid >= 0 and pcs[i]:
                by_street_pc[(sid, pcs[i])].append(i)
        for (sid, pc), idx in by_street_pc.items():
            st = self.d.streets[sid]
            mlat, mlon = float(lats[idx].mean()), float(lons[idx].mean())
            if st.parts:
                verts = np.concatenate(st.parts)
                k = math.cos(math.radians(mlat))
                j = int(np.argmin((verts[:, 1] - mlat) ** 2 + ((verts[:, 0] - mlon) * k) ** 2))
                st.pc_rep[pc] = (float(verts[j, 1]), float(verts[j, 0]))
            else:
                st.pc_rep[pc] = _nearest_to_mean(lats[idx], lons[idx])
        pts["group"] = point_group

    def _build_postcodes(self, pts: pd.DataFrame) -> None:
        lats, lons = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        by_pc: dict[str, list[int]] = defaultdict(list)
        for i, pc in enumerate(pts["postcode"].tolist()):
            if pc:
                by_pc[pc].append(i)
        cids = pts["city_id"].tolist()
        for pc, idx in by_pc.items():
            lat, lon = _nearest_to_mean(lats[idx], lons[idx])
            cities = Counter(cids[i] for i in idx if cids[i] >= 0)
            matched = f"{pc} {self.d.cities[cities.most_common(1)[0][0]].name}" if cities else pc
            self.d.postcodes[pc] = (lat, lon, matched, frozenset(cities))
        # Numeric postcodes of one width (a stray "000120" aside): pad short queries.
        widths = Counter(len(pc) if pc.isdigit() else -1 for pc in pts["postcode"] if pc)
        if widths:
            width, n = widths.most_common(1)[0]
            if width > 0 and n >= 0.9 * widths.total():
                self.d.pc_width = width

    def _build_reverse(self, pts: pd.DataFrame) -> None:
        self.d.pt_lat = pts["lat"].to_numpy(dtype=float)
        self.d.pt_lon = pts["lon"].to_numpy(dtype=float)
        groups = pts["group"].tolist() if len(pts) else []
        matched: list[str] = []
        for i, row in enumerate(pts.itertuples(index=False)):
            if groups[i] >= 0:
                matched.append(self.d.g_matched[groups[i]])
            else:
                p = parse_housenumber(row.hn) if row.hn else None
                head = " ".join(x for x in (row.street, hn_display(*p) if p else row.hn) if x)
                tail = " ".join(x for x in (row.postcode, row.city) if x)
                matched.append(", ".join(x for x in (head, tail) if x))
        self.d.pt_matched = matched
        self.d.tree = cKDTree(ecef(self.d.pt_lat, self.d.pt_lon)) if len(pts) else None


# --------------------------------------------------------------------------------------
# Geometry of clusters
# --------------------------------------------------------------------------------------


def _cluster(points: Sequence[np.ndarray], cell_m: float) -> list[int]:
    """Label items (each an array of ECEF points) by grid proximity (union-find)."""
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[int, int, int], int] = {}
    for i, xyz in enumerate(points):
        cells = {tuple(c) for c in np.floor(xyz / cell_m).astype(np.int64).tolist()}
        for cx, cy, cz in cells:
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for dz in (-1, 0, 1):
                        j = owner.get((cx + dx, cy + dy, cz + dz))
                        if j is not None:
                            ri, rj = find(i), find(j)
                            if ri != rj:
                                parent[ri] = rj
            owner.setdefault((cx, cy, cz), i)
    return [find(i) for i in range(len(points))]


def _nearest_to_mean(lats: np.ndarray, lons: np.ndarray) -> tuple[float, float]:
    """Return the point of a set nearest to its mean (a representative point on it)."""
    if len(lats) == 1:
        return float(lats[0]), float(lons[0])
    mlat, mlon = float(lats.mean()), float(lons.mean())
    k = math.cos(math.radians(mlat))
    i = int(np.argmin((lats - mlat) ** 2 + ((lons - mlon) * k) ** 2))
    return float(lats[i]), float(lons[i])


# --------------------------------------------------------------------------------------
# Reading and the disk cache
# --------------------------------------------------------------------------------------


def read_address_data(path: Path) -> AddressData:
    """Read an OSM file and build its tables (no cache).

    Parameters
    ----------
    path
        A checked OSM file.

    Returns
    -------
    AddressData
        The tables.
    """
    points = read_address_points(path)
    streets, places = read_streets_and_places(path)
    return build_address_data(points, streets, places)


def load_address_data(path: Path, *, cache: bool = True) -> AddressData:
    """Return the tables of an OSM file, from the disk cache when it has them.

    Parameters
    ----------
    path
        A checked OSM file (:func:`gcrm.osm.resolve_osm_file`).
    cache
        Read and write ``<data_dir>/cache/geocode/``, keyed by the file's
        SHA-256 (and the index format), so a changed file is re-indexed; an
        unreadable cache file is rebuilt.

    Returns
    -------
    AddressData
        The tables. With the cache, the address points' coordinates (and the
        k-d tree's data) are read-only memory maps shared by every process of
        the machine (:mod:`gcrm.shared_arrays`).
    """
    if not cache:
        return read_address_data(path)
    digest = file_digest(path)
    target = cache_dir("geocode") / f"index-{digest[:40]}-v{_FORMAT_VERSION}.pkl"
    data = None
    if target.is_file():
        try:
            with target.open("rb") as f:
                data = pickle.load(f)
        except Exception:  # truncated or foreign pickle: many error types
            data = None  # unreadable cache: rebuild it
    if not isinstance(data, AddressData):
        data = read_address_data(path)
        _write_cache(target, data)
    return _share_points(data, f"geocode{_FORMAT_VERSION}-{digest[:40]}")


def _write_cache(target: Path, data: AddressData) -> None:
    """Pickle the tables without the k-d tree (rebuilt on load over shared points)."""
    tree, data.tree = data.tree, None
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache only costs a rebuild
    finally:
        data.tree = tree


def _share_points(data: AddressData, name: str) -> AddressData:
    """Put the address points' coordinates and the k-d tree's data in shared arrays."""
    lat = np.asarray(data.pt_lat, dtype=float)
    lon = np.asarray(data.pt_lon, dtype=float)
    arr = shared_arrays(
        name, lambda: {"lat": lat, "lon": lon, "xyz": ecef(lat, lon).reshape(-1, 3)}
    )
    data.pt_lat, data.pt_lon = arr["lat"], arr["lon"]
    # copy_data=False: the tree searches the shared array instead of its own copy.
    data.tree = cKDTree(arr["xyz"], copy_data=False) if len(arr["lat"]) else None
    return data
