"""The demo's territories are built from its data: contiguous, balanced, not rectangles."""

from __future__ import annotations

from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.store import accounts_frame, territories_frame


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
