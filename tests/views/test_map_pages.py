"""AppTest tests of the prospect map, territories and reports pages."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db.models import AuditEvent, Territory
from gcrm.db.session import session_scope
from tests.views.jobwait import finish_jobs

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _page(username: str, page: str) -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, username)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_prospect_map_layers_and_near_here(demo_copy: str) -> None:
    """Every layer renders; a filter narrows the count; near-here lists accounts by distance."""
    at = _page("manager", "views/prospect_map.py")
    for layer in ("heat", "hex", "postcode", "territory", "markers"):
        at.radio(key="pm_layer").set_value(layer).run()
        assert not at.exception, layer
        assert not at.error, layer
    before = at.caption[0].value
    at.multiselect(key="pm_kind").select("customer").run()
    assert at.caption[0].value != before
    at.selectbox(key="pm_near_from").select_index(0)
    at.number_input(key="pm_near_amt").set_value(300.0)
    at.button(key="FormSubmitter:near_here-Search").click().run()
    assert not at.exception
    found = at.dataframe[-1].value
    assert len(found) >= 1
    assert "distance_m" not in found  # shown in km, rounded by the column format
    assert list(found["distance_km"]) == sorted(found["distance_km"])
    assert found["distance_km"].max() <= 0.3


def test_near_here_needs_an_origin(demo_copy: str) -> None:
    """Searching without an origin says so instead of failing."""
    at = _page("manager", "views/prospect_map.py")
    at.button(key="FormSubmitter:near_here-Search").click().run()
    assert any("Pick an account" in e.value for e in at.error)


def test_territories_page_builds_balanced_territories(demo_copy: str) -> None:
    """A manager builds 3 territories; the balance figures show and the territories are saved."""
    at = _page("manager", "views/territories.py")
    assert at.dataframe
    at.button(key="FormSubmitter:build-Build and save").click().run()
    assert not at.exception, at.exception
    finish_jobs(at)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Territories"] == "3"
    assert float(metrics["Workload max/min"]) <= 1.2
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Territory)) == 3


def test_rep_sees_territories_without_building(demo_copy: str) -> None:
    """Reps see their territory but get no build or upload tools."""
    at = _page("rep1", "views/territories.py")
    assert not at.tabs
    assert len(at.dataframe[0].value) == 1


def test_reports_page_and_audited_download(demo_copy: str) -> None:
    """The analyst sees territory and rep tables and prepares an audited download."""
    at = _page("analyst", "views/reports.py")
    assert len(at.dataframe) >= 2
    at.selectbox(key="rp_fmt").select("csv").run()
    at.button(key="rp_prepare").click().run()
    assert not at.exception
    finish_jobs(at)
    assert not at.exception, at.exception
    (button,) = at.get("download_button")
    assert ".csv (" in button.proto.label, button.proto.label
    with session_scope() as s:
        n = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export")
        )
    assert n == 1


def test_manager_assigns_reps_to_territories(demo_copy: str) -> None:
    """The manager gives a territory to another rep; a non-rep cannot own one."""
    import pytest

    from gcrm._errors import InputError
    from gcrm.store import set_territory_owner

    at = _page("manager", "views/territories.py")
    west_id = None
    with session_scope() as s:
        west = s.scalar(select(Territory).where(Territory.name == "Helsinki West"))
        west_id = west.id
    at.selectbox(key=f"terr_owner_{west_id}").select("rep2")
    at.button(key="FormSubmitter:assign_reps-Save owners").click().run()
    assert not at.exception, at.exception
    assert any("Owners saved" in m.value for m in at.success)
    with session_scope() as s:
        owner = s.get(Territory, west_id).owner
        assert owner.username == "rep2"
        with pytest.raises(InputError, match="not a rep"):
            set_territory_owner(s, actor_for(s, "manager"), "Helsinki West", "analyst")


def test_drive_time_search_draws_its_isochrone_and_keeps_the_selection(demo_copy: str) -> None:
    """A drive-time search keeps a drawn selection, stores the reachable area, rounds figures."""
    at = _page("manager", "views/prospect_map.py")
    rect = {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[24.93, 60.16], [24.96, 60.16], [24.96, 60.18], [24.93, 60.18], [24.93, 60.16]]
            ],
        },
    }
    at.session_state["pm_drawn"] = [rect]
    at.run()
    selected = [m.value for m in at.markdown if "accounts selected" in m.value]
    assert selected, "the kept selection is listed"
    at.selectbox(key="pm_near_from").select_index(0)
    at.radio(key="pm_near_mode").set_value("drive time")
    at.number_input(key="pm_near_amt").set_value(3.0)
    at.button(key="FormSubmitter:near_here-Search").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.markdown if "accounts selected" in m.value] == selected
    area = at.session_state["pm_near"]["area"]
    assert area is not None and not area.is_empty and area.area > 0
    found = at.dataframe[-1].value
    assert {"distance_km", "drive_min"} <= set(found.columns)
    assert found["drive_min"].max() <= 3.0 + 1e-9
