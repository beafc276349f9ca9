"""The offline basemap: vector tiles of the region, built from its OSM file.

Every map in gcrm draws streets, buildings, water, parks and forest, railways,
street and place names from the region's own OSM extract (``GCRM_OSM_FILE``),
so maps are readable with no internet. The pieces are standard:

* :func:`build_basemap` reads the extract once (:func:`gcrm.osm.read_map_features`),
  sorts each feature into the layers of the Protomaps basemap schema (``roads``,
  ``buildings``, ``water``, ``landuse``, ``places``: the names and ``kind``
  values protomaps-leaflet's built-in styles draw), cuts it into Mapbox Vector
  Tiles (``mapbox-vector-tile``) for zoom 0 to :data:`MAX_ZOOM`, and writes them
  into one PMTiles archive (``pmtiles``);
* :func:`ensure_basemap` caches the archive under ``<data_dir>/cache/basemap``,
  keyed by the OSM file's content (a new extract gives a new archive), and
  publishes it under ``static/basemap/`` where Streamlit serves it at
  ``/app/static/basemap/...`` (``server.enableStaticServing``);
* :class:`BasemapLayer` draws it in Leaflet with ``protomaps-leaflet``
  (vendored by :mod:`gcrm.assets`), in its quiet ``light`` style; above
  :data:`MAX_ZOOM` the tiles are over-zoomed.

Limits: Streamlit's static serving refuses files over 200 MB, so a very large
country archive needs a lower ``max_zoom`` (see :func:`auto_max_zoom`) or
another web server. Sea areas are not drawn (OSM gives coastlines, not sea
polygons); lakes, rivers and riverbanks are.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from gcrm import osm
from gcrm._errors import BasemapError
from gcrm.settings import PROJECT_ROOT

#: Bump when the layers, kinds or zoom rules change: old archives are rebuilt.
BASEMAP_VERSION = 1

#: Highest zoom level stored in the archive; higher zooms over-zoom these tiles.
MAX_ZOOM = 15

#: Coordinate resolution of a tile (MVT extent).
EXTENT = 4096

#: Margin around each tile, in tile units, so strokes do not stop at tile edges.
_BUFFER = 64

#: protomaps-leaflet style (a "flavor" of the Protomaps basemap); quiet and light.
FLAVOR = "light"

#: Fill behind the tiles: the flavor's land colour.
LAND_COLOR = "#e2dfda"

#: Largest archive embedded into a standalone HTML file (base64 adds a third).
MAX_INLINE_BYTES = 30 * 1024 * 1024

#: URL under which ``<project>/static`` is served.
STATIC_URL = "/app/static"

_R = 6378137.0
_HALF = math.pi * _R
_MAX_LAT = 85.05112878

_lock = threading.Lock()


@dataclass(frozen=True)
class BasemapInfo:
    """A built basemap archive.

    Attributes
    ----------
    path : str
        The cached archive (``<data_dir>/cache/basemap/<key>.pmtiles``).
    name : str
        Its file name (also under ``static/basemap/``).
    bounds : tuple of float
        ``(west, south, east, north)`` of the data, degrees.
    min_zoom, max_zoom : int
        Zoom levels stored.
    tiles : int
        Tiles stored.
    size_bytes : int
        Size of the archive.
    build_seconds : float
        Wall time of the build.
    features : dict of str to int
        Features read, by layer.
    """

    path: str
    name: str
    bounds: tuple[float, float, float, float]
    min_zoom: int
    max_zoom: int
    tiles: int
    size_bytes: int
    build_seconds: float
    features: dict[str, int]

    @property
    def url(self) -> str:
        """URL of the published archive under Streamlit's static serving."""
        return f"{STATIC_URL}/basemap/{self.name}"

    def check(self) -> None:
        """Raise :class:`BasemapError` unless the archive exists and holds tiles."""
        p = Path(self.path)
        if not p.is_file() or p.stat().st_size != self.size_bytes or self.tiles <= 0:
            msg = f"basemap archive {p} is missing, changed or empty: rebuild it"
            raise BasemapError(msg)


