"""What every command shares: the :func:`command` decorator and output helpers.

:func:`command` registers a function on a Typer group and gives it, once for
all commands, the ``--user`` option, the database schema check, a session
opener that logs the acting user in (:meth:`Run.acting`), and the mapping of
gcrm's errors to one message on stderr and an exit code (0 success, 1
failure, 2 bad input, 3 permission denied or authentication failed). A denied
command is recorded in the audit log in its own transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from gcrm._errors import AuthenticationError, GcrmError, InputError, PermissionDeniedError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from gcrm import auth, import_report
    from gcrm.auth import Actor
    from gcrm.db import session as db_session


class LazyModule:
    """A module imported at its first attribute access (``gcrm GROUP --help`` stays light).

    A command group's module registers its commands' options at import time,
    so its help must not pay for pandas, SQLAlchemy or the solver: it names
    the modules its command bodies call as ``LazyModule`` objects, and the
    first call imports them. Type checkers see the real module (the
    ``TYPE_CHECKING`` import beside each use).

    Parameters
    ----------
    name
        The module's full name, e.g. ``"gcrm.store"``.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        """Return ``attr`` of the module, importing it on first use."""
        # The lazy loading itself (importlib caches the module in sys.modules).
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        """Name the module and whether it is imported yet."""
        return f"<lazy module {self._name!r}{'' if self._name in sys.modules else ' (not loaded)'}>"


if not TYPE_CHECKING:
    auth = LazyModule("gcrm.auth")
    db_session = LazyModule("gcrm.db.session")
    import_report = LazyModule("gcrm.import_report")

F = TypeVar("F", bound=Callable[..., Any])

#: The ``gcrm`` command; the modules of this package add their commands and groups.
app = typer.Typer(
    name="gcrm",
    help="gcrm: a geographic CRM on OpenStreetMap data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def group(name: str, help_text: str) -> typer.Typer:
    """Add a command group (``gcrm NAME ...``) to :data:`app`.

    Parameters
    ----------
    name
        The group's name on the command line.
    help_text
        Its one-line help.

    Returns
    -------
    typer.Typer
        The group, to register commands on with :func:`command`.
    """
    sub = typer.Typer(name=name, help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="Act as this user (default GCRM_USER).")
]


class OutputFormat(StrEnum):
    """Output formats of list commands."""

    json = "json"
    csv = "csv"
    table = "table"


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise.

    Parameters
    ----------
    message
        What went wrong.
    code
        The exit code.

    Returns
    -------
    typer.Exit
        Raise it.
    """
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def ensure_db() -> None:
    """Create or upgrade the database schema when it is not current."""
    if not db_session.database_is_current():
        db_session.upgrade_database()


def _login(session: Session, user: str | None) -> Actor:
    """Return the actor for ``--user``/``GCRM_USER`` (password checked)."""
    username = user or os.environ.get("GCRM_USER")
    if not username:
        msg = "this command acts as a user: pass --user NAME or set GCRM_USER (and GCRM_PASSWORD)"
        raise AuthenticationError(msg)
    password = os.environ.get("GCRM_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            msg = "no password: set GCRM_PASSWORD or run in a terminal to be prompted"
            raise AuthenticationError(msg)
        password = typer.prompt(f"Password for {username}", hide_input=True)
    return auth.login(session, username, password)  # audited in its own transaction


@dataclasses.dataclass
class Run:
    """One run of a command: who it acts as and how it opens its transaction.

    Attributes
    ----------
    user
        The ``--user`` option (``None``: ``GCRM_USER``).
    acted_as
        The user logged in, once :meth:`acting` or :meth:`login` ran (for
        the audit of a denial).
    """

    user: str | None = None
    acted_as: str | None = None

    def login(self, session: Session) -> Actor:
        """Log the acting user in within ``session``.

        Parameters
        ----------
        session
            An open session.

        Returns
        -------
        Actor
            The acting user (password checked, login audited).
        """
        actor = _login(session, self.user)
        self.acted_as = actor.username
        return actor

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """Open one transaction (committed on success, rolled back on error).

        Yields
        ------
        Session
            The open session.
        """
        with db_session.session_scope() as session:
            yield session

    @contextlib.contextmanager
    def acting(self) -> Iterator[tuple[Session, Actor]]:
        """Open one transaction and log the acting user in.

        Yields
        ------
        tuple of (Session, Actor)
            The open session and the acting user.
        """
        with db_session.session_scope() as session:
            yield session, self.login(session)


def _audit_denied(run: Run, command: str, message: str) -> None:
    """Record a denied command in its own transaction (its own work rolled back)."""
    if run.acted_as is None:
        return
    details = json.dumps({"command": command, "reason": message}, ensure_ascii=False)
    with db_session.session_scope() as session:
        auth.audit_apart(session, run.acted_as, "denied", command or None, details)


def _guarded(command: str, body: Callable[[], Any], run: Run) -> Any:
    """Call ``body`` turning gcrm's errors into one message and an exit code."""
    try:
        return body()
    except PermissionDeniedError as exc:
        _audit_denied(run, command, str(exc))
        raise fail(str(exc), 3) from None
    except AuthenticationError as exc:
        raise fail(str(exc), 3) from None
    except InputError as exc:
        raise fail(str(exc), 2) from None
    except GcrmError as exc:
        raise fail(str(exc), 1) from None
    except Exception as exc:
        # Only a command that opened the database can raise SQLAlchemy's errors: look for
        # its error class only then, so this module need not import SQLAlchemy.
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
            raise
        first = str(exc).splitlines()[0]
        raise fail(f"database error: {first}", 1) from None


