"""How sure a pin is: distinct marker styles with a legend, and the "needs a pin" list."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd

from gcrm.maps import PRECISION_STYLES, accounts_map
from gcrm.pins import APPROXIMATE, PRECISION_LABELS, needs_pin

_PRECISIONS = ["manual", "address", "interpolated", "street", "postcode", "city", "none"]


def _frame() -> gpd.GeoDataFrame:
    rows = []
    for i, p in enumerate(_PRECISIONS):
        located = p != "none"
        rows.append(
            {
                "id": i + 1, "name": f"Acc {p}", "kind": "customer", "stage": "new",
                "street": "Annankatu", "housenumber": str(i + 1), "postcode": "00120",
                "city": "Helsinki", "geocode_precision": p,
                "lat": 60.165 + i * 0.001 if located else None,
                "lon": 24.94 if located else None,
            }
        )  # fmt: skip
    df = pd.DataFrame(rows)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)


def test_each_precision_has_its_own_marker_style() -> None:
    """Exact, interpolated, street, postcode, city and manual pins look different; the
    less sure a pin, the larger and fainter."""
    shown = [p for p in _PRECISIONS if p != "none"]
    styles = [json.dumps(PRECISION_STYLES[p], sort_keys=True) for p in shown]
    assert len(set(styles)) == len(shown)
    radii = [PRECISION_STYLES[p]["radius"] for p in ("address", "street", "postcode", "city")]
    assert radii == sorted(radii) and len(set(radii)) == 4
    opacity = [PRECISION_STYLES[p]["fillOpacity"] for p in ("address", "street", "city")]
    assert opacity == sorted(opacity, reverse=True)


def test_map_draws_each_pin_in_its_style_with_a_legend() -> None:
    """Each marker carries its precision; the legend lists every precision with counts,
    including the accounts that have no pin."""
    html = accounts_map(_frame(), cluster=False).get_root().render()
    assert "How sure each pin is" in html
    for p in _PRECISIONS:
        label = PRECISION_LABELS[p]
        assert re.search(re.escape(label) + r"[^(]*\(1\)", html), p
    rows = json.loads(re.search(r"var rows = (\[.*?\]);\n", html).group(1))  # type: ignore[union-attr]
    assert sorted(r[5] for r in rows) == sorted(p for p in _PRECISIONS if p != "none")
    assert "Pin: street only" in html


def test_needs_pin_lists_missing_and_approximate_locations_least_sure_first() -> None:
    """Only none/city/postcode/street accounts are listed, none first."""
    got = needs_pin(_frame())
    assert list(got["precision"]) == ["none", "city", "postcode", "street"]
    assert set(got["precision"]) == set(APPROXIMATE)
    assert got.loc[0, "address"] == "Annankatu 7, 00120 Helsinki"
    assert needs_pin(_frame().iloc[:2]).empty
