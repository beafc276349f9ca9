"""The demo's territories are built from its data: contiguous, balanced, not rectangles."""

from __future__ import annotations

import numpy as np
from shapely.geometry import MultiPolygon, box

from gcrm.auth import actor_for
from gcrm.db.models import Territory
from gcrm.db.session import session_scope
from gcrm.demo import _holders
from gcrm.store import accounts_frame, territories_frame
from gcrm.territory_rule import holding_territory


def test_demo_territories_are_built_from_the_data(demo_copy: str) -> None:
    with session_scope() as s:
        terr = territories_frame(s, actor_for(s, "admin"))
        accounts = accounts_frame(s, actor_for(s, "admin"))
    assert len(terr) == 3
    for geom in terr.geometry:
        parts = getattr(geom, "geoms", [geom])
        assert len(parts) == 1, "contiguous: one piece"
        assert not geom.equals(geom.envelope), "not a rectangle"
    counts = accounts["territory"].value_counts()
    assert counts.max() / counts.min() <= 1.2
    assert accounts["territory"].notna().all()
    # Neighbours share borders instead of overlapping.
    geoms = list(terr.geometry)
    for i in range(3):
        for j in range(i + 1, 3):
            assert geoms[i].intersection(geoms[j]).area < 1e-9


def test_demo_accounts_follow_the_one_territory_rule(demo_copy: str) -> None:
    """Each demo account's territory is the one gcrm.territory_rule gives its point,
    and its owner is that territory's rep."""
    with session_scope() as s:
        admin = actor_for(s, "admin")
        terr = territories_frame(s, admin)
        accounts = accounts_frame(s, admin)
    names = list(terr["name"])
    held = holding_territory(names, list(terr.geometry), accounts["lon"], accounts["lat"])
    expected = [names[i] if i is not None else None for i in held]
    assert list(accounts["territory"]) == expected
    owner_of = dict(zip(terr["name"], terr["owner"], strict=True))
    assert list(accounts["owner"]) == [owner_of.get(t) for t in expected]


def test_demo_border_and_outside_points_take_the_rule_not_the_first_territory() -> None:
    """A point on the border of two territories goes to the first name (not the first
    built, as shapely.contains_xy with a fallback to 0 gave); a point outside both to none."""
    west = Territory(name="Helsinki West", geom=MultiPolygon([box(24.93, 60.16, 24.94, 60.17)]))
    centre = Territory(name="Helsinki Centre", geom=MultiPolygon([box(24.94, 60.16, 24.95, 60.17)]))
    lon = np.array([24.935, 24.94, 24.945, 25.5])
    lat = np.array([60.165, 60.165, 60.165, 60.165])
    assert _holders([west, centre], lon, lat) == [0, 1, 1, None]
