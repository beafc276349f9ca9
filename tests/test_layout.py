"""The redesign's structural rules for the store, the pages and the data layer.

Each test reads the source (``ast``) and names the file and line that breaks
a rule, so a page that opens a session again, or a store module that grows
past one sitting, fails here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from gcrm import store

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "views").glob("*.py")), ROOT / "app.py"]
STORE_MODULES = sorted((ROOT / "gcrm" / "store").glob("*.py"))
#: Modules that must not issue ORM statements themselves.
ORM_FREE = [ROOT / "gcrm" / "demo.py", *sorted((ROOT / "gcrm" / "actions").glob("*.py"))]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_opens_a_database_session(page: Path) -> None:
    """Pages import neither the session factory nor SQLAlchemy: they call gcrm functions."""
    bad = [
        f"{page.name}:{line}: {name}"
        for line, name in _imports(page)
        if name.startswith(("gcrm.db.session", "sqlalchemy"))
    ]
    assert not bad, bad
    assert "session_scope" not in page.read_text(), page.name


@pytest.mark.parametrize("path", STORE_MODULES + ORM_FREE, ids=lambda p: p.name)
def test_modules_are_readable_in_one_sitting(path: Path) -> None:
    """No module over 800 lines, no function over 120, no own import inside a function."""
    text = path.read_text()
    assert text.count("\n") <= 800, f"{path.name}: {text.count(chr(10))} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            assert length <= 120, f"{path.name}:{node.lineno}: {node.name} has {length} lines"
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("gcrm"):
                    raise AssertionError(f"{path.name}:{sub.lineno}: imports {sub.module} late")


@pytest.mark.parametrize("path", ORM_FREE, ids=lambda p: p.name)
def test_orm_statements_stay_in_the_data_layer(path: Path) -> None:
    """The demo builder and the page actions import no SQLAlchemy statement builder."""
    bad = [
        f"{path.name}:{line}: {name}"
        for line, name in _imports(path)
        if name.startswith("sqlalchemy") and name != "sqlalchemy.orm.Session"
    ]
    assert not bad, bad


def test_every_public_store_function_is_reexported() -> None:
    """``from gcrm import store; store.x`` works for every public name of every store module."""
    missing = []
    for info in pkgutil.iter_modules(store.__path__):
        module = importlib.import_module(f"gcrm.store.{info.name}")
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == module.__name__
            public = not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            if defined_here and public and getattr(store, name, None) is not obj:
                missing.append(f"{info.name}.{name}")
    assert not missing, missing
    assert sorted(store.__all__) == sorted(set(store.__all__))
    assert all(hasattr(store, n) for n in store.__all__)
