"""A planning problem as PyVRP data (:func:`build_model`), with the maps back.

How the model maps to PyVRP
---------------------------
- One depot per distinct start or end point of the reps; one vehicle type per
  rep and day with that day's shift as its time window (``tw_early``,
  ``tw_late``) and the maximum working time (plus the break) as its
  ``shift_duration``.
- One client per visit and service window: a visit has a window for each open
  interval of the day that can hold the whole visit (start no earlier than
  opening, end no later than closing). Since every day uses the same time
  axis, a visit whose windows are the same on every planned day is one
  client that any day's vehicle can serve; windows that differ by day become
  separate clients tied to their days. Alternatives of one visit form a
  mutually exclusive client group, required for required visits.
- Restrictions (a visit only on some days, or only by some reps, as fixed
  appointments are) use load dimensions: such a client delivers one unit in
  the restriction's dimension and only the allowed vehicles have capacity
  there. Fixed appointments have a zero-width window at their time.
- Prize collecting: optional visits carry a prize ``B (1 + 9 q)`` where ``q``
  is the visit's value quantile among the visits and ``B`` is at least four
  times the longest trip, so a visit is worth more than the detour to reach
  it: visits are dropped when the day is full, and the least valuable first
  (the most valuable visit counts as much as ten of the least valuable).
  Required visits are required clients or groups; if no plan holds them all,
  the problem is solved again with them as optional visits of a much larger
  prize, and those left out are reported.
- The objective is travel time (seconds; ``objective="distance"``: metres).
- The lunch break: every client also has a *lunch variant* at the same
  location (the visit followed by the break), an alternative in the visit's
  group with a bonus larger than any prize, delivering one unit in a "lunch"
  dimension where each vehicle has capacity one (see :mod:`gcrm.routing`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pyvrp import Client, ClientGroup, Depot, Location, ProblemData, VehicleType

from gcrm._errors import InputError
from gcrm.routing._times import secs
from gcrm.routing.hours import visit_windows
from gcrm.routing.plan import DroppedVisit
from gcrm.routing.problem import (
    REASON_APPOINTMENT,
    REASON_CLOSED,
    REASON_DNC,
    REASON_DUPLICATE,
    REASON_NO_DAY,
    REASON_NO_LOCATION,
    REASON_NO_REP,
    REASON_OUTSIDE_SHIFT,
    REASON_UNREACHABLE,
    PlanningProblem,
    Rep,
    Visit,
)

if TYPE_CHECKING:
    from gcrm.matrix import TravelMatrix

_BIG_TIME = 10**7  # stands for "unreachable" in the integer matrices
_VALUE_SPREAD = 9  # the most valuable visit is worth 1 + 9 times the least
_LUNCH_BONUS = 20  # times the base prize
_REQUIRED_PRIZE = 1_000  # times the base prize (fallback solve only)


@dataclass(frozen=True)
class ClientInfo:
    """What a PyVRP client stands for."""

    visit: int  # index into RoutingModel.visits
    early: int  # service-start window of the visit itself
    late: int
    lunch: bool  # the lunch variant (visit then break)


@dataclass(frozen=True)
class VehicleInfo:
    rep: int  # index into RoutingModel.reps
    day: int  # index into RoutingModel.dates


@dataclass(eq=False)
class RoutingModel:
    """A planning problem as PyVRP data, with the maps back to the problem.

    Attributes
    ----------
    data
        The PyVRP ``ProblemData`` (objective in ``distance``, time in
        ``duration``).
    visits, reps, dates
        The problem's plannable visits, reps and dates.
    clients
        What each PyVRP client stands for.
    vehicles
        Rep and day of each vehicle type.
    durations, distances
        Integer seconds (rounded up) and metres between model locations:
        depots first, then one location per visit.
    depot_of_rep
        ``(start, end)`` depot index of each rep.
    prizes
        Prize of each visit (for repairs).
    dropped
        Visits left out while building, with reasons.
    base_prize
        The prize unit ``B``.
    """

    data: Any
    visits: list[Visit]
    reps: list[Rep]
    dates: list[dt.date]
    clients: list[ClientInfo]
    vehicles: list[VehicleInfo]
    durations: np.ndarray
    distances: np.ndarray
    depot_of_rep: list[tuple[int, int]]
    prizes: list[int]
    dropped: list[DroppedVisit]
    base_prize: int
    num_depots: int
    travel: TravelMatrix | None = None

    def visit_location(self, visit: int) -> int:
        """Model location of a visit."""
        return self.num_depots + visit

    def with_required_as_prizes(self) -> RoutingModel:
        """Return the same model with required visits made optional with a huge prize."""
        big = _REQUIRED_PRIZE * self.base_prize
        data = self.data
        clients = []
        for c, info in zip(data.clients(), self.clients, strict=True):
            v = self.visits[info.visit]
            prize = c.prize + (big if v.is_required else 0)
            clients.append(
                Client(
                    c.location,
                    delivery=list(c.delivery),
                    service_duration=c.service_duration,
                    tw_early=c.tw_early,
                    tw_late=c.tw_late,
                    prize=prize,
                    required=False,
                    group=c.group,
                    name=c.name,
                )
            )
        groups = [ClientGroup(list(g.clients), required=False, name=g.name) for g in data.groups()]
        new = dataclasses.replace(self, data=data.replace(clients=clients, groups=groups))
        return new


def _quantiles(values: Sequence[float]) -> np.ndarray:
    """Average-rank quantiles in ``[0, 1]`` (ties share their mean rank)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n <= 1:
        return np.ones(n)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(n)
    sv = v[order]
    starts = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]])
    ends = np.r_[starts[1:], n]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b - 1) / 2  # 0-based mean rank of the tie
    out: np.ndarray = ranks / (n - 1)
    return out


