"""Authentication, lockout, session timeout, roles and the audit of logins."""

from __future__ import annotations

import datetime as dt

import argon2
import pytest
from sqlalchemy import select

from gcrm._errors import AuthenticationError, InputError
from gcrm.auth import (
    ARGON2_MEMORY_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    Actor,
    actor_for,
    change_password,
    hash_password,
    login,
    refresh_actor,
    require,
    sees_personal_data,
    session_expired,
)
from gcrm.db.models import AuditEvent, User
from gcrm.db.session import session_scope
from gcrm.settings import get_settings


def _actions(username: str) -> list[str]:
    with session_scope() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.username == username)
                .order_by(AuditEvent.id)
            )
        )


def test_login_success_and_failure_are_audited(demo_copy: str) -> None:
    """A good login returns the actor; a bad one raises; both leave an audit line."""
    with session_scope() as s:
        actor = login(s, "rep1", "demo")
    assert actor.username == "rep1" and actor.role == "rep"
    with pytest.raises(AuthenticationError, match="wrong username or password"):
        with session_scope() as s:
            try:
                login(s, "rep1", "nope")
            finally:
                s.commit()
    assert _actions("rep1")[-2:] == ["login", "login_failed"]
    with pytest.raises(AuthenticationError, match="wrong username or password"):
        with session_scope() as s:
            login(s, "nobody", "demo")


def test_lockout_after_repeated_failures(demo_copy: str, monkeypatch) -> None:
    """N failures in a row lock the account: even the right password is refused until it expires."""
    monkeypatch.setenv("GCRM_LOCKOUT_ATTEMPTS", "3")
    get_settings.cache_clear()
    for _ in range(3):
        with session_scope() as s:
            with pytest.raises(AuthenticationError):
                login(s, "rep2", "bad")
            s.commit()
    with session_scope() as s:
        with pytest.raises(AuthenticationError, match="locked"):
            login(s, "rep2", "demo")
        s.commit()
    assert "lockout" in _actions("rep2")
    # once the lock expires the right password works again
    with session_scope() as s:
        user = s.scalar(select(User).where(User.username == "rep2"))
        user.locked_until = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    with session_scope() as s:
        assert login(s, "rep2", "demo").username == "rep2"


def test_a_success_resets_the_failure_count(demo_copy: str, monkeypatch) -> None:
    """Failures must be consecutive to lock: fail, succeed, fail leaves the account open."""
    monkeypatch.setenv("GCRM_LOCKOUT_ATTEMPTS", "2")
    get_settings.cache_clear()
    for password in ("bad", "demo", "bad", "demo"):
        with session_scope() as s:
            if password == "bad":
                with pytest.raises(AuthenticationError, match="wrong"):
                    login(s, "manager", password)
                s.commit()
            else:
                assert login(s, "manager", password).username == "manager"
    assert "lockout" not in _actions("manager")


def test_session_timeout(monkeypatch) -> None:
    """A session idle longer than the timeout has expired; a recent one has not."""
    monkeypatch.setenv("GCRM_SESSION_TIMEOUT_MINUTES", "30")
    get_settings.cache_clear()
    now = dt.datetime(2026, 1, 1, 12, 0)
    assert not session_expired(now - dt.timedelta(minutes=29), now)
    assert session_expired(now - dt.timedelta(minutes=31), now)


def test_change_password(demo_copy: str) -> None:
    """The old password must be right, the new one long enough; afterwards only it works."""
    with session_scope() as s:
        actor = login(s, "rep1", "demo")
        with pytest.raises(AuthenticationError):
            change_password(s, actor, "wrong", "a-long-new-password")
        with pytest.raises(InputError, match="at least"):
            change_password(s, actor, "demo", "short")
        change_password(s, actor, "demo", "a-long-new-password")
    with session_scope() as s:
        login(s, "rep1", "a-long-new-password")
        with pytest.raises(AuthenticationError):
            login(s, "rep1", "demo")
    assert "password_change" in _actions("rep1")


def test_roles_and_personal_data() -> None:
    """Role permissions, and who sees personal fields in clear."""
    rep = Actor(1, "r", "rep")
    analyst = Actor(2, "a", "analyst")
    granted = Actor(3, "g", "analyst", personal_data_grant=True)
    require(rep, "edit")
    with pytest.raises(PermissionError):
        require(rep, "export")
    with pytest.raises(PermissionError):
        require(analyst, "edit")
    require(analyst, "import")
    assert sees_personal_data(rep)
    assert not sees_personal_data(analyst)
    assert sees_personal_data(granted)


def test_app_session_times_out(demo_copy: str, monkeypatch) -> None:
    """In the app an idle session is logged out and the login page says why."""
    from streamlit.testing.v1 import AppTest

    from tests.views.test_app import APP

    with session_scope() as s:
        actor = login(s, "rep1", "demo")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = actor
    at.session_state["last_activity"] = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(
        hours=5
    )
    at.run()
    assert not at.exception
    assert "actor" not in at.session_state
    assert any("timed out" in w.value for w in at.warning)


def test_password_hashes_use_owasp_argon2id_parameters(demo_copy: str) -> None:
    """New hashes are argon2id at OWASP's cost (19 MiB, 2 iterations, 1 lane), salted."""
    assert (ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM) == (19_456, 2, 1)
    for encoded in (hash_password("a long passphrase"), _stored("rep1")):
        params = argon2.extract_parameters(encoded)
        assert params.type is argon2.Type.ID
        assert (params.memory_cost, params.time_cost, params.parallelism) == (19_456, 2, 1)
        assert params.salt_len >= 16


def _stored(username: str) -> str:
    with session_scope() as s:
        return str(s.scalar(select(User.password_hash).where(User.username == username)))


@pytest.mark.parametrize(
    "old",
    [
        argon2.PasswordHasher(),  # argon2-cffi's default: 64 MiB, 3 iterations, 4 lanes
        argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),  # weaker
    ],
)
def test_a_hash_of_another_cost_still_logs_in_and_is_renewed(
    demo_copy: str, old: argon2.PasswordHasher
) -> None:
    """An older gcrm's hash verifies; the login stores today's; the old session ends."""
    with session_scope() as s:
        user = s.scalars(select(User).where(User.username == "rep2")).one()
        user.password_hash = old.hash("demo")
    with session_scope() as s:
        elsewhere = actor_for(s, "rep2")  # a session opened before the renewal
    with session_scope() as s:
        first = login(s, "rep2", "demo")
    renewed = _stored("rep2")
    params = argon2.extract_parameters(renewed)
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19_456, 2, 1)
    with session_scope() as s:
        login(s, "rep2", "demo")  # no second renewal: the hash stays
        assert refresh_actor(s, first) is not None
        # The other session carries the old hash's fingerprint: it logs in again,
        # as after a password change.
        assert refresh_actor(s, elsewhere) is None
    assert _stored("rep2") == renewed
    with pytest.raises(AuthenticationError):
        with session_scope() as s:
            login(s, "rep2", "not the password")