# --------------------------------------------------------------------------- #
# Projection and tile grid
# --------------------------------------------------------------------------- #


def _to_mercator(coords: np.ndarray) -> np.ndarray:
    """(lon, lat) degrees to Web Mercator metres (EPSG:3857)."""
    lon = coords[:, 0]
    lat = np.clip(coords[:, 1], -_MAX_LAT, _MAX_LAT)
    x = np.radians(lon) * _R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _R
    return np.column_stack([x, y])


def _tile_size(z: int) -> float:
    return 2 * _HALF / (1 << z)


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = _tile_size(z)
    minx = -_HALF + x * size
    maxy = _HALF - y * size
    return minx, maxy - size, minx + size, maxy


def auto_max_zoom(bounds: tuple[float, float, float, float], *, budget: int = 250_000) -> int:
    """Highest zoom (≤ :data:`MAX_ZOOM`) whose tiles over ``bounds`` stay within ``budget``.

    Parameters
    ----------
    bounds
        ``(west, south, east, north)`` in degrees.
    budget : int, default 250000
        Most tiles at the top zoom level (a country extract gets fewer levels).

    Returns
    -------
    int
        The zoom level, at least 10.
    """
    (x0, y0), (x1, y1) = _to_mercator(np.array([[bounds[0], bounds[1]], [bounds[2], bounds[3]]]))
    for z in range(MAX_ZOOM, 9, -1):
        size = _tile_size(z)
        n = (math.floor((x1 - x0) / size) + 2) * (math.floor((y1 - y0) / size) + 2)
        if n <= budget:
            return z
    return 10


# --------------------------------------------------------------------------- #
# Building
# --------------------------------------------------------------------------- #


