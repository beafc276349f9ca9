"""The maps and density packages: their public names, their size, and one-way imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from gcrm import density, map_cli, maps

GCRM = Path(__file__).resolve().parents[1] / "gcrm"

#: What pages, tests and other modules use from ``gcrm.maps``.
MAPS_NAMES = (
    "CREDIT DEFAULT_CENTER DEFAULT_ZOOM MAX_ZOOM KIND_COLORS PALETTE OTHER_COLOR PRECISION_STYLES "
    "SEQUENTIAL EMPTY_COLOR LAYERS VALUES MAX_MARKERS ROUTE_COLORS base_map escape_html add_roads "
    "accounts_map add_accounts standalone_html add_heat add_hexagons add_areas add_draw "
    "add_selection add_near_here layer_map route_map fit_view fitted_route_map "
    "suggested_visits_map _lean _js_value"
).split()

#: What pages, tests and other modules use from ``gcrm.density``.
DENSITY_NAMES = (
    "MapFilter filtered_accounts located voronoi_cells heat_points hex_resolution hex_bins "
    "address_points postcode_areas coverage_mask coverage area_stats select_accounts drive_times "
    "nearest_drive_times isochrone near_here white_space metric_crs haversine_m EARTH_RADIUS_M "
    "HEAT_MAX_POINTS"
).split()


def test_public_names_stay_importable() -> None:
    """Every name callers use is on the package; the CLI's writer lives CLI-side."""
    assert [n for n in MAPS_NAMES if not hasattr(maps, n)] == []
    assert [n for n in DENSITY_NAMES if not hasattr(density, n)] == []
    assert set(density.__all__) <= set(dir(density))
    assert set(maps.__all__) <= set(dir(maps))
    assert not hasattr(maps, "write_map")
    assert callable(map_cli.write_map)


@pytest.mark.parametrize("package", ["maps", "density"])
def test_modules_are_small_with_short_functions(package: str) -> None:
    """Each module <= 800 lines, each function <= 120 lines."""
    files = sorted((GCRM / package).glob("*.py"))
    assert len(files) >= 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 800, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 120, f"{path.name}:{node.name}"


def test_density_does_not_import_maps_or_the_cli() -> None:
    """Imports run one way: views/cli -> maps -> density."""
    code = (
        "import sys, gcrm.density; "
        "print(sorted(m for m in sys.modules if m.startswith(('gcrm.maps', 'gcrm.map_cli', "
        "'gcrm.cli'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=GCRM.parent
    )
    assert out.stdout.strip() == "[]"
    code = "import sys, gcrm.maps; print('gcrm.map_cli' in sys.modules, 'gcrm.cli' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=GCRM.parent
    )
    assert out.stdout.strip() == "False False"
