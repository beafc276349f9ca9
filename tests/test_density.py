"""Tests of gcrm.density: filters, heat, hexagons, postcode areas, near-here, selection."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from gcrm import density
from gcrm._errors import InputError, NotFoundError
from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.matrix import travel_matrix
from gcrm.store import ACCOUNT_COLUMNS, accounts_frame

TODAY = dt.date(2026, 11, 24)


# --------------------------------------------------------------------------- fixtures


def frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """An accounts frame shaped like gcrm.store.accounts_frame's."""
    base = dict.fromkeys(ACCOUNT_COLUMNS)
    records = [{**base, **{k: v for k, v in r.items() if k != "geometry"}} for r in rows]
    return gpd.GeoDataFrame(
        records, columns=list(ACCOUNT_COLUMNS), geometry=[r.get("geometry") for r in rows], crs=4326
    )


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Brute-force great-circle distance, written out independently."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * r * math.asin(math.sqrt(a))


# --------------------------------------------------------------------------- filter


def test_map_filter_parse_and_apply() -> None:
    """KEY=VALUE strings build the filter; apply keeps exactly the matching rows."""
    flt = density.MapFilter.parse(
        [
            "kind=prospect,lead",
            "stage=new",
            "stage=contacted",
            "min_value=100",
            "not_visited_since=2026-06-01",
            "do_not_contact=false",
        ]
    )
    assert flt.kinds == ("prospect", "lead") and flt.stages == ("new", "contacted")
    assert flt.min_value == 100.0 and flt.not_visited_since == dt.date(2026, 6, 1)
    assert flt.include_do_not_contact is False
    assert flt.account_filter().kinds == ("prospect", "lead")
    rows = frame(
        [
            {"id": 1, "kind": "lead", "stage": "new", "potential_value": 500.0},
            {"id": 2, "kind": "lead", "stage": "new", "potential_value": 50.0},
            {"id": 3, "kind": "customer", "stage": "new", "potential_value": 500.0},
            {"id": 4, "kind": "prospect", "stage": "contacted", "potential_value": 900.0,
             "last_visit": dt.date(2026, 7, 1)},
            {"id": 5, "kind": "prospect", "stage": "contacted", "potential_value": 900.0,
             "last_visit": dt.date(2026, 5, 1)},
            {"id": 6, "kind": "prospect", "stage": "new", "potential_value": 900.0,
             "do_not_contact": True},
        ]
    )  # fmt: skip
    assert flt.apply(rows)["id"].tolist() == [1, 5]
    assert density.MapFilter(never_visited=True).apply(rows)["id"].tolist() == [1, 2, 3, 6]
    assert density.MapFilter(visited_since=dt.date(2026, 6, 1)).apply(rows)["id"].tolist() == [4]


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("colour=red", "KEY=VALUE"),
        ("min_value=lots", "not a number"),
        ("visited_since=May", "date"),
    ],
)
def test_map_filter_rejects_bad_items(item: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        density.MapFilter.parse([item])


def test_filtered_accounts_applies_scope_and_filter(demo_copy: str) -> None:
    """A rep's filtered map shows only their accounts passing every condition."""
    flt = density.MapFilter(kinds=("customer",), not_visited_since=TODAY - dt.timedelta(days=30))
    with session_scope() as s:
        rep = actor_for(s, "rep1")
        got = density.filtered_accounts(s, rep, flt)
        everything = accounts_frame(s, rep)
    last = pd.to_datetime(everything["last_visit"])
    want = everything[
        (everything["kind"] == "customer")
        & (last.isna() | (last < pd.Timestamp(TODAY - dt.timedelta(days=30))))
    ]
    assert sorted(got["id"]) == sorted(want["id"]) and len(got) > 0


# --------------------------------------------------------------------------- heat and hexagons


def test_hex_counts_equal_the_filtered_accounts(demo: dict) -> None:
    """Hexagon counts add up to the filtered, located accounts; each lies in its hexagon."""
    accounts = density.MapFilter(kinds=("prospect",)).apply(demo["accounts"])
    bins = density.hex_bins(accounts)
    assert bins["count"].sum() == len(density.located(accounts)) == len(accounts)
    assert 4 <= bins.attrs["resolution"] <= 12
    values = pd.to_numeric(accounts["potential_value"]).fillna(0).sum()
    assert bins["value"].sum() == pytest.approx(values)
    joined = gpd.sjoin(accounts, bins, predicate="within", how="left")
    assert joined["h3"].notna().all()
    assert (
        joined.groupby("h3").size().sort_index().equals(bins.set_index("h3")["count"].sort_index())
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.floats(60.0, 60.3), st.floats(24.5, 25.2)), min_size=0, max_size=60),
    st.sampled_from([None, 7, 9]),
)
def test_hex_counts_property(points: list[tuple[float, float]], resolution: int | None) -> None:
    """Any points (plus unlocated rows): counts add up to the located ones."""
    rows = [{"id": i, "geometry": Point(lon, lat)} for i, (lat, lon) in enumerate(points)]
    rows.append({"id": -1, "geometry": None})
    bins = density.hex_bins(frame(rows), resolution=resolution)
    assert bins["count"].sum() == len(points)
    assert bins["h3"].is_unique


