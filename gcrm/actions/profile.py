"""Logging in and one's own profile (the Login and My profile pages)."""

from __future__ import annotations

from gcrm import auth
from gcrm.auth import Actor
from gcrm.db.session import session_scope


def log_in(username: str, password: str) -> Actor:
    """Check a user's password and return their actor (see :func:`gcrm.auth.login`).

    Parameters
    ----------
    username, password
        What the user typed (the username is stripped).

    Returns
    -------
    Actor
        The logged-in user.

    Raises
    ------
    AuthenticationError
        On a wrong username or password, or a locked account.
    """
    with session_scope() as session:
        return auth.login(session, username.strip(), password)


def change_password(actor: Actor, old: str, new: str) -> Actor:
    """Change the actor's own password (see :func:`gcrm.auth.change_password`).

    Returns
    -------
    Actor
        The actor with the new password's fingerprint: keeping it keeps this
        browser session in, while sessions opened with the old password end.
    """
    with session_scope() as session:
        return auth.change_password(session, actor, old, new)
