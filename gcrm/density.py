"""Prospect density: heat, hexagon bins, area statistics, near-here, selection and white space.

Every function here works on an accounts GeoDataFrame shaped like
:func:`gcrm.store.accounts_frame`'s (points in EPSG:4326) and returns plain
tables or GeoDataFrames; :mod:`gcrm.maps` draws them. Only
:func:`filtered_accounts` reads the database (through :mod:`gcrm.store`, so
the acting user's scope applies).

- :class:`MapFilter` selects accounts by kind, stage, segment, owner,
  territory, potential value and last visit.
- :func:`heat_points` gives weighted points for a heat map (aggregated on a
  grid when there are many), :func:`hex_bins` H3 hexagons with counts and
  value at a resolution chosen from the extent (:func:`hex_resolution`).
- :func:`postcode_areas` turns OSM address points into postcode areas:
  Voronoi cells of the points, dissolved by postcode and clipped to the
  region, so the areas tile the region. :func:`area_stats` counts accounts
  per area (postcode or territory) and :func:`coverage` gives the share of
  accounts visited within their frequency target.
- :func:`near_here` lists accounts within a radius (haversine) or within N
  minutes' drive (:func:`drive_times`, the same routes as
  :func:`gcrm.matrix.travel_matrix`) of a point or an account;
  :func:`isochrone` draws the area reachable in N minutes.
- :func:`select_accounts` returns the accounts inside shapes drawn on a map
  (GeoJSON from Leaflet.draw / streamlit-folium).
- :func:`white_space` finds prospects far, in drive time, from every rep's
  home base and from every customer.

Areas and distances are computed in a metric CRS (the local UTM zone,
:func:`metric_crs`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from gcrm import _paths, due
from gcrm._errors import InputError, NotFoundError
from gcrm.geometry import EARTH_RADIUS_M, haversine_m, metric_crs
from gcrm.matrix import ACCESS_SPEED_KPH
from gcrm.store import AccountFilter, accounts_frame

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor

__all__ = [
    "EARTH_RADIUS_M",
    "HEAT_MAX_POINTS",
    "MapFilter",
    "address_points",
    "area_stats",
    "coverage",
    "coverage_mask",
    "drive_times",
    "filtered_accounts",
    "haversine_m",
    "heat_points",
    "hex_bins",
    "hex_resolution",
    "isochrone",
    "located",
    "metric_crs",
    "near_here",
    "nearest_drive_times",
    "postcode_areas",
    "select_accounts",
    "voronoi_cells",
    "white_space",
]

#: Above this many accounts, heat-map points are aggregated on a grid.
HEAT_MAX_POINTS = 20_000

#: H3 resolutions :func:`hex_resolution` chooses from.
HEX_RESOLUTIONS = range(4, 12)

# Grid (m) that polygons are snapped to before they are merged, so that cells
# sharing an edge merge without slivers.
_GRID_M = 1e-3


# --------------------------------------------------------------------------- filter


def _as_date(value: object, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        msg = f"{field}: {value!r} is not a date (YYYY-MM-DD)"
        raise InputError(msg) from None


def _as_bool(value: str, field: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "y", "on"):
        return True
    if v in ("0", "false", "no", "n", "off"):
        return False
    msg = f"{field}: {value!r} is not true or false"
    raise InputError(msg)


@dataclasses.dataclass(frozen=True)
class MapFilter:
    """Which accounts a density map shows. Empty fields do not filter.

    Attributes
    ----------
    kinds, stages, segments
        Allowed values.
    owners, territories
        Usernames and territory names.
    min_value, max_value
        Bounds on potential value (accounts without one fail any bound).
    visited_since
        Only accounts last visited on or after this date.
    not_visited_since
        Only accounts never visited or last visited before this date.
    never_visited
        ``True``: only accounts never visited; ``False``: only visited ones.
    include_do_not_contact
        ``False`` drops do-not-contact accounts.
    """

    kinds: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    visited_since: dt.date | None = None
    not_visited_since: dt.date | None = None
    never_visited: bool | None = None
    include_do_not_contact: bool = True

    #: ``key=value`` names :meth:`parse` accepts (lists are comma-separated).
    KEYS = (
        "kind",
        "stage",
        "segment",
        "owner",
        "territory",
        "min_value",
        "max_value",
        "visited_since",
        "not_visited_since",
        "never_visited",
        "do_not_contact",
    )

    @classmethod
    def parse(cls, items: Iterable[str]) -> MapFilter:
        """Build a filter from ``key=value`` strings (the CLI's ``--filter``).

        Parameters
        ----------
        items
            E.g. ``["kind=prospect,lead", "min_value=1000",
            "not_visited_since=2026-06-01", "do_not_contact=false"]``; a key
            given twice adds values (lists) or replaces them (single values).
            Keys: :attr:`KEYS`.

        Returns
        -------
        MapFilter
            The filter.

        Raises
        ------
        InputError
            On an unknown key or a value that does not parse.
        """
        lists: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for item in items:
            key, sep, raw = str(item).partition("=")
            key = key.strip().lower().replace("-", "_")
            if not sep or key not in cls.KEYS:
                msg = f"filter {item!r}: expected KEY=VALUE with KEY one of {', '.join(cls.KEYS)}"
                raise InputError(msg)
            raw = raw.strip()
            if key in ("kind", "stage", "segment", "owner", "territory"):
                lists.setdefault(key, []).extend(v.strip() for v in raw.split(",") if v.strip())
            elif key in ("min_value", "max_value"):
                try:
                    values[key] = float(raw)
                except ValueError:
                    msg = f"filter {key}: {raw!r} is not a number"
                    raise InputError(msg) from None
            elif key in ("visited_since", "not_visited_since"):
                values[key] = _as_date(raw, key)
            elif key == "never_visited":
                values[key] = _as_bool(raw, key)
            else:
                values["include_do_not_contact"] = _as_bool(raw, key)
        return cls(
            kinds=tuple(lists.get("kind", ())),
            stages=tuple(lists.get("stage", ())),
            segments=tuple(lists.get("segment", ())),
            owners=tuple(lists.get("owner", ())),
            territories=tuple(lists.get("territory", ())),
            **values,
        )

    def account_filter(self) -> AccountFilter:
        """Return the part of this filter the database applies.

        Returns
        -------
        gcrm.store.AccountFilter
            Every condition (the last-visit ones are applied again by
            :meth:`apply`, with the same meaning).
        """
        return AccountFilter(
            kinds=self.kinds,
            stages=self.stages,
            segments=self.segments,
            owners=self.owners,
            territories=self.territories,
            min_value=self.min_value,
            max_value=self.max_value,
            include_do_not_contact=self.include_do_not_contact,
            visited_since=self.visited_since,
            not_visited_since=self.not_visited_since,
            never_visited=self.never_visited,
        )

    def apply(self, accounts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Return the rows of an accounts frame that pass every condition.

        Parameters
        ----------
        accounts
            Accounts as :func:`gcrm.store.accounts_frame` returns them.

        Returns
        -------
        geopandas.GeoDataFrame
            The matching rows, in order.
        """
        keep = np.ones(len(accounts), dtype=bool)
        for column, allowed in (
            ("kind", self.kinds),
            ("stage", self.stages),
            ("segment", self.segments),
            ("owner", self.owners),
            ("territory", self.territories),
        ):
            if allowed:
                keep &= accounts[column].isin(list(allowed)).to_numpy()
        value = pd.to_numeric(accounts["potential_value"], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            if self.min_value is not None:
                keep &= value >= self.min_value
            if self.max_value is not None:
                keep &= value <= self.max_value
        if not self.include_do_not_contact:
            keep &= ~accounts["do_not_contact"].fillna(False).astype(bool).to_numpy()
        last = _last_visits(accounts)
        never = np.isnat(last)
        if self.never_visited is not None:
            keep &= never if self.never_visited else ~never
        if self.visited_since is not None:
            keep &= ~never & (last >= np.datetime64(self.visited_since, "D"))
        if self.not_visited_since is not None:
            keep &= never | (last < np.datetime64(self.not_visited_since, "D"))
        return accounts[keep]


def _last_visits(accounts: pd.DataFrame) -> np.ndarray:
    """``last_visit`` as ``datetime64[D]`` (NaT: never visited)."""
    if "last_visit" not in accounts.columns:
        return np.full(len(accounts), np.datetime64("NaT"), dtype="datetime64[D]")
    out: np.ndarray = (
        pd.to_datetime(accounts["last_visit"], errors="coerce").to_numpy().astype("datetime64[D]")
    )
    return out


def filtered_accounts(
    session: Session, actor: Actor, flt: MapFilter | None = None
) -> gpd.GeoDataFrame:
    """Return the accounts in the actor's scope that pass a map filter.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies.
    flt
        The filter (``None``: every account in scope).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`gcrm.store.accounts_frame` returns it.
    """
    flt = flt or MapFilter()
    return flt.apply(accounts_frame(session, actor, flt.account_filter()))


# --------------------------------------------------------------------------- geometry helpers


def located(accounts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the rows that have a finite point location, in EPSG:4326.

    Parameters
    ----------
    accounts
        Any GeoDataFrame of points (any CRS; missing or empty geometries
        allowed).

    Returns
    -------
    geopandas.GeoDataFrame
        The located rows, in order, in EPSG:4326.
    """
    if accounts.crs is not None and accounts.crs.to_epsg() != 4326:
        accounts = accounts.to_crs(4326)
    return accounts[_located_mask(accounts)]


def _located_mask(accounts: gpd.GeoDataFrame) -> np.ndarray:
    """Which rows hold a finite point (in whatever CRS they are)."""
    geoms = np.asarray(accounts.geometry.values, dtype=object)
    keep = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    pts = geoms[keep]
    keep[keep] = np.isfinite(shapely.get_x(pts)) & np.isfinite(shapely.get_y(pts))
    out: np.ndarray = keep
    return out


def _lat_lon(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    return shapely.get_y(geoms).astype(float), shapely.get_x(geoms).astype(float)


def voronoi_cells(xy: np.ndarray, region: BaseGeometry) -> np.ndarray:
    """Return the Voronoi cell of each point, clipped to a region (planar, metric).

    Parameters
    ----------
    xy
        ``(n, 2)`` distinct point coordinates in a metric CRS.
    region
        The polygon to clip to, in the same CRS.

    Returns
    -------
    numpy.ndarray
        ``n`` geometries (Polygon, MultiPolygon, or empty where a cell misses
        the region), snapped to a 1 mm grid so that neighbours share their
        edges exactly; together they tile ``region``.
    """
    n = len(xy)
    region = shapely.make_valid(region)
    if n == 0:
        return np.array([], dtype=object)
    if n == 1:
        return np.array([shapely.set_precision(region, _GRID_M)], dtype=object)
    pts = shapely.multipoints(xy)
    extent = shapely.union(region.envelope, pts.envelope).buffer(1.0)
    diagram = shapely.voronoi_polygons(pts, extend_to=extent, ordered=True)
    cells = np.asarray(shapely.get_parts(diagram), dtype=object)
    if len(cells) != n:  # pragma: no cover - GEOS drops no cell of distinct points
        msg = f"Voronoi diagram has {len(cells)} cells for {n} points"
        raise InputError(msg)
    cells = shapely.set_precision(cells, _GRID_M)
    clipped = shapely.intersection(cells, shapely.set_precision(region, _GRID_M))
    return np.asarray(_polygonal(clipped), dtype=object)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygons of each geometry (intersections can add lines)."""
    out = np.array(geoms, dtype=object)
    types = shapely.get_type_id(out)
    for i in np.flatnonzero(types == 7):  # GeometryCollection
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


# --------------------------------------------------------------------------- heat and hexagons


def _weights(frame: pd.DataFrame, weight: str) -> np.ndarray:
    if weight == "count":
        return np.ones(len(frame))
    if weight in ("potential", "potential_value", "value"):
        values = pd.to_numeric(frame["potential_value"], errors="coerce").to_numpy(float)
        return np.nan_to_num(values, nan=0.0).clip(min=0.0)
    msg = f"unknown weight {weight!r}: expected 'count' or 'potential'"
    raise InputError(msg)


def heat_points(
    accounts: gpd.GeoDataFrame, *, weight: str = "count", max_points: int = HEAT_MAX_POINTS
) -> np.ndarray:
    """Return weighted points for a heat map, aggregated when there are many.

    Parameters
    ----------
    accounts
        Accounts (rows without a location are skipped).
    weight
        ``"count"`` (each account weighs 1) or ``"potential"`` (its
        potential value; missing counts 0).
    max_points
        Above this many accounts, accounts are summed on a square grid
        (in metres) coarse enough to give at most this many points, each at
        the weighted centre of its accounts.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)``: latitude, longitude, weight; points of zero weight are
        left out. The weights add up to the accounts' total.
    """
    pts = located(accounts)
    w = _weights(pts, weight)
    lat, lon = _lat_lon(pts)
    keep = w > 0
    lat, lon, w = lat[keep], lon[keep], w[keep]
    if len(w) <= max_points:
        return np.column_stack([lat, lon, w])
    # Local equirectangular metres are plenty for choosing grid cells.
    lat0 = float(np.mean(lat))
    x = np.radians(lon) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = np.radians(lat) * EARTH_RADIUS_M
    span = max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
    # Start fine (occupied cells are far fewer than the grid's) and coarsen.
    cell = span / math.sqrt(max_points) / 4
    while True:
        keys = np.floor(x / cell).astype(np.int64) * 1_000_003 + np.floor(y / cell).astype(np.int64)
        uniq, inv = np.unique(keys, return_inverse=True)
        if len(uniq) <= max_points:
            break
        cell *= 1.25
    total = np.bincount(inv, weights=w)
    c_lat = np.bincount(inv, weights=w * lat) / total
    c_lon = np.bincount(inv, weights=w * lon) / total
    return np.column_stack([c_lat, c_lon, total])


def hex_resolution(
    accounts: gpd.GeoDataFrame | Sequence[float], *, cells_across: float = 40.0
) -> int:
    """Choose an H3 resolution from the extent of the accounts.

    Parameters
    ----------
    accounts
        Accounts, or bounds ``(min_lon, min_lat, max_lon, max_lat)``.
    cells_across
        About how many hexagons should span the extent's longer side.

    Returns
    -------
    int
        The resolution in :data:`HEX_RESOLUTIONS` whose average hexagon width
        is closest (in log scale) to ``extent / cells_across``; 9 (about
        350 m wide) when there is no extent.
    """
    import h3

    if isinstance(accounts, gpd.GeoDataFrame):
        pts = located(accounts)
        if pts.empty:
            return 9
        bounds = tuple(float(b) for b in pts.total_bounds)
    else:
        bounds = tuple(float(b) for b in accounts)
    min_lon, min_lat, max_lon, max_lat = bounds
    mid = (min_lat + max_lat) / 2
    width = float(haversine_m(mid, min_lon, np.array([mid]), np.array([max_lon]))[0])
    height = float(haversine_m(min_lat, min_lon, np.array([max_lat]), np.array([min_lon]))[0])
    extent = max(width, height)
    if extent <= 0:
        return 9
    target = extent / cells_across
    # A hexagon is about sqrt(3) edge lengths wide.
    return min(
        HEX_RESOLUTIONS,
        key=lambda r: abs(
            math.log(math.sqrt(3) * h3.average_hexagon_edge_length(r, unit="m") / target)
        ),
    )


def hex_bins(
    accounts: gpd.GeoDataFrame,
    *,
    resolution: int | None = None,
    value_column: str = "potential_value",
) -> gpd.GeoDataFrame:
    """Count accounts and sum their value in H3 hexagons.

    Parameters
    ----------
    accounts
        Accounts (rows without a location are skipped).
    resolution
        H3 resolution (0-15); chosen by :func:`hex_resolution` when omitted.
    value_column
        Column summed into ``value`` (missing values count 0).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per non-empty hexagon, most accounts first: ``h3`` (cell
        id), ``count``, ``value``, geometry (hexagon, EPSG:4326). The
        resolution is in ``.attrs["resolution"]``; ``count`` adds up to the
        number of located accounts.
    """
    import h3

    pts = located(accounts)
    res = hex_resolution(pts) if resolution is None else int(resolution)
    if not 0 <= res <= 15:
        msg = f"H3 resolution must be between 0 and 15, got {res}"
        raise InputError(msg)
    lat, lon = _lat_lon(pts)
    cells = [h3.latlng_to_cell(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)]
    if value_column in pts.columns:
        values = pd.to_numeric(pts[value_column], errors="coerce").fillna(0.0).to_numpy(float)
    else:
        values = np.zeros(len(pts))
    frame = pd.DataFrame({"h3": cells, "value": values})
    grouped = (
        frame.groupby("h3", sort=False)
        .agg(count=("value", "size"), value=("value", "sum"))
        .reset_index()
        .sort_values(["count", "h3"], ascending=[False, True], ignore_index=True)
    )
    geoms = [shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(c)]) for c in grouped["h3"]]
    out = gpd.GeoDataFrame(grouped, geometry=geoms, crs=4326)
    out["count"] = out["count"].astype(int)
    out.attrs["resolution"] = res
    return out


# --------------------------------------------------------------------------- areas


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
    from gcrm.osm import read_address_points

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


# --------------------------------------------------------------------------- selection


def _features(drawn: Any) -> list[Mapping[str, Any]]:
    if drawn is None:
        return []
    if isinstance(drawn, Mapping):
        if drawn.get("type") == "FeatureCollection":
            return list(drawn.get("features") or [])
        if drawn.get("type") == "Feature":
            return [drawn]
        if "type" in drawn and "coordinates" in drawn:
            return [{"type": "Feature", "geometry": drawn, "properties": {}}]
        return []
    return [f for item in drawn for f in _features(item)]


def select_accounts(accounts: gpd.GeoDataFrame, drawn: Any) -> gpd.GeoDataFrame:
    """Return the accounts inside shapes drawn on a map.

    Parameters
    ----------
    accounts
        Accounts (any CRS).
    drawn
        What streamlit-folium returns as ``all_drawings`` (a list of GeoJSON
        features), a FeatureCollection, one feature or one geometry.
        Polygons and rectangles select what they cover (tested in Web
        Mercator, as Leaflet draws them; self-crossing lassos are repaired);
        a Point with ``properties.radius`` (a drawn circle, metres) selects
        what lies within that haversine distance. Lines and bare points
        select nothing.

    Returns
    -------
    geopandas.GeoDataFrame
        The selected rows of ``accounts``, in their order, each once.
    """
    positions = np.flatnonzero(_located_mask(accounts))
    pts = located(accounts)
    keep = np.zeros(len(pts), dtype=bool)
    if pts.empty:
        return accounts.iloc[0:0]
    lat, lon = _lat_lon(pts)
    merc = None
    for feature in _features(drawn):
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if not geometry:
            continue
        try:
            shape = shapely.geometry.shape(geometry)
        except (ValueError, TypeError, AttributeError, KeyError):
            continue
        props = feature.get("properties") or {}
        if shape.geom_type == "Point" and props.get("radius") is not None:
            radius = float(props["radius"])
            keep |= haversine_m(shape.y, shape.x, lat, lon) <= radius
        elif shape.geom_type in ("Polygon", "MultiPolygon"):
            if merc is None:
                merc = np.asarray(gpd.GeoSeries(pts.geometry).to_crs(3857).values, dtype=object)
            poly = gpd.GeoSeries([shape], crs=4326).to_crs(3857).iloc[0]
            poly = shapely.make_valid(poly)
            shapely.prepare(poly)
            keep |= shapely.covers(poly, merc)
    return accounts.iloc[positions[keep]]


# --------------------------------------------------------------------------- drive times


def drive_times(
    G: nx.MultiDiGraph,
    origin_lats: Iterable[float],
    origin_lons: Iterable[float],
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    access_speed_kph: float | None = None,
) -> np.ndarray:
    """Travel times (s) from a few origins to many locations.

    The routes and times are exactly those of
    :func:`gcrm.matrix.travel_matrix` over the origins and the locations
    together (snapping, access legs, one-way streets), but only the origin
    rows are computed: one Dijkstra run per distinct way out of an origin.

    Parameters
    ----------
    G
        Road graph with travel times (:func:`gcrm.network.load_network`).
    origin_lats, origin_lons
        The K origins (WGS 84).
    lats, lons
        The N destinations.
    access_speed_kph
        Speed of the legs between a location and its road; default
        :data:`gcrm.matrix.ACCESS_SPEED_KPH`.

    Returns
    -------
    numpy.ndarray
        ``(K, N)`` seconds, ``inf`` where unreachable.
    """
    speed = ACCESS_SPEED_KPH if access_speed_kph is None else float(access_speed_kph)
    if speed <= 0:
        msg = f"access_speed_kph must be positive, got {speed}"
        raise InputError(msg)
    o_lat = np.asarray(list(origin_lats), dtype=float)
    o_lon = np.asarray(list(origin_lons), dtype=float)
    d_lat = np.asarray(list(lats), dtype=float)
    d_lon = np.asarray(list(lons), dtype=float)
    k, n = len(o_lat), len(d_lat)
    if k == 0 or n == 0:
        return np.zeros((k, n))
    at = _paths.place(G, np.concatenate([o_lat, d_lat]), np.concatenate([o_lon, d_lon]))
    best = _paths.best_costs(at.pk, at.opts, rows=slice(0, k), cols=slice(k, k + n))
    seconds, _ = _paths.unpack(best, at.pk)
    seconds += (at.access[:k, None] + at.access[None, k:]) / (speed / 3.6)
    return seconds


def nearest_drive_times(
    G: nx.MultiDiGraph,
    origin_lats: Iterable[float],
    origin_lons: Iterable[float],
    lats: Iterable[float],
    lons: Iterable[float],
    *,
    access_speed_kph: float | None = None,
    exact_limit: int = 0,
) -> np.ndarray:
    """Travel time (s) to each location from its nearest origin.

    Problems with origins x locations <= ``exact_limit`` (default none) take
    the minimum of :func:`drive_times`; the default path gives the same times
    in time linear in the number of locations: the cheapest arrival at every
    graph node from any origin is computed once (one Dijkstra per distinct
    origin node), then each location takes its best way in; locations sharing
    a street with origins are then solved exactly against those origins (the
    direct way along the street).

    Parameters
    ----------
    G
        Road graph with travel times.
    origin_lats, origin_lons
        The origins (e.g. customers).
    lats, lons
        The locations.
    access_speed_kph
        Walking speed of the access legs (default the matrix's).
    exact_limit
        Largest origins x locations sent through the full matrix instead.

    Returns
    -------
    numpy.ndarray
        Seconds per location; ``inf`` where no origin reaches it.
    """
    o_lat = np.asarray(list(origin_lats), dtype=float)
    o_lon = np.asarray(list(origin_lons), dtype=float)
    d_lat = np.asarray(list(lats), dtype=float)
    d_lon = np.asarray(list(lons), dtype=float)
    k, n = len(o_lat), len(d_lat)
    if k == 0 or n == 0:
        return np.full(n, np.inf)
    if k * n <= exact_limit:
        return drive_times(G, o_lat, o_lon, d_lat, d_lon, access_speed_kph=access_speed_kph).min(
            axis=0
        )
    speed = (ACCESS_SPEED_KPH if access_speed_kph is None else float(access_speed_kph)) / 3.6
    at = _paths.place(G, np.concatenate([o_lat, d_lat]), np.concatenate([o_lon, d_lon]))
    pk, opts, access = at.pk, at.opts, at.access
    n_nodes = pk.csr.shape[0]
    # cheapest start (s) at each node from any origin, access leg included
    start = np.full(n_nodes, np.inf)
    out_s, _ = _paths.unpack(opts.out_w[:k].copy(), pk)
    out_s += access[:k, None] / speed
    np.minimum.at(start, opts.out_node[:k].ravel(), out_s.ravel())
    sources = np.flatnonzero(np.isfinite(start))
    rows, _ = _paths.unpack(_paths.node_rows(pk, sources, np.arange(n_nodes)), pk)
    arrive = (start[sources, None] + rows).min(axis=0)
    in_s, _ = _paths.unpack(opts.in_w[k:].copy(), pk)
    best = (arrive[opts.in_node[k:]] + in_s).min(axis=1) + access[k:] / speed
    # an origin on the location's own street may reach it directly along the edge:
    # on a directed edge of T seconds, origin at fraction g_o <= g_t costs
    # (g_t - g_o) * T + its access leg; keep, per edge, the running minimum of
    # (access - g_o * T) over origins sorted by g_o.
    edge_s, _ = _paths.unpack(pk.edge_w.astype(float).copy(), pk)
    pe, pf = opts.place_edge, opts.place_frac
    o_x, o_g = pe[:k].ravel(), pf[:k].ravel()
    o_acc = np.repeat(access[:k] / speed, pe.shape[1])
    keep = o_x >= 0
    o_x, o_g, o_acc = o_x[keep], o_g[keep], o_acc[keep]
    order = np.lexsort((o_g, o_x))
    o_x, o_g, o_acc = o_x[order], o_g[order], o_acc[order]
    run = pd.Series(o_acc - o_g * edge_s[o_x]).groupby(o_x).cummin().to_numpy()
    t_x, t_g = pe[k:].ravel(), pf[k:].ravel()
    t_i = np.repeat(np.arange(n), pe.shape[1])
    ok = t_x >= 0
    t_x, t_g, t_i = t_x[ok], t_g[ok], t_i[ok]
    key_o = o_x * 2.0 + o_g
    j = np.searchsorted(key_o, t_x * 2.0 + t_g, side="right") - 1
    hit = (j >= 0) & (o_x[np.clip(j, 0, None)] == t_x) if len(o_x) else np.zeros(len(t_x), bool)
    if hit.any():
        direct = run[j[hit]] + t_g[hit] * edge_s[t_x[hit]] + access[k:][t_i[hit]] / speed
        np.minimum.at(best, t_i[hit], direct)
    return best


def _node_times(G: nx.MultiDiGraph, lat: float, lon: float, speed_kph: float) -> dict[str, Any]:
    """Seconds from a location to every node, with its snapped edge (for isochrones)."""
    at = _paths.place(G, np.array([lat]), np.array([lon]))
    idx, opts, access = at.idx, at.opts, at.access
    seconds, _ = _paths.unpack(_paths.costs_to_nodes(at.pk, opts, 0), at.pk)
    leg = float(access[0]) / (speed_kph / 3.6)
    return {
        "idx": idx,
        "node_s": seconds + leg,
        "leg_s": leg,
        "placements": [
            (int(e), float(f))
            for e, f in zip(opts.place_edge[0], opts.place_frac[0], strict=True)
            if e >= 0
        ],
    }


def isochrone(
    G: nx.MultiDiGraph,
    lat: float,
    lon: float,
    minutes: float,
    *,
    buffer_m: float = 40.0,
    access_speed_kph: float | None = None,
) -> BaseGeometry:
    """Return the area reachable within N minutes on the road network.

    The roads (and parts of roads) reachable in time, buffered by
    ``buffer_m``: the area one can drive to, for display.

    Parameters
    ----------
    G
        Road graph with travel times.
    lat, lon
        Start (WGS 84); its access leg to the road counts.
    minutes
        Time budget.
    buffer_m
        Half-width of the band drawn around reachable roads.
    access_speed_kph
        Speed of the access leg; default :data:`gcrm.matrix.ACCESS_SPEED_KPH`.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        In EPSG:4326 (lon/lat); empty when not even the road is reachable.
    """
    if minutes < 0:
        msg = f"minutes must not be negative, got {minutes}"
        raise InputError(msg)
    speed = ACCESS_SPEED_KPH if access_speed_kph is None else float(access_speed_kph)
    info = _node_times(G, float(lat), float(lon), speed)
    idx = info["idx"]
    budget = minutes * 60.0
    start = np.asarray(info["node_s"])[idx.eu]
    spare = budget - start
    reach = spare > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(idx.time > 0, spare / idx.time, 1.0)
    frac = np.clip(frac, 0.0, 1.0)
    pieces = []
    for e in np.flatnonzero(reach):
        line = idx.geoms[e]
        f = float(frac[e])
        pieces.append(line if f >= 1 else substring(line, 0, f, normalized=True))
    rest = budget - info["leg_s"]
    if rest > 0:
        for e, f0 in info["placements"]:
            t = float(idx.time[e])
            f1 = 1.0 if t <= 0 else min(1.0, f0 + rest / t)
            pieces.append(substring(idx.geoms[e], f0, f1, normalized=True))
    if not pieces:
        return shapely.Polygon()
    area = shapely.union_all(shapely.buffer(np.asarray(pieces, dtype=object), buffer_m))
    area = shapely.simplify(area, buffer_m / 8)

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        lo, la = idx.to_lonlat.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lo, la])

    return shapely.transform(area, to_lonlat)


