"""Property tests of record scope: no store function and no CLI command returns an
account outside the acting user's scope.

Hypothesis builds small worlds (regions, users of every role, territories, accounts
with contacts and interactions). For every user of a world, every scoped store
function and the ``accounts list`` / ``accounts export`` commands are compared with
an independent, pure-Python oracle of the rules of :mod:`gcrm.auth` (the oracle
does not call :func:`gcrm.auth.account_scope`):

- ``rep``: accounts they own or that lie in a territory they own;
- ``manager``: accounts in a territory of their region, or owned by a user of their
  region (a manager without a region sees nothing);
- ``analyst`` and ``admin``: every account.

Every (user, function, account) comparison counts as one case; the issue's
acceptance is at least 10,000 cases with 0 leaks. Run with ``-s`` to see the counts.

For speed there is one SQLite database per test function (migrated once); each
store example inserts its world with Core inserts inside one transaction that is
rolled back afterwards, and each CLI example wipes and re-inserts its world.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from gcrm._errors import NotFoundError, PermissionDeniedError
from gcrm.auth import Actor
from gcrm.db.models import (
    Account,
    AuditEvent,
    Contact,
    Interaction,
    Region,
    Territory,
    User,
)
from gcrm.db.session import dispose_engines, get_engine, upgrade_database
from gcrm.reports import account_table, export_accounts
from gcrm.settings import get_settings
from gcrm.store import (
    AccountFilter,
    account_detail,
    accounts_frame,
    audit_frame,
    contacts_of,
    count_accounts,
    facets,
    get_account,
    interactions_frame,
    list_accounts,
    log_interaction,
    set_manual_pin,
    territories_frame,
    update_account,
)

ROLES = ("rep", "manager", "analyst", "admin")
KINDS = ("lead", "prospect", "customer")
#: What each role may do, written out independently of ``gcrm.auth.PERMISSIONS``.
CAN_EDIT = {"rep", "manager", "admin"}
CAN_EXPORT = {"manager", "analyst", "admin"}
PASSWORD = "scope-property-password"
#: An account id no world uses.
MISSING_ID = 999_999

#: Cases run, per test; printed and asserted.
CASES: collections.Counter[str] = collections.Counter()
#: Tests whose Hypothesis run finished without a failure.
COMPLETED: set[str] = set()
#: The acceptance threshold of the issue.
MIN_CASES = 10_000


# --------------------------------------------------------------------- worlds


@dataclasses.dataclass(frozen=True)
class WUser:
    id: int
    username: str
    role: str
    region: int | None
    grant: bool


@dataclasses.dataclass(frozen=True)
class WTerritory:
    id: int
    name: str
    region: int | None
    owner: int | None


@dataclasses.dataclass(frozen=True)
class WAccount:
    id: int
    name: str
    kind: str
    owner: int | None
    territory: int | None
    contacts: tuple[str, ...]
    interactions: int


@dataclasses.dataclass(frozen=True)
class World:
    regions: tuple[int, ...]
    users: tuple[WUser, ...]
    territories: tuple[WTerritory, ...]
    accounts: tuple[WAccount, ...]
    #: A random filter: (ids, owners, territories, kinds).
    probe: AccountFilter

    @functools.cached_property
    def user_by_id(self) -> dict[int, WUser]:
        return {u.id: u for u in self.users}

    @functools.cached_property
    def territory_by_id(self) -> dict[int, WTerritory]:
        return {t.id: t for t in self.territories}

    @property
    def account_ids(self) -> set[int]:
        return {a.id for a in self.accounts}


def visible(world: World, user: WUser) -> set[int]:
    """The oracle: ids of the accounts ``user`` may see, straight from the written rules."""
    if user.role in ("analyst", "admin"):
        return world.account_ids
    out: set[int] = set()
    for a in world.accounts:
        terr = world.territory_by_id[a.territory] if a.territory is not None else None
        owner = world.user_by_id[a.owner] if a.owner is not None else None
        if user.role == "rep":
            if a.owner == user.id or (terr is not None and terr.owner == user.id):
                out.add(a.id)
        elif user.role == "manager" and user.region is not None:
            in_region_territory = terr is not None and terr.region == user.region
            owned_in_region = owner is not None and owner.region == user.region
            if in_region_territory or owned_in_region:
                out.add(a.id)
    return out


def matches(world: World, a: WAccount, flt: AccountFilter) -> bool:
    """The oracle of the filter fields the probes use."""
    if flt.ids and a.id not in set(flt.ids):
        return False
    if flt.kinds and a.kind not in set(flt.kinds):
        return False
    if flt.owners:
        owner = world.user_by_id[a.owner].username if a.owner is not None else None
        if owner not in set(flt.owners):
            return False
    if flt.territories:
        terr = world.territory_by_id[a.territory].name if a.territory is not None else None
        if terr not in set(flt.territories):
            return False
    return True


def sees_personal(user: WUser) -> bool:
    """Oracle of :func:`gcrm.auth.sees_personal_data`."""
    return user.grant if user.role == "analyst" else True


def actor_of(user: WUser) -> Actor:
    return Actor(
        id=user.id,
        username=user.username,
        role=user.role,
        region_id=user.region,
        personal_data_grant=user.grant,
    )


@st.composite
def worlds(draw: st.DrawFn, max_users: int = 8, max_accounts: int = 25) -> World:
    """1-3 regions, 1-8 users of random roles (with a region or none), 0-6 territories
    (owner a rep, rarely another user, or none; region or none), 0-25 accounts (owner
    any user or none, territory any or none). Ids are drawn from overlapping ranges so
    that a user id, a territory id and an account id are often equal."""
    ids = st.integers(1, 30)
    regions = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    n_users = draw(st.integers(1, max_users))
    user_ids = draw(st.lists(ids, min_size=n_users, max_size=n_users, unique=True))
    users = []
    for i, uid in enumerate(user_ids):
        role = draw(st.sampled_from(ROLES))
        region = draw(st.one_of(st.none(), st.sampled_from(regions)))
        grant = role == "analyst" and draw(st.booleans())
        users.append(WUser(uid, f"user{i}", role, region, grant))
    reps = [u.id for u in users if u.role == "rep"]
    owner_choice = [st.none(), st.sampled_from(user_ids)]
    if reps:
        owner_choice += [st.sampled_from(reps)] * 3
    n_terr = draw(st.integers(0, 6))
    terr_ids = draw(st.lists(ids, min_size=n_terr, max_size=n_terr, unique=True))
    territories = [
        WTerritory(
            tid,
            f"terr{i}",
            draw(st.one_of(st.none(), st.sampled_from(regions))),
            draw(st.one_of(*owner_choice)),
        )
        for i, tid in enumerate(terr_ids)
    ]
    n_acc = draw(st.integers(0, max_accounts))
    acc_ids = draw(st.lists(st.integers(1, 60), min_size=n_acc, max_size=n_acc, unique=True))
    accounts = []
    for i, aid in enumerate(acc_ids):
        accounts.append(
            WAccount(
                id=aid,
                name=draw(st.sampled_from(["Alpha", "Beta", "gamma", "Ä"])) + f" {i}",
                kind=draw(st.sampled_from(KINDS)),
                owner=draw(st.one_of(st.none(), st.sampled_from(user_ids))),
                territory=draw(st.one_of(st.none(), st.sampled_from(terr_ids)))
                if terr_ids
                else None,
                contacts=tuple(f"Person {aid}-{j}" for j in range(draw(st.integers(0, 2)))),
                interactions=draw(st.integers(0, 2)),
            )
        )
    usernames = [u.username for u in users]
    terr_names = [t.name for t in territories]
    probe = AccountFilter(
        ids=draw(st.lists(st.sampled_from([*acc_ids, MISSING_ID]), max_size=8)),
        owners=draw(st.lists(st.sampled_from([*usernames, "nobody"]), max_size=4)),
        territories=draw(st.lists(st.sampled_from([*terr_names, "nowhere"]), max_size=3)),
        kinds=draw(st.lists(st.sampled_from(KINDS), max_size=2)),
    )
    return World(tuple(regions), tuple(users), tuple(territories), tuple(accounts), probe)


def world_rows(world: World, password_hash: str | None = None) -> list[tuple[Any, list[dict]]]:
    """(table, rows) to insert, parents first."""
    now = dt.datetime(2026, 1, 1, 12, 0)
    regions = [{"id": r, "name": f"region{r}"} for r in world.regions]
    users = [
        {
            "id": u.id,
            "username": u.username,
            "display_name": u.username,
            "role": u.role,
            "region_id": u.region,
            "personal_data_grant": u.grant,
            "password_hash": password_hash,
            "is_active": True,
            "failed_logins": 0,
        }
        for u in world.users
    ]
    territories = [
        {"id": t.id, "name": t.name, "region_id": t.region, "owner_id": t.owner}
        for t in world.territories
    ]
    accounts = [
        {
            "id": a.id,
            "external_id": f"ext-{a.id}",
            "name": a.name,
            "kind": a.kind,
            "stage": "new",
            "owner_id": a.owner,
            "territory_id": a.territory,
            "lat": 60.0 + a.id / 1000,
            "lon": 24.0 + a.id / 1000,
            "phone": f"+358 40 {a.id:07d}",
            "email": f"acc{a.id}@example.com",
            "geocode_precision": "provided",
            "manual_pin": False,
            "visit_minutes": 30,
            "do_not_contact": False,
            "marketing_consent": False,
        }
        for a in world.accounts
    ]
    contacts = [
        {
            "account_id": a.id,
            "name": name,
            "email": f"c{a.id}.{j}@example.com",
            "phone": f"+358 50 {a.id:05d}{j:02d}",
            "do_not_contact": False,
            "marketing_consent": False,
        }
        for a in world.accounts
        for j, name in enumerate(a.contacts)
    ]
    first_user = world.users[0].id
    interactions = [
        {
            "account_id": a.id,
            "user_id": first_user,
            "kind": "call",
            "occurred_at": now - dt.timedelta(days=j),
            "notes": f"secret note {a.id}",
        }
        for a in world.accounts
        for j in range(a.interactions)
    ]
    out: list[tuple[Any, list[dict]]] = [
        (Region.__table__, regions),
        (User.__table__, users),
        (Territory.__table__, territories),
        (Account.__table__, accounts),
        (Contact.__table__, contacts),
        (Interaction.__table__, interactions),
    ]
    return [(table, rows) for table, rows in out if rows]


def insert_world(conn: Any, world: World, password_hash: str | None = None) -> None:
    for table, rows in world_rows(world, password_hash):
        conn.execute(insert(table), rows)


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def scope_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """One migrated SQLite file for the whole test function; the settings point at it."""
    url = f"sqlite:///{tmp_path / 'scope.db'}"
    monkeypatch.setenv("GCRM_DATABASE_URL", url)
    get_settings.cache_clear()
    dispose_engines()
    upgrade_database(url)
    yield get_engine(url)
    dispose_engines()


@functools.cache
def password_hash() -> str:
    """The argon2 hash of :data:`PASSWORD`, computed once (argon2 is slow on purpose)."""
    from gcrm.auth import hash_password

    return hash_password(PASSWORD)


# ------------------------------------------------------------------ checking


class Checker:
    """Compares one user's results with the oracle and counts the cases."""

    def __init__(self, world: World, user: WUser, counter: str) -> None:
        self.world = world
        self.user = user
        self.counter = counter
        self.expected = visible(world, user)

    def ids(self, name: str, got: Any, expected: set[int] | None = None) -> None:
        """Compare returned account ids with the expected set: one case per account."""
        want = self.expected if expected is None else expected
        got_list = [int(i) for i in got]
        assert len(got_list) == len(set(got_list)), f"{name}: repeated rows {got_list}"
        got_set = set(got_list)
        leaked = got_set - want
        missing = want - got_set
        assert not leaked, (
            f"SCOPE LEAK: {name} as {self.user} returned out-of-scope account(s) "
            f"{sorted(leaked)}; world={self.world}"
        )
        assert not missing, (
            f"{name} as {self.user} lost in-scope account(s) {sorted(missing)}; world={self.world}"
        )
        CASES[self.counter] += max(1, len(self.world.accounts))

    def case(self, n: int = 1) -> None:
        CASES[self.counter] += n


