"""Tests of gcrm.territories: import, assignment, the balanced builder and saving."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box, mapping
from sqlalchemy import select

from gcrm import density, territories
from gcrm._errors import InputError, PermissionDeniedError
from gcrm.auth import SYSTEM, actor_for
from gcrm.db.models import Account, AuditEvent, Territory
from gcrm.db.session import session_scope
from gcrm.store import (
    ACCOUNT_COLUMNS,
    accounts_frame,
    region_geometry,
    rep_home_bases,
    save_territories,
    territories_frame,
)


def seeds_of(homes: pd.DataFrame) -> pd.DataFrame:
    return homes.rename(columns={"username": "owner"})[["owner", "lat", "lon"]]


def frame(rows: list[dict]) -> gpd.GeoDataFrame:
    base = dict.fromkeys(ACCOUNT_COLUMNS)
    records = [{**base, **{k: v for k, v in r.items() if k != "geometry"}} for r in rows]
    return gpd.GeoDataFrame(
        records, columns=list(ACCOUNT_COLUMNS), geometry=[r.get("geometry") for r in rows], crs=4326
    )


def assert_partition(polygons: gpd.GeoDataFrame, region: shapely.Geometry) -> None:
    """One polygon each, no overlaps, union equal to the region (metric CRS)."""
    crs = density.metric_crs(region)
    parts = polygons.to_crs(crs).geometry.tolist()
    assert all(p.geom_type == "Polygon" or len(p.geoms) == 1 for p in parts)
    for a, b in itertools.combinations(parts, 2):
        assert a.intersection(b).area <= 1e-3
    region_m = gpd.GeoSeries([region], crs=4326).to_crs(crs).iloc[0]
    assert shapely.union_all(parts).symmetric_difference(region_m).area <= 1e-5 * region_m.area


# --------------------------------------------------------------------------- builder


@pytest.mark.parametrize("balance", ["workload", "potential"])
def test_built_territories_are_contiguous_and_balanced(demo: dict, graph, balance: str) -> None:
    """K=3 from the reps' homes: one polygon each, tiling the region, within 1.2 max/min."""
    plan = territories.build_territories(
        demo["accounts"],
        seeds_of(demo["homes"]),
        3,
        balance=balance,
        region=demo["region"],
        G=graph,
    )
    t = plan.territories
    assert len(t) == 3 and plan.contiguous
    assert t["owner"].tolist() == ["rep1", "rep2", "rep3"]
    assert_partition(t, demo["region"])
    ratio = plan.workload_max_min if balance == "workload" else plan.potential_max_min
    assert ratio <= 1.2
    assert ((t["polsby_popper"] > 0.2) & (t["polsby_popper"] <= 1)).all()
    # every account inside the region is assigned, and the polygons agree
    assert plan.unassigned == () and plan.assignment.notna().all()
    joined = territories.assign_accounts(demo["accounts"], t)
    assert joined.territory.reindex(plan.assignment.index).equals(plan.assignment)
    # homes inside the region lie in their own rep's territory
    for _, home in demo["homes"].iterrows():
        pt = Point(home["lon"], home["lat"])
        if demo["region"].covers(pt):
            owner = t[t.geometry.covers(pt)]["owner"].tolist()
            assert owner == [home["username"]]
    summary = plan.summary()
    assert json.loads(json.dumps(summary))["territories"] == 3
    assert summary["workload_max_min"] == pytest.approx(plan.workload_max_min, abs=1e-4)


