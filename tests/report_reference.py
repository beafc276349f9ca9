"""The report figures as gcrm computed them before the SQL aggregates: every account in pandas.

A frozen copy of ``gcrm/reports/figures.py`` at commit 9f0766e (only this
docstring differs). ``tests/test_report_aggregates.py`` holds the aggregate
figures equal to these on the demo and on larger synthetic stores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gcrm.auth import Actor, require
from gcrm.density import coverage, coverage_mask, white_space
from gcrm.geometry import metric_crs
from gcrm.matrix import travel_matrix
from gcrm.network import load_network
from gcrm.store import (
    AccountFilter,
    accounts_frame,
    interactions_frame,
    rep_home_bases,
    saved_plans_frame,
    territories_frame,
)

#: Accounts in no territory are reported under this name.
NO_TERRITORY = "(no territory)"
#: The row holding the whole region's figures.
REGION_ROW = "Region (all)"
_OPEN_STAGES = ("new", "contacted", "qualified", "proposal", "negotiation")


@dataclasses.dataclass
class TerritoryReport:
    """The territory report: one row per territory plus the region, and breakdowns.

    Attributes
    ----------
    summary
        One row per territory and a last :data:`REGION_ROW` row; see
        :data:`SUMMARY_COLUMNS`.
    breakdown
        Long table: territory, dimension (``kind``/``stage``/``segment``),
        value, accounts, potential_value.
    territories
        Territory polygons (EPSG:4326) with the summary's figures.
    today
        The reference date of the time-based figures.
    """

    summary: pd.DataFrame
    breakdown: pd.DataFrame
    territories: gpd.GeoDataFrame
    today: dt.date

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the report's tables by sheet name (summary first)."""
        out: dict[str, pd.DataFrame] = {"summary": self.summary}
        for dim in ("kind", "stage", "segment"):
            part = self.breakdown[self.breakdown["dimension"] == dim]
            out[f"by_{dim}"] = part.drop(columns="dimension").reset_index(drop=True)
        return out


#: Columns of :attr:`TerritoryReport.summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "territory",
    "owner",
    "area_km2",
    "accounts",
    "leads",
    "prospects",
    "customers",
    "pipeline_value",
    "potential_value",
    "annual_revenue",
    "prospects_per_km2",
    "visits_30d",
    "visits_90d",
    "with_target",
    "covered",
    "coverage",
    "overdue",
    "avg_drive_between_min",
    "avg_drive_from_home_min",
    "white_space",
    "accounts_vs_region_avg",
    "coverage_vs_region_avg",
)


def _mean_drive_minutes(
    graph: Any, lats: np.ndarray, lons: np.ndarray, home: tuple[float, float] | None, sample: int
) -> tuple[float, float]:
    """Mean drive time (min) between accounts and from a home base, on a seeded sample."""
    if graph is None or len(lats) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(7)
    idx = np.sort(rng.choice(len(lats), size=min(sample, len(lats)), replace=False))
    slat, slon = lats[idx], lons[idx]
    if home is not None:
        slat = np.r_[home[0], slat]
        slon = np.r_[home[1], slon]
    m = travel_matrix(graph, slat, slon).durations
    off = 1 if home is not None else 0
    block = m[off:, off:]
    pairs = block[~np.eye(len(block), dtype=bool)]
    pairs = pairs[np.isfinite(pairs)]
    between = float(pairs.mean() / 60.0) if pairs.size else float("nan")
    from_home = float("nan")
    if home is not None:
        legs = m[0, 1:]
        legs = legs[np.isfinite(legs)]
        from_home = float(legs.mean() / 60.0) if legs.size else float("nan")
    return between, from_home


