"""Tests of the command-line interface (:mod:`gcrm.cli`) through Typer's CliRunner.

Import commands run on the ``db`` fixture (SQLite, and PostgreSQL when
configured); the login/scope commands use ``demo_copy``, a private copy of a
demo SQLite database built once per session.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, or_, select
from typer.testing import CliRunner, Result

from gcrm.cli import app
from gcrm.db.models import Account, AuditEvent, Territory, User
from gcrm.db.session import session_scope

DATA = Path(__file__).resolve().parent / "data" / "import"
GOOD = DATA / "good.csv"
BAD_ROWS = DATA / "bad_rows.csv"
SUMMARY_KEYS = {
    "rows", "inserted", "updated", "unchanged", "rejected", "contacts", "skipped", "duplicates",
}  # fmt: skip
BOSS_PASSWORD = "correct horse battery"
#: Environment acting as the admin ``boss`` of the ``users`` fixture.
BOSS = {"GCRM_USER": "boss", "GCRM_PASSWORD": BOSS_PASSWORD}


@pytest.fixture
def users(db: str) -> str:
    """The ``db`` database with the rep ``rep1`` (the fixture files name them as owner)
    and the admin ``boss`` (password :data:`BOSS_PASSWORD`)."""
    from gcrm.auth import hash_password

    with session_scope() as session:
        session.add(User(username="rep1", display_name="Riikka Rep", role="rep"))
        session.add(
            User(
                username="boss",
                display_name="Bo Boss",
                role="admin",
                password_hash=hash_password(BOSS_PASSWORD),
            )
        )
    return db


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``gcrm ARGS`` in-process (as the admin ``boss`` unless ``env`` says otherwise)."""
    return CliRunner().invoke(app, list(args), env=BOSS if env is None else env)


def summary_of(result: Result) -> dict[str, Any]:
    """The one JSON summary line an import prints on stdout."""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    data = json.loads(lines[0])
    assert set(data) == SUMMARY_KEYS
    return data


def count(model: Any, *where: Any) -> int:
    """Count the rows of a table (optionally filtered)."""
    with session_scope() as session:
        stmt = select(func.count()).select_from(model)
        for cond in where:
            stmt = stmt.where(cond)
        return int(session.scalar(stmt) or 0)


def assert_one_error_line(result: Result, code: int, *words: str) -> None:
    """Exit ``code``, nothing on stdout, one ``error:`` line on stderr holding ``words``."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit)


def copy_to(tmp_path: Path, source: Path) -> Path:
    """Copy a fixture file to tmp_path (the import writes its rejects file beside it)."""
    target = tmp_path / source.name
    shutil.copy(source, target)
    return target


# ------------------------------------------------------------------ import


def test_import_good_file(users: str, tmp_path: Path) -> None:
    """Importing a good file exits 0, prints one JSON summary line on stdout and stores
    the accounts; no rejects file is written."""
    path = copy_to(tmp_path, GOOD)
    result = invoke("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert summary_of(result) == {
        "rows": 5,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "contacts": 0,
        "skipped": 0,
        "duplicates": 0,
    }
    assert "error" not in result.stderr
    assert count(Account) == 5
    assert not (tmp_path / "good.csv.rejected.csv").exists()
    with session_scope() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert event is not None and event.username == "boss"


def test_reimport_via_cli_is_idempotent(users: str, tmp_path: Path) -> None:
    """Running the same import twice reports every row unchanged the second time."""
    path = copy_to(tmp_path, GOOD)
    assert invoke("import", str(path)).exit_code == 0
    second = invoke("import", str(path))
    assert second.exit_code == 0
    assert summary_of(second) == {
        "rows": 5,
        "inserted": 0,
        "updated": 0,
        "unchanged": 5,
        "rejected": 0,
        "contacts": 0,
        "skipped": 0,
        "duplicates": 0,
    }
    assert count(Account) == 5


def test_import_with_rejected_rows_writes_the_report(users: str, tmp_path: Path) -> None:
    """Rejected rows do not fail the command (exit 0); they are written to
    ``FILE.rejected.csv`` with row, field and reason, and stderr says where."""
    path = copy_to(tmp_path, BAD_ROWS)
    result = invoke("import", str(path))
    assert result.exit_code == 0, result.stderr
    summary = summary_of(result)
    assert (summary["rows"], summary["inserted"], summary["rejected"]) == (14, 4, 10)
    report = tmp_path / "bad_rows.csv.rejected.csv"
    assert report.is_file()
    assert str(report) in result.stderr
    with report.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["row"]) for r in rows] == [3, 4, 5, 6, 7, 8, 9, 13, 14, 15]
    assert {r["field"] for r in rows} >= {"name", "email", "phone", "lat"}
    assert all(r["reason"] for r in rows)


def test_import_rejects_option_sets_report_path(users: str, tmp_path: Path) -> None:
    """``--rejects PATH`` writes the rejected rows there instead of beside the file."""
    path = copy_to(tmp_path, BAD_ROWS)
    target = tmp_path / "reports" / "out.csv"
    result = invoke("import", str(path), "--rejects", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.is_file()
    assert not (tmp_path / "bad_rows.csv.rejected.csv").exists()


def test_import_reports_likely_duplicates_on_stderr(users: str, tmp_path: Path) -> None:
    """Likely duplicates are counted in the summary and named on stderr; both are stored."""
    path = tmp_path / "dups.csv"
    path.write_text(
        "external_id,name,street,housenumber\n"
        "k1,Kahvila Esimerkki Oy,Mannerheimintie,1\n"
        "k2,kahvila esimerkki oy,Mannerheimintie,1\n",
        encoding="utf-8",
    )
    result = invoke("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert summary_of(result)["duplicates"] == 1
    assert "row 3: 'k2' looks like a duplicate of 'k1'" in result.stderr
    assert count(Account) == 2


def test_dry_run_writes_nothing(users: str, tmp_path: Path) -> None:
    """``--dry-run`` prints the counts a real import would give but stores nothing."""
    path = copy_to(tmp_path, GOOD)
    result = invoke("import", str(path), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert summary_of(result)["inserted"] == 5
    assert count(Account) == 0
    assert count(AuditEvent, AuditEvent.action == "import") == 0


def test_empty_file_exits_2_and_writes_nothing(users: str, tmp_path: Path) -> None:
    """An empty file exits 2 with one clear error line, no summary and nothing written."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = invoke("import", str(path))
    assert_one_error_line(result, 2, "empty.csv", "empty")
    assert count(Account) == 0
    assert count(AuditEvent, AuditEvent.action == "import") == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv") == ["empty.csv"]


