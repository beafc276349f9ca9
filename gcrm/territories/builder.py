"""The territory builder: K balanced, contiguous, compact territories seeded at home bases.

See :mod:`gcrm.territories` for the method.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm._errors import InputError
from gcrm.density import drive_times, located
from gcrm.geometry import metric_crs
from gcrm.territories._search import Search, attach_orphans, repair, solve_assignment
from gcrm.territories._units import (
    CROW_FLY_KPH,
    Units,
    crow_fly_s,
    extra_seeds,
    make_units,
    seed_units_of,
)
from gcrm.territories.shapes import _parts_count, polsby_popper

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["BALANCES", "CROW_FLY_KPH", "TerritoryPlan", "account_workload", "build_territories"]

#: What the builder can balance.
BALANCES: tuple[str, ...] = ("workload", "potential")

_MIN_WEIGHT = 0.05  # assignment weight of a unit with no load, relative to the mean


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
    seeds, k = _checked_inputs(seeds, k, balance, tolerance)
    pts, region_m, crs = _points_in_region(accounts, region)
    inside_ids = set(pts["id"].tolist())
    unassigned = tuple(i for i in accounts["id"].tolist() if i not in inside_ids)
    units = make_units(pts, region_m, crs)
    n_units = len(units.xy)
    if n_units < k:
        msg = f"territories: {n_units} account location(s) in the region, fewer than k={k}"
        raise InputError(msg)
    seeds = seeds.iloc[:k] if len(seeds) >= k else extra_seeds(units, seeds, k)
    seeds = seeds.reset_index(drop=True)
    if "owner" not in seeds.columns:
        seeds["owner"] = None
    drive = _unit_drive_times(G, seeds, units)
    loads = _unit_loads(pts, units, drive, balance, k, period_days, stops_per_day)
    seed_units = seed_units_of(units, seeds, drive, crs)
    labels = _assign_units(units, loads, seed_units, tolerance, balance, time_limit_s)
    frame = _territory_frame(units, labels, seeds, names, loads, crs)
    names_out = frame["name"].tolist()
    assignment = pd.Series(
        [names_out[labels[units.site_of[i]]] for i in range(len(pts))],
        index=pd.Index(pts["id"].tolist(), name="id"),
        dtype=object,
        name="territory",
    )
    return TerritoryPlan(frame, assignment, unassigned, balance, time.perf_counter() - t0)


def _checked_inputs(
    seeds: pd.DataFrame, k: int | None, balance: str, tolerance: float
) -> tuple[pd.DataFrame, int]:
    """Return the located seeds and ``k``; raise :class:`InputError` on bad input."""
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
    return seeds, k


def _points_in_region(
    accounts: gpd.GeoDataFrame, region: BaseGeometry | None
) -> tuple[gpd.GeoDataFrame, BaseGeometry, Any]:
    """Return the located accounts inside the region, the region and its metric CRS."""
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
    return pts[inside], region_m, crs


def _unit_drive_times(G: nx.MultiDiGraph | None, seeds: pd.DataFrame, units: Units) -> np.ndarray:
    """Return drive seconds from each seed to each unit (straight line without a graph)."""
    if G is None:
        return crow_fly_s(seeds, units)
    drive = drive_times(G, seeds["lat"], seeds["lon"], units.lat, units.lon)
    finite = np.isfinite(drive)
    if not finite.all():  # unreachable units: worst reachable time plus straight line
        fallback = crow_fly_s(seeds, units)
        drive = np.where(finite, drive, np.nanmax(np.where(finite, drive, np.nan)) + fallback)
    return drive


@dataclasses.dataclass(frozen=True)
class _Loads:
    """Per-unit figures of the builder."""

    count: np.ndarray  # accounts per unit
    workload: np.ndarray  # (K, S) minutes per period when served from each seed
    potential: np.ndarray  # (S,) potential value
    load: np.ndarray  # (K, S) what is balanced
    cost: np.ndarray  # (K, S) the assignment's cost


def _unit_loads(
    pts: gpd.GeoDataFrame,
    units: Units,
    drive: np.ndarray,
    balance: str,
    k: int,
    period_days: float,
    stops_per_day: float,
) -> _Loads:
    """Return the units' workload, potential, balanced load and assignment cost."""
    n_units = len(units.xy)
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
    return _Loads(count, workload, potential, load, cost)


def _assign_units(
    units: Units,
    loads: _Loads,
    seed_units: list[int],
    tolerance: float,
    balance: str,
    time_limit_s: float,
) -> np.ndarray:
    """Return each unit's territory: balanced MILP, contiguity repair, local search."""
    k = len(seed_units)
    cost = loads.cost
    labels = solve_assignment(
        cost, loads.load, seed_units, tolerance, balance == "workload", time_limit_s
    )
    if labels is None:  # no feasible balanced assignment found: nearest home base
        labels = np.argmin(cost, axis=0)
        labels[seed_units] = np.arange(k)
    labels = repair(labels, units.neighbours, seed_units, cost)
    search = Search(labels, units.neighbours, seed_units, cost, loads.load)
    target = (1 + tolerance) / (1 - tolerance)
    search.balance(target, max_moves=4 * len(units.xy))
    search.compact(target, max_sweeps=50)
    return search.labels


def _territory_name(
    t: int, owner: str | None, seeds: pd.DataFrame, names: Sequence[str] | None
) -> str:
    if names is not None:
        return str(names[t])
    if "name" in seeds.columns and isinstance(seeds.at[t, "name"], str):
        return str(seeds.at[t, "name"])
    return f"{owner} territory" if owner else f"Territory {t + 1}"


def _territory_frame(
    units: Units,
    labels: np.ndarray,
    seeds: pd.DataFrame,
    names: Sequence[str] | None,
    loads: _Loads,
    crs: Any,
) -> gpd.GeoDataFrame:
    """Return one row per territory: its polygon (union of its cells) and figures."""
    k = len(seeds)
    extra = attach_orphans(units.orphans, units.cells, labels, k)
    rows = []
    for t in range(k):
        parts = [*units.cells[labels == t], *extra[t]]
        geom = shapely.union_all(np.asarray(parts, dtype=object))
        geom = shapely.make_valid(geom) if not geom.is_valid else geom
        owner = seeds.at[t, "owner"] if "owner" in seeds.columns else None
        owner = None if owner is None or pd.isna(owner) else str(owner)
        members = labels == t
        rows.append(
            {
                "name": _territory_name(t, owner, seeds, names),
                "owner": owner,
                "seed_lat": float(seeds.at[t, "lat"]),
                "seed_lon": float(seeds.at[t, "lon"]),
                "accounts": int(loads.count[members].sum()),
                "workload_min": float(loads.workload[t, members].sum()),
                "potential": float(loads.potential[members].sum()),
                "area_km2": float(geom.area) / 1e6,
                "polsby_popper": polsby_popper(geom),
                "contiguous": _parts_count(geom) == 1,
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_crs(4326)