def territory_report(
    session: Session,
    actor: Actor,
    territories: Sequence[str] | None = None,
    *,
    today: dt.date | None = None,
    graph: Any = "default",
    sample: int = 150,
    white_space_minutes: float = 10.0,
) -> TerritoryReport:
    """Compute the territory report over the accounts the actor may see.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``view``; the scope applies).
    territories
        Only these territories (names); ``None`` for all in scope.
    today
        Reference date of visits and coverage (default today).
    graph
        Road graph for drive times; ``"default"`` loads the region's drive
        network, ``None`` skips the drive-time and white-space figures.
    sample
        Drive times are averaged over at most this many accounts per
        territory (seeded sample), so the report scales to large regions.
    white_space_minutes
        A prospect is white space when its nearest rep home base and nearest
        customer are at least this far, in drive minutes.

    Returns
    -------
    TerritoryReport
        The figures.
    """
    require(actor, "view")
    today = today or dt.date.today()
    if graph == "default":
        graph = load_network()
    flt = AccountFilter(territories=list(territories)) if territories else None
    acc = accounts_frame(session, actor, flt)
    acc["territory"] = acc["territory"].fillna(NO_TERRITORY)
    terr = territories_frame(session, actor)
    if territories:
        terr = terr[terr["name"].isin(list(territories))]
    homes = rep_home_bases(session, actor)
    visits = interactions_frame(
        session, actor, None if flt is None else [int(i) for i in acc["id"]]
    )
    visits = visits[visits["kind"] == "visit"]
    when = pd.to_datetime(visits["occurred_at"]).dt.date
    v30 = visits[when >= today - dt.timedelta(days=30)].groupby("account_id").size()
    v90 = visits[when >= today - dt.timedelta(days=90)].groupby("account_id").size()
    acc["visits_30d"] = acc["id"].map(v30).fillna(0).astype(int)
    acc["visits_90d"] = acc["id"].map(v90).fillna(0).astype(int)
    has_target, covered = coverage_mask(acc, today=today)
    acc["_target"], acc["_covered"] = has_target, covered

    ws_ids: set[int] = set()
    if graph is not None and len(acc):
        ws = white_space(acc, homes, graph, min_minutes=white_space_minutes)
        ws_ids = {int(i) for i in ws["id"]}
    acc["_white"] = acc["id"].isin(ws_ids)

    crs = (
        metric_crs(terr.geometry if len(terr) else acc.geometry) if len(acc) or len(terr) else None
    )
    area_km2: dict[str, float] = {}
    if len(terr) and crs is not None:
        area_km2 = dict(zip(terr["name"], terr.to_crs(crs).area / 1e6, strict=True))
    owners = dict(zip(terr["name"], terr["owner"], strict=True))
    home_of = {
        r["username"]: (float(r["lat"]), float(r["lon"]))
        for _, r in homes.dropna(subset=["lat", "lon"]).iterrows()
    }

    names = list(terr["name"]) + (
        [NO_TERRITORY] if (acc["territory"] == NO_TERRITORY).any() else []
    )
    rows = []
    for name in names:
        part = acc[acc["territory"] == name]
        rows.append(
            _summary_row(
                name,
                owners.get(name),
                area_km2.get(name),
                part,
                graph,
                home_of.get(owners.get(name) or ""),
                sample,
            )
        )
    region_area = sum(area_km2.values()) if area_km2 else float("nan")
    rows.append(_summary_row(REGION_ROW, None, region_area, acc, graph, None, sample))
    summary = pd.DataFrame(rows)
    cov = coverage(acc, by=None, today=today)
    summary.loc[summary["territory"] == REGION_ROW, "coverage"] = float(cov["coverage"].iloc[0])
    per = summary[~summary["territory"].isin([REGION_ROW, NO_TERRITORY])]
    avg_accounts = per["accounts"].mean() if len(per) else float("nan")
    avg_cov = per["coverage"].mean() if len(per) else float("nan")
    summary["accounts_vs_region_avg"] = summary["accounts"] / avg_accounts
    summary["coverage_vs_region_avg"] = summary["coverage"] - avg_cov
    summary = summary[list(SUMMARY_COLUMNS)]

    breakdown = _breakdown(acc)
    # The territory's own owner column stays; the summary's copy would become owner_x/owner_y.
    geo = terr.merge(
        summary.drop(columns=["owner"]), left_on="name", right_on="territory", how="left"
    ).drop(columns=["territory"])
    geo = gpd.GeoDataFrame(geo, geometry="geometry", crs="EPSG:4326")
    return TerritoryReport(summary=summary, breakdown=breakdown, territories=geo, today=today)


def _summary_row(
    name: str,
    owner: str | None,
    area_km2: float | None,
    part: pd.DataFrame,
    graph: Any,
    home: tuple[float, float] | None,
    sample: int,
) -> dict[str, Any]:
    kinds = part["kind"].value_counts()
    open_pipeline = part["kind"].isin(["lead", "prospect"]) & part["stage"].isin(_OPEN_STAGES)
    prospects = int(kinds.get("prospect", 0) + kinds.get("lead", 0))
    area = float(area_km2) if area_km2 is not None else float("nan")
    with_target = int(part["_target"].sum())
    covered = int(part["_covered"].sum())
    loc = part.dropna(subset=["lat", "lon"])
    between, from_home = (float("nan"), float("nan"))
    if graph is not None:
        between, from_home = _mean_drive_minutes(
            graph, loc["lat"].to_numpy(float), loc["lon"].to_numpy(float), home, sample
        )
    return {
        "territory": name,
        "owner": owner,
        "area_km2": area,
        "accounts": len(part),
        "leads": int(kinds.get("lead", 0)),
        "prospects": int(kinds.get("prospect", 0)),
        "customers": int(kinds.get("customer", 0)),
        "pipeline_value": float(part.loc[open_pipeline, "potential_value"].fillna(0).sum()),
        "potential_value": float(part["potential_value"].fillna(0).sum()),
        "annual_revenue": float(part["annual_revenue"].fillna(0).sum()),
        "prospects_per_km2": prospects / area if area and area > 0 else float("nan"),
        "visits_30d": int(part["visits_30d"].sum()),
        "visits_90d": int(part["visits_90d"].sum()),
        "with_target": with_target,
        "covered": covered,
        "coverage": covered / with_target if with_target else float("nan"),
        "overdue": with_target - covered,
        "avg_drive_between_min": between,
        "avg_drive_from_home_min": from_home,
        "white_space": int(part["_white"].sum()),
    }


