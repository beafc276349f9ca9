"""Postcode areas from OSM address points, per-area statistics and visit coverage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm import due
from gcrm._errors import InputError
from gcrm.density.points import located, voronoi_cells
from gcrm.geometry import metric_crs
from gcrm.osm import read_address_points


def address_points(osm: str | Path | None = None) -> gpd.GeoDataFrame:
    """Return the OSM address points that carry a postcode.

    Parameters
    ----------
    osm
        OSM file; ``None`` for the region of the settings.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``postcode`` (as tagged, trimmed) and point geometry
        (EPSG:4326), from :func:`gcrm.osm.read_address_points`.
    """
    df = read_address_points(osm)
    codes = df["addr:postcode"].astype("string").str.strip()
    keep = codes.notna() & (codes != "")
    df = df[keep.to_numpy()]
    return gpd.GeoDataFrame(
        {"postcode": codes[keep].astype(str).to_numpy()},
        geometry=gpd.points_from_xy(df["lon"], df["lat"]),
        crs=4326,
    )


def postcode_areas(
    points: gpd.GeoDataFrame, region: BaseGeometry, *, postcode_column: str = "postcode"
) -> gpd.GeoDataFrame:
    """Build postcode areas: Voronoi cells of address points, dissolved by postcode.

    Parameters
    ----------
    points
        Address points with a postcode column (any CRS; e.g.
        :func:`address_points`). Points without a postcode are ignored;
        where points share a location, the most common postcode wins.
    region
        The polygon to tile, in EPSG:4326 (e.g. the sales region).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per postcode with any area inside the region: ``postcode``,
        ``addresses`` (points of that postcode), ``area_m2`` and geometry
        (EPSG:4326). The areas do not overlap and their union is the region
        (up to a 1 mm grid).

    Raises
    ------
    InputError
        If no point has a postcode or the region is empty.
    """
    if region is None or region.is_empty:
        msg = "postcode areas need a non-empty region"
        raise InputError(msg)
    pts = located(points)
    codes = pts[postcode_column].astype("string").str.strip()
    pts = pts[(codes.notna() & (codes != "")).to_numpy()]
    if pts.empty:
        msg = "no address point has a postcode"
        raise InputError(msg)
    crs = metric_crs(region)
    proj = pts.to_crs(crs)
    xy = np.round(shapely.get_coordinates(np.asarray(proj.geometry.values, dtype=object)), 2)
    frame = pd.DataFrame(
        {"x": xy[:, 0], "y": xy[:, 1], "postcode": proj[postcode_column].astype(str)}
    )
    counts = frame.groupby(["x", "y", "postcode"]).size().rename("n").reset_index()
    counts = counts.sort_values(["x", "y", "n", "postcode"], ascending=[True, True, False, True])
    sites = counts.drop_duplicates(["x", "y"], keep="first").reset_index(drop=True)
    region_m = gpd.GeoSeries([region], crs=4326).to_crs(crs).iloc[0]
    cells = voronoi_cells(sites[["x", "y"]].to_numpy(), region_m)
    sites["geometry"] = cells
    rows = []
    n_by_code = frame.groupby("postcode").size()
    for code, group in sites.groupby("postcode", sort=True):
        geom = shapely.union_all(np.asarray(group["geometry"].to_numpy(), dtype=object))
        if geom.is_empty or geom.area <= 0:
            continue
        rows.append(
            {
                "postcode": code,
                "addresses": int(n_by_code.get(code, 0)),
                "area_m2": float(geom.area),
                "geometry": geom,
            }
        )
    out = gpd.GeoDataFrame(rows, columns=["postcode", "addresses", "area_m2", "geometry"], crs=crs)
    return out.to_crs(4326)


def coverage_mask(
    accounts: pd.DataFrame, *, today: dt.date | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per account: has a visit-frequency target, and is covered (not due).

    An account has a target when ``visit_every_days`` is set (and positive);
    it is covered when it is not due ``today`` by the one rule of
    :mod:`gcrm.due` (its last visit was fewer than that many days before).

    Parameters
    ----------
    accounts
        Accounts with ``visit_every_days`` and ``last_visit``.
    today
        Reference day (default today).

    Returns
    -------
    tuple of numpy.ndarray
        ``(has_target, covered)``, boolean arrays in row order.
    """
    today = today or dt.date.today()
    has_target = due.has_target_mask(accounts)
    covered = has_target & ~due.due_mask(accounts, on=today)
    return has_target, covered