def _origin(accounts: gpd.GeoDataFrame, origin: Any) -> tuple[float, float, Any]:
    """``(lat, lon, account id or None)`` of a point or an account id."""
    if isinstance(origin, tuple | list) and len(origin) == 2:
        lat, lon = float(origin[0]), float(origin[1])
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            msg = f"origin ({lat}, {lon}) is not a valid latitude/longitude"
            raise InputError(msg)
        return lat, lon, None
    pts = located(accounts)
    match = pts[pts["id"] == origin]
    if match.empty:
        msg = f"account {origin!r} is not among the located accounts"
        raise NotFoundError(msg)
    geom = match.geometry.iloc[0]
    return float(geom.y), float(geom.x), origin


def near_here(
    accounts: gpd.GeoDataFrame,
    origin: tuple[float, float] | int,
    *,
    radius_m: float | None = None,
    minutes: float | None = None,
    G: nx.MultiDiGraph | None = None,
    include_origin: bool = False,
) -> gpd.GeoDataFrame:
    """Return the accounts within a radius or within N minutes' drive of a place.

    Parameters
    ----------
    accounts
        Accounts (rows without a location are skipped).
    origin
        ``(lat, lon)`` or the ``id`` of an account.
    radius_m
        Keep accounts at most this far (haversine distance).
    minutes
        Keep accounts reachable within this many minutes (needs ``G``); the
        times are those of :func:`gcrm.matrix.travel_matrix`.
    G
        Road graph for ``minutes``.
    include_origin
        Keep the origin account itself (distance and time 0).

    Returns
    -------
    geopandas.GeoDataFrame
        The accounts with ``distance_m`` (and ``drive_s`` when ``minutes``
        is given), nearest first: by drive time when ``minutes`` is given,
        else by distance.

    Raises
    ------
    InputError
        If neither ``radius_m`` nor ``minutes`` is given, or ``minutes``
        without ``G``.
    NotFoundError
        If the origin account is not among the located accounts.
    """
    if radius_m is None and minutes is None:
        msg = "near here needs a radius (m) or a drive time (minutes)"
        raise InputError(msg)
    if minutes is not None and G is None:
        msg = "a drive-time search needs the road network"
        raise InputError(msg)
    lat, lon, origin_id = _origin(accounts, origin)
    pts = located(accounts).copy()
    plat, plon = _lat_lon(pts)
    pts["distance_m"] = haversine_m(lat, lon, plat, plon)
    keep = np.ones(len(pts), dtype=bool)
    is_origin = np.zeros(len(pts), dtype=bool)
    if origin_id is not None:
        is_origin = (pts["id"] == origin_id).to_numpy()
    if radius_m is not None:
        keep &= pts["distance_m"].to_numpy() <= radius_m
    sort = ["distance_m"]
    if minutes is not None:
        assert G is not None
        times = drive_times(G, [lat], [lon], plat, plon)[0] if len(pts) else np.zeros(0)
        times[is_origin] = 0.0
        pts["drive_s"] = times
        keep &= times <= minutes * 60.0
        sort = ["drive_s", "distance_m"]
    pts.loc[is_origin, "distance_m"] = 0.0
    if not include_origin:
        keep &= ~is_origin
    return pts[keep].sort_values([*sort, "id"], kind="stable")


