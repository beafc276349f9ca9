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
import functools
import hashlib
import json
import re
import secrets
from typing import TYPE_CHECKING

import shapely
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session as OrmSession

from gcrm._errors import AuthenticationError, InputError, PermissionDeniedError
from gcrm.db.models import Account, AuditEvent, Contact, Role, Territory, User
from gcrm.db.session import session_scope
from gcrm.passwords import MIN_LENGTH, check_password
from gcrm.settings import get_settings

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
    credential
        A fingerprint of the password hash at login: a changed password
        ends the sessions opened with the old one (see :func:`refresh_actor`).
    """

    id: int | None
    username: str
    role: str
    region_id: int | None = None
    personal_data_grant: bool = False
    credential: str = ""

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
            credential=_credential(user.password_hash),
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


#: Argon2id cost: OWASP's Password Storage Cheat Sheet configuration (19 MiB of
#: memory, 2 iterations, 1 degree of parallelism). One lane keeps each check on
#: one core, so a morning burst of logins on a small server queues for less CPU
#: than argon2-cffi's default (64 MiB, 3 iterations, 4 lanes: about 8x the CPU).
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
    )


def hash_password(password: str) -> str:
    """Hash a password with argon2id at the cost set by :data:`ARGON2_MEMORY_KIB` & co.

    Parameters
    ----------
    password
        The clear-text password.

    Returns
    -------
    str
        The encoded hash (salt and parameters included).
    """
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against a stored argon2 hash.

    A hash made with other parameters (an older gcrm's) still verifies: the
    parameters are part of the encoded hash.

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
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Tell whether a stored hash was made with other parameters than today's.

    Parameters
    ----------
    password_hash
        A stored argon2 hash.

    Returns
    -------
    bool
        ``True`` when :func:`login` should store a new hash of the password.
    """
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


#: Fields holding personal data: shown only to roles that need them.
PERSONAL_FIELDS: frozenset[str] = frozenset({"phone", "email", "notes", "contact_name"})

#: Shortest password accepted (see :mod:`gcrm.passwords`).
MIN_PASSWORD_LENGTH = MIN_LENGTH


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