def command(
    group: typer.Typer, name: str | None = None, *, acts: bool = True, db: bool = True
) -> Callable[[F], F]:
    """Register a CLI command with the session, acting user and errors all commands share.

    The decorated function takes a :class:`Run` first (not a CLI option), then
    its own options. The registered command runs it with gcrm's errors mapped
    to exit codes (see the module docstring).

    Parameters
    ----------
    group
        The Typer app or sub-app.
    name
        The command's name (default: the function's name, as Typer does).
    acts
        The command acts as a user: it gets the ``--user``/``-u`` option and
        :meth:`Run.acting` logs that user in.
    db
        Create or upgrade the schema before the command runs.

    Returns
    -------
    callable
        The decorator (it returns the function unchanged).
    """

    def register(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        params = list(signature.parameters.values())[1:]  # the first one is the Run
        if acts:
            params.append(
                inspect.Parameter(
                    "user", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=UserOption
                )
            )
        prefix = group.info.name if group.info.name not in (None, "gcrm") else ""
        path = f"{prefix} {name or fn.__name__.replace('_', '-')}".strip()  # as Typer names it

        def cli(**options: Any) -> Any:
            run = Run(user=options.pop("user", None))

            def body() -> Any:
                if db:
                    ensure_db()
                return fn(run, **options)

            return _guarded(path, body, run)

        cli.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        cli.__annotations__ = {p.name: p.annotation for p in params}
        cli.__name__, cli.__qualname__, cli.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        cli.__module__ = fn.__module__
        cli.gcrm_command = path  # type: ignore[attr-defined]  # marks commands registered here
        group.command(name)(cli)
        return fn

    return register


def plain(value: object) -> object:
    """Return a value JSON can hold: NaN, infinities and missing values become ``null``.

    Parameters
    ----------
    value
        Any value (dicts, lists, frames, numpy scalars ...).

    Returns
    -------
    object
        Plain dicts, lists, strings, numbers, booleans and ``None``.
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    # A frame or a numpy scalar exists only once pandas/numpy are loaded (not imported here).
    pd_, np_ = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pd_ is not None and isinstance(value, pd_.DataFrame):
        return [plain(r) for r in value.to_dict("records")]
    if np_ is not None and isinstance(value, np_.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if pd_ is not None:
        try:
            if pd_.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    return str(value)


def echo_json(value: object) -> None:
    """Print one line of strict JSON (no ``NaN``: jq and other parsers refuse it).

    Parameters
    ----------
    value
        What to print (see :func:`plain`).
    """
    typer.echo(json.dumps(plain(value), ensure_ascii=False, allow_nan=False))


def print_frame(df: pd.DataFrame, fmt: OutputFormat) -> None:
    """Print a table as JSON records, formula-safe CSV or aligned text.

    Parameters
    ----------
    df
        The table.
    fmt
        The output format.
    """
    if fmt is OutputFormat.json:
        typer.echo(df.to_json(orient="records", date_format="iso", force_ascii=False))
    elif fmt is OutputFormat.csv:
        typer.echo(
            df.map(import_report.neutralise_formula).to_csv(index=False, lineterminator="\r\n"),
            nl=False,
        )
    else:
        typer.echo(df.to_string(index=False) if not df.empty else "(none)")
