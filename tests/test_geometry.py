"""The geometry helpers: one haversine, one ECEF, one rule for the metric CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gcrm._errors import InputError
from gcrm.geometry import EARTH_RADIUS_M, M_PER_DEG, ecef, haversine_m, metric_crs, utm_crs


def test_haversine_known_distances() -> None:
    """One degree along a meridian is M_PER_DEG; arrays broadcast against one point."""
    assert float(haversine_m(0.0, 0.0, 1.0, 0.0)) == pytest.approx(M_PER_DEG, rel=1e-12)
    assert float(haversine_m(60.0, 25.0, 60.0, 25.0)) == 0.0
    # half the way round the equator
    assert float(haversine_m(0.0, 0.0, 0.0, 180.0)) == pytest.approx(np.pi * EARTH_RADIUS_M)
    got = haversine_m(60.17, 24.94, np.array([60.17, 59.44]), np.array([24.94, 24.75]))
    assert got.shape == (2,)
    assert got[0] == 0.0 and 80_000 < got[1] < 83_000  # Helsinki - Tallinn, ~81 km


def test_ecef_chords_match_great_circles_at_short_range() -> None:
    """Straight-line distances between ECEF points are great-circle ones at street scale."""
    a, b = ecef([60.17, 60.171], [24.94, 24.942])
    chord = float(np.linalg.norm(a - b))
    assert chord == pytest.approx(float(haversine_m(60.17, 24.94, 60.171, 24.942)), rel=1e-6)
    assert float(np.linalg.norm(a)) == pytest.approx(EARTH_RADIUS_M)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (24.94, 60.17, "EPSG:32635"),  # Helsinki
        (11.58, 49.95, "EPSG:32632"),  # Bayreuth
        (1.52, 42.51, "EPSG:32631"),  # Andorra
        (151.2, -33.87, "EPSG:32756"),  # Sydney: southern hemisphere
        (-73.99, 40.73, "EPSG:32618"),  # New York
        (180.0, 10.0, "EPSG:32601"),  # the antimeridian wraps to zone 1
    ],
)
def test_utm_zone_of_a_point(lon: float, lat: float, epsg: str) -> None:
    """The UTM zone follows the 6-degree rule, north and south."""
    assert utm_crs(lon, lat) == epsg


@pytest.mark.parametrize(
    ("lon", "lat"), [(24.94, 60.17), (11.58, 49.95), (-0.12, 51.5), (151.2, -33.87)]
)
def test_metric_crs_agrees_with_geopandas(lon: float, lat: float) -> None:
    """The one rule gives geopandas' estimate for points, shapes and projected input."""
    rng = np.random.default_rng(7)
    pts = gpd.GeoSeries(
        shapely.points(lon + rng.normal(0, 0.05, 30), lat + rng.normal(0, 0.05, 30)), crs=4326
    )
    expected = pts.estimate_utm_crs()
    assert metric_crs(pts) == expected
    assert metric_crs(gpd.GeoDataFrame(geometry=pts)) == expected
    assert metric_crs(pts.to_crs(3857)) == expected
    assert metric_crs(shapely.Point(lon, lat)) == expected
    assert metric_crs(gpd.GeoSeries([shapely.Point(lon, lat), None])) == expected  # no CRS: 4326


def test_metric_crs_needs_a_geometry() -> None:
    """Nothing to place is a clear InputError."""
    with pytest.raises(InputError, match="no geometry"):
        metric_crs(gpd.GeoSeries([], crs=4326))
    with pytest.raises(InputError, match="no geometry"):
        metric_crs(shapely.Point())
