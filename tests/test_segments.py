"""Segments: definitions round-trip, drive-time and drawn areas agree with gcrm.density."""

from __future__ import annotations

import pytest

from gcrm._errors import InputError, PermissionDeniedError
from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.density import near_here, select_accounts
from gcrm.segments import DriveArea, SegmentDefinition, load_segment, members, save_segment
from gcrm.store import AccountFilter, accounts_frame

CENTRE = (60.1699, 24.9384)


def test_definition_round_trips_and_rejects_unknown_keys() -> None:
    d = SegmentDefinition(
        kinds=("customer",),
        territories=("T1",),
        area={
            "type": "Polygon",
            "coordinates": [[[24.9, 60.1], [25, 60.1], [25, 60.2], [24.9, 60.1]]],
        },
        drive=DriveArea(60.17, 24.94, 5),
    )
    assert SegmentDefinition.from_json(d.to_json()) == d
    with pytest.raises(InputError, match="unknown key"):
        SegmentDefinition.from_json('{"kinds": ["lead"], "colour": "red"}')
    with pytest.raises(InputError, match="drive needs lat, lon and minutes"):
        SegmentDefinition.from_json('{"drive": {"lat": 60}}')
    with pytest.raises(InputError, match="minutes must be positive"):
        SegmentDefinition.from_json('{"drive": {"lat": 60, "lon": 24, "minutes": 0}}')


def test_drive_time_segment_matches_near_here(demo_copy: str, graph) -> None:  # type: ignore[no-untyped-def]
    """The drive-time members are near_here's (same routes), minus do-not-contact."""
    with session_scope() as s:
        mgr = actor_for(s, "manager")
        d = SegmentDefinition(drive=DriveArea(*CENTRE, minutes=2))
        got = members(s, mgr, d, channel="visit", G=graph)
        every = accounts_frame(s, mgr, AccountFilter(include_do_not_contact=False))
    want = near_here(every, CENTRE, minutes=2, G=graph)
    assert len(got) > 5
    assert set(got["id"]) == set(want["id"])
    assert not got["drive_s"].gt(120).any()


def test_drawn_area_and_consent_rule(demo_copy: str) -> None:
    ring = [[24.93, 60.163], [24.95, 60.163], [24.95, 60.172], [24.93, 60.172], [24.93, 60.163]]
    area = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}
    with session_scope() as s:
        mgr = actor_for(s, "manager")
        visits = members(s, mgr, SegmentDefinition(area=area), channel="visit")
        letters = members(s, mgr, SegmentDefinition(area=area), channel="letter")
        every = accounts_frame(s, mgr)
    inside = select_accounts(every, [area])
    contactable = inside[~inside["do_not_contact"].astype(bool)]
    assert set(visits["id"]) == set(contactable["id"]) and len(visits) > 0
    consenting = contactable[contactable["marketing_consent"].astype(bool)]
    assert set(letters["id"]) == set(consenting["id"])
    assert set(letters["id"]) < set(visits["id"])


def test_only_managers_and_admins_save_segments(demo_copy: str) -> None:
    with session_scope() as s:
        for name in ("rep1", "analyst"):
            with pytest.raises(PermissionDeniedError):
                save_segment(s, actor_for(s, name), "x", SegmentDefinition())
        row = save_segment(s, actor_for(s, "manager"), "cafés", SegmentDefinition(kinds=("lead",)))
        with pytest.raises(InputError, match="already exists"):
            save_segment(s, actor_for(s, "manager"), "cafés", SegmentDefinition())
        assert load_segment(s, "cafés")[1].kinds == ("lead",)
        assert load_segment(s, row.id)[0].name == "cafés"