def test_builder_without_roads_and_with_extra_seeds() -> None:
    """A grid of accounts, one home, K=3: seeds are added; straight-line times are used."""
    rng = np.random.default_rng(3)
    rows = [
        {
            "id": i,
            "visit_minutes": int(rng.choice([20, 30, 60])),
            "visit_every_days": int(rng.choice([30, 60])),
            "potential_value": float(rng.uniform(100, 1000)),
            "geometry": Point(24.90 + 0.002 * (i % 20), 60.15 + 0.001 * (i // 20)),
        }
        for i in range(300)
    ]
    rows.append({"id": 999, "geometry": None})
    rows.append({"id": 998, "geometry": Point(26.0, 61.0)})  # outside the region
    accounts = frame(rows)
    region = box(24.899, 60.149, 24.94, 60.165)
    seeds = pd.DataFrame({"owner": ["ann"], "lat": [60.152], "lon": [24.905]})
    plan = territories.build_territories(accounts, seeds, 3, region=region, time_limit_s=10)
    assert len(plan.territories) == 3 and plan.contiguous
    assert plan.territories["owner"].tolist()[0] == "ann"
    assert plan.territories["name"].tolist()[1:] == ["Territory 2", "Territory 3"]
    assert set(plan.unassigned) == {998, 999}
    assert plan.workload_max_min <= 1.2
    assert_partition(plan.territories, region)


def test_builder_rejects_bad_input(demo: dict) -> None:
    seeds = seeds_of(demo["homes"])
    with pytest.raises(InputError, match="balance"):
        territories.build_territories(demo["accounts"], seeds, 3, balance="revenue")
    with pytest.raises(InputError, match="at least 1"):
        territories.build_territories(demo["accounts"], seeds.iloc[:0])
    few = demo["accounts"].iloc[:2]
    with pytest.raises(InputError, match="fewer than k"):
        territories.build_territories(few, seeds, 3, region=demo["region"])


def test_polsby_popper() -> None:
    assert territories.polsby_popper(Point(0, 0).buffer(10, 256)) == pytest.approx(1, abs=1e-3)
    assert territories.polsby_popper(box(0, 0, 1, 1)) == pytest.approx(np.pi / 4)
    assert territories.polsby_popper(box(0, 0, 100, 1)) < 0.05
    assert territories.polsby_popper(shapely.Polygon()) == 0


# --------------------------------------------------------------------------- assignment


def two_squares() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["West", "East"], "owner": [None, None]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs=4326,
    )


def test_every_account_gets_one_territory_or_is_reported() -> None:
    terr = pd.concat(
        [
            two_squares(),
            gpd.GeoDataFrame({"name": ["Overlap"]}, geometry=[box(1.5, 0.5, 3, 1)], crs=4326),
        ]
    )
    accounts = frame(
        [
            {"id": 1, "geometry": Point(0.5, 0.5)},
            {"id": 2, "geometry": Point(1.0, 0.5)},  # on the West/East border
            {"id": 3, "geometry": Point(1.7, 0.7)},  # in East and Overlap
            {"id": 4, "geometry": Point(5, 5)},
            {"id": 5, "geometry": None},
        ]
    )
    got = territories.assign_accounts(accounts, terr)
    assert got.territory.to_dict() == {1: "West", 2: "East", 3: "East", 4: None, 5: None}
    assert got.outside == (4,) and got.unlocated == (5,) and got.ambiguous == (3,)
    assert got.counts == {"East": 2, "Overlap": 0, "West": 1}
    assert got.summary()["assigned"] == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.5, 2.5), st.floats(-0.5, 1.5)), max_size=40))
def test_assignment_property(points: list[tuple[float, float]]) -> None:
    """Any points: each is assigned exactly once, or reported outside."""
    accounts = frame([{"id": i, "geometry": Point(x, y)} for i, (x, y) in enumerate(points)])
    got = territories.assign_accounts(accounts, two_squares())
    for i, (x, y) in enumerate(points):
        inside = 0 <= x <= 2 and 0 <= y <= 1
        assert (got.territory[i] is not None) == inside
        assert (i in got.outside) == (not inside)
    assert sum(got.counts.values()) + len(got.outside) == len(points)


def test_read_territories_geojson(tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "North", "owner": "rep1"},
             "geometry": mapping(box(24.93, 60.17, 24.96, 60.18))},
            {"type": "Feature", "properties": {"name": "South"},
             "geometry": mapping(box(24.93, 60.16, 24.96, 60.17))},
        ],
    }  # fmt: skip
    path = tmp_path / "t.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    for source in (path, str(path), json.dumps(fc), fc):
        got = territories.read_territories_geojson(source)
        assert got["name"].tolist() == ["North", "South"]
        assert got["owner"].tolist() == ["rep1", None] and got.crs.to_epsg() == 4326
    point = {**fc["features"][0], "geometry": mapping(Point(0, 0))}
    unnamed = {**fc["features"][1], "properties": {}}
    bad = [
        ({"type": "FeatureCollection", "features": [point]}, "not a polygon"),
        ({"type": "FeatureCollection", "features": [fc["features"][0]] * 2}, "duplicate"),
        ({"type": "FeatureCollection", "features": [unnamed]}, "no 'name'"),
        ("{not json", "not valid GeoJSON"),
        (tmp_path / "missing.geojson", "not found"),
    ]
    for source, match in bad:
        with pytest.raises(InputError, match=match):
            territories.read_territories_geojson(source)