def test_hex_resolution_follows_the_extent() -> None:
    """A wider extent gets coarser hexagons; no extent gets a default."""
    city = density.hex_resolution((24.9, 60.15, 25.0, 60.2))
    country = density.hex_resolution((20.0, 60.0, 30.0, 70.0))
    street = density.hex_resolution((24.94, 60.17, 24.942, 60.171))
    assert country < city < street
    assert density.hex_resolution(frame([])) == 9


def test_heat_points_keep_the_total_weight() -> None:
    """Few accounts go as they are; many are gridded, their total weight kept."""
    rng = np.random.default_rng(1)
    n = 5000
    rows = [
        {"id": i, "potential_value": float(v), "geometry": Point(x, y)}
        for i, (x, y, v) in enumerate(
            zip(
                rng.uniform(24.8, 25.1, n),
                rng.uniform(60.1, 60.3, n),
                rng.uniform(0, 10, n),
                strict=True,
            )
        )
    ]
    accounts = frame(rows)
    raw = density.heat_points(accounts, weight="potential")
    assert len(raw) == n and raw[:, 2].sum() == pytest.approx(accounts["potential_value"].sum())
    gridded = density.heat_points(accounts, weight="count", max_points=500)
    assert len(gridded) <= 500 and gridded[:, 2].sum() == pytest.approx(n)
    assert (gridded[:, 0] >= 60.1).all() and (gridded[:, 1] <= 25.1).all()
    with pytest.raises(InputError, match="weight"):
        density.heat_points(accounts, weight="revenue")


# --------------------------------------------------------------------------- areas


def _tiles(areas: gpd.GeoDataFrame, region: shapely.Geometry) -> None:
    """The areas' union is the region and no two areas overlap (metric CRS)."""
    crs = density.metric_crs(region)
    parts = areas.to_crs(crs).geometry.tolist()
    region_m = gpd.GeoSeries([region], crs=4326).to_crs(crs).iloc[0]
    union = shapely.union_all(parts)
    assert union.symmetric_difference(region_m).area <= 1e-5 * region_m.area
    for a, b in itertools.combinations(parts, 2):
        assert a.intersection(b).area <= 1e-3


def test_postcode_areas_tile_the_region(demo: dict) -> None:
    """Voronoi cells of the OSM addresses, dissolved by postcode, tile the demo region."""
    points = density.address_points()
    region = demo["region"]
    areas = density.postcode_areas(points, region)
    assert areas["postcode"].is_unique and {"00100", "00120", "00130"} <= set(areas["postcode"])
    _tiles(areas, region)
    # an address point inside the region lies in its own postcode's area
    inside = points[points.within(region)]
    joined = gpd.sjoin(inside, areas, predicate="within", how="left", rsuffix="area")
    agree = (joined["postcode_left"] == joined["postcode_area"]).mean()
    assert agree > 0.97  # points sharing a location with another code lose it


def test_postcode_areas_of_a_few_points() -> None:
    """Two postcodes in a square: two areas splitting it; bad input is refused."""
    region = box(24.90, 60.10, 24.92, 60.11)
    points = gpd.GeoDataFrame(
        {"postcode": ["00100", "00100", "00200", None]},
        geometry=[
            Point(24.901, 60.105),
            Point(24.903, 60.102),
            Point(24.918, 60.105),
            Point(24.91, 60.105),
        ],
        crs=4326,
    )
    areas = density.postcode_areas(points, region)
    assert areas["postcode"].tolist() == ["00100", "00200"]
    assert areas["addresses"].tolist() == [2, 1]
    _tiles(areas, region)
    with pytest.raises(InputError, match="postcode"):
        density.postcode_areas(points.iloc[3:], region)
    with pytest.raises(InputError, match="region"):
        density.postcode_areas(points, shapely.Polygon())


