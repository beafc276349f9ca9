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
geocoding, matrices, benchmark instances) and :mod:`~gcrm.cli.campaigns`.
"""

from __future__ import annotations

from gcrm.cli import accounts, admin, campaigns, routing, territories, users
from gcrm.cli._common import app

__all__ = ["app", "main"]

# The group modules register their commands on ``app`` when imported.
_GROUPS = (admin, accounts, users, territories, routing, campaigns)


def main() -> None:
    """Run the CLI."""
    app()