def test_territories_from_drawings_and_checks() -> None:
    drawn = [
        {"type": "Feature", "properties": {}, "geometry": mapping(box(0, 0, 0.01, 0.01))},
        {"type": "Feature", "properties": {}, "geometry": mapping(Point(0, 0))},
        {"type": "Feature", "properties": {}, "geometry": mapping(box(0.005, 0, 0.02, 0.01))},
    ]
    got = territories.territories_from_drawings(drawn, ["A", "B"], ["rep1", None])
    assert got["name"].tolist() == ["A", "B"] and len(got) == 2
    problems = territories.check_territories(got)
    assert len(problems) == 1 and "A and B overlap" in problems[0]
    with pytest.raises(InputError, match="2 polygon"):
        territories.territories_from_drawings(drawn, ["A"])
    split = gpd.GeoDataFrame(
        {"name": ["Split"]},
        geometry=[shapely.MultiPolygon([box(0, 0, 0.01, 0.01), box(0.02, 0, 0.03, 0.01)])],
        crs=4326,
    )
    assert "2 separate pieces" in territories.check_territories(split)[0]


# --------------------------------------------------------------------------- database


def test_build_and_save_territories(demo_copy: str, graph) -> None:
    """The CLI's builder: K=3 saved, every account in exactly one territory, audited."""
    with session_scope() as s:
        manager = actor_for(s, "manager")
        out = territories.build_and_save_territories(s, manager, 3, "workload", G=graph)
    assert out["territories"] == 3 and out["workload_max_min"] <= 1.2 and out["contiguous"]
    assert json.loads(json.dumps(out))["territories"] == 3
    with session_scope() as s:
        names = sorted(s.scalars(select(Territory.name)))
        assert names == ["rep1 territory", "rep2 territory", "rep3 territory"]
        assert s.scalar(select(Account.id).where(Account.territory_id.is_(None))) is None
        frame_ = territories_frame(s, SYSTEM)
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.action == "territories"))
        )
        assert len(actions) >= 2
    assert_partition(frame_, demo_copy_region())
    assert out["assigned"] == out["accounts"] and out["outside"] == 0


def demo_copy_region() -> shapely.Geometry:
    with session_scope() as s:
        return region_geometry(s, SYSTEM)


def test_import_reports_accounts_outside(demo_copy: str) -> None:
    """Uploaded territories covering part of the region: the rest is reported, not lost."""
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "North", "owner": "rep1"},
             "geometry": mapping(box(24.93, 60.172, 24.96, 60.19))},
            {"type": "Feature", "properties": {"name": "Middle", "owner": "rep2"},
             "geometry": mapping(box(24.93, 60.168, 24.96, 60.172))},
        ],
    }  # fmt: skip
    with session_scope() as s:
        out = territories.import_territories(s, actor_for(s, "manager"), fc, replace=True)
    assert out["saved"] == ["North", "Middle"] and out["problems"] == []
    assert out["outside"] > 0 and out["assigned"] + out["outside"] == out["accounts"]
    with session_scope() as s:
        accounts = accounts_frame(s, SYSTEM)
    inside_north = accounts.geometry.y > 60.172
    assert (accounts.loc[inside_north, "territory"] == "North").all()
    south = accounts.geometry.y < 60.168
    assert accounts.loc[south, "territory"].isna().all()
    assert sorted(out["outside_ids"]) == sorted(accounts.loc[south, "id"])


def test_saving_territories_needs_the_right(demo_copy: str) -> None:
    poly = gpd.GeoDataFrame(
        {"name": ["X"], "owner": ["rep1"]}, geometry=[box(24.93, 60.16, 24.94, 60.17)], crs=4326
    )
    with session_scope() as s:
        with pytest.raises(PermissionDeniedError):
            save_territories(s, actor_for(s, "rep1"), poly)
        with pytest.raises(InputError, match="no user"):
            save_territories(s, SYSTEM, poly.assign(owner="nobody"))
        with pytest.raises(InputError, match="duplicate"):
            save_territories(s, SYSTEM, pd.concat([poly, poly]))
        ids = save_territories(s, SYSTEM, poly)
        assert len(ids) == 1 and s.get(Territory, ids[0]).geom.geom_type == "MultiPolygon"


def test_rep_home_bases_follow_scope(demo_copy: str) -> None:
    """Managers see their region's reps, a rep only themselves, a region-less manager none."""
    from dataclasses import replace

    with session_scope() as s:
        manager = actor_for(s, "manager")
        assert rep_home_bases(s, manager)["username"].tolist() == ["rep1", "rep2", "rep3"]
        assert rep_home_bases(s, actor_for(s, "rep2"))["username"].tolist() == ["rep2"]
        assert rep_home_bases(s, replace(manager, region_id=None)).empty
        assert len(rep_home_bases(s, SYSTEM, region="Helsinki centre")) == 3