def test_coverage_counts_visits_within_target() -> None:
    rows = frame(
        [
            {"territory": "A", "visit_every_days": 30, "last_visit": TODAY - dt.timedelta(days=10)},
            {"territory": "A", "visit_every_days": 30, "last_visit": TODAY - dt.timedelta(days=31)},
            {"territory": "A", "visit_every_days": 60, "last_visit": None},
            {"territory": "A", "visit_every_days": None, "last_visit": TODAY},
            {"territory": "B", "visit_every_days": None, "last_visit": None},
        ]
    )
    out = density.coverage(rows, today=TODAY).set_index("territory")
    assert out.loc["A", ["accounts", "with_target", "covered"]].tolist() == [4, 3, 1]
    assert out.loc["A", "coverage"] == pytest.approx(1 / 3)
    assert math.isnan(out.loc["B", "coverage"])
    total = density.coverage(rows, by=None, today=TODAY)
    assert total["covered"].item() == 1 and total["accounts"].item() == 5


def test_area_stats_by_location_and_by_column(demo: dict) -> None:
    accounts = demo["accounts"]
    areas = density.postcode_areas(density.address_points(), demo["region"])
    stats = density.area_stats(accounts, areas, key="postcode")
    assert stats["count"].sum() == len(accounts)  # every demo account lies in the region
    terr = gpd.GeoDataFrame(
        {"name": ["Helsinki West", "Helsinki East"]}, geometry=[box(0, 0, 1, 1)] * 2, crs=4326
    )
    by_col = density.area_stats(accounts, terr, key="name", by_column="territory")
    counts = accounts["territory"].value_counts()
    assert by_col.set_index("name")["count"].to_dict() == {
        "Helsinki West": counts["Helsinki West"],
        "Helsinki East": counts["Helsinki East"],
    }
    assert ((by_col["coverage"] >= 0) & (by_col["coverage"] <= 1)).all()


# --------------------------------------------------------------------------- selection


def _square(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
    }


def test_select_accounts_with_drawn_shapes(demo: dict) -> None:
    """Rectangles, polygons, circles and lassos select what they cover, each once."""
    accounts = demo["accounts"]
    x, y = accounts.geometry.x, accounts.geometry.y
    rect = _square(24.938, 60.166, 24.944, 60.170)
    got = density.select_accounts(accounts, [rect])
    in_rect = accounts[(x >= 24.938) & (x <= 24.944) & (y >= 60.166) & (y <= 60.170)]
    assert sorted(got["id"]) == sorted(in_rect["id"]) and len(got) > 10
    # two overlapping shapes: the union, each account once, in the frame's order
    both = density.select_accounts(accounts, [rect, _square(24.942, 60.168, 24.95, 60.175)])
    assert both["id"].is_unique and list(both.index) == sorted(both.index)
    assert set(got["id"]) < set(both["id"])
    # a circle (streamlit-folium adds its radius in metres)
    circle = {
        "type": "Feature",
        "properties": {"radius": 150.0},
        "geometry": {"type": "Point", "coordinates": [24.94, 60.17]},
    }
    in_circle = density.select_accounts(
        accounts, {"type": "FeatureCollection", "features": [circle]}
    )
    brute = [
        i for i, g in zip(accounts["id"], accounts.geometry, strict=True)
        if haversine(60.17, 24.94, g.y, g.x) <= 150.0
    ]  # fmt: skip
    assert sorted(in_circle["id"]) == sorted(brute)
    # a self-crossing lasso (bow tie) is repaired, not an error
    bow = {"type": "Polygon", "coordinates": [[[24.938, 60.166], [24.944, 60.170],
                                               [24.944, 60.166], [24.938, 60.170],
                                               [24.938, 60.166]]]}  # fmt: skip
    assert len(density.select_accounts(accounts, bow)) > 0
    for nothing in (None, [], [{"type": "Feature", "geometry": None}], {"type": "Point"}):
        assert density.select_accounts(accounts, nothing).empty


# --------------------------------------------------------------------------- near here


def test_near_here_radius_agrees_with_brute_force(demo: dict) -> None:
    accounts = demo["accounts"]
    origin = (60.1690, 24.9410)
    got = density.near_here(accounts, origin, radius_m=250)
    brute = {
        i: haversine(*origin, g.y, g.x)
        for i, g in zip(accounts["id"], accounts.geometry, strict=True)
    }
    want = sorted((d, i) for i, d in brute.items() if d <= 250)
    assert got["id"].tolist() == [i for _, i in want]
    assert np.allclose(got["distance_m"], [d for d, _ in want], rtol=0, atol=1e-6)


def test_near_here_an_account(demo: dict) -> None:
    """From an account: itself left out (or first, at 0 m); unknown ids are not found."""
    accounts = demo["accounts"]
    aid = int(accounts["id"].iloc[100])
    got = density.near_here(accounts, aid, radius_m=100)
    assert aid not in set(got["id"])
    with_self = density.near_here(accounts, aid, radius_m=100, include_origin=True)
    assert with_self["id"].iloc[0] == aid and with_self["distance_m"].iloc[0] == 0
    with pytest.raises(NotFoundError):
        density.near_here(accounts, -5, radius_m=100)
    with pytest.raises(InputError, match="radius"):
        density.near_here(accounts, aid)
    with pytest.raises(InputError, match="road network"):
        density.near_here(accounts, aid, minutes=5)


