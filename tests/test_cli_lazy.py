"""``python -m gcrm --help`` lists every command without importing the heavy stack (issue 19).

:data:`gcrm.cli.COMMANDS` is what the help page lists without loading the
command modules; these tests check it against the commands the modules really
register, and that a fresh process running the CLI imports only what it needs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main
from typer import _click

from gcrm.cli import COMMANDS, app

HEAVY = ("pandas", "sqlalchemy", "scipy", "folium", "pyvrp", "geopandas", "gcrm.importer")
#: What no group's or command's help may import (its module's command bodies load them lazily).
HEAVY_FOR_GROUP_HELP = (
    "pandas",
    "numpy",
    "sqlalchemy",
    "scipy",
    "pyvrp",
    "gcrm.store",
    "gcrm.auth",
)

_PROBE = """
import json, sys
from gcrm.cli import main
sys.argv = ["gcrm", *{args!r}]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


def _probe(*args: str) -> tuple[str, int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    last = json.loads(done.stdout.strip().splitlines()[-1])
    return done.stdout + done.stderr, int(last["code"] or 0), set(last["modules"])


def test_the_help_table_is_what_the_modules_register() -> None:
    """Every registered top-level command or group is in COMMANDS, with its own module and help."""
    group = typer.main.get_command(app)
    ctx = _click.Context(group)
    registered = {}
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        cmd = group.get_command(ctx, name)  # type: ignore[attr-defined]
        module = cmd.callback.__module__ if cmd.callback else None
        if module is None:  # a group: the module of its first command
            sub = next(iter(cmd.commands.values()))
            module = sub.callback.__module__
        registered[name] = (module.rsplit(".", 1)[1], cmd.get_short_help_str(limit=300))
    assert registered == COMMANDS


def test_help_imports_no_heavy_library() -> None:
    """``gcrm --help`` lists every command and imports neither pandas, SQLAlchemy nor a solver."""
    out, code, modules = _probe("--help")
    assert code == 0
    for name, (_, help_text) in COMMANDS.items():
        assert name in out and help_text.split()[0] in out, name
    assert not [m for m in HEAVY if m in modules]
    assert not [m for m in modules if m.startswith("gcrm.cli.") and m != "gcrm.cli"]


def test_a_command_loads_only_its_own_module() -> None:
    """``gcrm territories --help`` loads the territories module, not routing or the importer."""
    out, code, modules = _probe("territories", "--help")
    assert code == 0 and "import" in out and "build" in out
    assert "gcrm.cli.territories" in modules
    assert "gcrm.cli.routing" not in modules and "pyvrp" not in modules
    assert "gcrm.importer" not in modules


def test_an_unknown_command_is_refused_with_exit_2() -> None:
    """A mistyped command says so and exits 2, as before."""
    out, code, _ = _probe("improt")
    assert code == 2
    assert "No such command" in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_group_and_command_help_is_light(name: str) -> None:
    """``gcrm NAME --help`` shows its own help and imports no pandas, SQLAlchemy or PyVRP."""
    out, code, modules = _probe(name, "--help")
    assert code == 0, out
    assert "Usage:" in out and name in out
    assert f"gcrm.cli.{COMMANDS[name][0]}" in modules  # its options came from its module
    loaded = [m for m in HEAVY_FOR_GROUP_HELP if m in modules]
    assert not loaded, f"gcrm {name} --help imported {loaded}"


def test_a_subcommand_help_is_light_and_its_run_loads_what_it_needs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``gcrm users add --help`` stays light; running a command imports its modules on use."""
    out, code, modules = _probe("users", "add", "--help")
    assert code == 0 and "--role" in out
    assert not [m for m in HEAVY_FOR_GROUP_HELP if m in modules]
    # A command that runs reaches the database and the login through the lazy modules.
    monkeypatch.setenv("GCRM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("GCRM_PASSWORD", raising=False)
    out, code, modules = _probe("audit", "list", "--user", "nobody")
    assert code == 3, out  # no password and no terminal: refused with the usual exit code
    assert "GCRM_PASSWORD" in out
    assert "sqlalchemy" in modules and "gcrm.db.session" in modules
    assert (tmp_path / "cli.db").exists()  # the schema check ran first, on that database
