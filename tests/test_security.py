"""Issue 13: the attack's findings, one test each (``test_finding_NN_...``).

Each test reproduces a finding the way the attacker did and fails on the code
before the fix. Web-session findings (2, 3 in the app, 4, 6, 13) have AppTest
tests in ``tests/views/test_security_pages.py``.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text

from gcrm._errors import AuthenticationError, InputError, PermissionDeniedError
from gcrm.auth import (
    Actor,
    actor_for,
    change_password,
    create_user,
    login,
    refresh_actor,
    update_user,
)
from gcrm.db.models import Account, AuditEvent, Contact, Interaction, SavedPlan, User
from gcrm.db.session import dispose_engines, get_engine, purge_freed_bytes, session_scope
from gcrm.importer import import_file
from gcrm.reports import account_table
from gcrm.settings import get_settings
from gcrm.store import (
    erase_account,
    erase_contact,
    interactions_frame,
    log_interaction,
    subject_access,
    update_account,
)

PERSON = {"name": "Sirkka Salainen", "phone": "+358 40 7654321", "email": "sirkka@salainen.fi"}


def _actions(username: str) -> list[str]:
    with session_scope() as s:
        stmt = select(AuditEvent.action).where(AuditEvent.username == username)
        return list(s.scalars(stmt.order_by(AuditEvent.id)))


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# ---- 1: pseudonyms -------------------------------------------------------------------


def test_finding_01_guessed_names_reverse_no_pseudonym(demo_copy: str, tmp_path: Path) -> None:
    """An analyst who imports every real contact name as a guess and exports finds no
    pseudonym of a real contact among the pseudonyms of the guesses (0 of all reversed);
    the same record keeps the same pseudonym."""
    with session_scope() as s:
        real = [(c.account_id, c.name) for c in s.scalars(select(Contact).order_by(Contact.id))]
    assert len(real) > 100
    guesses = [[f"GUESS{i}", f"Guess {i}", name] for i, (_, name) in enumerate(real)]
    path = _write_csv(tmp_path / "guess.csv", ["external_id", "name", "contact_name"], guesses)
    with session_scope() as s:
        analyst = actor_for(s, "analyst")
        report = import_file(s, analyst, path, geocoder=None)
        assert report.inserted == len(real)
    with session_scope() as s:
        analyst = actor_for(s, "analyst")
        table = account_table(s, analyst)
        again = account_table(s, analyst)
        ids = dict(s.execute(select(Account.id, Account.external_id)).all())
    shown = dict(zip(table["id"], table["contact_name"], strict=True))
    guessed = {shown[i] for i, ext in ids.items() if ext.startswith("GUESS")}
    genuine = {shown[a] for a, _ in real if isinstance(shown.get(a), str)}
    assert genuine and all(p.startswith("person-") for p in genuine)
    reversed_ = guessed & genuine
    assert len(reversed_) == 0
    assert not ({name for _, name in real} & set(table["contact_name"].dropna()))
    assert list(again["contact_name"].fillna("")) == list(table["contact_name"].fillna(""))


def test_finding_01_upgrade_gives_existing_contacts_random_pseudonyms(empty_db: str) -> None:
    """Contacts stored before the migration get a pseudonym each, all different, even for
    the same name."""
    from gcrm.db.session import upgrade_database

    upgrade_database(empty_db, "0003")
    with get_engine(empty_db).begin() as conn:
        conn.execute(text(
            "insert into accounts (id, external_id, name, kind, stage, geocode_precision,"
            " manual_pin, visit_minutes, do_not_contact, marketing_consent)"
            " values (1, 'e', 'A', 'lead', 'new', 'none', false, 30, false, false)"
        ))  # fmt: skip
        for _ in range(3):
            conn.execute(text(
                "insert into contacts (account_id, name, do_not_contact, marketing_consent)"
                " values (1, 'Same Name', false, false)"
            ))  # fmt: skip
    upgrade_database(empty_db)
    with session_scope() as s:
        pseudonyms = list(s.scalars(select(Contact.pseudonym)))
    assert len(set(pseudonyms)) == 3 and all(p.startswith("person-") for p in pseudonyms)


# ---- 3: web lockout (the login function both the app and the CLI call) -------------------


def test_finding_03_failed_logins_survive_the_callers_rollback(demo_copy: str) -> None:
    """The app's session_scope rolls back on the login error: the failure count, the lock and
    the audit lines must stay; 6 wrong passwords then the right one does not log in."""
    for _ in range(6):
        with pytest.raises(AuthenticationError), session_scope() as s:
            login(s, "rep1", "wrong password")  # raises inside: the scope rolls back
    with pytest.raises(AuthenticationError), session_scope() as s:
        login(s, "rep1", "demo")
    with session_scope() as s:
        user = s.scalar(select(User).where(User.username == "rep1"))
        assert user.locked_until is not None
    actions = _actions("rep1")
    assert actions.count("login_failed") == 7 and "lockout" in actions


# ---- 4: sessions re-checked ----------------------------------------------------------------


def test_finding_04_refresh_sees_deactivation_password_and_role(demo_copy: str) -> None:
    """An open session's actor is re-read: deactivated or re-passworded users are out,
    a demoted user gets the new role."""
    with session_scope() as s:
        rep1 = login(s, "rep1", "demo")
        rep2 = login(s, "rep2", "demo")
        manager = login(s, "manager", "demo")
        admin = actor_for(s, "admin")
    with session_scope() as s:
        assert refresh_actor(s, rep1) == rep1
        update_user(s, admin, "rep1", is_active=False)
        change_password(s, rep2, "demo", "a quite new passphrase")
        update_user(s, admin, "manager", role="rep")
    with session_scope() as s:
        assert refresh_actor(s, rep1) is None
        assert refresh_actor(s, rep2) is None
        fresh = refresh_actor(s, manager)
        assert fresh is not None and fresh.role == "rep" and not fresh.can("export")


# ---- 5: territories stay in their region ---------------------------------------------------


def test_finding_05_a_territory_cannot_take_another_regions_accounts(
    demo_copy: str, tmp_path: Path
) -> None:
    """A manager's territory drawn across the region border is clipped to the region; the
    importer then leaves a point of the other region outside it (one rule for both)."""
    import geopandas as gpd
    from shapely.geometry import MultiPolygon, box

    from gcrm.db.models import Region
    from gcrm.territories import import_territories

    with session_scope() as s:
        helsinki = s.scalar(select(Region))
        minx, miny, maxx, maxy = helsinki.geom.bounds
        east = Region(name="East", geom=MultiPolygon([box(maxx, miny, maxx + 0.05, maxy)]))
        s.add(east)
    big = box(minx - 0.01, miny - 0.01, maxx + 0.05, maxy + 0.01)
    frame = gpd.GeoDataFrame({"name": ["Greedy"]}, geometry=[big], crs=4326)
    with session_scope() as s:
        manager = actor_for(s, "manager")
        import_territories(s, manager, json.loads(frame.to_json()), replace=False)
    with session_scope() as s:
        from gcrm.db.models import Territory

        greedy = s.scalar(select(Territory).where(Territory.name == "Greedy"))
        assert greedy.geom.bounds[2] <= maxx + 1e-9
    lat, lon = (miny + maxy) / 2, maxx + 0.02  # inside East, inside the drawn polygon
    path = _write_csv(
        tmp_path / "e.csv", ["external_id", "name", "lat", "lon"], [["E1", "Far", lat, lon]]
    )
    with session_scope() as s:
        import_file(s, actor_for(s, "admin"), path, geocoder=None)
    with session_scope() as s:
        account = s.scalar(select(Account).where(Account.external_id == "E1"))
        assert account.territory_id is None


def test_finding_05_a_territory_wholly_outside_the_region_is_refused(demo_copy: str) -> None:
    """Uploading a territory that lies entirely in another region is a clear error."""
    import geopandas as gpd
    from shapely.geometry import box

    from gcrm.db.models import Region
    from gcrm.territories import import_territories

    with session_scope() as s:
        _, miny, maxx, maxy = s.scalar(select(Region)).geom.bounds
    far = box(maxx + 0.1, miny, maxx + 0.2, maxy)
    frame = gpd.GeoDataFrame({"name": ["Elsewhere"]}, geometry=[far], crs=4326)
    with pytest.raises(InputError, match=r"Elsewhere.*outside the region"):
        with session_scope() as s:
            import_territories(s, actor_for(s, "manager"), json.loads(frame.to_json()))


# ---- 6: role change does not grant personal data ---------------------------------------------


def test_finding_06_role_change_drops_the_personal_data_grant(demo_copy: str) -> None:
    """A new role never carries a grant over; an explicit grant is still possible."""
    with session_scope() as s:
        admin = actor_for(s, "admin")
        update_user(s, admin, "analyst", personal_data_grant=True)
        update_user(s, admin, "analyst", role="rep")
        update_user(s, admin, "analyst", role="analyst")
        assert s.scalar(select(User).where(User.username == "analyst")).personal_data_grant is False
        update_user(s, admin, "analyst", personal_data_grant=True)
        assert s.scalar(select(User).where(User.username == "analyst")).personal_data_grant


# ---- 7 and 10: erasure -------------------------------------------------------------------------


def _person_everywhere(s) -> tuple[int, int]:
    """Put the person in a contact, notes, an outcome, edit history, a saved plan and a
    subject-access audit target; return (account id, contact id)."""
    rep1 = actor_for(s, "rep1")
    account = s.scalar(select(Account).where(Account.owner_id == rep1.id).order_by(Account.id))
    contact = Contact(account_id=account.id, **PERSON)
    s.add(contact)
    s.flush()
    log_interaction(s, rep1, account.id, kind="call", outcome=f"met {PERSON['name']}",
                    notes=f"Spoke with {PERSON['name']}, call {PERSON['phone']}")  # fmt: skip
    update_account(s, rep1, account.id, {"email": PERSON["email"]})
    update_account(s, rep1, account.id, {"email": "office@example.com"})  # older "before" value
    route = {"stops": [{"name": PERSON["name"], "id": account.id}]}
    s.add(SavedPlan(rep_id=rep1.id, day=pd.Timestamp("2026-11-30").date(), stops=1, drive_s=1,
                    distance_m=1, account_ids=json.dumps([account.id]),
                    route_json=json.dumps(route)))  # fmt: skip
    subject_access(s, actor_for(s, "admin"), email=PERSON["email"])
    return account.id, contact.id


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _db_contains(values: list[str]) -> list[str]:
    dispose_engines()
    folder = Path(get_settings().data_dir)
    db_file = Path(get_engine().url.database)
    blob = _all_bytes(folder) + _all_bytes(db_file.parent)
    return [v for v in values if v.encode() in blob or v.lower().encode() in blob]


def test_finding_07_erasure_leaves_no_byte_in_tables_plans_log_or_files(demo_copy: str) -> None:
    """After erasure (and the purge the CLI runs), the person's name, e-mail and phone are in
    no byte of the database files (WAL included) or the data folder."""
    values = [PERSON["name"], PERSON["email"], PERSON["phone"]]
    with session_scope() as s:
        _, cid = _person_everywhere(s)
    assert _db_contains(values)  # the person is there before
    with session_scope() as s:
        erase_contact(s, actor_for(s, "admin"), cid)
    purge_freed_bytes()
    assert _db_contains(values) == []
    with session_scope() as s:
        assert all(e.target is None or "salainen" not in e.target.lower()
                   for e in s.scalars(select(AuditEvent)))  # fmt: skip
        outcomes = [i.outcome for i in s.scalars(select(Interaction))]
        assert "[erased]" in outcomes


def test_finding_07_subject_access_audits_record_ids_not_the_person(demo_copy: str) -> None:
    """A subject-access request's audit line names the records found (contact/account
    ids), never the e-mail or name searched for, so nothing of the person outlives an
    erasure in the log."""
    with session_scope() as s:
        _, cid = _person_everywhere(s)
        subject_access(s, actor_for(s, "admin"), name=PERSON["name"])
        subject_access(s, actor_for(s, "admin"), email="nobody@example.com")
    with session_scope() as s:
        lines = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "subject_access")))
    assert [e.target for e in lines] == [f"contact:{cid}", f"contact:{cid}", "no match"]
    for e in lines:
        text = f"{e.target} {e.details}".lower()
        assert all(v.lower() not in text for v in PERSON.values()), text
        assert "nobody@example.com" not in text
    assert json.loads(lines[0].details)["searched_by"] == ["e-mail"]


def test_finding_07_cli_erasure_leaves_no_byte(demo_copy: str) -> None:
    """``erase contact`` from the command line leaves no byte of the person either."""
    from typer.testing import CliRunner

    from gcrm.cli import app

    with session_scope() as s:
        _, cid = _person_everywhere(s)
    env = {"GCRM_USER": "admin", "GCRM_PASSWORD": "demo"}
    result = CliRunner().invoke(app, ["erase", "contact", str(cid)], env=env)
    assert result.exit_code == 0, result.stderr
    assert _db_contains([PERSON["name"], PERSON["email"], PERSON["phone"]]) == []


def test_finding_07_erase_account_covers_saved_plans_and_outcomes(demo_copy: str) -> None:
    """Erasing the account removes its name from saved plans and outcomes, too."""
    with session_scope() as s:
        aid, _ = _person_everywhere(s)
        name = s.get(Account, aid).name
        plan = s.scalar(select(SavedPlan))
        plan.route_json = json.dumps({"stops": [{"name": name, "account_id": aid}]})
    with session_scope() as s:
        erase_account(s, actor_for(s, "admin"), aid)
    purge_freed_bytes()
    # (the business name may stay in OSM caches and other accounts: it is not a person)
    assert _db_contains([PERSON["name"], PERSON["email"], PERSON["phone"]]) == []
    with session_scope() as s:
        stops = json.loads(s.scalar(select(SavedPlan)).route_json)["stops"]
    assert stops == [{"name": "[erased]", "account_id": aid}]


def test_finding_07_uploads_are_private_and_deleted(tmp_path: Path) -> None:
    """An upload lives in a 0700 folder as a 0600 file, only inside the ``with`` block."""
    from gcrm.uploads import private_upload, uploads_folder

    with private_upload(b"external_id,name\n1,A\n", "../../etc/x.csv") as path:
        assert path.parent == uploads_folder() and path.name.endswith("-x.csv")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.exists()
    with pytest.raises(RuntimeError), private_upload(b"x", "y.csv") as again:
        raise RuntimeError
    assert not again.exists() and list(uploads_folder().iterdir()) == []


def test_finding_10_erasure_rewrites_no_unrelated_audit_line(demo_copy: str) -> None:
    """A contact named "sha256" is erased: the import lines' "sha256" keys stay, every line
    still parses as JSON, and only values naming the person change."""
    with session_scope() as s:
        aid = s.scalar(select(Account.id).order_by(Account.id))
        s.add(AuditEvent(username="x", action="import", target="f.csv",
                         details=json.dumps({"sha256": "ab12", "rows": 3})))  # fmt: skip
        edit = {"note": {"before": "sha256", "after": "x"}}
        s.add(AuditEvent(username="x", action="edit", target=f"account:{aid}",
                         details=json.dumps(edit)))  # fmt: skip
        contact = Contact(account_id=aid, name="sha256")
        s.add(contact)
        s.flush()
        cid = contact.id
        before = {e.id: e.details for e in s.scalars(select(AuditEvent))}
    with session_scope() as s:
        erase_contact(s, actor_for(s, "admin"), cid)
    with session_scope() as s:
        after = {e.id: e.details for e in s.scalars(select(AuditEvent))}
    changed = {i for i in before if before[i] != after[i]}
    assert len(changed) == 1
    (i,) = changed
    assert json.loads(after[i]) == {"note": {"before": "[erased]", "after": "x"}}
    for details in after.values():
        if details:
            json.loads(details)
    assert any(d and json.loads(d) == {"sha256": "ab12", "rows": 3} for d in after.values())


# ---- 8: analysts and free-text outcomes -------------------------------------------------------


def test_finding_08_analyst_sees_no_free_text_outcome(demo_copy: str) -> None:
    """A typed outcome naming a person reads "other" for the analyst (history and rep report);
    the standard outcomes stay."""
    from gcrm.reports import rep_report

    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        aid = s.scalar(select(Account.id).where(Account.owner_id == rep1.id).order_by(Account.id))
        log_interaction(s, rep1, aid, kind="visit", outcome=f"Met {PERSON['name']}")
        log_interaction(s, rep1, aid, kind="visit", outcome="order")
    with session_scope() as s:
        analyst = actor_for(s, "analyst")
        frame = interactions_frame(s, analyst, [aid])
        report = rep_report(s, analyst)
        rep_view = interactions_frame(s, actor_for(s, "rep1"), [aid])
    assert PERSON["name"] not in " ".join(frame["outcome"].dropna())
    assert {"other", "order"} <= set(frame["outcome"])
    assert PERSON["name"] not in report.to_csv()
    assert f"Met {PERSON['name']}" in set(rep_view["outcome"])


# ---- 9: the dry run ----------------------------------------------------------------------------


def test_finding_09_dry_run_is_no_oracle_and_is_audited(demo_copy: str, tmp_path: Path) -> None:
    """The analyst's dry run answers the same for a right and a wrong guess of a hidden phone,
    and leaves an audit line."""
    with session_scope() as s:
        acc = s.scalar(select(Account).where(Account.phone.is_not(None)).order_by(Account.id))
        ext, name, phone = acc.external_id, acc.name, acc.phone
    answers = []
    for guess in (phone, "+358 40 0000000"):
        path = _write_csv(
            tmp_path / "g.csv", ["external_id", "name", "phone"], [[ext, name, guess]]
        )
        with session_scope() as s:
            report = import_file(s, actor_for(s, "analyst"), path, dry_run=True, geocoder=None)
            s.rollback()
        answers.append(report.summary())
    assert answers[0] == answers[1]
    assert _actions("analyst").count("import_dry_run") == 2


# ---- 11: linear in rows sharing an address ---------------------------------------------------


def test_finding_11_duplicate_flagging_is_linear_at_one_address(
    db: str, tmp_path: Path, monkeypatch
) -> None:
    """2,000 different names at one address: the fuzzy comparisons stay within a fixed
    number per row (before: every row against every earlier one, ~2 million), and a real
    near-duplicate is still flagged."""
    import gcrm.import_write as importer

    calls = {"n": 0}
    real = importer.fuzz.token_sort_ratio

    def counting(a, b, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return real(a, b, **kw)

    class Fuzz:
        token_sort_ratio = staticmethod(counting)

    monkeypatch.setattr(importer, "fuzz", Fuzz)

    def name(i: int) -> str:
        return f"{i:05d} {chr(65 + i % 26)}{i * 7919 % 10007} Kauppa"

    address = ["Kauppakatu", "1", "00100"]
    rows = [[f"X{i}", name(i), *address] for i in range(2000)]
    rows.append(["X-dup", name(1999) + " Oy", *address])
    path = _write_csv(
        tmp_path / "mall.csv", ["external_id", "name", "street", "housenumber", "postcode"], rows
    )
    from gcrm.auth import SYSTEM

    with session_scope() as s:
        report = import_file(s, SYSTEM, path, geocoder=None)
    assert calls["n"] <= 64 * len(rows)  # import_write.FUZZY_POOL comparisons per row at most
    assert ("X-dup", "X1999") in {(a, b) for _, a, b in report.duplicate_pairs}


# ---- 12: the import holds no write lock from the login on --------------------------------------


def test_finding_12_logins_succeed_while_an_import_runs(demo_copy: str, tmp_path: Path,
                                                         monkeypatch) -> None:  # fmt: skip
    """While an import (logged in on its own session) is geocoding, other users log in
    without "database is locked", even with a short busy timeout."""
    monkeypatch.setenv("GCRM_SQLITE_BUSY_TIMEOUT_S", "0.5")
    get_settings.cache_clear()
    dispose_engines()
    started, release = threading.Event(), threading.Event()

    def slow_geocoder(*_args):  # type: ignore[no-untyped-def]
        started.set()
        release.wait(20)

    path = _write_csv(tmp_path / "a.csv", ["external_id", "name", "street", "city"],
                      [["L1", "Lock Oy", "Mannerheimintie 1", "Helsinki"]])  # fmt: skip
    errors: list[BaseException] = []

    def run_import() -> None:
        try:
            with session_scope() as s:
                actor = login(s, "analyst", "demo")
                import_file(s, actor, path, geocoder=slow_geocoder)
        except BaseException as exc:  # reported below
            errors.append(exc)

    worker = threading.Thread(target=run_import)
    worker.start()
    try:
        assert started.wait(30)
        for user in ("rep1", "rep2", "manager"):
            with session_scope() as s:
                assert login(s, user, "demo").username == user
    finally:
        release.set()
        worker.join(30)
    assert errors == []


# ---- 16: login timing and words, password policy, salts ---------------------------------------


def test_finding_16_unknown_users_cost_one_verification_and_get_the_same_words(
    demo_copy: str, monkeypatch
) -> None:
    """Unknown user, wrong password and locked account: one password verification each and
    the same message (so neither time nor words tell that the user exists)."""
    import gcrm.auth as auth

    monkeypatch.setenv("GCRM_LOCKOUT_ATTEMPTS", "2")
    get_settings.cache_clear()
    login_ = auth.login
    with pytest.raises(AuthenticationError), session_scope() as s:
        login_(s, "warm-up", "x")  # a warm server: anything computed once is computed
    calls = {"n": 0}
    real = auth.verify_password

    def counting(h, p):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return real(h, p)

    monkeypatch.setattr(auth, "verify_password", counting)
    messages = []
    for user, password in [("nobody", "x"), ("rep1", "x"), ("rep1", "x"), ("rep1", "demo")]:
        calls["n"] = 0
        with pytest.raises(AuthenticationError) as err, session_scope() as s:
            login(s, user, password)
        assert calls["n"] == 1
        messages.append(str(err.value))
    assert len(set(messages)) == 1  # the last one is the lockout: same words


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (" " * 10, "only spaces"),
        ("password123", "common"),
        ("Qwerty12345", "common"),
        ("short", "at least"),
        ("x" * 129, "at most"),
    ],
)
def test_finding_16_password_policy_rejects(demo_copy: str, password: str, problem: str) -> None:
    """Whitespace-only, common/breached, too short and too long passwords are refused."""
    with session_scope() as s, pytest.raises(InputError, match=problem):
        create_user(s, actor_for(s, "admin"), "newbie", password)


def test_finding_16_password_policy_accepts_long_and_plain_passphrases(demo_copy: str) -> None:
    """No composition rules: a 64-character lower-case passphrase with spaces is fine."""
    phrase = ("correct horse battery staple " * 3)[:64]
    with session_scope() as s:
        create_user(s, actor_for(s, "admin"), "newbie", phrase)
    with session_scope() as s:
        assert login(s, "newbie", phrase).username == "newbie"


def test_finding_16_demo_users_have_their_own_salts(demo_copy: str) -> None:
    """argon2 hashes of the demo users (same password) carry different salts."""
    with session_scope() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    salts = [h.split("$")[4] for h in hashes]
    assert len(salts) >= 6 and len(set(salts)) == len(salts)


# ---- 17: audit gaps and file modes --------------------------------------------------------------


def test_finding_17_denied_command_keeps_its_audit_lines(demo_copy: str) -> None:
    """A rep's erase is denied: the login and a 'denied' line stay in the audit log."""
    from typer.testing import CliRunner

    from gcrm.cli import app

    env = {"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"}
    result = CliRunner().invoke(app, ["erase", "contact", "1"], env=env)
    assert result.exit_code == 3
    actions = _actions("rep1")
    assert actions[-2:] == ["login", "denied"]
    with session_scope() as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "denied")).one()
    assert line.target == "erase contact" and "erase" in json.loads(line.details)["reason"]


