"""A rep's home base (address or lat/lon) and shift, set from the CLI and the Admin page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from gcrm._errors import InputError
from gcrm.auth import actor_for, hash_password
from gcrm.cli import app
from gcrm.db.models import AuditEvent, User
from gcrm.db.session import session_scope
from gcrm.home_base import parse_shift, resolve_home

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PW = "correct horse battery"


@pytest.fixture
def people(db: str) -> str:
    """An admin and a rep."""
    with session_scope() as s:
        s.add(User(username="boss", role="admin", password_hash=hash_password(PW)))
        s.add(User(username="rep1", role="rep"))
    return db


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"GCRM_USER": "boss", "GCRM_PASSWORD": PW})
    return r.exit_code, r.stdout, r.stderr


def _rep() -> tuple[float | None, float | None, str, str]:
    with session_scope() as s:
        u = s.scalar(select(User).where(User.username == "rep1"))
        return u.home_lat, u.home_lon, u.work_start, u.work_end


def test_users_set_home_by_address_and_shift(people: str) -> None:
    """An address of the region is geocoded to the building; the shift is stored; audited."""
    code, out, err = _cli(
        "users", "set", "rep1", "--home", "Mannerheimintie 5, 00100 Helsinki",
        "--shift", "07:30-15:30",
    )  # fmt: skip
    assert code == 0, err
    lat, lon, start, end = _rep()
    assert lat == pytest.approx(60.1694, abs=5e-4) and lon == pytest.approx(24.9400, abs=5e-4)
    assert (start, end) == ("07:30", "15:30")
    assert '"shift": "07:30-15:30"' in out
    with session_scope() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.target == "user:rep1"))


def test_users_set_home_by_coordinates_and_clear(people: str) -> None:
    """ "lat, lon" is stored as given; --clear-home removes it."""
    assert _cli("users", "set", "rep1", "--home", "60.17, 24.94")[0] == 0
    assert _rep()[:2] == (60.17, 24.94)
    assert _cli("users", "set", "rep1", "--clear-home")[0] == 0
    assert _rep()[:2] == (None, None)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--home", "Olematonkatu 99, Helsinki"], "not found"),
        (["--home", "95, 200"], "outside"),
        (["--shift", "16:00-08:00"], "ends before"),
        (["--shift", "all day"], "HH:MM"),
    ],
)
def test_users_set_refuses_bad_input_clearly(people: str, args: list[str], words: str) -> None:
    """A home that does not exist, coordinates out of range or a bad shift: exit 2, a
    message naming the field, nothing changed."""
    code, _out, err = _cli("users", "set", "rep1", *args)
    assert code == 2 and words in err, err
    assert _rep() == (None, None, "08:00", "16:00")


def test_parse_shift_and_resolve_home() -> None:
    """The small parsers."""
    assert parse_shift("8:00-16:30") == ("08:00", "16:30")
    assert resolve_home("60.1, 24.9")[:2] == (60.1, 24.9)
    with pytest.raises(InputError, match="shift"):
        parse_shift("8-16")


def test_admin_page_sets_home_and_shift(people: str) -> None:
    """The Admin page's form geocodes the address, stores the shift and shows the result."""
    with session_scope() as s:
        actor = actor_for(s, "boss")
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/admin.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="adm_user").select("rep1").run()
    at.text_input(key="adm_home_rep1").input("Mannerheimintie 5, Helsinki")
    at.text_input(key="adm_shift_rep1").input("09:00-17:00")
    next(b for b in at.button if b.label == "Save home and shift").click().run()
    assert not at.exception, at.exception
    lat, _lon, start, end = _rep()
    assert lat == pytest.approx(60.1694, abs=5e-4)
    assert (start, end) == ("09:00", "17:00")
    assert any("Saved rep1: home 60.16" in m.value for m in at.success)
