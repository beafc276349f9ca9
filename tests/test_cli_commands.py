"""CLI commands beyond import: geocode, matrix, map, territories, report, audit, erase."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from typer.testing import CliRunner, Result

from gcrm.cli import app
from gcrm.db.models import Account, Contact
from gcrm.db.session import session_scope


def run(*args: str, user: str | None = None, password: str = "demo") -> Result:
    """Run ``gcrm ARGS`` in-process, as ``user`` when given."""
    env = {"GCRM_USER": user, "GCRM_PASSWORD": password} if user else {}
    return CliRunner().invoke(app, list(args), env=env)


def json_line(result: Result) -> dict:
    """The one JSON line a command prints on stdout."""
    assert result.exit_code == 0, (result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1])


def test_geocode_command_keeps_every_row(tmp_path: Path) -> None:
    """``geocode`` needs no user, keeps every input row and adds lat/lon/precision/score."""
    src = tmp_path / "in.csv"
    src.write_text("id,address\n1,Mannerheimintie 5\n2,no such place anywhere\n", "utf-8")
    out = tmp_path / "out.csv"
    summary = json_line(run("geocode", str(src), "--output", str(out)))
    assert summary["rows"] == 2 and summary["matched"] == 1
    df = pd.read_csv(out)
    assert list(df["id"]) == [1, 2]
    assert df.loc[0, "precision"] == "address" and df.loc[1, "precision"] == "none"
    assert np.isnan(df.loc[1, "lat"])


def test_matrix_command_writes_npz(tmp_path: Path) -> None:
    """``matrix`` writes ids, durations and distances; the diagonal is 0, the rest positive."""
    pts = tmp_path / "p.csv"
    pts.write_text("id,lat,lon\na,60.1694,24.9400\nb,60.1684,24.9421\nc,60.1650,24.9350\n")
    out = tmp_path / "m.npz"
    summary = json_line(run("matrix", "--points", str(pts), "--output", str(out)))
    assert summary["points"] == 3
    data = np.load(out)
    assert list(data["ids"]) == ["a", "b", "c"]
    for key in ("durations", "distances"):
        m = data[key]
        assert m.shape == (3, 3) and np.all(np.diag(m) == 0)
        off = m[~np.eye(3, dtype=bool)]
        assert np.all(off > 0)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lat\n1,60\n")
    result = run("matrix", "--points", str(bad), "--output", str(out))
    assert result.exit_code == 2 and "lon" in result.stderr


def test_map_command_writes_offline_html(demo_copy: str, tmp_path: Path) -> None:
    """``map`` writes a standalone page with no external scripts and the OSM credit."""
    out = tmp_path / "map.html"
    summary = json_line(
        run("map", "--layer", "hex", "--filter", "kind=prospect", "-o", str(out), user="manager")
    )
    assert summary["layer"] == "hex" and summary["accounts"] > 0
    html = out.read_text("utf-8")
    assert "OpenStreetMap" in html and "contributors" in html  # (JSON-escaped link)
    assert '<script src="http' not in html and "https://cdn" not in html


def test_territories_build_prints_balance(demo_copy: str) -> None:
    """``territories build`` saves K territories and prints their balance."""
    summary = json_line(run("territories", "build", "--k", "3", user="manager"))
    assert summary["territories"] == 3
    assert summary["workload_max_min"] <= 1.2
    result = run("territories", "build", "--k", "3", user="rep1")
    assert result.exit_code == 3


def test_report_command_and_audit_list(demo_copy: str, tmp_path: Path) -> None:
    """``report`` writes the file and a summary line; ``audit list`` (admins) shows the export."""
    out = tmp_path / "t.xlsx"
    summary = json_line(
        run("report", "territories", "--format", "xlsx", "-o", str(out), user="analyst")
    )
    assert summary["rows"] == 4 and out.stat().st_size == summary["bytes"]
    assert run("report", "reps", "--format", "pdf", "-o", str(out), user="analyst").exit_code == 2
    assert run("audit", "list", "--format", "json", user="analyst").exit_code == 3
    log = json.loads(run("audit", "list", "--format", "json", user="admin").stdout)
    assert any(e["action"] == "export" and e["username"] == "analyst" for e in log)


def test_erase_and_subject_access(demo_copy: str) -> None:
    """Admins erase a contact by id; subject access finds a person by e-mail."""
    with session_scope() as s:
        contact = s.scalar(select(Contact).order_by(Contact.id))
        cid, email = contact.id, contact.email
    found = json_line(run("subject-access", "--email", email, user="admin"))
    assert found["contacts"][0]["id"] == cid
    assert run("erase", "contact", str(cid), user="manager").exit_code == 3
    json_line(run("erase", "contact", str(cid), user="admin"))
    with session_scope() as s:
        assert s.get(Contact, cid).email is None
        assert s.scalar(select(Account.id)) is not None