def pseudonym(contact: Contact) -> str:
    """Return the stand-in analysts see for a contact's name.

    The pseudonym is drawn at random when the contact is stored
    (:func:`gcrm.db.models.new_pseudonym`) and kept: the same person shows
    the same pseudonym everywhere, and no chosen input (an imported guess of
    a name) can reproduce it, unlike a keyed hash of the value.

    Parameters
    ----------
    contact
        The stored contact.

    Returns
    -------
    str
        ``"person-3f9a1c07b2"``.
    """
    return contact.pseudonym or f"person-{contact.id}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _credential(password_hash: str | None) -> str:
    """Return a short fingerprint of a password hash (never the hash itself)."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@functools.cache
def _dummy_hash() -> str:
    """Return a hash of a random password, verified for unknown users.

    A failed login then costs the same time whether the user exists or not.
    """
    return hash_password(secrets.token_urlsafe(16))


def audit_apart(
    session: Session,
    username: str | None,
    action: str,
    target: str | None = None,
    details: str | None = None,
) -> None:
    """Write one audit line in its own transaction, committed at once.

    The caller's transaction may still roll back (a denied or failed
    action): this line stays.

    Parameters
    ----------
    session
        Any session on the database (only its engine is used).
    username
        Who acted (``None``: unknown).
    action, target, details
        As :class:`~gcrm.db.models.AuditEvent`.
    """
    with OrmSession(bind=session.get_bind()) as own:
        own.add(AuditEvent(username=username, action=action, target=target, details=details))
        own.commit()


#: The one answer to every failed login (unknown user, wrong password, locked).
LOGIN_FAILED = (
    "wrong username or password (after repeated failures an account is locked for a while)"
)


def login(session: Session, username: str, password: str) -> Actor:
    """Check a username and password; lock after repeated failures; audit every attempt.

    The attempt is recorded (audit line, failure count, lock, last login) in
    a transaction of its own, committed before this returns or raises: the
    caller's transaction holds no write lock because of it and its rollback
    removes nothing. The web and the CLI both log in here.

    Parameters
    ----------
    session
        An open session (only its engine is used).
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
        On an unknown or inactive user, a wrong password or a locked account,
        always with :data:`LOGIN_FAILED` and after one password verification,
        so neither the words nor the time tell whether the user exists.
    """
    settings = get_settings()
    now = _now()
    with OrmSession(bind=session.get_bind()) as own:
        user = own.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None and user.password_hash else None
        matches = verify_password(stored or _dummy_hash(), password) and stored is not None
        locked = user is not None and user.locked_until is not None and user.locked_until > now
        if user is None or not user.is_active or locked or not matches:
            own.add(
                AuditEvent(
                    username=username,
                    action="login_failed",
                    target="locked" if locked else "password",
                )
            )
            if user is not None and not locked:
                user.failed_logins += 1
                if user.failed_logins >= settings.lockout_attempts:
                    user.locked_until = now + dt.timedelta(minutes=settings.lockout_minutes)
                    user.failed_logins = 0
                    own.add(AuditEvent(username=username, action="lockout", target="password"))
            own.commit()
            raise AuthenticationError(LOGIN_FAILED)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        if stored is not None and password_needs_rehash(stored):
            # Made with an older cost: store today's (other open sessions of this
            # user then log in again once, as after a password change).
            user.password_hash = hash_password(password)
        own.add(AuditEvent(username=username, action="login", target="password"))
        actor = Actor.from_user(user)
        own.commit()
    return actor


def refresh_actor(session: Session, actor: Actor) -> Actor | None:
    """Re-read a logged-in user before acting for them.

    Parameters
    ----------
    session
        An open session.
    actor
        The actor of an open (web) session.

    Returns
    -------
    Actor or None
        ``None`` when the user is gone, deactivated, locked or has changed
        their password since logging in; otherwise the user's actor as
        stored now (a changed role, region or grant shows in it).
    """
    if actor.id is None:
        return actor
    user = session.get(User, actor.id)
    if user is None or not user.is_active:
        return None
    if user.locked_until is not None and user.locked_until > _now():
        return None
    if _credential(user.password_hash) != actor.credential:
        return None
    return Actor.from_user(user)


def recheck(actor: Actor) -> Actor | None:
    """Re-read an open session's user from the database (see :func:`refresh_actor`).

    The app calls this on every request, before any page acts.

    Parameters
    ----------
    actor
        The actor stored in the browser session.

    Returns
    -------
    Actor or None
        The user as stored now, or ``None`` when the session must end.
    """
    with session_scope() as session:
        return refresh_actor(session, actor)


def audit_event(
    actor: Actor | None, action: str, target: str | None = None, details: dict | None = None
) -> None:
    """Write one audit line now, in a transaction of its own.

    For events that happen outside any store call, such as a file download
    in the app (see ``views.common.audited_download``).

    Parameters
    ----------
    actor
        Who acted.
    action
        ``download``, ``denied``...
    target
        What (a file name...).
    details
        JSON-serialisable details.
    """
    text = json.dumps(details, default=str, ensure_ascii=False) if details else None
    with session_scope() as session:
        audit_apart(session, actor.username if actor else None, action, target, text)


def change_password(session: Session, actor: Actor, old: str, new: str) -> Actor:
    """Change the acting user's own password.

    Sessions opened with the old password end at their next request (see
    :func:`refresh_actor`); the caller keeps the returned actor to stay in.

    Parameters
    ----------
    session
        An open session.
    actor
        The user changing their password.
    old
        The current password.
    new
        The new password (see :func:`gcrm.passwords.check_password`).

    Returns
    -------
    Actor
        The actor with the new password's fingerprint.

    Raises
    ------
    AuthenticationError
        If ``old`` is wrong.
    InputError
        If ``new`` breaks the password policy or is unchanged.
    """
    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None or not verify_password(user.password_hash, old):
        msg = "the current password is wrong"
        raise AuthenticationError(msg)
    check_password(new, field="new password", old=old)
    user.password_hash = hash_password(new)
    session.add(AuditEvent(username=actor.username, action="password_change", target="self"))
    session.flush()
    return Actor.from_user(user)


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
    check_password(password)
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
    """Change a user's role, region, status, grant, home base or shift (admins only).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (needs ``admin``).
    username
        Who to change.
    role, is_active, personal_data_grant, display_name
        New values; ``None`` keeps the current one, except that a new role
        drops the personal-data grant unless it is given again.
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
    if role is not None and role != user.role and personal_data_grant is None:
        personal_data_grant = False  # a grant never carries over to a new role
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


def has_admin(session: Session) -> bool:
    """Return whether the installation has an admin yet.

    The first admin of an empty installation can be added without acting as
    anyone (``gcrm users add``); after that an admin must act.

    Parameters
    ----------
    session
        An open session.

    Returns
    -------
    bool
        ``True`` when at least one user has the admin role.
    """
    first = session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1))
    return first is not None
