"""Every CLI command that prints JSON prints strict JSON (no NaN), and the
territory GeoJSON we export imports back with its names, owners and geometry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import shape

from gcrm.auth import login
from gcrm.cli._common import plain as _plain
from gcrm.db.session import session_scope
from gcrm.store import territories_frame
from tests.test_cli_commands import run


def _refuse(token: str) -> None:
    msg = f"{token} is not JSON"
    raise ValueError(msg)


def strict(text: str) -> object:
    """Parse like jq does: NaN and Infinity are errors."""
    return json.loads(text, parse_constant=_refuse)


def last_line(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return strict(result.stdout.strip().splitlines()[-1])


def test_plain_turns_missing_values_into_null() -> None:
    value = {"a": float("nan"), "b": [np.float64("inf"), pd.NA, None, np.int64(3)], "c": 1.5}
    assert _plain(value) == {"a": None, "b": [None, None, None, 3], "c": 1.5}
    frame = pd.DataFrame({"owner": [None, "rep1"], "x": [math.nan, 2.0]})
    assert _plain({"t": frame}) == {"t": [{"owner": None, "x": None}, {"owner": "rep1", "x": 2.0}]}
    with pytest.raises(ValueError, match="NaN"):
        strict('{"owner": NaN}')


@pytest.mark.parametrize(
    ("args", "user"),
    [
        (("accounts", "list", "--format", "json"), "manager"),
        (("users", "list", "--format", "json"), "admin"),
        (("audit", "list", "--format", "json"), "admin"),
        (("territories", "build", "--k", "3", "--seconds", "5"), "manager"),
        (("basemap",), None),
        (("db", "upgrade"), None),
    ],
)
def test_commands_print_strict_json(demo_copy: str, args: tuple[str, ...], user: str) -> None:
    """The output parses with NaN refused (``territories build`` used to print NaN)."""
    out = last_line(run(*args, user=user))
    assert out not in (None, [], {})


def test_territory_geojson_round_trip(demo_copy: str, tmp_path: Path) -> None:
    """Export the territories report as GeoJSON, import it back: names, owners, geometry kept."""
    with session_scope() as s:
        manager = login(s, "manager", "demo")
        before = territories_frame(s, manager)
    assert len(before) >= 2
    out = tmp_path / "territories.geojson"
    last_line(run("report", "territories", "--format", "geojson", "-o", str(out), user="manager"))
    doc = strict(out.read_text("utf-8"))
    props = [f["properties"] for f in doc["features"]]  # type: ignore[index]
    assert {"name", "owner"} <= set(props[0]) and "owner_x" not in props[0]
    assert any(p["owner"] for p in props)
    # Owners wiped by another import; importing the export restores them.
    wiped = tmp_path / "wiped.geojson"
    for f in doc["features"]:  # type: ignore[index]
        f["properties"]["owner"] = None
    wiped.write_text(json.dumps(doc), encoding="utf-8")
    last_line(run("territories", "import", str(wiped), "--replace", user="manager"))
    with session_scope() as s:
        assert territories_frame(s, login(s, "manager", "demo"))["owner"].isna().all()
    summary = last_line(run("territories", "import", str(out), "--replace", user="manager"))
    assert summary["territories"] == len(before)  # type: ignore[index]
    with session_scope() as s:
        manager = login(s, "manager", "demo")
        after = territories_frame(s, manager)
    b = before.set_index("name").sort_index()
    a = after.set_index("name").sort_index()
    assert list(a.index) == list(b.index)
    assert a["owner"].fillna("").tolist() == b["owner"].fillna("").tolist()
    for name in b.index:
        g0, g1 = b.at[name, "geometry"], a.at[name, "geometry"]
        assert g0.symmetric_difference(g1).area <= 1e-9 * max(g0.area, 1e-12) + 1e-12
    assert shape(doc["features"][0]["geometry"]).is_valid  # type: ignore[index]