def stored_pseudonyms(session: Session) -> dict[int, list[str]]:
    """Each account's contacts' stored (random) pseudonyms, in contact id order."""
    out: dict[int, list[str]] = {}
    stmt = select(Contact.account_id, Contact.pseudonym).order_by(Contact.id)
    for aid, value in session.execute(stmt):
        out.setdefault(int(aid), []).append(value)
    return out


def check_reads(session: Session, world: World, user: WUser) -> None:
    """Every read-only scoped store/report function, for one user."""
    actor = actor_of(user)
    c = Checker(world, user, "store")
    exp = c.expected
    accounts = {a.id: a for a in world.accounts}

    # Listing functions.
    frame = accounts_frame(session, actor)
    c.ids("accounts_frame", frame["id"])
    c.ids("list_accounts", [a.id for a in list_accounts(session, actor)])
    limited = list_accounts(session, actor, limit=3)
    c.ids("list_accounts(limit=3)", [a.id for a in limited], {a.id for a in limited} & exp)
    assert len(limited) == min(3, len(exp))
    assert count_accounts(session, actor) == len(exp)
    c.case()

    # facets: values present in scope only.
    fac = facets(session, actor)
    want_owners = {
        world.user_by_id[accounts[i].owner].username for i in exp if accounts[i].owner is not None
    }
    want_terrs = {
        world.territory_by_id[accounts[i].territory].name
        for i in exp
        if accounts[i].territory is not None
    }
    assert set(fac["owner"]) == want_owners, (user, fac, world)
    assert set(fac["territory"]) == want_terrs, (user, fac, world)
    assert set(fac["kind"]) == {accounts[i].kind for i in exp}
    c.case(3)

    # Interactions: only on visible accounts, even when asked for others.
    with_inter = {a.id for a in world.accounts if a.interactions}
    inter = interactions_frame(session, actor)
    c.ids("interactions_frame", set(inter["account_id"]), exp & with_inter)
    assert len(inter) == sum(accounts[i].interactions for i in exp)
    if not sees_personal(user):
        assert inter["notes"].isna().all()
    asked = [*world.account_ids, MISSING_ID]
    inter_all = interactions_frame(session, actor, asked)
    c.ids("interactions_frame(all ids)", set(inter_all["account_id"]), exp & with_inter)

    # Filters can only narrow the scope.
    usernames = [u.username for u in world.users]
    terr_names = [t.name for t in world.territories]
    others = sorted(world.account_ids - exp)
    probes = [
        ("ids=every account", AccountFilter(ids=[*world.account_ids, MISSING_ID])),
        ("ids=out-of-scope accounts", AccountFilter(ids=others or [MISSING_ID])),
        ("owners=every user", AccountFilter(owners=usernames)),
        ("territories=every territory", AccountFilter(territories=[*terr_names, "x"])),
        ("kinds=every kind", AccountFilter(kinds=list(KINDS))),
        ("random probe", world.probe),
    ]
    for label, flt in probes:
        want = {i for i in exp if matches(world, accounts[i], flt)}
        c.ids(f"accounts_frame({label})", accounts_frame(session, actor, flt)["id"], want)
        c.ids(f"list_accounts({label})", [a.id for a in list_accounts(session, actor, flt)], want)
        assert count_accounts(session, actor, flt) == len(want), (label, user, world)
        c.case()

    # Exports.
    stored = stored_pseudonyms(session)
    table = account_table(session, actor)
    c.ids("account_table", table["id"])
    if not sees_personal(user):
        assert table["phone"].isna().all() and table["email"].isna().all()
        assert table["contact_email"].isna().all() and table["contact_phone"].isna().all()
        for aid, name in zip(table["id"], table["contact_name"], strict=True):
            contacts = accounts[int(aid)].contacts
            if contacts:
                assert name == stored[int(aid)][0] and name not in contacts
            else:
                assert pd.isna(name)
    flt_table = account_table(session, actor, world.probe)
    probe_want = {i for i in exp if matches(world, accounts[i], world.probe)}
    c.ids("account_table(random probe)", flt_table["id"], probe_want)
    if user.role in CAN_EXPORT:
        for fmt in ("json", "csv"):
            export = export_accounts(session, actor, None, fmt)
            if fmt == "json":
                rows = json.loads(export.data.decode())
                ids = [r["id"] for r in rows]
            else:
                ids = list(pd.read_csv(io.BytesIO(export.data), encoding="utf-8-sig")["id"])
            c.ids(f"export_accounts({fmt})", ids)
            assert export.rows == len(exp)
        export = export_accounts(session, actor, AccountFilter(ids=others or [MISSING_ID]), "json")
        rows = json.loads(export.data.decode())
        c.ids("export_accounts(ids=out-of-scope)", [r["id"] for r in rows], set())
    else:
        with pytest.raises(PermissionDeniedError):
            export_accounts(session, actor, None, "json")
        c.case()

    # One account at a time: existing ids in and out of scope, and one that does not exist.
    for aid in [*sorted(world.account_ids), MISSING_ID]:
        if aid in exp:
            acc = get_account(session, actor, aid)
            assert acc.id == aid
            contacts = contacts_of(session, actor, aid)
            assert len(contacts) == len(accounts[aid].contacts)
            if not sees_personal(user):
                assert all(x["phone"] is None and x["email"] is None for x in contacts)
                assert {x["name"] for x in contacts} == set(stored.get(aid, []))
        else:
            with pytest.raises(NotFoundError):
                get_account(session, actor, aid)
            with pytest.raises(NotFoundError):
                contacts_of(session, actor, aid)
            with pytest.raises(NotFoundError):
                account_detail(session, actor, aid)
            c.case()
        c.case(2)
    # account_detail on in-scope accounts (it also writes an audit line): a few suffice.
    for aid in sorted(exp)[:2]:
        detail = account_detail(session, actor, aid)
        assert detail["account"]["id"] == aid
        assert set(detail["interactions"]["account_id"]) <= {aid}
        c.case()

    # The audit log is for admins only.
    if user.role == "admin":
        audit_frame(session, actor, limit=5)
    else:
        with pytest.raises(PermissionDeniedError):
            audit_frame(session, actor)
    c.case()