def _prepare(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Project geometries to metres; drop empty ones."""
    geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
    geoms = shapely.transform(geoms, _to_mercator)
    keep = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    return geoms[keep], frame.loc[keep].drop(columns="geometry").reset_index(drop=True)


def _props(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("kind", "kind_detail", "name", "min_zoom"):
        v = row.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        out[key] = int(v) if key == "min_zoom" else v
    return out


def _zoom_tiles(
    z: int, geoms: np.ndarray, attrs: pd.DataFrame, props: list[dict[str, Any]]
) -> dict[tuple[int, int], bytes]:
    """Encode every non-empty tile of zoom ``z``."""
    sel = np.flatnonzero(attrs["min_zoom"].to_numpy() <= z)
    if sel.size == 0:
        return {}
    size = _tile_size(z)
    unit = size / EXTENT
    g = shapely.simplify(geoms[sel], unit, preserve_topology=False)
    # Polygons smaller than about 2 x 2 pixels at this zoom are not drawn.
    is_poly = shapely.get_type_id(g) >= 3
    tiny = is_poly & (shapely.area(g) < (unit * 32) ** 2)
    ok = ~tiny & ~shapely.is_empty(g)
    sel, g = sel[ok], g[ok]
    if sel.size == 0:
        return {}
    b = shapely.bounds(g)
    tx0 = np.floor((b[:, 0] + _HALF) / size).astype(np.int64)
    tx1 = np.floor((b[:, 2] + _HALF) / size).astype(np.int64)
    ty0 = np.floor((_HALF - b[:, 3]) / size).astype(np.int64)
    ty1 = np.floor((_HALF - b[:, 1]) / size).astype(np.int64)
    n = 1 << z
    tx0, tx1 = np.clip(tx0, 0, n - 1), np.clip(tx1, 0, n - 1)
    ty0, ty1 = np.clip(ty0, 0, n - 1), np.clip(ty1, 0, n - 1)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i in range(sel.size):
        for x in range(int(tx0[i]), int(tx1[i]) + 1):
            for y in range(int(ty0[i]), int(ty1[i]) + 1):
                buckets.setdefault((x, y), []).append(i)
    layers = attrs["layer"].to_numpy()
    out: dict[tuple[int, int], bytes] = {}
    pad = unit * _BUFFER
    for (x, y), idx in buckets.items():
        minx, miny, maxx, maxy = _tile_bounds(z, x, y)
        ids = np.asarray(idx)
        clipped = shapely.clip_by_rect(g[ids], minx - pad, miny - pad, maxx + pad, maxy + pad)
        # To tile units (y down), rounded: what the MVT encoder stores.
        clipped = shapely.transform(
            clipped, lambda c, x0=minx, y0=maxy: np.rint((c - (x0, y0)) / (unit, -unit))
        )
        by_layer: dict[str, list[dict[str, Any]]] = {}
        for j, geom in zip(ids, clipped, strict=True):
            if geom is None or geom.is_empty:
                continue
            k = int(sel[j])
            by_layer.setdefault(str(layers[k]), []).append(
                {"geometry": geom, "properties": props[k]}
            )
        if not by_layer:
            continue
        tile = mapbox_vector_tile.encode(
            [{"name": name, "features": feats} for name, feats in by_layer.items()],
            default_options={
                "y_coord_down": True,
                "extents": EXTENT,
                "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid,
            },
        )
        out[(x, y)] = gzip.compress(tile, compresslevel=6, mtime=0)
    return out


def build_basemap(
    output: str | Path,
    *,
    osm_file: str | Path | None = None,
    min_zoom: int = 0,
    max_zoom: int | None = None,
) -> BasemapInfo:
    """Build a PMTiles archive of vector tiles from an OSM file.

    Parameters
    ----------
    output
        The archive to write (replaced atomically).
    osm_file
        OSM extract; the region of the settings when omitted.
    min_zoom : int, default 0
        Lowest zoom level stored.
    max_zoom : int, optional
        Highest zoom level stored; :func:`auto_max_zoom` of the data's bounds
        when omitted (:data:`MAX_ZOOM` for a city, fewer for a country).

    Returns
    -------
    BasemapInfo
        What was built (checks itself with :meth:`BasemapInfo.check`).

    Raises
    ------
    gcrm._errors.OSMFileError
        When the OSM file is missing, unreadable or has no map features.
    """
    start = time.perf_counter()
    src = osm.resolve_osm_file(osm_file)
    frame = osm.read_map_features(src)
    if frame.empty:
        msg = f"OSM file {src} has no streets, buildings, water, land use or places to map"
        raise osm.OSMFileError(msg)
    geoms_deg = np.asarray(frame["geometry"].to_numpy(), dtype=object)
    west, south, east, north = (float(v) for v in shapely.total_bounds(geoms_deg))
    top = auto_max_zoom((west, south, east, north)) if max_zoom is None else max_zoom
    geoms, attrs = _prepare(frame)
    props = [_props(r) for r in attrs.to_dict("records")]
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    count = 0
    try:
        with tmp.open("wb") as f:
            writer = Writer(f)
            for z in range(min_zoom, top + 1):
                tiles = _zoom_tiles(z, geoms, attrs, props)
                for tid, data in sorted((zxy_to_tileid(z, x, y), d) for (x, y), d in tiles.items()):
                    writer.write_tile(tid, data)
                count += len(tiles)
            if count == 0:
                msg = f"OSM file {src} gave no map tiles"
                raise osm.OSMFileError(msg)
            writer.finalize(
                {
                    "tile_type": TileType.MVT,
                    "tile_compression": Compression.GZIP,
                    "min_lon_e7": int(west * 1e7),
                    "min_lat_e7": int(south * 1e7),
                    "max_lon_e7": int(east * 1e7),
                    "max_lat_e7": int(north * 1e7),
                    "center_zoom": min(top, 14),
                    "center_lon_e7": int((west + east) / 2 * 1e7),
                    "center_lat_e7": int((south + north) / 2 * 1e7),
                },
                {
                    "name": f"gcrm basemap of {src.name}",
                    "attribution": "© OpenStreetMap contributors",
                    "license": "ODbL-1.0 (https://www.openstreetmap.org/copyright)",
                    "vector_layers": [
                        {"id": name} for name in sorted(attrs["layer"].unique().tolist())
                    ],
                },
            )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    info = BasemapInfo(
        path=str(out),
        name=out.name,
        bounds=(west, south, east, north),
        min_zoom=min_zoom,
        max_zoom=top,
        tiles=count,
        size_bytes=out.stat().st_size,
        build_seconds=round(time.perf_counter() - start, 3),
        features={str(k): int(v) for k, v in attrs["layer"].value_counts().items()},
    )
    info.check()
    return info


# --------------------------------------------------------------------------- #
# Cache and publishing
# --------------------------------------------------------------------------- #


def static_dir() -> Path:
    """Return ``<project>/static/basemap``, where the app serves archives from.

    Returns
    -------
    pathlib.Path
        The folder (not created).
    """
    return PROJECT_ROOT / "static" / "basemap"


def _source_key(src: Path) -> str:
    """Content key of an OSM file, remembered by (path, size, mtime) to skip re-hashing."""
    st = src.stat()
    memo_file = osm.cache_dir("basemap") / "digests.json"
    try:
        memo = json.loads(memo_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    stamp = f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if stamp not in memo:
        memo[stamp] = osm.file_digest(src)
        memo_file.write_text(json.dumps(memo), encoding="utf-8")
    return f"{memo[stamp][:16]}-v{BASEMAP_VERSION}"


def _link(src: Path, target: Path) -> None:
    """Make ``target`` the same file as ``src`` (a hard link, or a copy), atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    tmp.replace(target)


def _publish(archive: Path, dest_dir: Path) -> None:
    """Put the archive and its description under ``dest_dir``.

    Archives of other OSM files are left alone: another server process on
    the same project folder may still be serving one.
    """
    target = dest_dir / archive.name
    if not (target.is_file() and target.stat().st_size == archive.stat().st_size):
        _link(archive, target)
    meta = target.with_suffix(".json")
    if not meta.is_file():
        # Served to browsers too: without the server's own folder names.
        data = json.loads(archive.with_suffix(".json").read_text(encoding="utf-8"))
        data.pop("path", None)
        meta.write_text(json.dumps(data), encoding="utf-8")


def ensure_basemap(
    osm_file: str | Path | None = None,
    *,
    publish_dir: Path | None = None,
    force: bool = False,
) -> BasemapInfo:
    """Return the region's basemap, building it once per OSM file.

    The archive is cached as ``<data_dir>/cache/basemap/<digest>-v<version>.pmtiles``
    with a JSON description beside it; a changed OSM file (another digest)
    or a new :data:`BASEMAP_VERSION` gives a new build. The archive is then
    published under ``static/basemap/`` for the app.

    Parameters
    ----------
    osm_file
        OSM extract; the region of the settings when omitted.
    publish_dir : pathlib.Path, optional
        Where to publish; :func:`static_dir` when omitted.
    force : bool, default False
        Rebuild even when cached.

    Returns
    -------
    BasemapInfo
        The cached archive.
    """
    src = osm.resolve_osm_file(osm_file)
    dest_dir = static_dir() if publish_dir is None else Path(publish_dir)
    with _lock:
        key = _source_key(src)
        archive = osm.cache_dir("basemap") / f"{key}.pmtiles"
        info = None
        if not force:
            # The cache first, then a copy already published by another data dir.
            info = _load(archive) or _load(dest_dir / archive.name)
        if info is None:
            info = build_basemap(archive, osm_file=src)
        elif Path(info.path) != archive:
            _link(Path(info.path), archive)
            info = replace(info, path=str(archive))
        archive.with_suffix(".json").write_text(json.dumps(asdict(info)), encoding="utf-8")
        _publish(archive, dest_dir)
    return info


def _load(archive: Path) -> BasemapInfo | None:
    """Read the description beside an archive, if both are there and agree."""
    try:
        data = json.loads(archive.with_suffix(".json").read_text(encoding="utf-8"))
        data["bounds"] = tuple(data["bounds"])
        data["path"] = str(archive)
        info = BasemapInfo(**data)
        info.check()
    except (OSError, ValueError, TypeError, KeyError, BasemapError):
        return None
    return info


# --------------------------------------------------------------------------- #
# Drawing in Leaflet
# --------------------------------------------------------------------------- #


class BasemapLayer(JSCSSMixin, MacroElement):
    """The basemap as a protomaps-leaflet layer under every data layer.

    Parameters
    ----------
    info : BasemapInfo
        The archive to draw.
    inline : bool, default False
        Embed the tiles in the page (for an HTML file opened from disk,
        where the browser cannot read byte ranges of a file); otherwise the
        page reads ``info.url`` from the app's static serving.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var source = {{ this.url_js }};
            {% if this.inline %}
            var tiles = {{ this.tiles_js }};
            source = {
                getZxy: function (z, x, y) {
                    var b64 = tiles[z + "/" + x + "/" + y];
                    if (!b64) { return Promise.resolve(undefined); }
                    var bin = atob(b64), bytes = new Uint8Array(bin.length);
                    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
                    var stream = new Blob([bytes]).stream()
                        .pipeThrough(new DecompressionStream("gzip"));
                    return new Response(stream).arrayBuffer().then(function (data) {
                        return {data: data};
                    });
                }
            };
            {% endif %}
            var layer = protomapsL.leafletLayer({
                url: source, flavor: {{ this.flavor_js }}, lang: "en",
                maxDataZoom: {{ this.max_zoom }}, attribution: ""
            });
            layer.backgroundColor = {{ this.land_js }};
            layer.addTo(map);
            if (layer.bringToBack) { layer.bringToBack(); }
            map.getContainer().style.background = {{ this.land_js }};
        })();
        {% endmacro %}
        """
    )

    #: The script protomaps-leaflet ships (vendored by gcrm.assets).
    default_js = [  # noqa: RUF012 (folium declares it a plain class attribute)
        (
            "protomaps-leaflet",
            "https://cdn.jsdelivr.net/npm/protomaps-leaflet@5.1.0/dist/protomaps-leaflet.js",
        )
    ]

    def __init__(self, info: BasemapInfo, *, inline: bool = False) -> None:
        super().__init__()
        self._name = "Basemap"
        self.info = info
        self.inline = False
        self.url_js = json.dumps(info.url)
        self.flavor_js = json.dumps(FLAVOR)
        self.land_js = json.dumps(LAND_COLOR)
        self.max_zoom = int(info.max_zoom)
        self.tiles_js = "{}"
        if inline:
            self.embed()

    def embed(self) -> bool:
        """Embed the tiles in the page, unless the archive is over :data:`MAX_INLINE_BYTES`.

        Returns
        -------
        bool
            True when the tiles are embedded.
        """
        if self.info.size_bytes > MAX_INLINE_BYTES:
            return False
        self.inline = True
        self.tiles_js = json.dumps(read_tiles(self.info.path))
        return True


def read_tiles(path: str | Path) -> dict[str, str]:
    """Every tile of an archive as ``{"z/x/y": base64 of the gzipped tile}``.

    Parameters
    ----------
    path
        A PMTiles archive.

    Returns
    -------
    dict of str to str
        The tiles, for embedding in a standalone page.
    """
    with Path(path).open("rb") as f:
        reader = Reader(MmapSource(f))
        return {
            f"{z}/{x}/{y}": base64.b64encode(data).decode("ascii")
            for (z, x, y), data in all_tiles(reader.get_bytes)
        }
