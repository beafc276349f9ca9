"""Who may do what: roles, actions and record scope.

The scope rules live here and nowhere else; :mod:`gcrm.store` applies them to
every query. An :class:`Actor` is the acting user as seen by the data layer.

Rules
-----
- ``rep``: accounts they own or that lie in a territory they own.
- ``manager``: accounts in a territory of their region, or owned by a user of
  their region.
- ``analyst``: reads every account; may import and export.
- ``admin``: everything.
- the *system* actor (maintenance commands such as ``demo``): everything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import shapely
from sqlalchemy import ColumnElement, false, or_, select, true

from gcrm._errors import PermissionDeniedError
from gcrm.db.models import Account, Role, Territory, User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: What each role may do.
PERMISSIONS: dict[str, frozenset[str]] = {
    Role.REP.value: frozenset({"view", "edit", "plan"}),
    Role.MANAGER.value: frozenset({"view", "edit", "plan", "export", "territories"}),
    Role.ANALYST.value: frozenset({"view", "export", "import"}),
    Role.ADMIN.value: frozenset(
        {"view", "edit", "plan", "export", "import", "erase", "admin", "territories"}
    ),
    "system": frozenset(
        {"view", "edit", "plan", "export", "import", "erase", "admin", "territories"}
    ),
}


@dataclasses.dataclass(frozen=True)
class Actor:
    """The user a store call acts for.

    Attributes
    ----------
    id
        ``users.id`` (``None`` for the system actor).
    username
        Login name, written to the audit log.
    role
        ``rep``, ``manager``, ``analyst``, ``admin`` or ``system``.
    region_id
        The user's region (managers' scope).
    personal_data_grant
        An analyst allowed to see personal fields in clear.
    """

    id: int | None
    username: str
    role: str
    region_id: int | None = None
    personal_data_grant: bool = False

    @classmethod
    def from_user(cls, user: User) -> Actor:
        """Build the actor of a stored user.

        Parameters
        ----------
        user
            The ORM user.

        Returns
        -------
        Actor
            A detached, immutable actor.
        """
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            region_id=user.region_id,
            personal_data_grant=bool(user.personal_data_grant),
        )

    def can(self, action: str) -> bool:
        """Tell whether this actor's role allows an action.

        Parameters
        ----------
        action
            One of ``view``, ``edit``, ``plan``, ``export``, ``import``,
            ``erase``, ``admin``, ``territories``.

        Returns
        -------
        bool
            ``True`` when allowed.
        """
        return action in PERMISSIONS.get(self.role, frozenset())


#: The actor of maintenance commands (demo data, migrations).
SYSTEM = Actor(id=None, username="system", role="system")


def require(actor: Actor, action: str) -> None:
    """Raise unless the actor may perform an action.

    Parameters
    ----------
    actor
        The acting user.
    action
        The action (see :meth:`Actor.can`).

    Raises
    ------
    PermissionDeniedError
        If the role does not allow it.
    """
    if not actor.can(action):
        msg = f"user {actor.username!r} ({actor.role}) may not {action}"
        raise PermissionDeniedError(msg)


def account_scope(actor: Actor) -> ColumnElement[bool]:
    """Return the SQL condition selecting the accounts an actor may see.

    Parameters
    ----------
    actor
        The acting user.

    Returns
    -------
    sqlalchemy.ColumnElement
        A boolean expression over :class:`~gcrm.db.models.Account`.
    """
    if actor.role in (Role.ANALYST.value, Role.ADMIN.value, "system"):
        return true()
    if actor.role == Role.REP.value and actor.id is not None:
        own_territories = select(Territory.id).where(Territory.owner_id == actor.id)
        return or_(Account.owner_id == actor.id, Account.territory_id.in_(own_territories))
    if actor.role == Role.MANAGER.value and actor.region_id is not None:
        region_territories = select(Territory.id).where(Territory.region_id == actor.region_id)
        region_users = select(User.id).where(User.region_id == actor.region_id)
        return or_(Account.territory_id.in_(region_territories), Account.owner_id.in_(region_users))
    return false()


def actor_for(session: Session, username: str) -> Actor:
    """Return the actor of an active stored user (no password check).

    Parameters
    ----------
    session
        An open session.
    username
        Login name.

    Returns
    -------
    Actor
        The user's actor.

    Raises
    ------
    PermissionDeniedError
        If there is no such active user.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        msg = f"unknown or inactive user {username!r}"
        raise PermissionDeniedError(msg)
    return Actor.from_user(user)


