"""The Helsinki demo CRM."""

from __future__ import annotations

from sqlalchemy import func, select

from gcrm.auth import actor_for, verify_password
from gcrm.db.models import Account, Interaction, Territory, User
from gcrm.db.session import session_scope
from gcrm.demo import DEMO_USERS, build_demo
from gcrm.store import count_accounts


def test_demo_counts(demo_db: str) -> None:
    """The demo holds the bundled businesses as accounts, six users, three territories."""
    with session_scope() as s:
        n_accounts = s.scalar(select(func.count()).select_from(Account))
        assert 1200 <= n_accounts <= 1500
        assert {u.username for u in s.scalars(select(User))} == {u[0] for u in DEMO_USERS}
        assert s.scalar(select(func.count()).select_from(Territory)) == 3
        assert 200 <= s.scalar(select(func.count()).select_from(Interaction)) <= 3000
        located = s.scalar(
            select(func.count()).select_from(Account).where(Account.lat.is_not(None))
        )
        assert located == n_accounts
        with_hours = s.scalar(
            select(func.count()).select_from(Account).where(Account.opening_hours.is_not(None))
        )
        assert with_hours > 300
        kinds = dict(s.execute(select(Account.kind, func.count()).group_by(Account.kind)).all())
        assert set(kinds) == {"lead", "prospect", "customer"}


def test_demo_is_idempotent(demo_db: str) -> None:
    """Building the demo a second time changes nothing."""
    with session_scope() as s:
        before = s.execute(select(Account.external_id, Account.kind, Account.owner_id)).all()
        again = build_demo(s)
    assert not again.created
    with session_scope() as s:
        after = s.execute(select(Account.external_id, Account.kind, Account.owner_id)).all()
    assert sorted(before) == sorted(after)


def test_demo_users_and_scope(demo_db: str) -> None:
    """Reps see their own territory, the manager the region, and passwords are 'demo'."""
    with session_scope() as s:
        total = s.scalar(select(func.count()).select_from(Account))
        rep_counts = [count_accounts(s, actor_for(s, f"rep{i}")) for i in (1, 2, 3)]
        assert sum(rep_counts) == total
        assert all(c > total / 5 for c in rep_counts)
        assert count_accounts(s, actor_for(s, "manager")) == total
        rep1 = s.scalar(select(User).where(User.username == "rep1"))
        assert rep1.home_lat is not None and rep1.work_start == "08:00"
        assert verify_password(rep1.password_hash, "demo")
        assert not verify_password(rep1.password_hash, "wrong")
