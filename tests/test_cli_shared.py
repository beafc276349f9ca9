"""The CLI's commands share one decorator (session, acting user, errors); ``users add``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import typer
from sqlalchemy import select
from typer.main import get_command
from typer.testing import CliRunner

from gcrm.auth import has_admin
from gcrm.cli import app
from gcrm.db.models import AuditEvent, User
from gcrm.db.session import session_scope

#: Commands that touch no stored data or maintain the installation: no ``--user``.
NO_USER = {
    "db upgrade",
    "demo",
    "assets",
    "basemap",
    "setup",
    "worker",
    "solve",
    "geocode",
    "matrix",
    "campaigns run-due",
    "campaigns unsubscribe",
}


def _commands(group: typer.Typer, prefix: str = "") -> Iterator[tuple[str, object]]:
    for info in group.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
        yield f"{prefix}{name}", info.callback
    for sub in group.registered_groups:
        yield from _commands(sub.typer_instance, f"{prefix}{sub.name} ")  # type: ignore[arg-type]


def test_every_command_goes_through_the_shared_decorator() -> None:
    """Each registered command was wrapped by ``gcrm.cli._common.command``, under its path."""
    found = dict(_commands(app))
    assert len(found) >= 35
    for path, callback in found.items():
        assert getattr(callback, "gcrm_command", None) == path, path


def test_commands_that_act_as_a_user_take_the_user_option() -> None:
    """``--user``/``-u`` is added by the decorator to every command touching stored data."""
    click_app = get_command(app)
    for path, _callback in _commands(app):
        cmd = click_app
        for part in path.split():
            cmd = cmd.commands[part]  # type: ignore[attr-defined]
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        if path in NO_USER:
            assert "--user" not in opts, path
        else:
            assert {"--user", "-u"} <= opts, path


def test_acting_commands_refuse_to_run_without_a_user(demo_copy: str) -> None:
    """No ``--user`` and no GCRM_USER: exit 3 with the same message, for any group."""
    runner = CliRunner()
    commands = (["accounts", "list"], ["audit", "list"], ["campaigns", "resolve", "x", "--resend"])
    for args in commands:
        result = runner.invoke(app, args, env={"GCRM_USER": "", "GCRM_PASSWORD": ""})
        assert result.exit_code == 3, (args, result.stderr)
        assert "this command acts as a user" in result.stderr


def test_a_denied_campaign_command_is_audited_under_its_path(demo_copy: str) -> None:
    """A rep may not settle a campaign's e-mails: exit 3, audit line 'campaigns resolve'."""
    env = {"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"}
    result = CliRunner().invoke(app, ["campaigns", "resolve", "Any", "--resend"], env=env)
    assert result.exit_code == 3, result.stderr
    with session_scope() as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "denied")).one()
    assert line.username == "rep1" and line.target == "campaigns resolve"
    assert json.loads(line.details)["command"] == "campaigns resolve"


def test_users_add_first_admin_needs_no_user_then_an_admin_must_act(db: str) -> None:
    """The first admin is added without acting as anyone; after that a user must log in."""
    runner = CliRunner()
    with session_scope() as s:
        assert not has_admin(s)
    env = {"GCRM_NEW_PASSWORD": "first-admin-pass-1", "GCRM_USER": "", "GCRM_PASSWORD": ""}
    first = runner.invoke(app, ["users", "add", "boss", "--role", "admin"], env=env)
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout.strip().splitlines()[-1]) == {"user": "boss", "role": "admin"}
    with session_scope() as s:
        assert has_admin(s)
    anonymous = runner.invoke(app, ["users", "add", "rep9"], env=env)
    assert anonymous.exit_code == 3 and "acts as a user" in anonymous.stderr
    env_admin = {**env, "GCRM_USER": "boss", "GCRM_PASSWORD": "first-admin-pass-1"}
    second = runner.invoke(app, ["users", "add", "rep9"], env=env_admin)
    assert second.exit_code == 0, second.stderr
    with session_scope() as s:
        assert s.scalar(select(User.role).where(User.username == "rep9")) == "rep"