def check_writes(session: Session, world: World, user: WUser) -> None:
    """update_account, set_manual_pin and log_interaction: refused out of scope (and
    for roles without ``edit``), allowed in scope."""
    actor = actor_of(user)
    c = Checker(world, user, "store")
    exp = c.expected
    out_of_scope = [*sorted(world.account_ids - exp), MISSING_ID]
    in_scope = sorted(exp)[:2]
    calls = [
        ("update_account", lambda aid: update_account(session, actor, aid, {"segment": "x"})),
        ("set_manual_pin", lambda aid: set_manual_pin(session, actor, aid, 60.5, 24.5)),
        ("log_interaction", lambda aid: log_interaction(session, actor, aid, kind="note")),
    ]
    for name, call in calls:
        for aid in out_of_scope:
            err = PermissionDeniedError if user.role not in CAN_EDIT else NotFoundError
            with pytest.raises(err):
                call(aid)
                pytest.fail(f"SCOPE LEAK: {name} as {user} changed account {aid}; {world}")
            c.case()
        for aid in in_scope:
            if user.role in CAN_EDIT:
                call(aid)
            else:
                with pytest.raises(PermissionDeniedError):
                    call(aid)
            c.case()


# --------------------------------------------------------------------- tests


def test_store_functions_never_return_accounts_outside_scope(scope_db: Engine) -> None:
    """For generated worlds and every user in them, every scoped store and report function
    (accounts_frame, list_accounts, count_accounts, facets, interactions_frame, get_account,
    contacts_of, account_detail, account_table, export_accounts, update_account,
    set_manual_pin, log_interaction, audit_frame) returns exactly the accounts the oracle
    allows, filters (ids, owners, territories, kinds of other users' accounts) only narrow
    the scope, analysts without a grant see no personal data, and at least 10,000
    (user, function, account) cases run with no leak."""

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(world=worlds())
    def run(world: World) -> None:
        with Session(scope_db) as session:
            try:
                insert_world(session, world)
                for user in world.users:
                    check_reads(session, world, user)
                for user in world.users:
                    check_writes(session, world, user)
                # The writes changed no one's scope.
                for user in world.users:
                    checker = Checker(world, user, "store")
                    checker.ids(
                        "accounts_frame after writes", accounts_frame(session, actor_of(user))["id"]
                    )
            finally:
                session.rollback()

    before = CASES["store"]
    run()
    ran = CASES["store"] - before
    COMPLETED.add("store")
    print(f"\nscope properties: {ran} store cases, 0 leaks")
    assert ran >= MIN_CASES