def hash_password(password: str) -> str:
    """Hash a password with argon2id.

    Parameters
    ----------
    password
        The clear-text password.

    Returns
    -------
    str
        The encoded hash (salt and parameters included).
    """
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against a stored argon2 hash.

    Parameters
    ----------
    password_hash
        The stored hash (``None``: no password set, never matches).
    password
        The clear-text password.

    Returns
    -------
    bool
        ``True`` when it matches.
    """
    if not password_hash:
        return False
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


#: Fields holding personal data: shown only to roles that need them.
PERSONAL_FIELDS: frozenset[str] = frozenset({"phone", "email", "notes", "contact_name"})

#: Shortest password :func:`change_password` accepts.
MIN_PASSWORD_LENGTH = 10


def sees_personal_data(actor: Actor) -> bool:
    """Tell whether an actor may see phone numbers, e-mails and notes in clear.

    Reps, managers and admins work with the people; analysts see pseudonyms
    unless an admin granted them personal data (``users.personal_data_grant``).

    Parameters
    ----------
    actor
        The acting user.

    Returns
    -------
    bool
        ``True`` when personal fields are shown in clear.
    """
    if actor.role == Role.ANALYST.value:
        return actor.personal_data_grant
    return actor.role in (Role.REP.value, Role.MANAGER.value, Role.ADMIN.value, "system")


def pseudonym(value: str | None, kind: str = "person") -> str | None:
    """Return a stable, non-reversible stand-in for a personal value.

    Parameters
    ----------
    value
        The clear value.
    kind
        A label for the token (``person``, ``email``...).

    Returns
    -------
    str or None
        ``"person-1a2b3c4d"``; ``None`` stays ``None``.
    """
    if value is None or value == "":
        return value
    import hashlib

    from gcrm.settings import installation_secret

    salt = installation_secret()
    digest = hashlib.blake2b(f"{salt}|{value}".encode(), digest_size=4).hexdigest()
    return f"{kind}-{digest}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def login(session: Session, username: str, password: str) -> Actor:
    """Check a username and password; lock after repeated failures; audit every attempt.

    Parameters
    ----------
    session
        An open session (the audit line is written in it).
    username
        Login name.
    password
        Clear-text password.

    Returns
    -------
    Actor
        The logged-in user.

    Raises
    ------
    AuthenticationError
        On an unknown or inactive user or a wrong password (one message for
        all, so it tells an attacker nothing), or while the account is
        locked after ``GCRM_LOCKOUT_ATTEMPTS`` failures in a row.
    """
    from gcrm._errors import AuthenticationError
    from gcrm.db.models import AuditEvent
    from gcrm.settings import get_settings

    settings = get_settings()
    now = _now()
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        session.add(AuditEvent(username=username, action="login_failed", target="locked"))
        session.flush()
        msg = "this account is locked after repeated failed logins; try again later"
        raise AuthenticationError(msg)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        session.add(AuditEvent(username=username, action="login_failed", target="password"))
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= settings.lockout_attempts:
                user.locked_until = now + dt.timedelta(minutes=settings.lockout_minutes)
                user.failed_logins = 0
                session.add(AuditEvent(username=username, action="lockout", target="password"))
        session.flush()
        msg = "wrong username or password"
        raise AuthenticationError(msg)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(AuditEvent(username=username, action="login", target="password"))
    session.flush()
    return Actor.from_user(user)


def change_password(session: Session, actor: Actor, old: str, new: str) -> None:
    """Change the acting user's own password.

    Parameters
    ----------
    session
        An open session.
    actor
        The user changing their password.
    old
        The current password.
    new
        The new password (at least :data:`MIN_PASSWORD_LENGTH` characters,
        different from the old one).

    Raises
    ------
    AuthenticationError
        If ``old`` is wrong.
    InputError
        If ``new`` is too short or unchanged.
    """
    from gcrm._errors import AuthenticationError, InputError
    from gcrm.db.models import AuditEvent

    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None or not verify_password(user.password_hash, old):
        msg = "the current password is wrong"
        raise AuthenticationError(msg)
    if len(new) < MIN_PASSWORD_LENGTH:
        msg = f"new password: use at least {MIN_PASSWORD_LENGTH} characters"
        raise InputError(msg)
    if new == old:
        msg = "new password: must differ from the current one"
        raise InputError(msg)
    user.password_hash = hash_password(new)
    session.add(AuditEvent(username=actor.username, action="password_change", target="self"))
    session.flush()


def session_expired(last_activity: dt.datetime, now: dt.datetime | None = None) -> bool:
    """Tell whether an app session has been idle longer than the timeout.

    Parameters
    ----------
    last_activity
        When the user last did something (UTC, naive).
    now
        The current time (default: now, UTC).

    Returns
    -------
    bool
        ``True`` after ``GCRM_SESSION_TIMEOUT_MINUTES`` of inactivity.
    """
    from gcrm.settings import get_settings

    limit = dt.timedelta(minutes=get_settings().session_timeout_minutes)
    return ((now or _now()) - last_activity) > limit


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    *,
    role: str = Role.REP.value,
    display_name: str = "",
    region_id: int | None = None,
) -> User:
    """Add a user (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    username
        Login name: letters, digits, ``.``, ``_``, ``-``; unique.
    password
        At least :data:`MIN_PASSWORD_LENGTH` characters.
    role
        ``rep``, ``manager``, ``analyst`` or ``admin``.
    display_name
        Full name (default the username).
    region_id
        The user's region (managers' scope; reps' region).

    Returns
    -------
    User
        The new user.

    Raises
    ------
    InputError
        On a bad or taken username, a short password or an unknown role.
    """
    import re

    from gcrm._errors import InputError
    from gcrm.db.models import AuditEvent

    require(actor, "admin")
    if not re.fullmatch(r"[A-Za-z0-9._-]{2,100}", username or ""):
        msg = "username: use 2-100 letters, digits, '.', '_' or '-'"
        raise InputError(msg)
    if role not in {r.value for r in Role}:
        msg = f"role: {role!r} is not one of rep, manager, analyst, admin"
        raise InputError(msg)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        msg = f"username: {username!r} exists already"
        raise InputError(msg)
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"password: use at least {MIN_PASSWORD_LENGTH} characters"
        raise InputError(msg)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        region_id=region_id,
    )
    session.add(user)
    session.add(
        AuditEvent(
            username=actor.username,
            action="admin",
            target=f"user:{username}",
            details=f'{{"created": true, "role": "{role}"}}',
        )
    )
    session.flush()
    return user


def update_user(
    session: Session,
    actor: Actor,
    username: str,
    *,
    role: str | None = None,
    region_id: int | bool | None = False,
    is_active: bool | None = None,
    personal_data_grant: bool | None = None,
    display_name: str | None = None,
    home: tuple[float, float] | bool | None = False,
    work_start: str | None = None,
    work_end: str | None = None,
) -> User:
    """Change a user's role, region, status, personal-data grant, home base or shift
    (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    username
        Who to change.
    role, is_active, personal_data_grant, display_name
        New values; ``None`` keeps the current one.
    region_id
        New region id, ``None`` for no region; ``False`` (default) keeps it.
    home
        New home base ``(lat, lon)``, ``None`` for none; ``False`` (default)
        keeps it (see :func:`gcrm.home_base.set_home_base` for addresses).
    work_start, work_end
        The shift, ``"HH:MM"``; ``None`` keeps it.

    Returns
    -------
    User
        The changed user.

    Raises
    ------
    InputError
        On an unknown user or role, or when an admin would remove their own
        admin role or deactivate themselves.
    """
    import json

    from gcrm._errors import InputError
    from gcrm.db.models import AuditEvent

    require(actor, "admin")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        msg = f"username: no user {username!r}"
        raise InputError(msg)
    if role is not None and role not in {r.value for r in Role}:
        msg = f"role: {role!r} is not one of rep, manager, analyst, admin"
        raise InputError(msg)
    if user.id == actor.id and (
        (role is not None and role != Role.ADMIN.value) or is_active is False
    ):
        raise InputError("you cannot remove your own admin role or deactivate yourself")
    changes: dict[str, tuple[object, object]] = {}
    for field, value in (
        ("role", role),
        ("is_active", is_active),
        ("personal_data_grant", personal_data_grant),
        ("display_name", display_name),
        ("work_start", work_start),
        ("work_end", work_end),
    ):
        if value is not None and getattr(user, field) != value:
            changes[field] = (getattr(user, field), value)
            setattr(user, field, value)
    if home is not False and home is not True:
        lat, lon = home if home is not None else (None, None)
        if (user.home_lat, user.home_lon) != (lat, lon):
            changes["home"] = ((user.home_lat, user.home_lon), (lat, lon))
            user.home_lat, user.home_lon = lat, lon
            user.home_geom = shapely.Point(lon, lat) if lat is not None else None
    if region_id is not False and user.region_id != region_id:
        changes["region_id"] = (user.region_id, region_id)
        user.region_id = region_id  # type: ignore[assignment]
    if changes:
        session.add(
            AuditEvent(
                username=actor.username,
                action="admin",
                target=f"user:{username}",
                details=json.dumps({k: {"before": b, "after": a} for k, (b, a) in changes.items()}),
            )
        )
    session.flush()
    return user