def coverage(
    accounts: pd.DataFrame, *, by: str | None = "territory", today: dt.date | None = None
) -> pd.DataFrame:
    """Share of accounts visited within their frequency target.

    An account has a target when ``visit_every_days`` is set; it is covered
    when its last visit is at most that many days before ``today``.

    Parameters
    ----------
    accounts
        Accounts with ``visit_every_days`` and ``last_visit``.
    by
        Column to group by (``None``: one row for all).
    today
        Reference day (default today).

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` (unless ``None``), ``accounts``, ``with_target``,
        ``covered`` and ``coverage`` (``covered / with_target``, NaN when no
        account has a target).
    """
    has_target, covered = coverage_mask(accounts, today=today)
    frame = pd.DataFrame(
        {"accounts": 1, "with_target": has_target.astype(int), "covered": covered.astype(int)},
        index=accounts.index,
    )
    if by is None:
        out = frame.sum().to_frame().T
    else:
        frame[by] = accounts[by].to_numpy()
        out = frame.groupby(by, dropna=False, sort=True).sum().reset_index()
    target = out["with_target"].to_numpy(float)
    out["coverage"] = np.divide(
        out["covered"].to_numpy(float), target, out=np.full(len(out), np.nan), where=target > 0
    )
    return out


def area_stats(
    accounts: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    *,
    key: str,
    by_column: str | None = None,
    value_column: str = "potential_value",
    today: dt.date | None = None,
) -> gpd.GeoDataFrame:
    """Count accounts, sum their value and measure visit coverage per area.

    Parameters
    ----------
    accounts
        Accounts.
    areas
        Polygons with a ``key`` column (e.g. :func:`postcode_areas` with
        ``key="postcode"``, or :func:`gcrm.store.territories_frame` with
        ``key="name"``).
    key
        The areas' identifying column.
    by_column
        Match accounts to areas by this accounts column holding ``key``
        values (e.g. ``"territory"``: the stored assignment); ``None``
        matches by location (an account on a shared border counts once,
        in the first area).
    value_column
        Column summed into ``value``.
    today
        Reference day of :func:`coverage`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``areas`` with ``count``, ``value``, ``with_target``, ``covered``
        and ``coverage`` added (0 / NaN for areas with no account).
    """
    out = areas.copy()
    if by_column is None:
        pts = located(accounts)
        area_of = _area_index(pts, areas.to_crs(4326) if areas.crs else areas)
        labels = pd.Series(
            [areas[key].iloc[i] if i >= 0 else None for i in area_of], index=pts.index
        )
        frame = pts.assign(_area=labels)
    else:
        frame = accounts.assign(_area=accounts[by_column])
    frame = frame[frame["_area"].notna()]
    values = pd.to_numeric(frame.get(value_column), errors="coerce").fillna(0.0)
    stats = pd.DataFrame({"_area": frame["_area"].to_numpy(), "value": values.to_numpy(float)})
    agg = stats.groupby("_area").agg(count=("value", "size"), value=("value", "sum"))
    cov = coverage(frame, by="_area", today=today).set_index("_area")
    out["count"] = out[key].map(agg["count"]).fillna(0).astype(int).to_numpy()
    out["value"] = out[key].map(agg["value"]).fillna(0.0).to_numpy()
    out["with_target"] = out[key].map(cov["with_target"]).fillna(0).astype(int).to_numpy()
    out["covered"] = out[key].map(cov["covered"]).fillna(0).astype(int).to_numpy()
    out["coverage"] = out[key].map(cov["coverage"]).to_numpy(float)
    return out


def _area_index(points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Position of the first area covering each point (-1: none)."""
    geoms = np.asarray(areas.geometry.values, dtype=object)
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(geoms) == 0:
        return out
    tree = shapely.STRtree(geoms)
    pt_idx, area_idx = tree.query(
        np.asarray(points.geometry.values, dtype=object), predicate="covered_by"
    )
    order = np.lexsort((area_idx, pt_idx))
    pt_idx, area_idx = pt_idx[order], area_idx[order]
    first = np.r_[True, pt_idx[1:] != pt_idx[:-1]] if len(pt_idx) else np.zeros(0, dtype=bool)
    out[pt_idx[first]] = area_idx[first]
    return out
