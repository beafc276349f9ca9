"""Import + offline geocoding: rows without coordinates are located; provided and
manual locations are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gcrm.auth import SYSTEM, actor_for
from gcrm.db.models import Account
from gcrm.db.session import session_scope
from gcrm.importer import import_file
from gcrm.store import set_manual_pin


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _by_ext() -> dict[str, Account]:
    with session_scope() as s:
        return {a.external_id: a for a in s.scalars(select(Account))}


def test_rows_without_coordinates_are_geocoded(db: str, tmp_path: Path) -> None:
    """An address in the region gets OSM coordinates and a precision; coordinates in the
    file are kept as 'provided'; an unknown address stays unlocated with precision 'none'."""
    f = _write(
        tmp_path / "a.csv",
        "external_id,name,street,housenumber,postcode,city,lat,lon\n"
        "G1,Osoite Oy,Mannerheimintie,5,00100,Helsinki,,\n"
        "G2,Typo Oy,manerheimintie,5,,helsinki,,\n"
        "G3,Given Oy,Mannerheimintie,5,00100,Helsinki,60.2,24.9\n"
        "G4,Nowhere Oy,Qwertyuiopgatan,999,,,,\n",
    )
    with session_scope() as s:
        report = import_file(s, SYSTEM, f)
    assert report.geocoded == 2
    got = _by_ext()
    assert got["G1"].geocode_precision == "address" and got["G1"].geocode_source == "osm"
    assert got["G1"].lat == pytest.approx(60.16944, abs=1e-4)
    assert got["G1"].lon == pytest.approx(24.94002, abs=1e-4)
    assert got["G2"].geocode_precision == "address"
    assert 0.6 <= got["G2"].geocode_score < 1.0
    assert (got["G3"].lat, got["G3"].geocode_precision) == (60.2, "provided")
    assert got["G4"].lat is None and got["G4"].geocode_precision == "none"


def test_manual_pin_survives_reimport(demo_copy: str, tmp_path: Path) -> None:
    """A hand-placed pin is never overwritten by a later import, with or without coordinates."""
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        account = s.scalar(select(Account).where(Account.owner_id == rep1.id))
        ext, name = account.external_id, account.name
        set_manual_pin(s, rep1, account.id, 60.17, 24.95)
    f = _write(
        tmp_path / "b.csv",
        f"external_id,name,street,housenumber,city,lat,lon\n"
        f"{ext},{name},Mannerheimintie,5,Helsinki,60.1,24.8\n",
    )
    with session_scope() as s:
        import_file(s, SYSTEM, f)
    g = _write(
        tmp_path / "c.csv",
        f"external_id,name,street,housenumber,city\n{ext},{name},Mannerheimintie,5,Helsinki\n",
    )
    with session_scope() as s:
        import_file(s, SYSTEM, g)
    acc = _by_ext()[ext]
    assert (acc.lat, acc.lon, acc.geocode_precision, acc.manual_pin) == (
        60.17,
        24.95,
        "manual",
        True,
    )


def test_geocoding_can_be_switched_off(db: str, tmp_path: Path) -> None:
    """geocoder=None imports addresses without locating them."""
    f = _write(
        tmp_path / "d.csv", "name,street,housenumber,city\nX Oy,Mannerheimintie,5,Helsinki\n"
    )
    with session_scope() as s:
        report = import_file(s, SYSTEM, f, geocoder=None)
    assert report.geocoded == 0
    assert next(iter(_by_ext().values())).lat is None