def test_territories_frame_shows_only_own_territories(scope_db: Engine) -> None:
    """territories_frame shows a rep the territories they own, a manager the territories
    of their region (none when they have no region), analysts and admins every one."""

    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(world=worlds(max_accounts=0))
    def run(world: World) -> None:
        with Session(scope_db) as session:
            try:
                insert_world(session, world)
                for user in world.users:
                    if user.role == "rep":
                        want = {t.id for t in world.territories if t.owner == user.id}
                    elif user.role == "manager":
                        want = {
                            t.id
                            for t in world.territories
                            if user.region is not None and t.region == user.region
                        }
                    else:
                        want = {t.id for t in world.territories}
                    got = set(territories_frame(session, actor_of(user))["id"])
                    assert got == want, (
                        f"territories_frame as {user}: got {sorted(got)}, "
                        f"expected {sorted(want)}; leaked {sorted(got - want)}; world={world}"
                    )
                    CASES["territories"] += max(1, len(world.territories))
            finally:
                session.rollback()

    run()
    COMPLETED.add("territories")
    print(f"\nscope properties: {CASES['territories']} territory cases")


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in (AuditEvent, Interaction, Contact, Account, Territory, User, Region):
            conn.execute(delete(model.__table__))


def test_cli_commands_never_return_accounts_outside_scope(scope_db: Engine, tmp_path: Path) -> None:
    """``accounts list --format json`` and ``accounts export --format json -o FILE``, run
    as each user of generated worlds (logged in with GCRM_USER/GCRM_PASSWORD), print and
    write exactly the accounts the oracle allows; a ``--territory`` filter naming other
    users' territories narrows, never widens; roles without ``export`` get exit code 3
    and no file."""
    from typer.testing import CliRunner

    from gcrm.cli import app

    runner = CliRunner()
    pw_hash = password_hash()

    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(world=worlds(max_users=5), data=st.data())
    def run(world: World, data: st.DataObject) -> None:
        _wipe(scope_db)
        with scope_db.begin() as conn:
            insert_world(conn, world, pw_hash)
        accounts = {a.id: a for a in world.accounts}
        terr_names = [t.name for t in world.territories]
        for user in world.users:
            c = Checker(world, user, "cli")
            env = {"GCRM_USER": user.username, "GCRM_PASSWORD": PASSWORD}
            result = runner.invoke(app, ["accounts", "list", "--format", "json"], env=env)
            assert result.exit_code == 0, (result.stdout, result.stderr)
            c.ids("cli accounts list", [r["id"] for r in json.loads(result.stdout)])

            chosen = data.draw(st.lists(st.sampled_from([*terr_names, "nowhere"]), max_size=3))
            args = ["accounts", "export", "--format", "json", "-o"]
            out = tmp_path / f"export-{user.username}.json"
            out.unlink(missing_ok=True)
            args.append(str(out))
            for name in chosen:
                args += ["--territory", name]
            result = runner.invoke(app, args, env=env)
            if user.role in CAN_EXPORT:
                assert result.exit_code == 0, (result.stdout, result.stderr)
                flt = AccountFilter(territories=chosen)
                want = {i for i in c.expected if matches(world, accounts[i], flt)}
                rows = json.loads(out.read_text(encoding="utf-8"))
                c.ids("cli accounts export", [r["id"] for r in rows], want)
            else:
                assert result.exit_code == 3, (result.stdout, result.stderr)
                assert not out.exists()
                c.case()

    run()
    COMPLETED.add("cli")
    print(f"\nscope properties: {CASES['cli']} CLI cases, 0 leaks")
    assert CASES["cli"] > 0