def build_model(
    problem: PlanningProblem,
    matrix: TravelMatrix,
    *,
    objective: str = "time",
) -> RoutingModel:
    """Turn a planning problem and its travel matrix into PyVRP data.

    Parameters
    ----------
    problem
        The problem (validated here).
    matrix
        Travel times and distances between the rep locations and the visits,
        in the order of :func:`model_points`.
    objective
        ``"time"`` or ``"distance"``.

    Returns
    -------
    RoutingModel
        The data and the maps back (see :mod:`gcrm.routing` for the mapping).

    Raises
    ------
    InputError
        For a malformed problem or an unknown objective.
    """
    problem.validate()
    if objective not in ("time", "distance"):
        msg = f"unknown objective {objective!r}: expected 'time' or 'distance'"
        raise InputError(msg)
    depot_pts, depot_of_rep = depots(problem.reps)
    n_dep = len(depot_pts)
    visits_all = list(problem.visits)
    if matrix.durations.shape[0] != n_dep + len(visits_all):
        msg = "the travel matrix does not match the problem's points"
        raise InputError(msg)
    keep, dropped = _plannable(visits_all, matrix, n_dep)
    dates = list(problem.dates)
    reps = list(problem.reps)
    works = [[(not r.days) or (d in r.days) for d in dates] for r in reps]
    durations, distances = _int_matrices(matrix, list(range(n_dep)) + [n_dep + i for i in keep])
    objm = durations if objective == "time" else distances
    finite = objm[objm < _BIG_TIME]
    base = int(max(600, 4 * (int(finite.max()) if finite.size else 0)))
    visits = [visits_all[i] for i in keep]
    q = _quantiles([v.value for v in visits])
    prizes = [int(base * (1 + _VALUE_SPREAD * qi)) for qi in q]
    lunch_cfg, rep_lunch = _lunch_configs(reps)
    dims = _Dimensions(len(lunch_cfg))
    specs = _client_specs(visits, reps, dates, works, rep_lunch, lunch_cfg, dims, dropped)
    clients, infos, groups = _clients(specs, visits, prizes, base, n_dep, dims)
    fleet = _Fleet(reps, dates, works, rep_lunch, depot_of_rep)
    vehicle_types, vinfo = fleet.vehicle_types(dims, max(1, len(clients)))
    data = None
    if clients:
        locations = [Location(x=lon, y=lat) for lat, lon in depot_pts]
        locations += [Location(x=v.lon, y=v.lat, name=v.id[:40]) for v in visits]
        data = ProblemData(
            locations,
            clients,
            [Depot(i) for i in range(n_dep)],
            vehicle_types,
            [objm],  # type: ignore[list-item]  # PyVRP's stub: ndarray[int]
            [durations],  # type: ignore[list-item]
            groups=groups,
        )
    return RoutingModel(
        data=data,
        visits=visits,
        reps=reps,
        dates=dates,
        clients=infos,
        vehicles=vinfo,
        durations=durations,
        distances=distances,
        depot_of_rep=depot_of_rep,
        prizes=[prizes[i] for i in range(len(visits))],
        dropped=dropped,
        base_prize=base,
        num_depots=n_dep,
        travel=matrix,
    )


