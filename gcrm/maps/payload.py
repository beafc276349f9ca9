"""What a map page sends to the browser, computed once per distinct input.

Drawing a folium map for streamlit-folium costs server CPU twice: building the
map (one popup per account, escaped) and rendering it, where folium compiles
every rendered script as a Jinja template (about 0.5 s each for the demo's
1,400 markers). A page re-runs its script on every click, and a team opens the
same maps: :func:`cached_payload` keeps the rendered result per process, keyed
by a fingerprint of everything the map is drawn from (the scoped rows the page
already read, the layer, the view...). Equal keys therefore mean equal inputs:
a user is only ever served a map drawn from exactly the rows their own scope
returned, and any change to those rows, or to the layer or view, draws afresh.

``views.map_view.render_payload`` does what ``streamlit_folium.st_folium``
does before it calls its component (same script, header, HTML, links,
bounds), rendering the map once instead of twice, and passes the payload to
the component (streamlit-folium is a Streamlit package: it stays in ``views``).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from gcrm.lru import BoundedLRU
from gcrm.settings import get_settings

#: Most rendered maps kept per process (least recently used go first).
MAX_ENTRIES = 64

#: Most characters of rendered maps kept per process (about as many bytes).
MAX_TOTAL_CHARS = 40_000_000


@dataclass(frozen=True)
class MapPayload:
    """The arguments streamlit-folium's component needs to draw one map.

    Attributes
    ----------
    script
        The Leaflet JavaScript that builds the map and its layers.
    header
        Styles and inline scripts of the page head (links removed).
    html
        Extra HTML elements of the map (legends...).
    map_id
        folium's id of the map element.
    bounds
        ``[[south, west], [north, east]]`` of the drawn features.
    zoom
        The map's initial zoom option.
    css_links, js_links
        Style sheets and scripts the map loads, in order, without repeats.
    widget, widget_hash
        The page's widget key this payload was drawn for and streamlit-folium's
        hash of the script with it (computed once per cached map).
    """

    script: str
    header: str
    html: str
    map_id: str
    bounds: list[list[float | None]]
    zoom: Any
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]
    widget: str | None = None
    widget_hash: str | None = None

    @property
    def size(self) -> int:
        """Characters sent to the browser (script, header and HTML)."""
        return len(self.script) + len(self.header) + len(self.html)


def fingerprint(*parts: object) -> str:
    """Digest the inputs a map is drawn from (data frames, geometries, options).

    Parts are pickled: equal digests mean equal pickled content (up to a
    BLAKE2 collision), so a cached map is only reused for the very same rows.
    Two equal inputs may still pickle differently (a cache miss, never a
    wrong map).

    Parameters
    ----------
    *parts
        Picklable values: frames, lists of records, strings, numbers, ``None``.

    Returns
    -------
    str
        A hexadecimal digest.
    """
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(pickle.dumps(part, protocol=5))
        h.update(b"\x00")
    return h.hexdigest()


_CACHE: BoundedLRU[Hashable, MapPayload] = BoundedLRU(
    max_entries=MAX_ENTRIES, max_size=MAX_TOTAL_CHARS, size_of=lambda p: p.size
)


def cached_payload(key: Hashable, draw: Callable[[], MapPayload]) -> MapPayload:
    """Return the rendered map for ``key``, drawing it only on a miss.

    Parameters
    ----------
    key
        Everything the map depends on, e.g. ``("prospect", fingerprint(rows,
        layer, view))``: the rows must be the ones the page read for this
        user (scope and filter applied), never a shared superset.
    draw
        Builds and renders the map (called only on a miss).

    Returns
    -------
    MapPayload
        Shared between sessions: do not modify it.
    """
    settings = get_settings()
    # The map settings shape every map (tile source, local or CDN scripts).
    key = (key, settings.map_assets, settings.map_tiles)
    found = _CACHE.get(key)
    if found is not None:
        return found
    payload = draw()
    if payload.size <= MAX_TOTAL_CHARS // 4:
        _CACHE.resize(max_entries=MAX_ENTRIES, max_size=MAX_TOTAL_CHARS)  # read at call time
        _CACHE.put(key, payload)  # replaces one another session drew meanwhile
    return payload


def stats() -> dict[str, int]:
    """Hits, misses, evictions, entries and characters of the process's map cache."""
    out = _CACHE.stats()
    out["chars"] = out.pop("size")
    return out


def clear() -> None:
    """Forget every rendered map (tests and benchmarks start cold with it)."""
    _CACHE.clear()
