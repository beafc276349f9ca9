"""What an import reports, and files that come back: rejects files, our own exports.

- a dry run shows the column mapping, value mappings, warnings and every rejected
  row with all of its reasons; the command exits non-zero when no row could be used;
- a corrected rejects file re-imports (the formula apostrophe is stripped again);
- exporting accounts (CSV and XLSX) and importing that file changes nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gcrm.auth import SYSTEM, actor_for, hash_password
from gcrm.cli import app
from gcrm.db.models import Account, User
from gcrm.db.session import session_scope
from gcrm.importer import import_file, write_rejects
from gcrm.reports import export_accounts

PW = "correct horse battery"


@pytest.fixture
def owner(db: str) -> str:
    """One user, Maria Virtanen, known by username, full name and e-mail."""
    with session_scope() as s:
        s.add(
            User(username="mvirtanen", display_name="Maria Virtanen",
                 email="maria@example.fi", role="admin", password_hash=hash_password(PW))
        )  # fmt: skip
    return db


def _cli(*args: str) -> tuple[int, str, str]:
    env = {"GCRM_USER": "mvirtanen", "GCRM_PASSWORD": PW}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_report_shows_mapping_values_warnings_and_all_reasons(
    owner: str, tmp_path: Path
) -> None:
    """The dry run names each column's field, each mapped value, the unknown owner and
    every reason of a row with two bad cells; nothing is written."""
    path = tmp_path / "sf.csv"
    path.write_text(
        "Account Name,Account Owner,Type,Billing Street,Billing City,Phone,Email,Rating\n"
        "Good Oy,Maria Virtanen,Customer - Direct,Annankatu 5,Helsinki,+358 40 1,a@b.fi,Hot\n"
        "Two Faults Oy,Nobody Here,Channel Partner / Reseller,,Helsinki,call me,not-mail,\n"
        "Third Oy,maria@example.fi,Prospect,,Helsinki,,,\n",
        encoding="utf-8",
    )
    code, out, err = _cli("import", str(path), "--dry-run")
    assert code == 0, err
    assert "DRY RUN: nothing written" in err
    assert "'Account Name' -> name" in err and "'Billing Street' -> street" in err
    assert "'Rating' ignored" in err
    assert "kind 'Customer - Direct' -> customer (1 row(s))" in err
    assert "row 3: phone: 'call me' is not a phone number; email:" in err
    assert '"inserted": 2' in out and '"rejected": 1' in out
    with session_scope() as s:
        assert s.scalar(select(Account.id)) is None
    code, out, err = _cli("import", str(path))
    assert code == 0, err
    with session_scope() as s:
        owners = {a.name: a.owner_id for a in s.scalars(select(Account))}
    assert owners["Good Oy"] == owners["Third Oy"] is not None  # full name and e-mail


def test_unknown_values_and_owners_warn_and_keep_the_row(owner: str, tmp_path: Path) -> None:
    """An unknown type is kept as given (import_values) and warned; an unknown owner
    leaves the account unassigned and is listed with its count."""
    path = tmp_path / "z.csv"
    path.write_text(
        "Account Name,Account Owner,Account Type\nA,Ghost,Analyst\nB,Ghost,Customer\n",
        encoding="utf-8",
    )
    with session_scope() as s:
        report = import_file(s, SYSTEM, path, geocoder=None)
    assert (report.inserted, report.rejected) == (2, 0)
    assert report.unknown_owners == {"Ghost": 2}
    assert any("'Analyst'" in w and "kept as given" in w for w in report.warnings)
    with session_scope() as s:
        a = s.scalar(select(Account).where(Account.name == "A"))
        assert (a.kind, a.import_values, a.owner_id) == ("prospect", '{"kind": "Analyst"}', None)


def test_exit_code_is_non_zero_when_no_row_is_imported(owner: str, tmp_path: Path) -> None:
    """Every row rejected: exit 4 (dry run and real), the reasons still printed."""
    path = tmp_path / "bad.csv"
    path.write_text("name,email\nA,nope\nB,also-nope\n", encoding="utf-8")
    for extra in (["--dry-run"], []):
        code, _out, err = _cli("import", str(path), *extra)
        assert code == 4, err
        assert "no row could be imported" in err
        assert "row 2: email" in err and "row 3: email" in err


def test_corrected_rejects_file_reimports(owner: str, tmp_path: Path) -> None:
    """The rejects file protects '+358…' with an apostrophe; fixed and re-imported, the
    row goes in and the phone is stored without the apostrophe."""
    path = tmp_path / "in.csv"
    path.write_text(
        "external_id,name,phone,email\nr1,Ok Oy,+358 40 123 4567,ok@example.fi\n"
        "r2,Fix Me Oy,+358 40 765 4321,broken@@mail\n",
        encoding="utf-8",
    )
    with session_scope() as s:
        report = import_file(s, SYSTEM, path, geocoder=None)
    rejects = write_rejects(report, tmp_path / "in.rejected.csv")
    rows = list(csv.DictReader(rejects.open(encoding="utf-8", newline="")))
    assert rows[0]["phone"] == "'+358 40 765 4321"
    rows[0]["email"] = "fixed@mail.fi"
    with rejects.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with session_scope() as s:
        again = import_file(s, SYSTEM, rejects, geocoder=None)
    assert (again.inserted, again.rejected) == (1, 0), again.rejects
    with session_scope() as s:
        acc = s.scalar(select(Account).where(Account.external_id == "r2"))
        assert (acc.phone, acc.email) == ("+358 40 765 4321", "fixed@mail.fi")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(demo_copy: str, tmp_path: Path, fmt: str) -> None:
    """Our own export (CSV with formula protection, or XLSX) imports with 0 inserted,
    0 updated and no rejected row."""
    with session_scope() as s:
        admin = actor_for(s, "admin")
        export = export_accounts(s, admin, None, fmt)  # type: ignore[arg-type]
    path = tmp_path / f"accounts.{fmt}"
    path.write_bytes(export.data)
    with session_scope() as s:
        before = s.execute(select(Account.__table__).order_by(Account.id)).mappings().all()
    with session_scope() as s:
        report = import_file(s, actor_for(s, "admin"), path)
    assert report.rejected == 0, report.rejects[:3]
    assert (report.inserted, report.updated) == (0, 0), report.summary()
    assert report.unchanged == export.rows
    with session_scope() as s:
        after = s.execute(select(Account.__table__).order_by(Account.id)).mappings().all()
    assert [dict(r) for r in after] == [dict(r) for r in before]
