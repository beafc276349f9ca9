"""Sales territories: import, drawing, account assignment and balanced building.

Territories come from an uploaded GeoJSON file (:func:`read_territories_geojson`),
from shapes drawn on the map (:func:`territories_from_drawings`) or from the
automatic builder (:func:`build_territories`). Accounts are assigned by a
spatial join (:func:`assign_accounts`): each located account gets the one
territory that covers it, and the accounts outside every territory (or in
several overlapping ones) are reported.

The builder splits a region into K territories, one per rep, seeded at the
reps' home bases:

1. *Units*: the distinct account locations inside the region, each with its
   Voronoi cell clipped to the region (the cells tile the region), and the
   cells' adjacency (a shared edge).
2. *Capacitated assignment*: a mixed-integer program (HiGHS through
   :func:`scipy.optimize.milp`) gives every unit to one territory, minimising
   the moment of inertia of Hess et al. (1965), ``load x (drive time from the
   territory's home base)^2``, with every territory's load within
   ``tolerance`` of the mean load. The load is the *workload* (visit time
   plus drive time per planning period) or the *potential* value. Weighting
   the drive time by the load itself keeps the solver from meeting the
   balance with heavy units far away, so territories come out compact
   around their reps.
3. *Contiguity repair and local improvement*: units cut off from their
   territory's seed are handed to an adjacent territory, then boundary units
   move between neighbouring territories (never cutting a territory in two)
   while the load balance improves, then while a mix of drive cost and total
   border length drops within the balance target.
4. *Polygons*: each territory is the union of its units' cells: the
   territories tile the region, do not overlap, and are each one polygon.

The result (:class:`TerritoryPlan`) reports the balance (max/min of
workload and of potential) and compactness (Polsby-Popper, ``4 pi A / P^2``:
1 for a disc). :func:`build_and_save_territories` runs it on the database
and saves the territories and the accounts' assignment.

Workload of an account, in minutes per planning period (``period_days``)::

    visits = period_days / visit_every_days   (1 when there is no target, 0 if do-not-contact)
    workload = visits * (visit_minutes + 2 * drive_from_home / stops_per_day)

that is, each visit also carries its share of a day's round trip from the
rep's home base.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm._errors import InputError
from gcrm.density import drive_times, haversine_m, located, metric_crs, voronoi_cells
from gcrm.territory_rule import holding_territory

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor

__all__ = [
    "BALANCES",
    "TerritoryAssignment",
    "TerritoryPlan",
    "account_workload",
    "assign_accounts",
    "build_and_save_territories",
    "build_territories",
    "check_territories",
    "import_territories",
    "polsby_popper",
    "read_territories_geojson",
    "save_and_assign",
    "territories_from_drawings",
]

#: What the builder can balance.
BALANCES: tuple[str, ...] = ("workload", "potential")

#: Speed (km/h) of straight-line drive estimates when no road graph is given.
CROW_FLY_KPH = 25.0

_MIN_SHARED_EDGE_M = 0.01  # cells sharing less than this touch at a point only
_CUT_WEIGHT = 3.0  # weight of border length against drive cost in the local search
_MIN_WEIGHT = 0.05  # assignment weight of a unit with no load, relative to the mean


# --------------------------------------------------------------------------- geometry


def polsby_popper(geometry: BaseGeometry) -> float:
    """Return the Polsby-Popper compactness ``4 pi A / P^2`` of a polygon.

    Parameters
    ----------
    geometry
        A polygon in a metric (projected) CRS.

    Returns
    -------
    float
        1 for a disc, about 0.785 for a square, towards 0 for long or
        ragged shapes; 0 for an empty geometry.
    """
    perimeter = geometry.length
    if geometry.is_empty or perimeter <= 0:
        return 0.0
    return float(4 * math.pi * geometry.area / perimeter**2)


def _parts_count(geometry: BaseGeometry) -> int:
    return len(shapely.get_parts(geometry)) if not geometry.is_empty else 0


def check_territories(territories: gpd.GeoDataFrame, *, key: str = "name") -> list[str]:
    """List what is wrong with a set of territory polygons.

    Parameters
    ----------
    territories
        Polygons with a ``key`` column (any CRS).
    key
        Column naming each territory.

    Returns
    -------
    list of str
        One message per problem: invalid or empty geometry, a territory in
        several pieces, two territories overlapping (more than 1 m²). Empty
        when all is well.
    """
    problems: list[str] = []
    if territories.empty:
        return problems
    frame = territories.to_crs(metric_crs(territories))
    geoms = np.asarray(frame.geometry.values, dtype=object)
    names = [str(n) for n in frame[key]]
    for name, g in zip(names, geoms, strict=True):
        if g is None or g.is_empty:
            problems.append(f"{name}: empty geometry")
        elif not g.is_valid:
            problems.append(f"{name}: invalid geometry ({shapely.is_valid_reason(g)})")
        elif _parts_count(g) > 1:
            problems.append(f"{name}: {_parts_count(g)} separate pieces")
    good = np.array([g is not None and not g.is_empty and g.is_valid for g in geoms])
    idx = np.flatnonzero(good)
    if len(idx) > 1:
        tree = shapely.STRtree(geoms[idx])
        a, b = tree.query(geoms[idx], predicate="intersects")
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            if i < j:
                area = shapely.intersection(geoms[idx[i]], geoms[idx[j]]).area
                if area > 1.0:
                    problems.append(f"{names[idx[i]]} and {names[idx[j]]} overlap by {area:.0f} m²")
    return problems


# --------------------------------------------------------------------------- input


def _territory_frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    data = {
        "name": pd.Series([r["name"] for r in rows], dtype=object),
        "owner": pd.Series([r["owner"] for r in rows], dtype=object),
    }
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=4326)


def read_territories_geojson(
    source: str | bytes | Path | Mapping[str, Any],
    *,
    name_field: str = "name",
    owner_field: str = "owner",
) -> gpd.GeoDataFrame:
    """Read territories from GeoJSON (a file, its text, or the parsed dict).

    Parameters
    ----------
    source
        Path of a ``.geojson`` file, GeoJSON text or bytes, or a
        FeatureCollection / Feature dict. Coordinates are WGS 84 (RFC 7946).
    name_field
        Property naming each territory.
    owner_field
        Property holding the owner's username (optional).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``owner``, geometry (EPSG:4326); Polygon and
        MultiPolygon features only.

    Raises
    ------
    InputError
        When the input is not GeoJSON, a feature is not a polygon or has no
        name, or two features share a name.
    """
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{") and len(source) < 4096
    ):
        path = Path(source)
        if not path.is_file():
            msg = f"territory file not found: {path}"
            raise InputError(msg)
        source = path.read_bytes()
    if isinstance(source, bytes | str):
        try:
            data = json.loads(source)
        except (ValueError, UnicodeDecodeError) as exc:
            msg = f"territories: not valid GeoJSON ({exc})"
            raise InputError(msg) from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise InputError("territories: GeoJSON must be a FeatureCollection or a Feature")
    features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
    if data.get("type") not in ("FeatureCollection", "Feature") or not isinstance(features, list):
        raise InputError("territories: GeoJSON must be a FeatureCollection or a Feature")
    rows = []
    for n, feature in enumerate(features, start=1):
        props = (feature or {}).get("properties") or {}
        try:
            geom = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError):
            msg = f"territories: feature {n} has no valid geometry"
            raise InputError(msg) from None
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            msg = f"territories: feature {n} is a {geom.geom_type}, not a polygon"
            raise InputError(msg)
        name = str(props.get(name_field) or "").strip()
        if not name:
            msg = f"territories: feature {n} has no {name_field!r} property"
            raise InputError(msg)
        owner = props.get(owner_field)
        rows.append(
            {"name": name, "owner": str(owner).strip() if owner else None, "geometry": geom}
        )
    names = [r["name"] for r in rows]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        msg = f"territories: duplicate name(s) {', '.join(dup)}"
        raise InputError(msg)
    if not rows:
        raise InputError("territories: the GeoJSON holds no feature")
    return _territory_frame(rows)


def territories_from_drawings(
    drawn: Iterable[Mapping[str, Any]],
    names: Sequence[str],
    owners: Sequence[str | None] | None = None,
) -> gpd.GeoDataFrame:
    """Turn polygons drawn on the map into territories.

    Parameters
    ----------
    drawn
        GeoJSON features as streamlit-folium returns them (``all_drawings``);
        features that are not polygons are skipped.
    names
        A name per polygon, in drawing order.
    owners
        Usernames per polygon (optional).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``owner``, geometry (EPSG:4326).

    Raises
    ------
    InputError
        When the number of names differs from the number of polygons.
    """
    polys = []
    for feature in drawn or []:
        geom = (feature or {}).get("geometry")
        if not geom:
            continue
        shape = shapely.make_valid(shapely.geometry.shape(geom))
        if shape.geom_type in ("Polygon", "MultiPolygon"):
            polys.append(shape)
    if len(names) != len(polys):
        msg = f"{len(polys)} polygon(s) drawn but {len(names)} name(s) given"
        raise InputError(msg)
    owner_list = list(owners) if owners is not None else [None] * len(polys)
    rows = [
        {"name": str(n).strip(), "owner": o, "geometry": p}
        for n, o, p in zip(names, owner_list, polys, strict=True)
    ]
    return _territory_frame(rows)


# --------------------------------------------------------------------------- assignment


@dataclasses.dataclass(frozen=True)
class TerritoryAssignment:
    """Which territory each account falls in.

    Attributes
    ----------
    territory
        Account id → territory name (``None`` when in none), for every
        account given.
    outside
        Ids of located accounts in no territory.
    unlocated
        Ids of accounts without a location.
    ambiguous
        Ids of accounts covered by several (overlapping) territories; each
        got the first of them by name.
    counts
        Territory name → number of accounts.
    """

    territory: pd.Series
    outside: tuple[Any, ...]
    unlocated: tuple[Any, ...]
    ambiguous: tuple[Any, ...]
    counts: dict[str, int]

    def summary(self) -> dict[str, Any]:
        """Return the counts as a JSON-friendly dict.

        Returns
        -------
        dict
            ``accounts``, ``assigned``, ``outside``, ``unlocated``,
            ``ambiguous`` and ``per_territory``.
        """
        return {
            "accounts": len(self.territory),
            "assigned": int(self.territory.notna().sum()),
            "outside": len(self.outside),
            "unlocated": len(self.unlocated),
            "ambiguous": len(self.ambiguous),
            "per_territory": dict(self.counts),
        }


def _overlapping_pairs(terr: gpd.GeoDataFrame) -> set[frozenset[int]]:
    """Pairs of territory positions that overlap by more than 1 m² (not just touch)."""
    metric = terr.to_crs(metric_crs(terr))
    mgeoms = np.asarray(metric.geometry.values, dtype=object)
    tree = shapely.STRtree(mgeoms)
    a_idx, b_idx = tree.query(mgeoms, predicate="intersects")
    out: set[frozenset[int]] = set()
    for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True):
        if a < b and shapely.intersection(mgeoms[a], mgeoms[b]).area > 1.0:
            out.add(frozenset((a, b)))
    return out


def assign_accounts(
    accounts: gpd.GeoDataFrame, territories: gpd.GeoDataFrame, *, key: str = "name"
) -> TerritoryAssignment:
    """Assign accounts to territories by a spatial join.

    Parameters
    ----------
    accounts
        Accounts with an ``id`` column and point geometries (any CRS).
    territories
        Territory polygons with a ``key`` column (any CRS).
    key
        Column naming the territories.

    Returns
    -------
    TerritoryAssignment
        Every account either gets exactly one territory, by the one rule of
        :func:`gcrm.territory_rule.holding_territory` (the first by name
        among those covering it; points in an overlap, not on a shared
        border, are also reported as ambiguous) or is reported as outside or
        unlocated.
    """
    ids = accounts["id"].tolist()
    pts = located(accounts)
    terr = territories.to_crs(4326) if territories.crs is not None else territories
    terr = terr[[g is not None and not g.is_empty for g in terr.geometry]]
    order = np.argsort(np.asarray([str(n) for n in terr[key]]), kind="stable")
    terr = terr.iloc[order]
    names = [str(n) for n in terr[key]]
    result: dict[Any, str | None] = dict.fromkeys(ids)
    ambiguous: list[Any] = []
    if len(pts) and len(terr):
        geoms = list(terr.geometry.values)
        pt_ids = pts["id"].tolist()
        holder = holding_territory(
            names, geoms, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
        )
        for pid, t in zip(pt_ids, holder, strict=True):
            result[pid] = names[t] if t is not None else None
        # On a shared border a point is in both; only a true overlap is ambiguous.
        overlaps = _overlapping_pairs(terr)
        if overlaps:
            tree = shapely.STRtree(np.asarray(geoms, dtype=object))
            p_idx, t_idx = tree.query(
                np.asarray(pts.geometry.values, dtype=object), predicate="covered_by"
            )
            seen: dict[int, set[int]] = {}
            for p, t in zip(p_idx.tolist(), t_idx.tolist(), strict=True):
                seen.setdefault(p, set()).add(t)
            for p, ts in seen.items():
                if any(frozenset(pair) in overlaps for pair in itertools.combinations(ts, 2)):
                    ambiguous.append(pt_ids[p])
    located_ids = set(pts["id"].tolist())
    territory = pd.Series(result, dtype=object, name="territory")
    territory.index.name = "id"
    outside = tuple(i for i in ids if i in located_ids and result[i] is None)
    unlocated = tuple(i for i in ids if i not in located_ids)
    counts = dict.fromkeys(names, 0)
    for v in result.values():
        if v is not None:
            counts[v] += 1
    return TerritoryAssignment(territory, outside, unlocated, tuple(ambiguous), counts)


# --------------------------------------------------------------------------- workload


def account_workload(
    accounts: pd.DataFrame,
    drive_s: np.ndarray | None = None,
    *,
    period_days: float = 365.0,
    stops_per_day: float = 6.0,
) -> np.ndarray:
    """Workload of accounts in minutes per planning period (see the module notes).

    Parameters
    ----------
    accounts
        Accounts with ``visit_minutes``, ``visit_every_days`` and
        ``do_not_contact``.
    drive_s
        Drive time (s) from the rep's home base to each account, or
        ``(K, N)`` times from K home bases; ``None`` counts visit time only.
    period_days
        Length of the planning period.
    stops_per_day
        Visits per day: each visit carries ``2 / stops_per_day`` of the
        round trip from home.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` or ``(K, N)`` minutes.
    """
    visits, minutes = _visits(accounts, period_days)
    if drive_s is None:
        return visits * minutes
    drive_min = np.nan_to_num(np.asarray(drive_s, dtype=float), posinf=0.0) / 60.0
    out: np.ndarray = visits * (minutes + 2.0 * drive_min / stops_per_day)
    return out


def _visits(accounts: pd.DataFrame, period_days: float) -> tuple[np.ndarray, np.ndarray]:
    every = pd.to_numeric(accounts["visit_every_days"], errors="coerce").to_numpy(float)
    visits = np.where(
        np.isfinite(every) & (every > 0), period_days / np.where(every > 0, every, 1), 1.0
    )
    if "do_not_contact" in accounts.columns:
        dnc = accounts["do_not_contact"].fillna(False).astype(bool).to_numpy()
        visits = np.where(dnc, 0.0, visits)
    minutes = pd.to_numeric(accounts["visit_minutes"], errors="coerce").fillna(30.0).to_numpy(float)
    return visits, minutes


# --------------------------------------------------------------------------- builder


@dataclasses.dataclass(frozen=True)
class TerritoryPlan:
    """The territories the builder proposes.

    Attributes
    ----------
    territories
        One row per territory: ``name``, ``owner``, ``seed_lat``,
        ``seed_lon``, ``accounts``, ``workload_min`` (minutes per period),
        ``potential``, ``area_km2``, ``polsby_popper``, ``contiguous`` and the
        polygon (EPSG:4326).
    assignment
        Account id → territory name, for the accounts inside the region.
    unassigned
        Ids of accounts left out: without a location or outside the region.
    balance
        ``"workload"`` or ``"potential"``.
    seconds
        Time taken.
    """

    territories: gpd.GeoDataFrame
    assignment: pd.Series
    unassigned: tuple[Any, ...]
    balance: str
    seconds: float

    @staticmethod
    def _ratio(values: pd.Series) -> float:
        lo, hi = float(values.min()), float(values.max())
        return hi / lo if lo > 0 else math.inf

    @property
    def workload_max_min(self) -> float:
        """Largest territory workload over the smallest."""
        return self._ratio(self.territories["workload_min"])

    @property
    def potential_max_min(self) -> float:
        """Largest territory potential over the smallest."""
        return self._ratio(self.territories["potential"])

    @property
    def contiguous(self) -> bool:
        """Whether every territory is one polygon."""
        return bool(self.territories["contiguous"].all())

    def summary(self) -> dict[str, Any]:
        """Return the plan's figures as a JSON-friendly dict.

        Returns
        -------
        dict
            ``territories``, ``balance``, ``workload_max_min``,
            ``potential_max_min``, ``polsby_popper_min``,
            ``polsby_popper_mean``, ``contiguous``, ``accounts``,
            ``unassigned``, ``seconds`` and ``per_territory`` (name, owner,
            accounts, workload_min, potential, polsby_popper).
        """
        t = self.territories
        return {
            "territories": len(t),
            "balance": self.balance,
            "workload_max_min": round(self.workload_max_min, 4),
            "potential_max_min": round(self.potential_max_min, 4),
            "polsby_popper_min": round(float(t["polsby_popper"].min()), 4),
            "polsby_popper_mean": round(float(t["polsby_popper"].mean()), 4),
            "contiguous": self.contiguous,
            "accounts": int(self.assignment.notna().sum()),
            "unassigned": len(self.unassigned),
            "seconds": round(self.seconds, 3),
            "per_territory": [
                {
                    "name": r["name"],
                    "owner": r["owner"],
                    "accounts": int(r["accounts"]),
                    "workload_min": round(float(r["workload_min"]), 1),
                    "potential": round(float(r["potential"]), 2),
                    "polsby_popper": round(float(r["polsby_popper"]), 4),
                }
                for _, r in t.iterrows()
            ],
        }


@dataclasses.dataclass
class _Units:
    """Distinct account locations inside the region, with their cells."""

    xy: np.ndarray  # (S, 2) metric
    lat: np.ndarray
    lon: np.ndarray
    cells: np.ndarray  # main piece of each unit's cell (Polygon)
    orphans: list[BaseGeometry]  # other pieces of clipped cells
    neighbours: list[dict[int, float]]  # adjacent unit -> shared edge length (m)
    site_of: np.ndarray  # unit of each inside account


def _units(pts: gpd.GeoDataFrame, region_m: BaseGeometry, crs: Any) -> _Units:
    proj = pts.to_crs(crs)
    xy = np.round(shapely.get_coordinates(np.asarray(proj.geometry.values, dtype=object)), 2)
    uniq, site_of = np.unique(xy, axis=0, return_inverse=True)
    site_of = site_of.ravel()
    cells = voronoi_cells(uniq, region_m)
    main = np.empty(len(uniq), dtype=object)
    orphans: list[BaseGeometry] = []
    site_pts = shapely.points(uniq)
    for s, cell in enumerate(cells):
        parts = [p for p in shapely.get_parts(cell) if p.area > 0]
        if not parts:
            main[s] = shapely.Polygon()
            continue
        inside = [p for p in parts if p.covers(site_pts[s])]
        keep = inside[0] if inside else max(parts, key=lambda p: p.area)
        main[s] = keep
        orphans.extend(p for p in parts if p is not keep)
    neighbours: list[dict[int, float]] = [{} for _ in range(len(uniq))]
    tree = shapely.STRtree(main)
    a, b = tree.query(main, predicate="intersects")
    pairs = (a < b) & ~shapely.is_empty(main[a]) & ~shapely.is_empty(main[b])
    a, b = a[pairs], b[pairs]
    shared = shapely.length(shapely.intersection(main[a], main[b]))
    edge = shared > _MIN_SHARED_EDGE_M
    for i, j, length in zip(a[edge].tolist(), b[edge].tolist(), shared[edge].tolist(), strict=True):
        neighbours[i][j] = length
        neighbours[j][i] = length
    lon, lat = shapely.get_coordinates(
        gpd.GeoSeries(shapely.points(uniq), crs=crs).to_crs(4326).values
    ).T
    return _Units(uniq, lat, lon, main, orphans, neighbours, site_of)


def _seed_units(units: _Units, seeds: pd.DataFrame, drive_s: np.ndarray, crs: Any) -> list[int]:
    """The unit each territory starts from: the one holding its home, else the nearest."""
    home_xy = shapely.get_coordinates(
        gpd.GeoSeries(gpd.points_from_xy(seeds["lon"], seeds["lat"]), crs=4326).to_crs(crs).values
    )
    chosen: list[int] = []
    for t in range(len(seeds)):
        home = shapely.Point(home_xy[t])
        holder = [s for s in range(len(units.cells)) if units.cells[s].covers(home)]
        order = holder + [int(s) for s in np.argsort(drive_s[t], kind="stable")]
        chosen.append(next(s for s in order if s not in chosen))
    return chosen


def _extra_seeds(units: _Units, seeds: pd.DataFrame, k: int) -> pd.DataFrame:
    """Add seeds at the units farthest from every seed so far (deterministic)."""
    lat, lon = units.lat, units.lon
    rows = seeds.reset_index(drop=True).to_dict("records")
    if not rows:  # the first seed: the unit nearest the units' centre
        first = int(np.argmin(np.hypot(*(units.xy - units.xy.mean(axis=0)).T)))
        rows.append({"owner": None, "lat": float(lat[first]), "lon": float(lon[first])})
    dist = np.min([haversine_m(r["lat"], r["lon"], lat, lon) for r in rows], axis=0)
    while len(rows) < k:
        s = int(np.argmax(dist))
        rows.append({"owner": None, "lat": float(lat[s]), "lon": float(lon[s])})
        dist = np.minimum(dist, haversine_m(lat[s], lon[s], lat, lon))
    return pd.DataFrame(rows)


def _solve_assignment(
    cost: np.ndarray,
    load: np.ndarray,
    seeds: list[int],
    tolerance: float,
    variable_load: bool,
    time_limit_s: float,
) -> np.ndarray | None:
    """Capacitated assignment (MILP): labels of the units, ``None`` when it fails."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array, csr_array, hstack

    k, s = cost.shape
    nx_ = k * s
    scale = float(cost.max()) or 1.0
    c = np.r_[cost.ravel() / scale, 0.0]
    # each unit in exactly one territory
    rows = np.tile(np.arange(s), k)
    one = coo_array((np.ones(nx_), (rows, np.arange(nx_))), shape=(s, nx_ + 1))
    # territory loads
    t_rows = np.repeat(np.arange(k), s)
    loads = coo_array((load.ravel(), (t_rows, np.arange(nx_))), shape=(k, nx_))
    lo = np.zeros(nx_ + 1)
    hi = np.ones(nx_ + 1)
    for t, u in enumerate(seeds):
        lo[t * s + u] = 1.0
    integrality = np.r_[np.ones(nx_), 0.0]
    if variable_load:
        # mean load A is a variable: (1 - tol) A <= load_t <= (1 + tol) A, sum load_t = K A
        hi[-1] = np.inf
        a_col = np.ones((k, 1))
        upper = hstack([loads, csr_array(-(1 + tolerance) * a_col)])
        lower = hstack([loads, csr_array(-(1 - tolerance) * a_col)])
        total = hstack(
            [csr_array(np.ones((1, k))) @ loads.tocsr(), csr_array(np.array([[-float(k)]]))]
        )
        constraints = [
            LinearConstraint(one, 1, 1),
            LinearConstraint(upper, -np.inf, 0),
            LinearConstraint(lower, 0, np.inf),
            LinearConstraint(total, 0, 0),
        ]
    else:
        mean = float(load[0].sum()) / k
        a = hstack([loads, csr_array(np.zeros((k, 1)))])
        constraints = [
            LinearConstraint(one, 1, 1),
            LinearConstraint(a, (1 - tolerance) * mean, (1 + tolerance) * mean),
        ]
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(lo, hi),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 1e-3, "disp": False},
    )
    if res.x is None:
        return None
    x = res.x[:nx_].reshape(k, s)
    return np.asarray(np.argmax(x, axis=0), dtype=np.int64)


def _components(members: set[int], neighbours: Any) -> list[set[int]]:
    """Connected parts of ``members``; ``neighbours[u]`` iterates ``u``'s neighbours."""
    left = set(members)
    out = []
    while left:
        start = left.pop()
        comp = {start}
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in neighbours[u]:
                if v in left:
                    left.remove(v)
                    comp.add(v)
                    queue.append(v)
        out.append(comp)
    return out


def _repair(
    labels: np.ndarray, neighbours: list[dict[int, float]], seeds: list[int], cost: np.ndarray
) -> np.ndarray:
    """Hand units cut off from their territory's seed to an adjacent territory."""
    labels = labels.copy()
    k = cost.shape[0]
    for t in range(k):
        for comp in _components(set(np.flatnonzero(labels == t).tolist()), neighbours):
            if seeds[t] not in comp:
                labels[list(comp)] = -1
    while (labels < 0).any():
        best: tuple[float, int, int] | None = None
        for u in np.flatnonzero(labels < 0).tolist():
            for t in {int(labels[v]) for v in neighbours[u] if labels[v] >= 0}:
                cand = (float(cost[t, u]), u, t)
                if best is None or cand < best:
                    best = cand
        if best is None:  # cut off from every seed (a region in pieces): nearest territory
            for u in np.flatnonzero(labels < 0).tolist():
                labels[u] = int(np.argmin(cost[:, u]))
            break
        labels[best[1]] = best[2]
    return labels


class _Search:
    """Local search: boundary moves between adjacent territories.

    A move hands one unit to an adjacent territory. No move empties a seed or
    cuts a territory in two. The search first shrinks the spread of loads
    until the max/min target is met, then lowers ``J = cost / C0 + 3 cut / P0``
    (``cost``: the assignment's load x drive time squared; ``cut``: length of
    border between territories, which keeps them compact; ``C0``, ``P0``: their
    starting values) without leaving the balance target.
    """

    def __init__(
        self,
        labels: np.ndarray,
        neighbours: list[dict[int, float]],
        seeds: list[int],
        cost: np.ndarray,
        load: np.ndarray,
    ) -> None:
        self.labels = labels.copy()
        self.neighbours = neighbours
        self.seeds = set(seeds)
        self.cost = cost
        self.load = load
        self.k = cost.shape[0]
        self.totals = np.array([load[t, self.labels == t].sum() for t in range(self.k)])
        units = np.arange(len(labels))
        c0 = float(cost[self.labels, units].sum())
        p0 = sum(
            length
            for u, nb in enumerate(neighbours)
            for v, length in nb.items()
            if u < v and self.labels[u] != self.labels[v]
        )
        self.w_cost = 1.0 / c0 if c0 > 0 else 0.0
        self.w_cut = _CUT_WEIGHT / p0 if p0 > 0 else 0.0

    def ratio(self, totals: np.ndarray | None = None) -> float:
        t = self.totals if totals is None else totals
        return float(t.max() / t.min()) if t.min() > 0 else math.inf

    def delta_j(self, u: int, a: int, b: int) -> float:
        """Change of the compactness objective when ``u`` goes from ``a`` to ``b``."""
        to_a = to_b = 0.0
        for v, length in self.neighbours[u].items():
            if self.labels[v] == a:
                to_a += length
            elif self.labels[v] == b:
                to_b += length
        d_cost = float(self.cost[b, u] - self.cost[a, u])
        return self.w_cost * d_cost + self.w_cut * (to_a - to_b)

    def can_leave(self, u: int, a: int) -> bool:
        """Whether territory ``a`` stays connected (and non-empty) without ``u``."""
        if u in self.seeds:
            return False
        same = [v for v in self.neighbours[u] if self.labels[v] == a]
        if not same:
            return False
        ring = set(same)
        # Sufficient: the neighbours in ``a`` are connected among themselves.
        local = {v: [w for w in self.neighbours[v] if w in ring] for v in ring}
        if len(_components(ring, local)) == 1:
            return True
        seen = {same[0]}
        queue = deque([same[0]])
        while queue and not ring <= seen:
            x = queue.popleft()
            for y in self.neighbours[x]:
                if y != u and y not in seen and self.labels[y] == a:
                    seen.add(y)
                    queue.append(y)
        return ring <= seen

    def moves(self) -> Iterable[tuple[int, int, int]]:
        for u in range(len(self.labels)):
            a = int(self.labels[u])
            if u in self.seeds:
                continue
            for b in {int(self.labels[v]) for v in self.neighbours[u]} - {a}:
                yield u, a, b

    def _after(self, u: int, a: int, b: int) -> np.ndarray:
        new = self.totals.copy()
        new[a] -= self.load[a, u]
        new[b] += self.load[b, u]
        return new

    def apply(self, u: int, a: int, b: int) -> None:
        self.labels[u] = b
        self.totals = self._after(u, a, b)

    def balance(self, target: float, max_moves: int) -> None:
        """Move units while the spread of loads shrinks, until ``target`` is met."""
        for _ in range(max_moves):
            if self.ratio() <= target:
                return
            spread = float(self.totals.max() - self.totals.min())
            candidates = []
            for u, a, b in self.moves():
                new = self._after(u, a, b)
                new_spread = float(new.max() - new.min())
                if new_spread < spread - 1e-9:
                    candidates.append((new_spread, self.delta_j(u, a, b), u, a, b))
            for cand in sorted(candidates):
                if self.can_leave(cand[2], cand[3]):
                    self.apply(*cand[2:])
                    break
            else:
                return

    def compact(self, target: float, max_sweeps: int) -> None:
        """Lower the objective while the load ratio stays within ``target``."""
        limit = max(target, self.ratio())
        for _ in range(max_sweeps):
            moved = False
            for u, a, b in list(self.moves()):
                if self.labels[u] != a:
                    continue
                if self.delta_j(u, a, b) >= -1e-12:
                    continue
                if self.ratio(self._after(u, a, b)) > limit or not self.can_leave(u, a):
                    continue
                self.apply(u, a, b)
                moved = True
            if not moved:
                return


def _attach_orphans(
    orphans: list[BaseGeometry], cells: np.ndarray, labels: np.ndarray, k: int
) -> list[list[BaseGeometry]]:
    """Give each stray piece of a clipped cell to the territory it shares most border with."""
    extra: list[list[BaseGeometry]] = [[] for _ in range(k)]
    pending = list(orphans)
    pieces = [list(cells[labels == t]) for t in range(k)]
    for _ in range(len(pending) + 1):
        if not pending:
            break
        still = []
        for piece in pending:
            shared = [
                sum(shapely.length(shapely.intersection(piece, q)) for q in pieces[t])
                for t in range(k)
            ]
            t = int(np.argmax(shared))
            if shared[t] > _MIN_SHARED_EDGE_M:
                extra[t].append(piece)
                pieces[t].append(piece)
            else:
                still.append(piece)
        if len(still) == len(pending):
            for piece in still:  # an island: the territory whose cells are nearest
                t = int(np.argmin([min(piece.distance(q) for q in pieces[t]) for t in range(k)]))
                extra[t].append(piece)
            break
        pending = still
    return extra


def build_territories(
    accounts: gpd.GeoDataFrame,
    seeds: pd.DataFrame,
    k: int | None = None,
    *,
    balance: str = "workload",
    region: BaseGeometry | None = None,
    G: nx.MultiDiGraph | None = None,
    names: Sequence[str] | None = None,
    tolerance: float = 0.05,
    period_days: float = 365.0,
    stops_per_day: float = 6.0,
    time_limit_s: float = 20.0,
) -> TerritoryPlan:
    """Split a region into K contiguous, compact territories balanced by workload or potential.

    Parameters
    ----------
    accounts
        Accounts (``id``, ``visit_minutes``, ``visit_every_days``,
        ``do_not_contact``, ``potential_value``, point geometry).
    seeds
        Reps' home bases: ``lat``, ``lon`` and optionally ``owner`` (username)
        and ``name``; territory ``t`` starts from seed ``t``. With fewer seeds
        than ``k``, more are placed at the accounts farthest from the seeds;
        with more, the first ``k`` are used.
    k
        Number of territories (default: one per seed).
    balance
        ``"workload"`` (visit plus drive time) or ``"potential"`` (value).
    region
        The polygon to split (EPSG:4326); default the accounts' convex hull
        grown by 200 m. Accounts outside it are left unassigned.
    G
        Road graph for drive times from the home bases; ``None`` uses
        straight-line distance at :data:`CROW_FLY_KPH`.
    names
        Territory names (default ``"<owner> territory"`` or ``"Territory i"``).
    tolerance
        Allowed deviation of each territory's load from the mean in the
        assignment (0.05: ±5 %, a max/min of at most 1.105).
    period_days, stops_per_day
        Workload model (see the module notes).
    time_limit_s
        Time limit of the MILP solver.

    Returns
    -------
    TerritoryPlan
        The territories and the accounts' assignment.

    Raises
    ------
    InputError
        On an unknown balance, no seed, ``k`` < 1, fewer account locations
        inside the region than ``k``, or no potential value to balance.
    """
    t0 = time.perf_counter()
    if balance not in BALANCES:
        msg = f"unknown balance {balance!r}: expected one of {', '.join(BALANCES)}"
        raise InputError(msg)
    seeds = seeds.dropna(subset=["lat", "lon"]).reset_index(drop=True)
    k = len(seeds) if k is None else int(k)
    if k < 1:
        msg = "territories: k must be at least 1 (or give home bases)"
        raise InputError(msg)
    if not 0 < tolerance < 1:
        msg = f"tolerance must be between 0 and 1, got {tolerance}"
        raise InputError(msg)
    pts = located(accounts)
    if region is None:
        if pts.empty:
            raise InputError("territories: no located account to build from")
        crs = metric_crs(pts)
        region_m = shapely.convex_hull(shapely.union_all(pts.to_crs(crs).geometry.values)).buffer(
            200.0
        )
    else:
        crs = metric_crs(region)
        region_m = gpd.GeoSeries([shapely.make_valid(region)], crs=4326).to_crs(crs).iloc[0]
    inside = (
        shapely.covers(region_m, np.asarray(pts.to_crs(crs).geometry.values, dtype=object))
        if len(pts)
        else np.zeros(0, dtype=bool)
    )
    pts = pts[inside]
    all_ids = accounts["id"].tolist()
    inside_ids = set(pts["id"].tolist())
    unassigned = tuple(i for i in all_ids if i not in inside_ids)
    units = _units(pts, region_m, crs)
    n_units = len(units.xy)
    if n_units < k:
        msg = f"territories: {n_units} account location(s) in the region, fewer than k={k}"
        raise InputError(msg)
    seeds = seeds.iloc[:k] if len(seeds) >= k else _extra_seeds(units, seeds, k)
    seeds = seeds.reset_index(drop=True)
    if "owner" not in seeds.columns:
        seeds["owner"] = None

    # Per-unit figures.
    if G is not None:
        drive = drive_times(G, seeds["lat"], seeds["lon"], units.lat, units.lon)
        finite = np.isfinite(drive)
        if not finite.all():  # unreachable units: worst reachable time plus straight line
            fallback = _crow_fly_s(seeds, units)
            drive = np.where(finite, drive, np.nanmax(np.where(finite, drive, np.nan)) + fallback)
    else:
        drive = _crow_fly_s(seeds, units)
    site_of = units.site_of
    count = np.bincount(site_of, minlength=n_units).astype(float)
    per_account = account_workload(
        pts, drive[:, site_of], period_days=period_days, stops_per_day=stops_per_day
    )
    workload = np.vstack([np.bincount(site_of, weights=w, minlength=n_units) for w in per_account])
    value = pd.to_numeric(pts["potential_value"], errors="coerce").fillna(0.0).clip(lower=0)
    potential = np.bincount(site_of, weights=value.to_numpy(float), minlength=n_units)
    if balance == "potential" and potential.sum() <= 0:
        raise InputError("territories: no potential value to balance")
    load = workload if balance == "workload" else np.tile(potential, (k, 1))
    # Hess et al.'s moment of inertia: load x (drive time)^2. Weighting by the
    # balanced load (not by the count) keeps the solver from picking heavy units
    # far away to meet the balance, which would scatter the territories.
    base = workload.min(axis=0) if balance == "workload" else potential
    weight = base / base.mean() + _MIN_WEIGHT if base.mean() > 0 else count
    cost = weight[None, :] * (drive / 60.0) ** 2
    seed_units = _seed_units(units, seeds, drive, crs)

    labels = _solve_assignment(
        cost, load, seed_units, tolerance, balance == "workload", time_limit_s
    )
    if labels is None:  # no feasible balanced assignment found: nearest home base
        labels = np.argmin(cost, axis=0)
        labels[seed_units] = np.arange(k)
    labels = _repair(labels, units.neighbours, seed_units, cost)
    search = _Search(labels, units.neighbours, seed_units, cost, load)
    target = (1 + tolerance) / (1 - tolerance)
    search.balance(target, max_moves=4 * n_units)
    search.compact(target, max_sweeps=50)
    labels = search.labels

    extra = _attach_orphans(units.orphans, units.cells, labels, k)
    rows = []
    for t in range(k):
        parts = [*units.cells[labels == t], *extra[t]]
        geom = shapely.union_all(np.asarray(parts, dtype=object))
        geom = shapely.make_valid(geom) if not geom.is_valid else geom
        owner = seeds.at[t, "owner"] if "owner" in seeds.columns else None
        owner = None if owner is None or pd.isna(owner) else str(owner)
        if names is not None:
            name = str(names[t])
        elif "name" in seeds.columns and isinstance(seeds.at[t, "name"], str):
            name = seeds.at[t, "name"]
        else:
            name = f"{owner} territory" if owner else f"Territory {t + 1}"
        members = labels == t
        rows.append(
            {
                "name": name,
                "owner": owner,
                "seed_lat": float(seeds.at[t, "lat"]),
                "seed_lon": float(seeds.at[t, "lon"]),
                "accounts": int(count[members].sum()),
                "workload_min": float(workload[t, members].sum()),
                "potential": float(potential[members].sum()),
                "area_km2": float(geom.area) / 1e6,
                "polsby_popper": polsby_popper(geom),
                "contiguous": _parts_count(geom) == 1,
                "geometry": geom,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_crs(4326)
    names_out = frame["name"].tolist()
    assignment = pd.Series(
        [names_out[labels[site_of[i]]] for i in range(len(pts))],
        index=pd.Index(pts["id"].tolist(), name="id"),
        dtype=object,
        name="territory",
    )
    return TerritoryPlan(frame, assignment, unassigned, balance, time.perf_counter() - t0)


def _crow_fly_s(seeds: pd.DataFrame, units: _Units) -> np.ndarray:
    return np.vstack(
        [
            haversine_m(a, b, units.lat, units.lon) / (CROW_FLY_KPH / 3.6)
            for a, b in zip(seeds["lat"], seeds["lon"], strict=True)
        ]
    )


# --------------------------------------------------------------------------- database


def save_and_assign(
    session: Session,
    actor: Actor,
    territories: gpd.GeoDataFrame,
    *,
    replace: bool = False,
    region: str | None = None,
    set_owners: bool = False,
) -> dict[str, Any]:
    """Save territories, then assign the actor's accounts to them by location.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    territories
        ``name``, optional ``owner`` and polygons (see
        :func:`gcrm.store.save_territories`).
    replace
        Delete the region's other territories first.
    region
        The region's name (default the actor's, or the only one).
    set_owners
        Also give each account its territory's owner.

    Returns
    -------
    dict
        ``saved`` (territory names), ``changed`` (accounts whose territory
        or owner changed), ``problems`` (:func:`check_territories`) and the
        assignment's :meth:`TerritoryAssignment.summary`, with the ids of
        ``outside_ids`` and ``ambiguous_ids``.
    """
    from gcrm.store import (
        accounts_frame,
        save_territories,
        set_account_territories,
        territories_frame,
    )

    problems = check_territories(territories) if len(territories) else []
    save_territories(session, actor, territories, replace=replace, region=region)
    visible = territories_frame(session, actor)
    accounts = accounts_frame(session, actor)
    result = assign_accounts(accounts, visible)
    id_of = dict(zip(visible["name"], visible["id"], strict=True))
    visible_names = set(visible["name"])
    current = dict(zip(accounts["id"], accounts["territory"], strict=True))
    wanted: dict[int, int | None] = {}
    for aid, name in result.territory.items():
        if name is not None:
            wanted[int(aid)] = int(id_of[name])
        elif current.get(aid) is None or current.get(aid) in visible_names:
            wanted[int(aid)] = None
    changed = set_account_territories(session, actor, wanted, set_owners=set_owners)
    return {
        "saved": [str(n) for n in territories["name"]],
        "changed": changed,
        "problems": problems,
        **result.summary(),
        "outside_ids": [int(i) for i in result.outside],
        "ambiguous_ids": [int(i) for i in result.ambiguous],
    }


def import_territories(
    session: Session,
    actor: Actor,
    source: str | bytes | Path | Mapping[str, Any],
    *,
    name_field: str = "name",
    owner_field: str = "owner",
    replace: bool = False,
    region: str | None = None,
    set_owners: bool = False,
) -> dict[str, Any]:
    """Load territories from GeoJSON, save them and assign the accounts.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    source
        See :func:`read_territories_geojson`.
    name_field, owner_field
        GeoJSON properties holding the name and the owner's username.
    replace, region, set_owners
        See :func:`save_and_assign`.

    Returns
    -------
    dict
        ``territories`` (how many were read) and what :func:`save_and_assign`
        returns.
    """
    frame = read_territories_geojson(source, name_field=name_field, owner_field=owner_field)
    result = save_and_assign(
        session, actor, frame, replace=replace, region=region, set_owners=set_owners
    )
    return {"territories": len(frame), **result}


def build_and_save_territories(
    session: Session,
    actor: Actor,
    k: int,
    balance: str = "workload",
    *,
    region: str | None = None,
    G: nx.MultiDiGraph | None = None,
    profile: str = "drive",
    replace: bool = True,
    set_owners: bool = False,
    tolerance: float = 0.05,
    time_limit_s: float = 20.0,
) -> dict[str, Any]:
    """Build K balanced territories for the actor's region and save them.

    The CLI's ``territories build``. Seeds are the region's reps' home bases
    (the first ``k`` by username; more are placed if there are fewer reps);
    the accounts are the actor's, drive times come from the region's road
    network.

    Parameters
    ----------
    session
        An open session; the caller commits.
    actor
        The acting user (needs ``territories``).
    k
        Number of territories.
    balance
        ``"workload"`` or ``"potential"``.
    region
        Region name (default the actor's region, or the only one).
    G
        Road graph; default :func:`gcrm.network.load_network` with ``profile``.
    profile
        Network profile when ``G`` is not given.
    replace
        Delete the region's other territories (default).
    set_owners
        Make each account's owner its territory's rep.
    tolerance, time_limit_s
        See :func:`build_territories`.

    Returns
    -------
    dict
        :meth:`TerritoryPlan.summary` (``territories``, ``workload_max_min``,
        ``potential_max_min``, ``polsby_popper_min``, ...) plus the saving's
        ``changed``, ``assigned``, ``outside`` and ``unlocated``.
    """
    from gcrm.auth import require
    from gcrm.store import accounts_frame, region_geometry, rep_home_bases

    require(actor, "territories")
    geom = region_geometry(session, actor, region)
    homes = rep_home_bases(session, actor, region=region)
    seeds = homes.rename(columns={"username": "owner"})[["owner", "lat", "lon"]]
    accounts = accounts_frame(session, actor)
    if G is None:
        from gcrm.network import load_network

        G = load_network(profile=profile)
    plan = build_territories(
        accounts,
        seeds,
        k,
        balance=balance,
        region=geom,
        G=G,
        tolerance=tolerance,
        time_limit_s=time_limit_s,
    )
    saved = save_and_assign(
        session,
        actor,
        plan.territories[["name", "owner", "geometry"]],
        replace=replace,
        region=region,
        set_owners=set_owners,
    )
    out = plan.summary()
    out.update(
        {
            "changed": saved["changed"],
            "assigned": saved["assigned"],
            "outside": saved["outside"],
            "unlocated": saved["unlocated"],
        }
    )
    return out
