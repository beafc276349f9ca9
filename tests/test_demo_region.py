"""The demo on another region's extract: its own businesses, homes inside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gcrm._errors import InputError
from gcrm.db.models import Account, User
from gcrm.db.session import session_scope
from gcrm.demo import build_demo

SHARED_OSM = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm"


def test_demo_on_bayreuth_uses_its_businesses_and_homes_inside(db: str) -> None:
    """On north Bayreuth the accounts are Bayreuth's businesses (German towns, DE) and
    every rep's and the manager's home is an address point inside the region."""
    osm = SHARED_OSM / "north-bayreuth.osm.gz"
    if not osm.is_file():
        pytest.skip(f"{osm} is absent")
    with session_scope() as s:
        summary = build_demo(s, osm)
    assert summary.accounts >= 50
    with session_scope() as s:
        accounts = s.scalars(select(Account)).all()
        lats = [a.lat for a in accounts]
        lons = [a.lon for a in accounts]
        assert {a.country for a in accounts} == {"DE"}
        assert "Helsinki" not in {a.city for a in accounts}
        homes = [
            (u.username, u.home_lat, u.home_lon)
            for u in s.scalars(select(User))
            if u.home_lat is not None
        ]
    assert {h[0] for h in homes} == {"manager", "rep1", "rep2", "rep3"}
    for name, lat, lon in homes:
        assert min(lats) - 0.01 <= lat <= max(lats) + 0.01, name
        assert min(lons) - 0.01 <= lon <= max(lons) + 0.01, name
    assert len({(lat, lon) for _, lat, lon in homes}) >= 3  # spread, not one point


def test_demo_says_clearly_when_a_region_has_no_businesses(db: str, tmp_path: Path) -> None:
    """An extract with roads and addresses but no named businesses: the demo refuses
    with a clear message instead of building a Helsinki demo elsewhere."""
    osm = tmp_path / "empty.osm"
    osm.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
        "<node id='1' lat='42.5' lon='1.5' version='1'>"
        "<tag k='addr:street' v='Carrer Major'/><tag k='addr:housenumber' v='1'/></node>\n"
        "</osm>\n",
        encoding="utf-8",
    )
    with session_scope() as s, pytest.raises(InputError, match="named businesses"):
        build_demo(s, osm)
