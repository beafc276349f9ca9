"""Shared resources of the map pages: the road network, postcode areas, map filters.

Kept apart from :mod:`views.common` so that pages without maps (login, admin)
do not load the road network's libraries.
"""

from __future__ import annotations

import shapely
import streamlit as st

from gcrm.density import MapFilter, address_points, postcode_areas
from gcrm.network import load_network
from gcrm.network import road_lines as lines_of


@st.cache_resource(show_spinner="Loading the road network…")
def road_graph():  # type: ignore[no-untyped-def]
    """The region's drive network (shared by all users, read-only)."""
    return load_network()


@st.cache_resource(show_spinner="Loading the road network…")
def road_lines():  # type: ignore[no-untyped-def]
    """The region's roads as lines, for the offline grey basemap."""
    return lines_of(road_graph())


@st.cache_resource(show_spinner="Building postcode areas…")
def postcode_areas_of_region(region_wkt: str):  # type: ignore[no-untyped-def]
    """Postcode areas of the region (from OSM address points), cached per region."""
    return postcode_areas(address_points(), shapely.from_wkt(region_wkt))


def map_filter_sidebar(options: dict[str, list[str]], prefix: str) -> MapFilter:
    """Sidebar widgets of the density filter; returns a :class:`gcrm.density.MapFilter`."""
    with st.sidebar:
        st.header("Filters")
        kinds = st.multiselect("Kind", options["kind"], key=f"{prefix}_kind")
        stages = st.multiselect("Stage", options["stage"], key=f"{prefix}_stage")
        segments = st.multiselect("Segment", options["segment"], key=f"{prefix}_segment")
        owners = st.multiselect("Owner", options["owner"], key=f"{prefix}_owner")
        territories = st.multiselect("Territory", options["territory"], key=f"{prefix}_terr")
        min_value = st.number_input(
            "Minimum potential value (€)", min_value=0.0, value=0.0, step=1000.0,
            key=f"{prefix}_minv",
        )  # fmt: skip
        not_since = st.date_input(
            "Not visited since", value=None, key=f"{prefix}_notsince", format="DD.MM.YYYY"
        )
    return MapFilter(
        kinds=tuple(kinds),
        stages=tuple(stages),
        segments=tuple(segments),
        owners=tuple(owners),
        territories=tuple(territories),
        min_value=min_value or None,
        not_visited_since=not_since,
    )