# ------------------------------------------------ web sessions (issue 13)


def _probe_page() -> None:  # pragma: no cover - runs as an AppTest script
    """A page of the app reduced to what the session rules touch: the login gate of
    ``views.common`` and a scoped result kept in the session (like a prepared download)."""
    import streamlit as st

    from gcrm.db.session import session_scope
    from gcrm.store import accounts_frame
    from views.common import current_actor, log_out

    if st.session_state.get("probe_logout"):
        log_out()
    actor = current_actor()
    if actor is not None:
        with session_scope() as s:
            st.session_state["prepared"] = sorted(int(i) for i in accounts_frame(s, actor)["id"])


def _stored_actor(engine: Engine, user: WUser) -> Actor:
    with Session(engine) as session:
        return Actor.from_user(session.get(User, user.id))


def test_web_sessions_never_carry_data_to_the_next_user(scope_db: Engine) -> None:
    """In one browser tab user A works (a scoped result is kept in the session), then the
    session ends by log-out, time-out or a change of A's role; nothing of A's stays, and
    user B who logs in next sees exactly B's scope. Every (path, A, B, account) is a case."""
    from streamlit.testing.v1 import AppTest

    pw_hash = password_hash()
    other_role = {"rep": "analyst", "manager": "rep", "analyst": "manager", "admin": "rep"}

    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(world=worlds(max_users=4, max_accounts=20), data=st.data())
    def run(world: World, data: st.DataObject) -> None:
        _wipe(scope_db)
        with scope_db.begin() as conn:
            insert_world(conn, world, pw_hash)
        users = list(world.users)
        a = data.draw(st.sampled_from(users))
        b = data.draw(st.sampled_from(users))
        for path in ("log-out", "time-out", "role change"):
            at = AppTest.from_function(_probe_page, default_timeout=30)
            at.session_state["actor"] = _stored_actor(scope_db, a)
            at.run()
            assert not at.exception, at.exception
            Checker(world, a, "web").ids(f"{path}: A's page", at.session_state["prepared"])
            if path == "log-out":
                at.session_state["probe_logout"] = True
            elif path == "time-out":
                at.session_state["last_activity"] = dt.datetime.now(dt.UTC).replace(
                    tzinfo=None
                ) - dt.timedelta(days=1)
            else:
                with scope_db.begin() as conn:
                    conn.execute(
                        User.__table__.update()
                        .where(User.__table__.c.id == a.id)
                        .values(role=other_role[a.role])
                    )
            at.run()
            leftover = [k for k in ("actor", "prepared", "probe_logout") if k in at.session_state]
            assert leftover == [], f"{path}: {leftover} left after the session ended; {world}"
            CASES["web"] += max(1, len(visible(world, a)))
            if path == "role change":
                with scope_db.begin() as conn:
                    conn.execute(
                        User.__table__.update()
                        .where(User.__table__.c.id == a.id)
                        .values(role=a.role)
                    )
            at.session_state["actor"] = _stored_actor(scope_db, b)
            at.run()
            Checker(world, b, "web").ids(f"{path}: B after A", at.session_state["prepared"])

    run()
    COMPLETED.add("web")
    print(f"\nscope properties: {CASES['web']} web session cases, 0 leaks")
    assert CASES["web"] > 0


