"""What the offline map assets are: every vendored file, where it comes from, what it replaces.

:mod:`gcrm.assets` vendors these files and points folium at them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NpmPackage:
    """One npm package to vendor (exact version, pinned tarball digest).

    Attributes
    ----------
    name : str
        Package name, e.g. ``"leaflet.markercluster"``.
    version : str
        Exact version.
    integrity : str
        The registry's ``sha512-...`` digest of the tarball; checked after
        ``npm pack``.
    keep : tuple of str
        Paths inside the package to extract: a folder ends with ``/``.
        Top-level ``LICENSE*`` files are always kept.
    """

    name: str
    version: str
    integrity: str
    keep: tuple[str, ...]

    @property
    def spec(self) -> str:
        """``name@version``, the argument of ``npm pack``."""
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> str:
        """The package's folder under ``static/vendor`` (its layout is kept)."""
        return self.spec


@dataclass(frozen=True)
class PythonSource:
    """Files copied from an installed Python package.

    Attributes
    ----------
    module : str
        Module whose folder holds the files.
    version_attr : str
        Attribute of ``module`` holding its version.
    version : str
        The version required (the one folium's CDN URLs name).
    subdir : str
        Folder inside the module's folder to copy from.
    files : tuple of tuple of str
        ``(source, destination)`` pairs: source relative to ``subdir``,
        destination relative to ``static/vendor``; a source ending in ``/``
        copies a whole folder.
    """

    module: str
    version_attr: str
    version: str
    subdir: str
    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Asset:
    """A file a folium page loads, and the CDN URLs it stands for.

    Attributes
    ----------
    path : str
        Path under ``static/vendor`` (POSIX).
    cdn_urls : tuple of str
        The URLs folium, its plugins or branca use for this file.
    """

    path: str
    cdn_urls: tuple[str, ...]


_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net"

#: Packages fetched from the npm registry with ``npm pack``.
NPM_PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage(
        "leaflet.markercluster",
        "1.5.3",
        "sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+NTRSEGfCSeA==",
        ("dist/",),
    ),
    NpmPackage(
        "leaflet.awesome-markers",
        "2.0.5",
        "sha512-Ne/xDjkGyaujwNVVkv2tyXQUV0ZW7gZ0Mo0FuQY4jp2qWrvXi0hwDBvmZyF/8YOvybyMabTMM/mFWCTd1jZIQA==",
        ("dist/",),
    ),
    # The Bootstrap 5 that folium 0.20 names (its CDN URL says 5.2.2).
    NpmPackage(
        "bootstrap",
        "5.2.2",
        "sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
        (
            "dist/css/bootstrap.min.css",
            "dist/css/bootstrap.min.css.map",
            "dist/js/bootstrap.bundle.min.js",
            "dist/js/bootstrap.bundle.min.js.map",
        ),
    ),
    # Glyphicons: folium names Bootstrap 3.0.0's bootstrap-glyphicons.css, which npm
    # does not have; the glyphicon rules of 3.4.1 are extracted into a file of that name.
    NpmPackage(
        "bootstrap",
        "3.4.1",
        "sha512-yN5oZVmRCwe5aKwzRj6736nSmKDX7pLYwsXiCj/EYmo16hODaBiT4En5btW/jhBF/seV+XMx3aYwukYC3A49DA==",
        ("dist/fonts/",),
    ),
    NpmPackage(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
        ("css/", "webfonts/"),
    ),
    NpmPackage(
        "leaflet-draw",
        "1.0.2",
        "sha512-iCcbXE9okhwznoTXjxVjoGFoKeiWGsgmWPKrPAeHUvtWZWK4t6YF6815D13wZoMxX2UM6tOmD7/VofCxx3S0+w==",
        ("dist/",),
    ),
    # The offline basemap's renderer (gcrm.basemap): vector tiles from a PMTiles
    # archive drawn on a canvas; BSD-3-Clause.
    NpmPackage(
        "protomaps-leaflet",
        "5.1.0",
        "sha512-N0YY1Gbw5nZ9n8VUOvwHKm/w3zhTTuaZEeMZl8doHemeM4ujGPp2otI6t4Sgqrz8iM4svx2rpG1Q17rHkOWSaA==",
        ("dist/protomaps-leaflet.js",),
    ),
    # branca's colour maps (legends) load d3 3.5.5.
    NpmPackage(
        "d3",
        "3.5.5",
        "sha512-JPx0wEFxcYVcCZXgUbsy8NzVzD3zKat1KLtdCeOHPsmrpFlc09nr2/5Ls9ey7mo8SV6cWew0piLrmPVybj9I8w==",
        ("d3.min.js",),
    ),
)