def test_finding_17_accounts_list_csv_needs_the_export_right(demo_copy: str) -> None:
    """``accounts list --format csv`` is an export: refused to reps, audited for analysts."""
    from typer.testing import CliRunner

    from gcrm.cli import app

    runner = CliRunner()
    rep = runner.invoke(app, ["accounts", "list", "--format", "csv"],
                        env={"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"})  # fmt: skip
    assert rep.exit_code == 3 and "export" in rep.stderr
    ok = runner.invoke(app, ["accounts", "list", "--format", "csv"],
                       env={"GCRM_USER": "analyst", "GCRM_PASSWORD": "demo"})  # fmt: skip
    assert ok.exit_code == 0
    with session_scope() as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert line.username == "analyst" and json.loads(line.details)["rows"] > 0


def test_finding_17_database_files_are_private(tmp_path: Path, monkeypatch) -> None:
    """A new SQLite database and its WAL/shm files are 0600, its new folder 0700."""
    from gcrm.db.session import upgrade_database

    folder = tmp_path / "private"
    url = f"sqlite:///{folder / 'gcrm.db'}"
    old = os.umask(0o022)
    try:
        upgrade_database(url)
        with get_engine(url).begin() as conn:
            conn.execute(text("create table t (x int)"))
    finally:
        os.umask(old)
    files = [p for p in folder.iterdir() if p.name.startswith("gcrm.db")]
    assert {p.name for p in files} >= {"gcrm.db"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_finding_17_audited_download_writes_a_line_on_click(demo_copy: str) -> None:
    """The one download helper of the app (``views.common.audited_download``) audits the click."""
    from views.common import audited_download

    seen: dict = {}

    class Column:
        def download_button(self, label, data, **kw):  # type: ignore[no-untyped-def]
            seen.update(kw)

    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
    audited_download("GPX", b"<gpx/>", actor=rep1, file_name="route.gpx",
                     mime="application/gpx+xml", what="route GPX", where=Column())  # fmt: skip
    seen["on_click"](*seen["args"])
    with session_scope() as s:
        line = s.scalars(select(AuditEvent).where(AuditEvent.action == "download")).one()
    assert (line.username, line.target) == ("rep1", "route.gpx")
    assert json.loads(line.details) == {"what": "route GPX", "bytes": 6}


def test_scope_of_actor_credential_is_not_the_hash(demo_copy: str) -> None:
    """The session keeps a fingerprint of the password hash, never the hash itself."""
    with session_scope() as s:
        actor = login(s, "rep1", "demo")
        stored = s.scalar(select(User.password_hash).where(User.username == "rep1"))
    assert actor.credential and actor.credential not in stored
    assert isinstance(actor, Actor)


def test_denied_export_raises(demo_copy: str) -> None:
    """Sanity: reps still may not export (the denial path the CLI audits)."""
    from gcrm.reports import export_accounts

    with session_scope() as s, pytest.raises(PermissionDeniedError):
        export_accounts(s, actor_for(s, "rep1"))
