"""Write a standalone HTML density map of the acting user's accounts (the CLI's ``map``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely

from gcrm import density, network
from gcrm._errors import InputError
from gcrm.auth import require
from gcrm.maps import layer_map, standalone_html
from gcrm.store import audit, region_geometry, territories_frame

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor


def write_map(
    session: Session,
    actor: Actor,
    layer: str,
    output: str | Path,
    *,
    flt: Any = None,
    weight: str = "count",
    value: str = "count",
    resolution: int | None = None,
    tiles: str | None = None,
    roads: bool = False,
    osm: str | Path | None = None,
) -> dict[str, Any]:
    """Write a standalone HTML density map of the actor's accounts (the CLI's ``map``).

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies. The ``markers`` layer lists
        accounts one by one and needs the ``export`` right; every map written
        is audited as an export.
    layer
        One of :data:`LAYERS`.
    output
        The HTML file to write (scripts and styles inlined: works offline,
        except for tiles, which ``tiles="none"`` with ``roads=True`` avoids).
    flt
        A :class:`gcrm.density.MapFilter` (or ``None``).
    weight, value, resolution, tiles
        See :func:`layer_map`.
    roads
        Draw the region's drive network as a grey basemap.
    osm
        OSM file of the region (postcode areas, roads); default the settings'.

    Returns
    -------
    dict
        ``output``, ``layer``, ``accounts`` (on the map) and ``bytes``.
    """
    require(actor, "export" if layer == "markers" else "view")
    accounts = density.filtered_accounts(session, actor, flt)
    areas = territories = None
    if layer == "postcode":
        region = region_geometry(session, actor)
        if region is None:
            pts = density.located(accounts)
            if pts.empty:
                raise InputError("no region and no located account to draw postcode areas for")
            hull = shapely.convex_hull(shapely.union_all(pts.geometry.values))
            region = hull.buffer(0.002)
        areas = density.postcode_areas(density.address_points(osm), region)
    elif layer == "territory":
        territories = territories_frame(session, actor)
    road_lines = _road_lines(osm) if roads else None
    m = layer_map(
        accounts,
        layer,
        weight=weight,
        value=value,
        resolution=resolution,
        areas=areas,
        territories=territories,
        roads=road_lines,
        tiles=tiles,
    )
    page = standalone_html(m)
    path = Path(output)
    path.write_text(page, encoding="utf-8")
    shown = len(density.located(accounts))
    audit(
        session,
        actor,
        "export",
        path.name,
        {"format": "html map", "layer": layer, "accounts": shown},
    )
    return {"output": str(path), "layer": layer, "accounts": shown, "bytes": len(page.encode())}


def _road_lines(osm: str | Path | None) -> gpd.GeoDataFrame:
    """Return the region's drive network as lines (EPSG:4326)."""
    return network.road_lines(network.load_network(osm))