def test_drive_times_equal_the_matrix(demo: dict, graph) -> None:
    """One-to-many drive times are the travel matrix's rows, to the millisecond."""
    accounts = demo["accounts"].iloc[::7]
    lat, lon = accounts.geometry.y.to_numpy(), accounts.geometry.x.to_numpy()
    homes = demo["homes"]
    got = density.drive_times(graph, homes["lat"], homes["lon"], lat, lon)
    tm = travel_matrix(graph, np.r_[homes["lat"], lat], np.r_[homes["lon"], lon])
    k = len(homes)
    assert got.shape == (k, len(lat))
    assert np.allclose(got, tm.durations[:k, k:], rtol=0, atol=1e-6)


def test_near_here_drive_time_agrees_with_the_matrix(demo: dict, graph) -> None:
    accounts = demo["accounts"]
    origin = (60.1700, 24.9420)
    got = density.near_here(accounts, origin, minutes=3, G=graph)
    lat, lon = accounts.geometry.y.to_numpy(), accounts.geometry.x.to_numpy()
    tm = travel_matrix(graph, np.r_[origin[0], lat], np.r_[origin[1], lon])
    row = tm.durations[0, 1:]
    want = set(accounts["id"][row <= 180])
    assert set(got["id"]) == want and 0 < len(want) < len(accounts)
    assert got["drive_s"].is_monotonic_increasing
    by_id = dict(zip(accounts["id"], row, strict=True))
    assert np.allclose(got["drive_s"], [by_id[i] for i in got["id"]], atol=1e-6)
    both = density.near_here(accounts, origin, minutes=3, radius_m=100, G=graph)
    assert set(both["id"]) == {i for i in want if i in set(got[got["distance_m"] <= 100]["id"])}


def test_isochrone_grows_with_time(graph) -> None:
    small = density.isochrone(graph, 60.17, 24.942, 1)
    large = density.isochrone(graph, 60.17, 24.942, 4)
    assert small.geom_type in ("Polygon", "MultiPolygon") and not small.is_empty
    assert large.area > small.area
    assert small.difference(large).area <= 0.02 * small.area  # up to simplification
    assert 24.9 < large.centroid.x < 25.0 and 60.1 < large.centroid.y < 60.2
    assert density.isochrone(graph, 60.17, 24.942, 0).is_empty


def test_white_space_prospects_are_far_from_homes_and_customers(demo: dict, graph) -> None:
    accounts, homes = demo["accounts"], demo["homes"]
    got = density.white_space(accounts, homes, graph, min_minutes=3)
    assert len(got) > 0 and set(got["kind"]) <= {"prospect", "lead"}
    assert (got["home_s"] >= 180).all() and (got["customer_s"] >= 180).all()
    assert got["white_space_s"].is_monotonic_decreasing
    # brute force on the returned ones: no customer nearer than the reported time
    customers = accounts[accounts["kind"] == "customer"]
    first = got.iloc[0]
    times = density.drive_times(
        graph, customers.geometry.y, customers.geometry.x, [first.geometry.y], [first.geometry.x]
    )
    assert times.min() == pytest.approx(first["customer_s"])
    none = density.white_space(accounts, homes, graph, min_minutes=60)
    assert none.empty


def test_nearest_drive_times_equals_the_full_matrix_minimum(graph) -> None:
    """The linear-time nearest-origin times equal the minimum over the full matrix,
    including origins on the same street as the location (one-way or not)."""
    from gcrm.density import drive_times, nearest_drive_times

    rng = np.random.default_rng(11)
    for n_origins, n_targets in ((300, 2000), (5, 500), (1, 50)):
        olat = 60.163 + rng.random(n_origins) * 0.015
        olon = 24.925 + rng.random(n_origins) * 0.04
        lat = 60.163 + rng.random(n_targets) * 0.015
        lon = 24.925 + rng.random(n_targets) * 0.04
        want = drive_times(graph, olat, olon, lat, lon).min(axis=0)
        got = nearest_drive_times(graph, olat, olon, lat, lon, exact_limit=0)
        finite = np.isfinite(want)
        assert np.array_equal(finite, np.isfinite(got))
        assert np.allclose(got[finite], want[finite], atol=1e-3)
    assert nearest_drive_times(graph, [], [], [60.17], [24.94]).tolist() == [np.inf]