#: Files copied from installed Python packages (no download).
PYTHON_SOURCES: tuple[PythonSource, ...] = (
    PythonSource(
        "xstatic.pkg.leaflet",
        "VERSION",
        "1.9.3",
        "data",
        (
            ("leaflet.js", "leaflet@1.9.3/dist/leaflet.js"),
            ("leaflet.js.map", "leaflet@1.9.3/dist/leaflet.js.map"),
            ("leaflet.css", "leaflet@1.9.3/dist/leaflet.css"),
            ("images/", "leaflet@1.9.3/dist/images/"),
        ),
    ),
    PythonSource(
        "xstatic.pkg.jquery",
        "VERSION",
        "3.7.1",
        "data",
        (
            ("jquery.min.js", "jquery@3.7.1/dist/jquery.min.js"),
            ("jquery.min.map", "jquery@3.7.1/dist/jquery.min.map"),
        ),
    ),
    # folium's HeatMap loads folium's own copy of Leaflet.heat (0.2.0 plus the
    # weights patch of Leaflet.heat PR 78), which the folium wheel ships.
    PythonSource(
        "folium",
        "__version__",
        "0.20.0",
        "templates",
        (("leaflet_heat.min.js", "folium@0.20.0/templates/leaflet_heat.min.js"),),
    ),
)

#: The generated Glyphicons stylesheet (see :func:`gcrm.assets.glyphicons_css`).
GLYPHICONS_CSS = "bootstrap@3.4.1/dist/css/bootstrap-glyphicons.css"
#: The generated rotation stylesheet (see :func:`gcrm.assets.awesome_rotate_css`).
ROTATE_CSS = "folium@0.20.0/templates/leaflet.awesome.rotate.min.css"

#: Every file a folium page may load, with the CDN URLs it replaces.
ASSETS: tuple[Asset, ...] = (
    # folium.Map
    Asset(
        "leaflet@1.9.3/dist/leaflet.js",
        (f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.js",),
    ),
    Asset(
        "leaflet@1.9.3/dist/leaflet.css",
        (f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.css",),
    ),
    Asset(
        "jquery@3.7.1/dist/jquery.min.js",
        ("https://code.jquery.com/jquery-3.7.1.min.js", f"{_CDNJS}/jquery/3.7.1/jquery.min.js"),
    ),
    Asset(
        "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
        (f"{_JSDELIVR}/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",),
    ),
    Asset(
        "bootstrap@5.2.2/dist/css/bootstrap.min.css",
        (f"{_JSDELIVR}/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css",),
    ),
    Asset(
        GLYPHICONS_CSS,
        ("https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",),
    ),
    Asset(
        "@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
        (f"{_JSDELIVR}/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",),
    ),
    Asset(
        "leaflet.awesome-markers@2.0.5/dist/leaflet.awesome-markers.js",
        (f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js",),
    ),
    Asset(
        "leaflet.awesome-markers@2.0.5/dist/leaflet.awesome-markers.css",
        (f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css",),
    ),
    Asset(
        ROTATE_CSS,
        (
            f"{_JSDELIVR}/gh/python-visualization/folium/folium/templates/"
            "leaflet.awesome.rotate.min.css",
        ),
    ),
    # folium.plugins.MarkerCluster, FastMarkerCluster
    Asset(
        "leaflet.markercluster@1.5.3/dist/leaflet.markercluster.js",
        (f"{_CDNJS}/leaflet.markercluster/1.1.0/leaflet.markercluster.js",),
    ),
    Asset(
        "leaflet.markercluster@1.5.3/dist/MarkerCluster.css",
        (f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.css",),
    ),
    Asset(
        "leaflet.markercluster@1.5.3/dist/MarkerCluster.Default.css",
        (f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.Default.css",),
    ),
    # folium.plugins.HeatMap
    Asset(
        "folium@0.20.0/templates/leaflet_heat.min.js",
        (f"{_JSDELIVR}/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js",),
    ),
    # folium.plugins.Draw
    Asset(
        "leaflet-draw@1.0.2/dist/leaflet.draw.js",
        (f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.js",),
    ),
    Asset(
        "leaflet-draw@1.0.2/dist/leaflet.draw.css",
        (f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.css",),
    ),
    # gcrm.basemap.BasemapLayer
    Asset(
        "protomaps-leaflet@5.1.0/dist/protomaps-leaflet.js",
        (f"{_JSDELIVR}/npm/protomaps-leaflet@5.1.0/dist/protomaps-leaflet.js",),
    ),
    # branca.colormap.ColorMap (hard-coded in its render(): see inline_assets)
    Asset("d3@3.5.5/d3.min.js", (f"{_CDNJS}/d3/3.5.5/d3.min.js",)),
)