def test_header_only_file_exits_2(users: str, tmp_path: Path) -> None:
    """A file with a header and no data rows exits 2."""
    path = tmp_path / "header.csv"
    path.write_text("name,city\n", encoding="utf-8")
    assert_one_error_line(invoke("import", str(path)), 2, "no data rows")
    assert count(Account) == 0


def test_missing_name_column_exits_2_naming_it(users: str, tmp_path: Path) -> None:
    """A file without a ``name`` column exits 2 and the message names the column."""
    path = tmp_path / "noname.csv"
    path.write_text("external_id,city\nx1,Helsinki\n", encoding="utf-8")
    result = invoke("import", str(path))
    assert_one_error_line(result, 2, "missing required column", "'name'")
    assert count(Account) == 0


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("garbage.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, ("not a text file",)),
        ("missing.csv", None, ("file not found",)),
        ("broken.xlsx", b"PK\x03\x04 this is not really a zip", ("cannot read the Excel file",)),
        ("nul.csv", b"\x00" * 64, ("not a text file",)),
    ],
    ids=["binary", "missing", "broken_xlsx", "nul_bytes"],
)
def test_unreadable_file_exits_2(
    users: str, tmp_path: Path, name: str, content: bytes | None, words: tuple[str, ...]
) -> None:
    """Binary garbage, a missing file or a corrupt workbook exit 2 with one error line."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert_one_error_line(invoke("import", str(path)), 2, *words)
    assert count(Account) == 0


def test_import_with_mapping_file(users: str, tmp_path: Path) -> None:
    """``--mapping FILE.json`` maps a file's own headers to the canonical columns."""
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Asiakasnro": "external_id", "Yhtiö": "name"}), "utf-8")
    path = tmp_path / "custom.csv"
    path.write_text("Asiakasnro;Yhtiö;Kaupunki\nm1;Mapattu Oy;Turku\n", encoding="utf-8")
    without = invoke("import", str(path))
    assert_one_error_line(without, 2, "'name'")
    result = invoke("import", str(path), "--mapping", str(mapping))
    assert result.exit_code == 0, result.stderr
    assert summary_of(result)["inserted"] == 1
    with session_scope() as session:
        acc = session.scalars(select(Account)).one()
        assert (acc.external_id, acc.name, acc.city) == ("m1", "Mapattu Oy", "Turku")


def test_bad_mapping_file_exits_2(users: str, tmp_path: Path) -> None:
    """A mapping file naming an unknown column exits 2 before anything is imported."""
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Firma": "company"}), "utf-8")
    result = invoke("import", str(copy_to(tmp_path, GOOD)), "--mapping", str(mapping))
    assert_one_error_line(result, 2, "unknown target column", "company")
    assert count(Account) == 0