# --------------------------------------------------------------------------- white space


def white_space(
    accounts: gpd.GeoDataFrame,
    homes: pd.DataFrame,
    G: nx.MultiDiGraph,
    *,
    min_minutes: float = 10.0,
    prospect_kinds: Sequence[str] = ("prospect", "lead"),
    customer_kind: str = "customer",
) -> gpd.GeoDataFrame:
    """Find prospects far, in drive time, from every rep's home and every customer.

    Parameters
    ----------
    accounts
        Accounts with ``kind``.
    homes
        Reps' home bases: columns ``lat``, ``lon`` (e.g.
        :func:`gcrm.store.rep_home_bases`).
    G
        Road graph with travel times.
    min_minutes
        A prospect is white space when both its nearest home base and its
        nearest customer are at least this many minutes' drive away.
    prospect_kinds
        Kinds that count as prospects.
    customer_kind
        Kind of existing customers.

    Returns
    -------
    geopandas.GeoDataFrame
        The white-space prospects with ``home_s`` (drive from the nearest
        home base), ``customer_s`` (from the nearest customer) and
        ``white_space_s`` (the smaller of the two), farthest first.
    """
    pts = located(accounts)
    prospects = pts[pts["kind"].isin(list(prospect_kinds))].copy()
    customers = pts[pts["kind"] == customer_kind]
    plat, plon = _lat_lon(prospects)
    home = homes.dropna(subset=["lat", "lon"])
    home_s = nearest_drive_times(G, home["lat"], home["lon"], plat, plon)
    clat, clon = _lat_lon(customers)
    customer_s = nearest_drive_times(G, clat, clon, plat, plon)
    prospects["home_s"] = home_s
    prospects["customer_s"] = customer_s
    prospects["white_space_s"] = np.minimum(home_s, customer_s)
    far = prospects["white_space_s"].to_numpy() >= min_minutes * 60.0
    return prospects[far].sort_values(["white_space_s", "id"], ascending=[False, True])