def _plannable(
    visits: list[Visit], matrix: TravelMatrix, n_dep: int
) -> tuple[list[int], list[DroppedVisit]]:
    """Split visits into those to model (indices) and those left out (with reasons)."""
    dropped: list[DroppedVisit] = []
    seen: set[str] = set()
    keep: list[int] = []
    for i, v in enumerate(visits):
        reason = None
        if v.id in seen:
            reason = REASON_DUPLICATE
        elif v.do_not_contact:
            reason = REASON_DNC
        elif not (np.isfinite(v.lat) and np.isfinite(v.lon)):
            reason = REASON_NO_LOCATION
        else:
            row = matrix.durations[n_dep + i, :n_dep]
            col = matrix.durations[:n_dep, n_dep + i]
            if not (np.isfinite(row).any() and np.isfinite(col).any()):
                reason = REASON_UNREACHABLE
        seen.add(v.id)
        if reason is not None:
            dropped.append(dropped_visit(v, reason))
        else:
            keep.append(i)
    return keep, dropped


def _int_matrices(matrix: TravelMatrix, idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer durations (rounded up) and distances over the model locations ``idx``."""
    dur_f = matrix.durations[np.ix_(idx, idx)]
    dist_f = matrix.distances[np.ix_(idx, idx)]
    durations = np.where(np.isfinite(dur_f), np.ceil(dur_f - 1e-9), _BIG_TIME).astype(np.int64)
    distances = np.where(np.isfinite(dist_f), np.rint(dist_f), _BIG_TIME).astype(np.int64)
    np.fill_diagonal(durations, 0)
    np.fill_diagonal(distances, 0)
    return durations, distances


def _lunch_configs(
    reps: list[Rep],
) -> tuple[list[tuple[int, int, int]], list[int | None]]:
    """Distinct breaks ``(earliest, latest, length)`` and each rep's (``None``: no break)."""
    lunch_cfg: list[tuple[int, int, int]] = []
    for r in reps:
        if r.lunch is not None:
            key = (secs(r.lunch.earliest), secs(r.lunch.latest), r.lunch.minutes * 60)
            if key not in lunch_cfg:
                lunch_cfg.append(key)
    rep_lunch = [
        lunch_cfg.index((secs(r.lunch.earliest), secs(r.lunch.latest), r.lunch.minutes * 60))
        if r.lunch is not None and lunch_fits(r)
        else None
        for r in reps
    ]
    return lunch_cfg, rep_lunch


class _Dimensions:
    """Load dimensions: one per break configuration, then one per restriction."""

    def __init__(self, n_lunch: int) -> None:
        self.n_lunch = n_lunch
        self.restrictions: dict[tuple[str, frozenset[int]], int] = {}

    def restrict(self, kind: str, members: frozenset[int]) -> int:
        """Return the restriction dimension of ``kind`` (``rep``/``day``) and members."""
        key = (kind, members)
        if key not in self.restrictions:
            self.restrictions[key] = len(self.restrictions)
        return self.restrictions[key]

    @property
    def count(self) -> int:
        """Return the number of load dimensions."""
        return self.n_lunch + len(self.restrictions)


# (info, tw_early, tw_late, service, restriction dims, lunch cfg or -1)
_Spec = tuple[ClientInfo, int, int, int, list[int], int]


def _windows_by_days(
    v: Visit,
    allowed: list[int],
    reps: list[Rep],
    dates: list[dt.date],
    works: list[list[bool]],
) -> tuple[dict[tuple[tuple[int, int], ...], set[int]], str | None]:
    """Group the days a visit can take place by its windows on them (clipped to shifts).

    Returns the groups, and the reason the visit is left out when there is none.
    """
    by_windows: dict[tuple[tuple[int, int], ...], set[int]] = {}
    any_open = any_day = False
    for k, d in enumerate(dates):
        if (v.earliest and d < v.earliest) or (v.latest and d > v.latest):
            continue
        on_day = [a for a in allowed if works[a][k]]
        if not on_day:
            continue
        any_day = True
        wins = visit_windows(v, d)
        any_open = any_open or bool(wins)
        lo = min(secs(reps[a].shift_start) for a in on_day)
        hi = max(secs(reps[a].shift_end) for a in on_day) - v.duration_s
        clipped = tuple((max(a, lo), min(b, hi)) for a, b in wins if max(a, lo) <= min(b, hi))
        if clipped:
            by_windows.setdefault(clipped, set()).add(k)
    if by_windows:
        return by_windows, None
    if v.fixed_start is not None:
        return by_windows, REASON_APPOINTMENT
    if not any_day:
        return by_windows, REASON_NO_DAY
    return by_windows, REASON_OUTSIDE_SHIFT if any_open else REASON_CLOSED


def _client_specs(
    visits: list[Visit],
    reps: list[Rep],
    dates: list[dt.date],
    works: list[list[bool]],
    rep_lunch: list[int | None],
    lunch_cfg: list[tuple[int, int, int]],
    dims: _Dimensions,
    dropped: list[DroppedVisit],
) -> list[_Spec]:
    """Return the PyVRP clients to make (as specs); append left-out visits to ``dropped``."""
    specs: list[_Spec] = []
    for vi, v in enumerate(visits):
        allowed = [k for k, r in enumerate(reps) if not v.reps or r.id in v.reps]
        if not allowed:
            dropped.append(dropped_visit(v, REASON_NO_REP))
            continue
        if v.fixed_start is not None and len(allowed) > 1:
            msg = f"appointment {v.id!r} must name its rep (reps=...) when several reps are planned"
            raise InputError(msg)
        by_windows, reason = _windows_by_days(v, allowed, reps, dates, works)
        if reason is not None:
            dropped.append(dropped_visit(v, reason))
            continue
        rep_dim = dims.restrict("rep", frozenset(allowed)) if len(allowed) < len(reps) else None
        for day_wins, dayset in by_windows.items():
            vdims = [] if rep_dim is None else [rep_dim]
            all_days = {k for k in range(len(dates)) if any(works[a][k] for a in allowed)} <= dayset
            if not all_days:
                vdims.append(dims.restrict("day", frozenset(dayset)))
            cfgs = sorted(
                {
                    cfg
                    for a in allowed
                    if (cfg := rep_lunch[a]) is not None and any(works[a][k] for k in dayset)
                }
            )
            for early, late in day_wins:
                info = ClientInfo(vi, early, late, lunch=False)
                specs.append((info, early, late, v.duration_s, vdims, -1))
                for c in cfgs:
                    ws, we, length = lunch_cfg[c]
                    e2 = max(early, ws - v.duration_s)
                    l2 = min(late, we - length - v.duration_s)
                    if e2 <= l2:
                        info2 = ClientInfo(vi, early, late, lunch=True)
                        specs.append((info2, e2, l2, v.duration_s + length, vdims, c))
    return specs


def _clients(
    specs: list[_Spec],
    visits: list[Visit],
    prizes: list[int],
    base: int,
    n_dep: int,
    dims: _Dimensions,
) -> tuple[list[Client], list[ClientInfo], list[ClientGroup]]:
    """Return PyVRP clients, what each stands for, and the groups of alternatives."""
    by_visit: dict[int, list[int]] = {}
    for ci, spec in enumerate(specs):
        by_visit.setdefault(spec[0].visit, []).append(ci)
    groups: list[ClientGroup] = []
    group_of: dict[int, int] = {}
    for vi, members in by_visit.items():
        if len(members) > 1:
            group_of[vi] = len(groups)
            groups.append(
                ClientGroup(members, required=visits[vi].is_required, name=visits[vi].id[:40])
            )
    clients = []
    infos = []
    n_dims = dims.count
    for info, early, late, service, vdims, cfg in specs:
        v = visits[info.visit]
        delivery = [0] * n_dims
        for dim in vdims:
            delivery[dims.n_lunch + dim] = 1
        prize = 0 if v.is_required else prizes[info.visit]
        if cfg >= 0:
            delivery[cfg] = 1
            prize += _LUNCH_BONUS * base
        grouped = info.visit in group_of
        clients.append(
            Client(
                n_dep + info.visit,
                delivery=delivery,
                service_duration=int(service),
                tw_early=int(early),
                tw_late=int(late),
                prize=int(prize),
                required=v.is_required and not grouped,
                group=group_of.get(info.visit),
                name=v.id[:40],
            )
        )
        infos.append(info)
    return clients, infos, groups


@dataclass
class _Fleet:
    """The reps' working days, as PyVRP vehicle types."""

    reps: list[Rep]
    dates: list[dt.date]
    works: list[list[bool]]
    rep_lunch: list[int | None]
    depot_of_rep: list[tuple[int, int]]

    def vehicle_types(
        self, dims: _Dimensions, big_cap: int
    ) -> tuple[list[VehicleType], list[VehicleInfo]]:
        """Return one vehicle type per rep and working day, and what each stands for."""
        vehicle_types = []
        vinfo = []
        dim_members = {dim: key for key, dim in dims.restrictions.items()}
        for k, r in enumerate(self.reps):
            for di in range(len(self.dates)):
                if not self.works[k][di]:
                    continue
                cap = [0] * dims.count
                own = self.rep_lunch[k]
                if own is not None:
                    cap[own] = 1
                for dim, (kind, allowed_set) in dim_members.items():
                    if (kind == "rep" and k in allowed_set) or (
                        kind == "day" and di in allowed_set
                    ):
                        cap[dims.n_lunch + dim] = big_cap
                vehicle_types.append(self._vehicle_type(k, r, di, cap))
                vinfo.append(VehicleInfo(k, di))
        return vehicle_types, vinfo

    def _vehicle_type(self, k: int, r: Rep, di: int, cap: list[int]) -> VehicleType:
        lunch_s = r.lunch.minutes * 60 if self.rep_lunch[k] is not None and r.lunch else 0
        shift = (
            math.floor(r.max_work_minutes * 60) + lunch_s
            if r.max_work_minutes is not None
            else None
        )
        s, e = self.depot_of_rep[k]
        kw: dict[str, Any] = {}
        if shift is not None:
            kw["shift_duration"] = shift
        return VehicleType(
            1,
            capacity=cap,
            start_depot=s,
            end_depot=e,
            tw_early=secs(r.shift_start),
            tw_late=secs(r.shift_end),
            unit_distance_cost=1,
            unit_duration_cost=0,
            name=f"{r.id}|{self.dates[di].isoformat()}"[:60],
            **kw,
        )


def lunch_fits(r: Rep) -> bool:
    """Return whether the rep's shift can hold the break inside its window."""
    if r.lunch is None:
        return False
    lo = max(secs(r.shift_start), secs(r.lunch.earliest))
    hi = min(secs(r.shift_end), secs(r.lunch.latest))
    return hi - lo >= r.lunch.minutes * 60


def dropped_visit(v: Visit, reason: str) -> DroppedVisit:
    """Return the dropped-visit record of ``v`` with ``reason``."""
    return DroppedVisit(v.id, v.account_id, v.name, reason, v.is_required, v.value)


def depots(reps: Sequence[Rep]) -> tuple[list[tuple[float, float]], list[tuple[int, int]]]:
    """Return the reps' distinct start and end points and each rep's ``(start, end)`` index."""
    pts: list[tuple[float, float]] = []
    of_rep = []
    for r in reps:
        ids = []
        for p in (r.start, r.end_point):
            key = (float(p[0]), float(p[1]))
            if key not in pts:
                pts.append(key)
            ids.append(pts.index(key))
        of_rep.append((ids[0], ids[1]))
    return pts, of_rep


def model_points(problem: PlanningProblem) -> tuple[list[float], list[float], list[str]]:
    """Latitudes, longitudes and ids of the matrix points of a problem.

    The reps' distinct start and end points come first (``depot:<k>``), then
    one point per visit, in the problem's order.

    Parameters
    ----------
    problem
        The problem.

    Returns
    -------
    lats, lons, ids
        Inputs for :func:`gcrm.matrix.travel_matrix`.
    """
    pts, _ = depots(problem.reps)
    lats = [p[0] for p in pts] + [v.lat for v in problem.visits]
    lons = [p[1] for p in pts] + [v.lon for v in problem.visits]
    ids = [f"depot:{k}" for k in range(len(pts))] + [v.id for v in problem.visits]
    return lats, lons, ids
