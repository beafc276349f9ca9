"""The command-line interface: ``python -m gcrm COMMAND`` (or ``gcrm COMMAND``).

Every command prints machine-readable output on stdout (one JSON line or a
table) and messages on stderr. Exit codes: 0 success, 1 failure, 2 bad input
(unreadable file, missing column, bad argument), 3 permission denied or
authentication failed.

Commands that touch stored data act as a user: ``--user`` (or
``GCRM_USER``) with ``GCRM_PASSWORD`` or a prompt; their scope and rights
apply. Maintenance commands (``setup``, ``db upgrade``, ``demo``, ``assets``)
and commands that touch no stored data run without a user.

Each command is a thin function registered with
:func:`gcrm.cli._common.command` (session, acting user and errors, shared by
all of them) that calls one capability function and prints its result. One
module per command group: :mod:`~gcrm.cli.admin` (schema, demo, assets,
worker), :mod:`~gcrm.cli.accounts` (import, lists, exports, reports, maps,
erasure), :mod:`~gcrm.cli.users` (users, audit log),
:mod:`~gcrm.cli.territories`, :mod:`~gcrm.cli.routing` (plans, cycles,
geocoding, matrices, benchmark instances), :mod:`~gcrm.cli.campaigns` and
:mod:`~gcrm.cli.jobs` (status and cancel).

:func:`main` loads those modules lazily: ``--help`` lists :data:`COMMANDS`
without importing any of them (no pandas, SQLAlchemy, geocoder or solver), and
a command imports only its own module when it runs. Those modules import
only Typer and the standard library at the top: the capabilities their command
bodies call are :class:`~gcrm.cli._common.LazyModule` objects, imported at the
first call, so ``gcrm GROUP --help`` is light too. ``gcrm.cli.app`` is the
whole Typer app with every module loaded (for Typer's test runner).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["COMMANDS", "HELP", "app", "main"]

#: The ``gcrm`` command's help.
HELP = "gcrm: a geographic CRM on OpenStreetMap data."

#: Each top-level command or group: the module of this package that registers it, and
#: its one-line help (what ``--help`` lists; tests/test_cli_lazy.py checks both).
COMMANDS: dict[str, tuple[str, str]] = {
    "import": (
        "accounts",
        "Import accounts: validate, upsert by external_id, report rejected rows.",
    ),
    "subject-access": ("accounts", "Print everything held on a person as JSON (admins)."),
    "report": (
        "accounts",
        "Write a report, scoped and audited as the acting user; prints a JSON summary line.",
    ),
    "map": ("accounts", "Write a standalone HTML map that works offline (assets inlined)."),
    "demo": ("admin", "Build the Helsinki demo CRM (idempotent)."),
    "assets": ("admin", "Put the map's JavaScript/CSS under static/vendor so maps work offline."),
    "basemap": (
        "admin",
        "Build the offline basemap (vector tiles) from the region's OSM file; cached.",
    ),
    "setup": ("admin", "Everything a fresh install needs: schema, map assets, demo data if empty."),
    "worker": (
        "admin",
        "Run queued jobs (territory builds, reports, cycle and day plans, imports) until stopped.",
    ),
    "plan": (
        "routing",
        "Plan a rep's visits (due accounts) over the road network; writes the plan as JSON.",
    ),
    "cycle": (
        "routing",
        "Plan call cycles: each account's visit days and every working day's route, as JSON.",
    ),
    "cycle-ics": (
        "routing",
        "Export the saved call cycles you may see as one iCalendar file (whole horizons).",
    ),
    "solve": ("routing", 'Solve a benchmark instance: {"routes": [...], "cost": ...}.'),
    "geocode": (
        "routing",
        "Geocode a CSV offline: adds lat, lon, precision, score, matched, reason.",
    ),
    "matrix": (
        "routing",
        "Travel-time and distance matrices over the road network (inf = unreachable).",
    ),
    "accounts": ("accounts", "Accounts."),
    "erase": ("accounts", "Erase personal data (admins)."),
    "db": ("admin", "Database schema."),
    "campaigns": ("campaigns", "Geo-targeted campaigns."),
    "territories": ("territories", "Sales territories."),
    "users": ("users", "Users."),
    "audit": ("users", "The audit log (admins)."),
    "jobs": ("jobs", "Background jobs: status and cancel."),
}


def _module(name: str) -> Any:
    # The lazy loading itself: importlib, so only the module of the command that runs is
    # imported (the house rule of imports at the top holds for every other module).
    return importlib.import_module(f"gcrm.cli.{name}")


def _full_app() -> typer.Typer:
    for module in dict.fromkeys(m for m, _ in COMMANDS.values()):
        _module(module)
    return _module("_common").app  # type: ignore[no-any-return]


class _LazyGroup(TyperGroup):
    """The ``gcrm`` group: lists :data:`COMMANDS`, imports a command's module when it runs."""

    listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module, help_text = COMMANDS[cmd_name]
        if self.listing:  # the help page: the line from the table, nothing imported
            return TyperCommand(name=cmd_name, help=help_text)
        _module(module)  # registers its commands on the Typer app
        loaded = typer.main.get_command(_module("_common").app)
        return loaded.get_command(ctx, cmd_name)  # type: ignore[attr-defined]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def __getattr__(name: str) -> Any:
    """Return :data:`app`, the whole Typer app, loading every command module (PEP 562)."""
    if name == "app":
        return _full_app()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def main() -> None:
    """Run the CLI (command modules load lazily: see the module docstring)."""
    _LazyGroup(name="gcrm", help=HELP, no_args_is_help=True)()