# ------------------------------------------------ the territory/region rule (issue 13)

#: Coordinates on a grid of exact binary fractions, so borders are exact.
GRID = 8


@st.composite
def territory_maps(draw: st.DrawFn) -> tuple[list, list, list]:
    """Regions and territories as grid boxes (territories may cross regions, overlap or
    touch) and points on the grid, many on borders and corners."""

    def box_of() -> tuple[int, int, int, int]:
        x0, y0 = draw(st.integers(0, 10)), draw(st.integers(0, 10))
        return x0, y0, x0 + draw(st.integers(1, 6)), y0 + draw(st.integers(1, 6))

    regions = [box_of() for _ in range(draw(st.integers(1, 3)))]
    territories = [
        (f"t{draw(st.integers(0, 99)):02d}-{i}", box_of(),
         draw(st.one_of(st.none(), st.integers(0, len(regions) - 1))))
        for i in range(draw(st.integers(1, 5)))
    ]  # fmt: skip
    points = draw(
        st.lists(st.tuples(st.integers(-1, 17), st.integers(-1, 17)), min_size=1, max_size=30)
    )
    return regions, territories, points


def _oracle(regions: list, territories: list, point: tuple[int, int]) -> str | None:
    """Pure arithmetic on closed boxes: a territory holds the points of (its box ∩ its
    region's box) when that has an area; ties go to the first name."""
    x, y = point
    holders = []
    for name, own, region in territories:
        x0, y0, x1, y1 = own
        if region is not None:
            rx0, ry0, rx1, ry1 = regions[region]
            x0, y0, x1, y1 = max(x0, rx0), max(y0, ry0), min(x1, rx1), min(y1, ry1)
        if x0 < x1 and y0 < y1 and x0 <= x <= x1 and y0 <= y <= y1:
            holders.append(name)
    return min(holders) if holders else None


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return 24.0 + x / GRID, 60.0 + y / GRID


