"""Accounts inside shapes drawn on a map (GeoJSON from Leaflet.draw)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gcrm.density.points import _lat_lon, _located_mask, located
from gcrm.geometry import haversine_m


def _features(drawn: Any) -> list[Mapping[str, Any]]:
    if drawn is None:
        return []
    if isinstance(drawn, Mapping):
        if drawn.get("type") == "FeatureCollection":
            return list(drawn.get("features") or [])
        if drawn.get("type") == "Feature":
            return [drawn]
        if "type" in drawn and "coordinates" in drawn:
            return [{"type": "Feature", "geometry": drawn, "properties": {}}]
        return []
    return [f for item in drawn for f in _features(item)]


def select_accounts(accounts: gpd.GeoDataFrame, drawn: Any) -> gpd.GeoDataFrame:
    """Return the accounts inside shapes drawn on a map.

    Parameters
    ----------
    accounts
        Accounts (any CRS).
    drawn
        What streamlit-folium returns as ``all_drawings`` (a list of GeoJSON
        features), a FeatureCollection, one feature or one geometry.
        Polygons and rectangles select what they cover (tested in Web
        Mercator, as Leaflet draws them; self-crossing lassos are repaired);
        a Point with ``properties.radius`` (a drawn circle, metres) selects
        what lies within that haversine distance. Lines and bare points
        select nothing.

    Returns
    -------
    geopandas.GeoDataFrame
        The selected rows of ``accounts``, in their order, each once.
    """
    positions = np.flatnonzero(_located_mask(accounts))
    pts = located(accounts)
    keep = np.zeros(len(pts), dtype=bool)
    if pts.empty:
        return accounts.iloc[0:0]
    lat, lon = _lat_lon(pts)
    merc = None
    for feature in _features(drawn):
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if not geometry:
            continue
        try:
            shape = shapely.geometry.shape(geometry)
        except (ValueError, TypeError, AttributeError, KeyError):
            continue
        props = feature.get("properties") or {}
        if shape.geom_type == "Point" and props.get("radius") is not None:
            radius = float(props["radius"])
            keep |= haversine_m(shape.y, shape.x, lat, lon) <= radius
        elif shape.geom_type in ("Polygon", "MultiPolygon"):
            if merc is None:
                merc = np.asarray(gpd.GeoSeries(pts.geometry).to_crs(3857).values, dtype=object)
            poly = gpd.GeoSeries([shape], crs=4326).to_crs(3857).iloc[0]
            poly = shapely.make_valid(poly)
            shapely.prepare(poly)
            keep |= shapely.covers(poly, merc)
    return accounts.iloc[positions[keep]]