def _breakdown(acc: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for dim in ("kind", "stage", "segment"):
        g = (
            acc.assign(value=acc[dim].fillna("(none)"))
            .groupby(["territory", "value"], dropna=False)
            .agg(accounts=("id", "size"), potential_value=("potential_value", "sum"))
            .reset_index()
        )
        g.insert(1, "dimension", dim)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------- rep activity report

#: Columns of :func:`rep_report`.
REP_COLUMNS: tuple[str, ...] = (
    "rep",
    "accounts",
    "visits_30d",
    "visits_90d",
    "calls_90d",
    "outcomes_90d",
    "overdue",
    "planned_days_90d",
    "planned_stops_90d",
    "done_stops_90d",
    "planned_vs_done",
    "planned_drive_min_90d",
    "planned_km_90d",
    "last_activity",
)


def rep_report(session: Session, actor: Actor, *, today: dt.date | None = None) -> pd.DataFrame:
    """Rep activity: visits, outcomes, overdue accounts; planned vs done from saved plans.

    A planned stop counts as done when the rep logged a visit at that account
    on the planned day. Drive time and distance are those of the saved plans.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (scope applies: a rep sees only their own row).
    today
        Reference date (default today).

    Returns
    -------
    pandas.DataFrame
        :data:`REP_COLUMNS`, one row per rep with accounts in scope.
    """
    require(actor, "view")
    today = today or dt.date.today()
    acc = accounts_frame(session, actor)
    inter = interactions_frame(session, actor)
    plans = saved_plans_frame(session, actor)
    plans = plans[(plans["day"] >= today - dt.timedelta(days=90)) & (plans["day"] <= today)]
    visit_days = {
        (u, int(a), d)
        for u, a, d in zip(
            inter.loc[inter["kind"] == "visit", "user"],
            inter.loc[inter["kind"] == "visit", "account_id"],
            pd.to_datetime(inter.loc[inter["kind"] == "visit", "occurred_at"]).dt.date,
            strict=True,
        )
    }
    when = pd.to_datetime(inter["occurred_at"]).dt.date
    recent = inter[when >= today - dt.timedelta(days=90)]
    has_target, covered = coverage_mask(acc, today=today)
    acc = acc.assign(_overdue=has_target & ~covered)
    reps = sorted(
        set(acc["owner"].dropna()) | set(inter["user"].dropna()) | set(plans["rep"].dropna())
    )
    rows = []
    for rep in reps:
        mine = recent[recent["user"] == rep]
        visits = mine[mine["kind"] == "visit"]
        w = pd.to_datetime(visits["occurred_at"]).dt.date
        outcomes = mine["outcome"].dropna().value_counts()
        last = inter.loc[inter["user"] == rep, "occurred_at"]
        mine_plans = plans[plans["rep"] == rep]
        planned = sum(len(ids) for ids in mine_plans["account_ids"])
        done = sum(
            (rep, a, day) in visit_days
            for ids, day in zip(mine_plans["account_ids"], mine_plans["day"], strict=True)
            for a in ids
        )
        rows.append(
            {
                "rep": rep,
                "accounts": int((acc["owner"] == rep).sum()),
                "visits_30d": int((w >= today - dt.timedelta(days=30)).sum()),
                "visits_90d": len(visits),
                "calls_90d": int((mine["kind"] == "call").sum()),
                "outcomes_90d": "; ".join(f"{k}: {v}" for k, v in outcomes.items()),
                "overdue": int(acc.loc[acc["owner"] == rep, "_overdue"].sum()),
                "planned_days_90d": len(mine_plans),
                "planned_stops_90d": planned,
                "done_stops_90d": done,
                "planned_vs_done": done / planned if planned else float("nan"),
                "planned_drive_min_90d": float(mine_plans["drive_s"].sum()) / 60.0,
                "planned_km_90d": float(mine_plans["distance_m"].sum()) / 1000.0,
                "last_activity": pd.to_datetime(last).max() if len(last) else pd.NaT,
            }
        )
    return pd.DataFrame(rows, columns=list(REP_COLUMNS))