def test_territory_rule_is_one_rule_clipped_to_the_region(scope_db: Engine, tmp_path: Path) -> None:
    """For random regions, territories (crossing, overlapping, touching) and points (on
    borders too), the importer, the territory module's assignment and
    ``territory_rule.holding_territory`` give every point the same territory, the one an
    arithmetic oracle gives: inside the part of the territory within its region."""
    import csv as csv_module

    from shapely.geometry import MultiPolygon, box

    from gcrm.auth import SYSTEM
    from gcrm.importer import import_file
    from gcrm.territories import assign_accounts
    from gcrm.territory_rule import clip_to_region, holding_territory

    def geo_box(b: tuple[int, int, int, int]) -> MultiPolygon:
        (x0, y0), (x1, y1) = _lonlat(b[0], b[1]), _lonlat(b[2], b[3])
        return MultiPolygon([box(x0, y0, x1, y1)])

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(spec=territory_maps())
    def run(spec: tuple[list, list, list]) -> None:
        regions, territories, points = spec
        _wipe(scope_db)
        names = [t[0] for t in territories]
        if len(set(names)) != len(names):
            return
        with scope_db.begin() as conn:
            conn.execute(insert(Region.__table__), [
                {"id": i + 1, "name": f"r{i}", "geom": geo_box(r)} for i, r in enumerate(regions)
            ])  # fmt: skip
            conn.execute(insert(Territory.__table__), [
                {"id": i + 1, "name": n, "region_id": None if r is None else r + 1,
                 "geom": geo_box(b)} for i, (n, b, r) in enumerate(territories)
            ])  # fmt: skip
        want = [_oracle(regions, territories, p) for p in points]
        lonlat = [_lonlat(*p) for p in points]
        # 1. the rule itself
        clipped = [
            clip_to_region(geo_box(b), None if r is None else geo_box(regions[r]))
            for _, b, r in territories
        ]
        got = holding_territory(names, clipped, [p[0] for p in lonlat], [p[1] for p in lonlat])
        assert [None if i is None else names[i] for i in got] == want, spec
        # 2. the importer
        path = tmp_path / "points.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv_module.writer(f)
            w.writerow(["external_id", "name", "lat", "lon"])
            for i, (lon, lat) in enumerate(lonlat):
                w.writerow([f"p{i}", f"Point {i}", repr(lat), repr(lon)])
        with Session(scope_db) as session:
            import_file(session, SYSTEM, path, geocoder=None)
            session.commit()
            stmt = select(Account.external_id, Territory.name).outerjoin(
                Territory, Territory.id == Account.territory_id
            )
            by_ext = dict(session.execute(stmt).all())
            terr_frame = territories_frame(session, SYSTEM)
            acc_frame = accounts_frame(session, SYSTEM)
        assert [by_ext[f"p{i}"] for i in range(len(points))] == want, spec
        # 3. the territory module's assignment (territories as the store reads them)
        assignment = assign_accounts(acc_frame, terr_frame)
        ext_of = dict(zip(acc_frame["id"], acc_frame["external_id"], strict=True))
        got_assign = {ext_of[i]: t for i, t in assignment.territory.items()}
        assert [got_assign[f"p{i}"] for i in range(len(points))] == want, spec
        CASES["territory rule"] += 3 * len(points)

    run()
    COMPLETED.add("territory rule")
    print(f"\nscope properties: {CASES['territory rule']} territory-rule cases, 0 differences")


def test_total_cases_reach_the_acceptance_threshold() -> None:
    """Together the store and CLI property tests ran at least 10,000 (user, function,
    account) cases with no leak (skipped when one of them was deselected or failed,
    which is reported on its own)."""
    if not {"store", "cli"} <= COMPLETED:
        pytest.skip("the store or CLI property test did not run to the end (see its result)")
    total = sum(CASES.values())
    print(f"\nscope properties: {total} cases in total ({dict(CASES)})")
    assert total >= MIN_CASES
