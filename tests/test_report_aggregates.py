"""The report figures from SQL aggregates equal the former all-accounts pandas computation.

``tests/report_reference.py`` is the territory and rep report as computed before
(every account loaded into pandas). The same figures must come out of the
aggregates on the demo and on a store with synthetic accounts, some of them
unlocated, outside any territory or without a value, for a region manager, a
rep, a manager scoped to one territory's region and an analyst, on SQLite and
PostgreSQL, with and without the road graph.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select, update

from gcrm.auth import actor_for, hash_password
from gcrm.db import agg_cache
from gcrm.db.models import Account, Interaction, Region, Territory, User
from gcrm.db.session import session_scope
from gcrm.db.synthetic import add_synthetic_accounts
from gcrm.reports import REGION_ROW, rep_report, territory_report
from tests import report_reference

TODAY = dt.date.today()
ACTORS = ("manager", "rep1", "east_manager", "analyst")


def _add_east_manager(s) -> None:  # type: ignore[no-untyped-def]
    """A manager whose region holds only Helsinki East (a territory-scoped user)."""
    east = Region(name="East only")
    s.add(east)
    s.flush()
    s.execute(update(Territory).where(Territory.name == "Helsinki East").values(region_id=east.id))
    s.add(
        User(
            username="east_manager",
            role="manager",
            region_id=east.id,
            password_hash=hash_password("east-manager-pw-1"),
        )
    )


def _roughen(s) -> None:  # type: ignore[no-untyped-def]
    """Accounts the demo lacks: unlocated, outside any territory, no value, no revenue."""
    ids = list(s.scalars(select(Account.id).order_by(Account.id)))
    s.execute(update(Account).where(Account.id.in_(ids[::37])).values(lat=None, lon=None))
    s.execute(update(Account).where(Account.id.in_(ids[5::41])).values(territory_id=None))
    s.execute(update(Account).where(Account.id.in_(ids[3::29])).values(potential_value=None))
    s.execute(update(Account).where(Account.id.in_(ids[7::31])).values(annual_revenue=None))
    # a user whose only interaction is older than the 90 days counted, and one without a user
    admin = s.scalar(select(User.id).where(User.username == "admin"))
    east = s.scalar(select(User.id).where(User.username == "east_manager"))
    now = dt.datetime.combine(TODAY, dt.time(9))
    s.add_all(
        [
            Interaction(account_id=ids[10], user_id=east, occurred_at=now - dt.timedelta(200)),
            Interaction(account_id=ids[11], user_id=None, occurred_at=now - dt.timedelta(10)),
            Interaction(account_id=ids[12], user_id=admin, kind="call", outcome="sent a quote"),
        ]
    )


def _compare(graph, *, territories=None) -> int:  # type: ignore[no-untyped-def]
    checked = 0
    for who in ACTORS:
        with session_scope() as s:
            actor = actor_for(s, who)
            kw = {"today": TODAY, "graph": graph}
            new = territory_report(s, actor, territories, **kw)
            old = report_reference.territory_report(s, actor, territories, **kw)
            pd.testing.assert_frame_equal(new.summary, old.summary, rtol=1e-9, check_dtype=False)
            pd.testing.assert_frame_equal(new.breakdown, old.breakdown, rtol=1e-9)
            pd.testing.assert_frame_equal(
                pd.DataFrame(new.territories.drop(columns="geometry")),
                pd.DataFrame(old.territories.drop(columns="geometry")),
                rtol=1e-9,
                check_dtype=False,
            )
            if territories is None:
                pd.testing.assert_frame_equal(
                    rep_report(s, actor, today=TODAY),
                    report_reference.rep_report(s, actor, today=TODAY),
                    rtol=1e-9,
                )
            region = new.summary.set_index("territory").loc[REGION_ROW]
            assert region["accounts"] > 0, who
            checked += 1
    return checked


@pytest.mark.parametrize("with_graph", [False, True], ids=["no-graph", "graph"])
def test_aggregate_figures_equal_the_pandas_ones(demo_db: str, graph, with_graph: bool) -> None:  # type: ignore[no-untyped-def]
    g = graph if with_graph else None
    with session_scope() as s:
        _add_east_manager(s)
    agg_cache.clear()
    assert _compare(g) == len(ACTORS)
    with session_scope() as s:
        add_synthetic_accounts(s, 3_000, seed=3)
    with session_scope() as s:
        _roughen(s)
    assert _compare(g) == len(ACTORS)
    assert _compare(g, territories=["Helsinki East", "Helsinki West"]) == len(ACTORS)
    with session_scope() as s:
        summary = territory_report(s, actor_for(s, "manager"), today=TODAY, graph=g).summary
        reps = rep_report(s, actor_for(s, "analyst"), today=TODAY).set_index("rep")
    assert reps.loc["admin", "calls_90d"] == 1 and reps.loc["admin", "visits_90d"] == 0
    old_only = reps.loc["east_manager", "last_activity"]
    assert old_only.date() == TODAY - dt.timedelta(200)
    names = set(summary["territory"])
    assert "(no territory)" in names
    if with_graph:
        # the drive-time sample and the white space were really computed
        assert summary["avg_drive_between_min"].notna().all()
        assert summary["white_space"].notna().all()


def test_white_space_limit_leaves_the_figure_out(demo_db: str, graph) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        actor = actor_for(s, "manager")
        full = territory_report(s, actor, today=TODAY, graph=graph, white_space_limit=10_000)
        capped = territory_report(s, actor, today=TODAY, graph=graph, white_space_limit=10)
    assert full.white_space_computed
    assert not capped.white_space_computed
    assert capped.summary["white_space"].isna().all()
    rest = [c for c in full.summary.columns if c != "white_space"]
    pd.testing.assert_frame_equal(full.summary[rest], capped.summary[rest])
