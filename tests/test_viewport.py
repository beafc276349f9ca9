"""Aggregates that scale with the screen: paging, grid clusters, group counts, viewport maps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gcrm._errors import InputError
from gcrm.auth import SYSTEM, actor_for
from gcrm.db.session import session_scope
from gcrm.db.synthetic import add_synthetic_accounts
from gcrm.density import MapFilter, area_stats, located
from gcrm.maps import LAYERS
from gcrm.store import (
    AccountFilter,
    account_cells,
    account_group_stats,
    accounts_extent,
    accounts_frame,
    accounts_page,
    territories_frame,
)
from gcrm.viewport import (
    MAX_FEATURES,
    Viewport,
    accounts_around,
    accounts_in_shapes,
    count_features,
    viewport_map,
)


def test_pages_are_the_full_list_cut_in_order(demo_db: str) -> None:
    """Pages join up to the whole filtered list, in name order; the total is the count."""
    flt = AccountFilter(text="a")
    with session_scope() as s:
        whole = accounts_frame(s, SYSTEM, flt)
        pages, total = [], None
        for page in range(1, 100):
            frame, total = accounts_page(s, SYSTEM, flt, page=page, per_page=37)
            if frame.empty:
                break
            pages.append(frame)
    assert total == len(whole) > 37
    assert pd.concat(pages)["id"].tolist() == whole["id"].tolist()
    with session_scope() as s, pytest.raises(InputError, match="per_page"):
        accounts_page(s, SYSTEM, per_page=0)


def test_rep_pages_stay_in_scope(demo_db: str) -> None:
    """A rep's page and total hold only their own accounts."""
    with session_scope() as s:
        rep = actor_for(s, "rep1")
        frame, total = accounts_page(s, rep, per_page=1000)
        mine = accounts_frame(s, rep)
    assert total == len(mine) and set(frame["owner"]) == {"rep1"}


def test_grid_cells_add_up_and_respect_the_box(demo_db: str) -> None:
    """Cell counts sum to the located accounts in the box; each mean lies in its cell."""
    box = (24.93, 60.16, 24.95, 60.175)
    with session_scope() as s:
        everything = located(accounts_frame(s, SYSTEM))
        cells = account_cells(s, SYSTEM, cell_deg=0.002, bbox=box)
        total, n_located, bounds = accounts_extent(s, SYSTEM)
    inside = everything["lon"].between(box[0], box[2]) & everything["lat"].between(box[1], box[3])
    assert int(cells["count"].sum()) == int(inside.sum()) > 0
    assert np.allclose(
        cells["value"].sum(), everything.loc[inside, "potential_value"].fillna(0).sum()
    )
    assert (np.floor((cells["lon"] + 180) / 0.002) == cells["gx"]).all()
    assert n_located == len(everything) and total >= n_located
    assert bounds == pytest.approx(tuple(everything.total_bounds))


def test_group_stats_match_pandas(demo_db: str) -> None:
    """Counts, values and coverage per territory equal those computed from all rows."""
    today = dt.date(2026, 11, 1)
    with session_scope() as s:
        accounts = accounts_frame(s, SYSTEM)
        terr = territories_frame(s, SYSTEM)
        stats = account_group_stats(s, SYSTEM, by="territory", today=today).set_index("key")
        by_postcode = account_group_stats(s, SYSTEM, by="postcode", today=today)
    want = area_stats(accounts, terr, key="name", by_column="territory", today=today)
    want = want.set_index("name")
    for col in ("count", "with_target", "covered"):
        assert stats[col].to_dict() == want.loc[stats.index, col].to_dict(), col
    assert np.allclose(stats["value"], want.loc[stats.index, "value"])
    assert int(by_postcode["count"].sum()) == int(accounts["postcode"].notna().sum())


