"""The package's house rules (issue 17), checked on the source of every module.

Each test names the file and line that breaks a rule, so a module that grows
past one sitting, an ORM statement outside the data layer, a Streamlit import
in the package or a second OSM reader fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = sorted(
    p for p in (ROOT / "gcrm").rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts
)
MIGRATIONS = sorted((ROOT / "gcrm" / "db" / "migrations").rglob("*.py"))
#: Where ORM statements may be built and run: the store, users and scope, the db layer.
DATA_LAYER = ("gcrm/store/", "gcrm/auth.py", "gcrm/db/")
ORM_NAMES = {"select", "insert", "update", "delete", "text", "union_all", "exists"}
OSM_OPENERS = re.compile(r"\bosmium\.(SimpleHandler|FileProcessor|io\.Reader|apply)|pyrosm\.OSM\(")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", PACKAGE, ids=_rel)
def test_module_readable_in_one_sitting(path: Path) -> None:
    """No module of the package is over 800 lines."""
    lines = path.read_text().count("\n")
    assert lines <= 800, f"{_rel(path)}: {lines} lines"


@pytest.mark.parametrize("path", PACKAGE + MIGRATIONS, ids=_rel)
def test_functions_short_and_imports_at_the_top(path: Path) -> None:
    """No function over 120 lines; no gcrm module imported inside a function."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            if length > 120:
                bad.append(f"{_rel(path)}:{node.lineno}: {node.name} has {length} lines")
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (
                    (sub.module or "").startswith("gcrm") or sub.level
                ):
                    bad.append(f"{_rel(path)}:{sub.lineno}: imports {sub.module} in a function")
                if isinstance(sub, ast.Import) and any(
                    a.name.startswith("gcrm") for a in sub.names
                ):
                    bad.append(f"{_rel(path)}:{sub.lineno}: imports gcrm in a function")
    assert not bad, bad


@pytest.mark.parametrize("path", PACKAGE, ids=_rel)
def test_no_streamlit_in_the_package(path: Path) -> None:
    """Streamlit is imported only by app.py and views/."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("streamlit") for a in node.names), _rel(path)
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("streamlit"), _rel(path)


@pytest.mark.parametrize(
    "path", [p for p in PACKAGE if not _rel(p).startswith(DATA_LAYER)], ids=_rel
)
def test_orm_statements_only_in_the_data_layer(path: Path) -> None:
    """Outside store/, auth.py and db/, no module builds or runs an ORM statement."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            names = {a.name for a in node.names}
            if names & ORM_NAMES:
                bad.append(f"{_rel(path)}:{node.lineno}: imports {sorted(names & ORM_NAMES)}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"execute", "scalars", "scalar", "query"}
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
        ):
            bad.append(f"{_rel(path)}:{node.lineno}: session.{node.func.attr}(...)")
    assert not bad, bad


def test_exactly_one_module_opens_osm_files() -> None:
    """Only gcrm/osm.py opens OSM files; geocode, network, basemap and demo ask it."""
    openers = [_rel(p) for p in PACKAGE if OSM_OPENERS.search(p.read_text())]
    assert openers == ["gcrm/osm.py"], openers


@pytest.mark.parametrize(
    "page", [*sorted((ROOT / "views").glob("*.py")), ROOT / "app.py"], ids=lambda p: p.name
)
def test_pages_open_no_database_session(page: Path) -> None:
    """Pages call gcrm functions; they never import the session factory or SQLAlchemy."""
    text = page.read_text()
    assert "session_scope" not in text, page.name
    assert not re.search(r"^\s*(from|import) sqlalchemy", text, re.M), page.name
