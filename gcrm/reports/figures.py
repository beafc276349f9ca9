"""The figures of the territory report and the rep activity report (tables, no files)."""

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
from gcrm.density import white_space
from gcrm.geometry import metric_crs
from gcrm.matrix import travel_matrix
from gcrm.network import load_network
from gcrm.store import (
    AccountFilter,
    accounts_frame,
    interactions_frame,
    rep_home_bases,
    report_groups,
    report_last_activity,
    report_sample,
    report_visits,
    saved_plans_frame,
    territories_frame,
)

#: Accounts in no territory are reported under this name.
NO_TERRITORY = "(no territory)"
#: The row holding the whole region's figures.
REGION_ROW = "Region (all)"
_OPEN_STAGES = ("new", "contacted", "qualified", "proposal", "negotiation")
_WHITE_SPACE_KINDS = ("prospect", "lead", "customer")


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
    white_space_computed
        ``False`` when the white-space figure was left out (NaN) because
        the accounts were more than the caller's limit.
    """

    summary: pd.DataFrame
    breakdown: pd.DataFrame
    territories: gpd.GeoDataFrame
    today: dt.date
    white_space_computed: bool = True

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


def _sample_ranks(n: int, sample: int) -> list[int]:
    """Ranks (in the account list's order) of the seeded drive-time sample of ``n`` accounts."""
    rng = np.random.default_rng(7)
    return [int(i) for i in np.sort(rng.choice(n, size=min(sample, n), replace=False))]


def _mean_drive_minutes(
    graph: Any, lats: np.ndarray, lons: np.ndarray, home: tuple[float, float] | None
) -> tuple[float, float]:
    """Mean drive time (min) between sampled accounts and from a home base."""
    if graph is None or len(lats) == 0:
        return float("nan"), float("nan")
    slat, slon = lats, lons
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
    white_space_limit: int | None = None,
) -> TerritoryReport:
    """Compute the territory report over the accounts the actor may see.

    Counts, sums, coverage and visits are aggregated in the database
    (:func:`gcrm.store.report_groups`, :func:`gcrm.store.report_visits`), and
    the drive times use a seeded sample fetched by rank
    (:func:`gcrm.store.report_sample`), so the report reads a few hundred
    rows whatever the number of accounts. Only the white-space figure needs
    every prospect and customer; ``white_space_limit`` bounds it.

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
    white_space_limit
        Above this many located prospects and customers the white-space
        figure is not computed (NaN; :attr:`TerritoryReport.white_space_computed`
        is ``False``); ``None`` computes it always (report files do).

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
    groups = report_groups(session, actor, flt, today=today)
    groups["territory"] = groups["territory"].fillna(NO_TERRITORY)
    terr = territories_frame(session, actor)
    if territories:
        terr = terr[terr["name"].isin(list(territories))]
    homes = rep_home_bases(session, actor)
    since = {
        "visits_30d": today - dt.timedelta(days=30),
        "visits_90d": today - dt.timedelta(days=90),
    }
    visits = report_visits(session, actor, flt, since=since)
    visits = visits.assign(territory=visits["territory"].fillna(NO_TERRITORY))
    visits = visits.groupby("territory")[list(since)].sum()
    white = _white_space_counts(
        session, actor, flt, groups, homes, graph, white_space_minutes, white_space_limit
    )

    area_km2: dict[str, float] = {}
    if len(terr):
        crs = metric_crs(terr.geometry)
        area_km2 = dict(zip(terr["name"], terr.to_crs(crs).area / 1e6, strict=True))
    owners = dict(zip(terr["name"], terr["owner"], strict=True))
    home_of = {
        r["username"]: (float(r["lat"]), float(r["lon"]))
        for _, r in homes.dropna(subset=["lat", "lon"]).iterrows()
    }
    names = list(terr["name"]) + (
        [NO_TERRITORY] if (groups["territory"] == NO_TERRITORY).any() else []
    )
    drive = _drive_figures(session, actor, flt, groups, names, graph, home_of, owners, sample)
    rows = []
    for name in [*names, REGION_ROW]:
        part = groups if name == REGION_ROW else groups[groups["territory"] == name]
        seen = visits if name == REGION_ROW else visits[visits.index == name]
        row = _summary_row(part, seen, drive[name])
        ws = float("nan") if white is None else int(white.get(name, 0))
        if name == REGION_ROW and white is not None:
            ws = int(white.sum())
        owner = None if name == REGION_ROW else owners.get(name)
        region_area = sum(area_km2.values()) if area_km2 else float("nan")
        area = region_area if name == REGION_ROW else area_km2.get(name)
        rows.append(_with_area({"territory": name, "owner": owner, **row, "white_space": ws}, area))
    summary = pd.DataFrame(rows)
    per = summary[~summary["territory"].isin([REGION_ROW, NO_TERRITORY])]
    avg_accounts = per["accounts"].mean() if len(per) else float("nan")
    avg_cov = per["coverage"].mean() if len(per) else float("nan")
    summary["accounts_vs_region_avg"] = summary["accounts"] / avg_accounts
    summary["coverage_vs_region_avg"] = summary["coverage"] - avg_cov
    summary = summary[list(SUMMARY_COLUMNS)]

    breakdown = _breakdown(groups)
    # The territory's own owner column stays; the summary's copy would become owner_x/owner_y.
    geo = terr.merge(
        summary.drop(columns=["owner"]), left_on="name", right_on="territory", how="left"
    ).drop(columns=["territory"])
    geo = gpd.GeoDataFrame(geo, geometry="geometry", crs="EPSG:4326")
    return TerritoryReport(
        summary=summary,
        breakdown=breakdown,
        territories=geo,
        today=today,
        white_space_computed=white is not None,
    )


def _white_space_counts(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None,
    groups: pd.DataFrame,
    homes: pd.DataFrame,
    graph: Any,
    minutes: float,
    limit: int | None,
) -> pd.Series | None:
    """White-space prospects per territory; ``None`` when over ``limit`` (not computed)."""
    if graph is None or not len(groups):
        return pd.Series(dtype=int)
    kinds = groups[groups["kind"].isin(_WHITE_SPACE_KINDS)]
    if limit is not None and int(kinds["located"].sum()) > limit:
        return None
    # Only prospects (against homes and customers) and customers take part.
    scope = AccountFilter(
        territories=list(flt.territories) if flt else (), kinds=list(_WHITE_SPACE_KINDS)
    )
    acc = accounts_frame(session, actor, scope)
    ws = white_space(acc, homes, graph, min_minutes=minutes)
    return ws["territory"].fillna(NO_TERRITORY).value_counts()


def _drive_figures(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None,
    groups: pd.DataFrame,
    names: list[str],
    graph: Any,
    home_of: dict[str, tuple[float, float]],
    owners: dict[str, str | None],
    sample: int,
) -> dict[str, tuple[float, float]]:
    """Mean drive minutes (between accounts, from the owner's home) per territory and region."""
    nan = (float("nan"), float("nan"))
    out = dict.fromkeys([*names, REGION_ROW], nan)
    if graph is None or not len(groups):
        return out
    located = groups.groupby("territory")["located"].sum()
    ids = groups.drop_duplicates("territory").set_index("territory")["territory_id"]
    ranks = {
        name: _sample_ranks(int(located.get(name, 0)), sample)
        for name in names
        if name in ids.index
    }
    region = _sample_ranks(int(located.sum()), sample)
    pts = report_sample(
        session,
        actor,
        flt,
        positions={_territory_id(ids[name]): r for name, r in ranks.items()},
        region_positions=region,
    )
    for name, wanted in ranks.items():
        tid = _territory_id(ids[name])
        mine = pts[pts["territory_id"].isna()] if tid is None else pts[pts["territory_id"] == tid]
        mine = mine[mine["rank"].isin(wanted)].sort_values("rank")
        home = home_of.get(owners.get(name) or "")
        out[name] = _mean_drive_minutes(
            graph, mine["lat"].to_numpy(float), mine["lon"].to_numpy(float), home
        )
    mine = pts[pts["region_rank"].isin(region)].sort_values("region_rank")
    out[REGION_ROW] = _mean_drive_minutes(
        graph, mine["lat"].to_numpy(float), mine["lon"].to_numpy(float), None
    )
    return out


def _territory_id(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _with_area(row: dict[str, Any], area_km2: float | None) -> dict[str, Any]:
    area = float(area_km2) if area_km2 is not None else float("nan")
    prospects = row.pop("_prospects")
    return {
        **row,
        "area_km2": area,
        "prospects_per_km2": prospects / area if area and area > 0 else float("nan"),
    }


def _summary_row(
    part: pd.DataFrame, visits: pd.DataFrame, drive: tuple[float, float]
) -> dict[str, Any]:
    """Figures of one territory (or the region) from its aggregate groups."""
    kinds = part.groupby("kind")["accounts"].sum()
    open_pipeline = part["kind"].isin(["lead", "prospect"]) & part["stage"].isin(_OPEN_STAGES)
    with_target = int(part["with_target"].sum())
    covered = int(part["covered"].sum())
    return {
        "_prospects": int(kinds.get("prospect", 0) + kinds.get("lead", 0)),
        "accounts": int(part["accounts"].sum()),
        "leads": int(kinds.get("lead", 0)),
        "prospects": int(kinds.get("prospect", 0)),
        "customers": int(kinds.get("customer", 0)),
        "pipeline_value": float(part.loc[open_pipeline, "potential_value"].sum()),
        "potential_value": float(part["potential_value"].sum()),
        "annual_revenue": float(part["annual_revenue"].sum()),
        "visits_30d": int(visits["visits_30d"].sum()),
        "visits_90d": int(visits["visits_90d"].sum()),
        "with_target": with_target,
        "covered": covered,
        "coverage": covered / with_target if with_target else float("nan"),
        "overdue": with_target - covered,
        "avg_drive_between_min": drive[0],
        "avg_drive_from_home_min": drive[1],
    }


def _breakdown(groups: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for dim in ("kind", "stage", "segment"):
        g = (
            groups.assign(value=groups[dim].fillna("(none)"))
            .groupby(["territory", "value"], dropna=False)
            .agg(accounts=("accounts", "sum"), potential_value=("potential_value", "sum"))
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
    groups = report_groups(session, actor, today=today)
    per_owner = groups.assign(_overdue=groups["with_target"] - groups["covered"]).groupby("owner")
    accounts = per_owner["accounts"].sum()
    overdue = per_owner["_overdue"].sum()
    # Interactions of the last 90 days (what the figures count; planned stops are
    # matched within them) and each user's newest one, not the whole history.
    inter = interactions_frame(session, actor, since=today - dt.timedelta(days=90))
    last_of = report_last_activity(session, actor).set_index("user")["last"]
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
    reps = sorted(set(accounts.index) | set(last_of.index) | set(plans["rep"].dropna()))
    rows = []
    for rep in reps:
        mine = recent[recent["user"] == rep]
        visits = mine[mine["kind"] == "visit"]
        w = pd.to_datetime(visits["occurred_at"]).dt.date
        outcomes = mine["outcome"].dropna().value_counts()
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
                "accounts": int(accounts.get(rep, 0)),
                "visits_30d": int((w >= today - dt.timedelta(days=30)).sum()),
                "visits_90d": len(visits),
                "calls_90d": int((mine["kind"] == "call").sum()),
                "outcomes_90d": "; ".join(f"{k}: {v}" for k, v in outcomes.items()),
                "overdue": int(overdue.get(rep, 0)),
                "planned_days_90d": len(mine_plans),
                "planned_stops_90d": planned,
                "done_stops_90d": done,
                "planned_vs_done": done / planned if planned else float("nan"),
                "planned_drive_min_90d": float(mine_plans["drive_s"].sum()) / 60.0,
                "planned_km_90d": float(mine_plans["distance_m"].sum()) / 1000.0,
                "last_activity": pd.Timestamp(last_of[rep]) if rep in last_of.index else pd.NaT,
            }
        )
    return pd.DataFrame(rows, columns=list(REP_COLUMNS))