def test_visit_conditions_run_in_sql_like_in_pandas(demo_db: str) -> None:
    """The last-visit conditions give the same rows in SQL as MapFilter.apply."""
    with session_scope() as s:
        everything = accounts_frame(s, SYSTEM)
        for flt in (
            MapFilter(not_visited_since=dt.date(2026, 6, 1)),
            MapFilter(visited_since=dt.date(2026, 6, 1)),
            MapFilter(never_visited=True),
            MapFilter(never_visited=False),
        ):
            sql = accounts_frame(s, SYSTEM, flt.account_filter())
            assert sql["id"].tolist() == flt.apply(everything)["id"].tolist(), flt


def test_viewport_fits_the_extent() -> None:
    """The fitted view shows the whole extent; zooming in halves the cells."""
    extent = (24.92, 60.15, 24.97, 60.19)
    view = Viewport.fit(extent)
    box = view.bbox(pad=0.0)
    assert box[0] <= extent[0] and box[2] >= extent[2]
    assert box[1] <= extent[1] and box[3] >= extent[3]
    closer = Viewport(view.lat, view.lon, view.zoom + 1)
    assert closer.cell_deg() == pytest.approx(view.cell_deg() / 2)
    assert view.moved(closer) and not view.moved(Viewport(view.lat, view.lon, view.zoom))


@pytest.fixture
def dense_db(demo_db: str) -> str:
    """The demo plus 30,000 synthetic accounts (more than markers one by one allow)."""
    with session_scope() as s:
        add_synthetic_accounts(s, 30_000, seed=1)
    return demo_db


def test_every_layer_stays_under_the_feature_cap(dense_db: str) -> None:
    """Each layer of a dense store draws at most MAX_FEATURES, counted in its HTML."""
    with session_scope() as s:
        manager = actor_for(s, "manager")
        total, n_located, extent = accounts_extent(s, manager)
        assert extent is not None
        terr = territories_frame(s, manager)
        areas = terr.rename(columns={"name": "postcode"})
        for zoom_in in (0, 3):
            fit = Viewport.fit(extent)
            view = Viewport(fit.lat, fit.lon, fit.zoom + zoom_in)
            for layer in LAYERS:
                drawn = viewport_map(
                    s, manager, None, layer, view, territories=terr, areas=areas, draw=True
                )
                html = drawn.map.get_root().render()
                assert 0 < count_features(html) <= MAX_FEATURES, layer
                assert drawn.features <= MAX_FEATURES
            cells = account_cells(s, manager, cell_deg=view.cell_deg(), bbox=view.bbox())
            assert int(cells["count"].sum()) <= n_located
    assert total > 30_000


def test_clusters_refine_as_the_user_zooms(dense_db: str) -> None:
    """Closer views draw more, smaller clusters (and all of them inside the view)."""
    with session_scope() as s:
        manager = actor_for(s, "manager")
        _, _, extent = accounts_extent(s, manager)
        fit = Viewport.fit(extent)
        counts = [
            viewport_map(s, manager, None, "markers", Viewport(fit.lat, fit.lon, fit.zoom + z))
            for z in (0, 2)
        ]
    assert counts[1].features > counts[0].features
    assert counts[1].accounts < counts[0].accounts


def test_selection_and_near_here_read_only_a_box(dense_db: str) -> None:
    """A drawn rectangle selects exactly the accounts inside it; near-here reads its box."""
    ring = [[24.935, 60.165], [24.945, 60.165], [24.945, 60.17], [24.935, 60.17], [24.935, 60.165]]
    drawn = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    ]
    with session_scope() as s:
        manager = actor_for(s, "manager")
        picked = accounts_in_shapes(s, manager, None, drawn)
        box = accounts_frame(s, manager, AccountFilter(bbox=(24.935, 60.165, 24.945, 60.17)))
        near = accounts_around(s, manager, None, 60.1675, 24.94, 300.0)
    assert set(picked["id"]) == set(box["id"]) and len(picked) > 100
    assert near["lat"].between(60.1675 - 0.003, 60.1675 + 0.003).all()
    assert 0 < len(near) < 30_000