def test_import_failure_exits_nonzero_and_rolls_back(
    users: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the import breaks after the accounts were written, the command fails and the
    database holds none of them."""
    import gcrm.importer

    def fail(*_args: Any) -> None:
        """Fail in the contacts step, after the accounts insert."""
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gcrm.importer, "_upsert_contacts", fail)
    result = invoke("import", str(copy_to(tmp_path, GOOD)))
    assert result.exit_code != 0
    assert result.stdout == ""
    assert count(Account) == 0


# ------------------------------------------------------ users and scope


def test_rep_sees_only_their_accounts(demo_copy: str) -> None:
    """``accounts list --format json`` as rep1 prints rep1's accounts only: each owned by
    rep1 or in their territory 'Helsinki West', and exactly the set the scope rule gives."""
    result = invoke(
        "accounts", "list", "--format", "json", env={"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"}
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows
    for row in rows:
        assert row["territory"] == "Helsinki West" or row["owner"] == "rep1", row
    with session_scope() as session:
        rep1 = session.scalar(select(User.id).where(User.username == "rep1"))
        own_territories = select(Territory.id).where(Territory.owner_id == rep1)
        expected = set(
            session.scalars(
                select(Account.id).where(
                    or_(Account.owner_id == rep1, Account.territory_id.in_(own_territories))
                )
            )
        )
        total = session.scalar(select(func.count()).select_from(Account))
    assert {r["id"] for r in rows} == expected
    assert len(rows) < total


def test_analyst_sees_every_account(demo_copy: str) -> None:
    """An analyst's ``accounts list`` holds every account (all territories)."""
    result = invoke(
        "accounts",
        "list",
        "--format",
        "json",
        env={"GCRM_USER": "analyst", "GCRM_PASSWORD": "demo"},
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == count(Account)
    assert {r["territory"] for r in rows} >= {"Helsinki West", "Helsinki Centre", "Helsinki East"}


@pytest.mark.parametrize(
    "env",
    [
        {"GCRM_USER": "rep1", "GCRM_PASSWORD": "wrong"},
        {"GCRM_USER": "nobody", "GCRM_PASSWORD": "demo"},
        {"GCRM_USER": "rep1"},
    ],
    ids=["wrong_password", "unknown_user", "no_password"],
)
def test_failed_login_exits_3_with_no_data(demo_copy: str, env: dict[str, str]) -> None:
    """A wrong password, an unknown user or no password (no terminal) exits 3 with one
    error line and nothing on stdout."""
    result = invoke("accounts", "list", "--format", "json", env=env)
    assert_one_error_line(result, 3)


def test_failed_login_is_audited(demo_copy: str) -> None:
    """A wrong password leaves a ``login_failed`` audit line and bumps the counter."""
    invoke("accounts", "list", env={"GCRM_USER": "rep1", "GCRM_PASSWORD": "wrong"})
    assert (
        count(AuditEvent, AuditEvent.action == "login_failed", AuditEvent.username == "rep1") == 1
    )
    with session_scope() as session:
        assert session.scalar(select(User.failed_logins).where(User.username == "rep1")) == 1


def test_users_list_shows_demo_users_roles_and_territories(demo_copy: str) -> None:
    """``users list --format json`` (as the demo admin) lists the 6 demo users with roles
    and territory names."""
    result = invoke(
        "users", "list", "--format", "json", env={"GCRM_USER": "admin", "GCRM_PASSWORD": "demo"}
    )
    assert result.exit_code == 0, result.stderr
    users = {u["username"]: u for u in json.loads(result.stdout)}
    assert set(users) == {"admin", "manager", "analyst", "rep1", "rep2", "rep3"}
    assert {name: u["role"] for name, u in users.items()} == {
        "admin": "admin",
        "manager": "manager",
        "analyst": "analyst",
        "rep1": "rep",
        "rep2": "rep",
        "rep3": "rep",
    }
    assert users["rep1"]["territories"] == ["Helsinki West"]
    assert users["rep2"]["territories"] == ["Helsinki Centre"]
    assert users["rep3"]["territories"] == ["Helsinki East"]
    assert users["admin"]["territories"] == []
    assert all(u["display_name"] for u in users.values())


def test_rep_sees_no_other_user(demo_copy: str) -> None:
    """``users list --user rep2`` never shows another user: either only rep2 or, if the
    command is for admins, a permission error (exit 3) with nothing on stdout."""
    rep = invoke(
        "users", "list", "--format", "json", "--user", "rep2", env={"GCRM_PASSWORD": "demo"}
    )
    if rep.exit_code == 0:
        assert [u["username"] for u in json.loads(rep.stdout)] == ["rep2"]
    else:
        assert_one_error_line(rep, 3)


def test_rep_may_not_import(demo_copy: str, tmp_path: Path) -> None:
    """Importing as a rep exits 3 (permission denied) and stores nothing."""
    before = count(Account)
    result = invoke(
        "import", str(copy_to(tmp_path, GOOD)), env={"GCRM_USER": "rep1", "GCRM_PASSWORD": "demo"}
    )
    assert_one_error_line(result, 3, "may not import")
    assert count(Account) == before


def test_analyst_may_import_and_is_audited(demo_copy: str, tmp_path: Path) -> None:
    """An analyst may import; the audit line names them."""
    result = invoke(
        "import",
        str(copy_to(tmp_path, GOOD)),
        env={"GCRM_USER": "analyst", "GCRM_PASSWORD": "demo"},
    )
    assert result.exit_code == 0, result.stderr
    assert summary_of(result)["inserted"] == 5
    with session_scope() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert event is not None and event.username == "analyst"


def test_accounts_csv_output_neutralises_formulas(users: str, tmp_path: Path) -> None:
    """``accounts list --format csv`` writes a formula-like name as inert text."""
    path = tmp_path / "evil.csv"
    path.write_text('external_id,name\ne1,"=HYPERLINK(""http://x"")"\n', encoding="utf-8")
    assert invoke("import", str(path)).exit_code == 0
    result = invoke("accounts", "list", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://x")']
