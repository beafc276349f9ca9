"""Users and the audit log: ``gcrm users ...`` and ``gcrm audit list``."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from gcrm._errors import InputError
from gcrm.cli._common import LazyModule, OutputFormat, Run, command, echo_json, group, print_frame

if TYPE_CHECKING:
    import pandas as pd

    from gcrm import auth, home_base, store
else:
    pd = LazyModule("pandas")
    auth = LazyModule("gcrm.auth")
    home_base = LazyModule("gcrm.home_base")
    store = LazyModule("gcrm.store")

users_app = group("users", "Users.")
audit_app = group("audit", "The audit log (admins).")


@command(users_app, "list")
def users_list(
    run: Run,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """List users with their role and territories."""
    with run.acting() as (session, actor):
        auth.require(actor, "admin")
        rows = [
            {
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "territories": [t.name for t in u.territories],
            }
            for u in store.list_users(session, actor)
        ]
    print_frame(pd.DataFrame(rows), fmt)


@command(users_app, "add")
def users_add(
    run: Run,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="rep, manager, analyst or admin.")] = "rep",
    display_name: Annotated[str, typer.Option(help="Full name.")] = "",
) -> None:
    """Add a user (password from GCRM_NEW_PASSWORD or a prompt).

    The first admin of an empty installation can be added without a user;
    after that an admin must act.
    """
    with run.session() as session:
        actor = run.login(session) if auth.has_admin(session) else auth.SYSTEM
        password = os.environ.get("GCRM_NEW_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise InputError("no password: set GCRM_NEW_PASSWORD or run in a terminal")
            password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
        auth.create_user(session, actor, username, password, role=role, display_name=display_name)
    echo_json({"user": username, "role": role})


@command(users_app, "set")
def users_set(
    run: Run,
    username: Annotated[str, typer.Argument(help="Whose settings to change.")],
    home: Annotated[
        str | None,
        typer.Option(help='Home base: an address ("Mannerheimintie 5, Helsinki") or "lat, lon".'),
    ] = None,
    clear_home: Annotated[bool, typer.Option("--clear-home", help="Remove the home.")] = False,
    shift: Annotated[str | None, typer.Option(help="Working hours, e.g. 08:00-16:00.")] = None,
) -> None:
    """Set a rep's home base (where routes start and end) and shift (admins)."""
    with run.acting() as (session, actor):
        u = home_base.set_home_base(
            session, actor, username, home=home, clear_home=clear_home, shift=shift
        )
        out = {
            "user": u.username,
            "home_lat": u.home_lat,
            "home_lon": u.home_lon,
            "shift": f"{u.work_start}-{u.work_end}",
        }
    typer.echo(json.dumps(out))


@command(audit_app, "list")
def audit_list(
    run: Run,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    limit: Annotated[int, typer.Option(help="Newest N lines.")] = 1000,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
) -> None:
    """Print the audit log (admins)."""
    with run.acting() as (session, actor):
        df = store.audit_frame(session, actor, limit=limit, action=action)
    print_frame(df, fmt)
