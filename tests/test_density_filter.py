"""Tests of gcrm.density.filters: the map filter is the store's filter, applied alike in memory."""

from __future__ import annotations

import dataclasses
import datetime as dt

import geopandas as gpd
import pytest
from shapely.geometry import Point

from gcrm import density
from gcrm._errors import InputError
from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.store import AccountFilter, accounts_frame


def test_map_filter_is_the_store_filter() -> None:
    """MapFilter has exactly the store filter's fields (none copied) and hands back a plain one."""
    assert issubclass(density.MapFilter, AccountFilter)
    names = [f.name for f in dataclasses.fields(density.MapFilter)]
    assert names == [f.name for f in dataclasses.fields(AccountFilter)]
    # No field is declared again on MapFilter: its annotations add none.
    assert "kinds" not in vars(density.MapFilter).get("__annotations__", {})
    flt = density.MapFilter(
        kinds=("prospect",),
        owners=("rep1",),
        min_value=10.0,
        bbox=(24.9, 60.1, 25.0, 60.2),
        text="kah",
        ids=(3, 4),
        not_visited_since=dt.date(2026, 6, 1),
        include_do_not_contact=False,
    )
    plain = flt.account_filter()
    assert type(plain) is AccountFilter
    assert plain == AccountFilter(
        kinds=("prospect",),
        owners=("rep1",),
        min_value=10.0,
        bbox=(24.9, 60.1, 25.0, 60.2),
        text="kah",
        ids=(3, 4),
        not_visited_since=dt.date(2026, 6, 1),
        include_do_not_contact=False,
    )


def _filters(frame: gpd.GeoDataFrame) -> list[density.MapFilter]:
    """Return filters over every condition, with values taken from the data."""
    located = density.located(frame)
    lon, lat = located.geometry.x.median(), located.geometry.y.median()
    name = str(frame["name"].dropna().iloc[0])
    word = name.split()[0][1:4].upper()  # a piece of a word, in the other case
    street = str(frame["street"].dropna().iloc[0])[:4].lower()
    ids = tuple(int(i) for i in frame["id"].iloc[::7])
    return [
        density.MapFilter(text=word),
        density.MapFilter(text=street),
        density.MapFilter(bbox=(lon - 0.01, lat - 0.005, lon + 0.01, lat + 0.005)),
        density.MapFilter(ids=ids, kinds=("customer", "prospect")),
        density.MapFilter(min_value=5_000.0, include_do_not_contact=False),
        density.MapFilter(never_visited=False, max_value=50_000.0),
        density.MapFilter(not_visited_since=dt.date(2026, 10, 1), text="a"),
    ]


def test_apply_agrees_with_the_database(demo_copy: str) -> None:
    """Each condition keeps the same rows in memory (apply) as in SQL (accounts_frame)."""
    with session_scope() as s:
        manager = actor_for(s, "manager")
        everything = accounts_frame(s, manager)
        checked = 0
        for flt in _filters(everything):
            in_sql = sorted(accounts_frame(s, manager, flt.account_filter())["id"])
            in_memory = sorted(flt.apply(everything)["id"])
            assert in_memory == in_sql, flt
            assert sorted(density.filtered_accounts(s, manager, flt)["id"]) == in_sql, flt
            checked += 0 < len(in_sql) < len(everything)
    assert checked >= 5  # the filters do select (neither nothing nor everything)


def test_apply_text_is_literal() -> None:
    """Text is a plain case-insensitive substring, missing values never match."""
    rows = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3],
            "name": ["Kahvila (Kallio)", None, "Bar"],
            "street": ["Aleksanterinkatu", "Kalliolanrinne", None],
            "city": [None, None, "Espoo"],
            "external_id": ["X-1", None, "k(ka"],
            "potential_value": [None, 5.0, 7.0],
        },
        geometry=[Point(24.94, 60.17), None, Point(24.6, 60.2)],
        crs=4326,
    )
    assert density.MapFilter(text=" kallio").apply(rows)["id"].tolist() == [1, 2]
    assert density.MapFilter(text="(KA").apply(rows)["id"].tolist() == [1, 3]
    assert density.MapFilter(bbox=(24.9, 60.1, 25.0, 60.2)).apply(rows)["id"].tolist() == [1]
    assert density.MapFilter(ids=(3,)).apply(rows)["id"].tolist() == [3]


@pytest.mark.parametrize("key", ["text=x", "bbox=1,2,3,4", "ids=1"])
def test_parse_keeps_its_keys(key: str) -> None:
    """The CLI's --filter keys stay as they were (database-only fields are not parsed)."""
    with pytest.raises(InputError, match="KEY=VALUE"):
        density.MapFilter.parse([key])
