"""AppTest: the Accounts page reads one page of rows; counts, search and order are SQL's.

The demo store (about 1,400 accounts) is larger than one page of 200, so the
admin's Accounts page must show 200 rows, the true total, and find by search an
account that is not on the first page (issue 19: pages scale with the screen).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db.models import Account
from gcrm.db.session import session_scope
from gcrm.viewport import MAX_FEATURES, count_features

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PER_PAGE = 200


def _accounts_page() -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, "admin")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/accounts.py").run()
    assert not at.exception, at.exception
    return at


def _map_scripts(at: AppTest) -> list[str]:
    out = []
    for element in at.get("component_instance"):
        args = json.loads(element.proto.json_args or "{}")
        if "script" in args:
            out.append(str(args["script"]))
    return out


def _ok(at: AppTest) -> None:
    """The run ended normally: no exception, no error, the list's controls are there."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    keys = {w.key for w in at.selectbox}
    assert "acc_sort" in keys, ([w.value for w in at.warning], [m.value for m in at.markdown][:5])


def _total(at: AppTest) -> int:
    return int(next(m.value for m in at.metric if m.label == "Accounts"))


def _table(at: AppTest):  # type: ignore[no-untyped-def]
    return next(d.value for d in at.dataframe if "potential_value" in d.value.columns)


def test_one_page_of_rows_the_true_total_and_search_past_page_one(demo_copy: str) -> None:
    """200 rows, the store's count, page 2 follows page 1, and search finds the last name."""
    with session_scope() as s:
        n = int(s.scalar(select(func.count(Account.id))) or 0)
        names = sorted(s.scalars(select(Account.name)))
        top_value = s.scalar(select(func.max(Account.potential_value)))
    assert n > 2 * PER_PAGE  # the demo is larger than one page
    at = _accounts_page()
    assert _total(at) == n
    first = _table(at)
    assert len(first) == PER_PAGE
    assert list(first["name"]) == names[:PER_PAGE]  # name order, from the database
    # The map shows every located account of the view (not only the page's), as clusters.
    (script,) = _map_scripts(at)
    assert 0 < count_features(script) <= MAX_FEATURES
    counts = [int(c) for c in re.findall(r"\[-?[\d.]+,-?[\d.]+,(\d+),\"", script)]
    located = int(next(m.value for m in at.metric if m.label == "On the map"))
    assert PER_PAGE < located <= n
    assert len(counts) < located and sum(counts) == located

    at.number_input(key="acc_page").set_value(2).run()
    _ok(at)
    second = _table(at)
    assert list(second["name"]) == names[PER_PAGE : 2 * PER_PAGE]

    # An account far from the first page: the search runs in the database, not in the page.
    wanted = names[-1]
    assert wanted not in set(first["name"])
    at.text_input(key="acc_text").input(wanted).run()
    assert not at.exception, at.exception
    found = _table(at)
    assert wanted in set(found["name"])
    assert _total(at) == len(found) == sum(wanted.lower() in x.lower() for x in names)
    labels = at.selectbox(key="acc_open").options
    index = next(i for i, label in enumerate(labels) if label.startswith(f"{wanted} — "))
    at.selectbox(key="acc_open").select_index(index).run()
    assert not at.exception, at.exception
    assert wanted in [h.value for h in at.header], [h.value for h in at.header]

    # Sorted in SQL across every account: the first row has the highest value of the store.
    at.text_input(key="acc_text").input("").run()
    _ok(at)  # a failed run ends before the sort box: say why, not only "no acc_sort"
    at.selectbox(key="acc_sort").select("value").run()
    _ok(at)
    assert float(_table(at)["potential_value"].iloc[0]) == float(top_value)


def test_a_narrower_filter_goes_back_to_a_page_that_exists(demo_copy: str) -> None:
    """On the last page, a filter with fewer pages shows its first page, without an error."""
    at = _accounts_page()
    last = (_total(at) - 1) // PER_PAGE + 1
    at.number_input(key="acc_page").set_value(last).run()
    assert len(_table(at)) == _total(at) - (last - 1) * PER_PAGE
    at.multiselect(key="acc_kind").select("customer").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    table = _table(at)
    assert set(table["kind"]) == {"customer"}
    assert len(table) == min(_total(at), PER_PAGE)
