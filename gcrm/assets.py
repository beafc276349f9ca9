"""Offline map assets: vendoring, local URLs and standalone HTML.

A default folium page loads its JavaScript and CSS (Leaflet, jQuery, Bootstrap,
Font Awesome, Leaflet.awesome-markers, glyphicons, and each plugin's files)
from public CDNs; with no internet the map stays blank. This module

* puts every one of those files under ``static/vendor/`` at setup time
  (:func:`vendor_assets`, run as ``python -m gcrm.assets``): Leaflet and jQuery
  are copied from the installed XStatic packages, folium's own files from the
  installed folium, the rest comes from the npm registry through ``npm pack``
  (exact versions, checked against pinned sha512 digests);
* points folium at them (:func:`use_local_assets`), so that Streamlit serves
  them at ``/app/static/vendor/...`` (``server.enableStaticServing``);
* inlines them into a map's HTML (:func:`inline_assets`) for a file that works
  opened from disk with no server and no internet.

Every vendored file, its source and the CDN URLs it replaces are listed in
:data:`~gcrm.asset_catalogue.ASSETS`, :data:`~gcrm.asset_catalogue.NPM_PACKAGES` and
:data:`~gcrm.asset_catalogue.PYTHON_SOURCES`.
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import importlib
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from gcrm._errors import GcrmError
from gcrm.asset_catalogue import (
    ASSETS,
    GLYPHICONS_CSS,
    NPM_PACKAGES,
    PYTHON_SOURCES,
    ROTATE_CSS,
    NpmPackage,
    PythonSource,
)
from gcrm.settings import PROJECT_ROOT

#: Where Streamlit serves ``<project>/static/vendor`` (``server.enableStaticServing``).
DEFAULT_BASE_URL = "/app/static/vendor"

#: Name of the file that records a finished :func:`vendor_assets` run.
STAMP_NAME = ".gcrm-vendor.json"

#: Bump to force a rebuild when the layout or the generated files change.
_LAYOUT_VERSION = 1


class AssetError(GcrmError, RuntimeError):
    """The map assets could not be vendored, or a vendored file is missing."""


def default_vendor_dir() -> Path:
    """Return ``<project root>/static/vendor``, where the app serves assets from.

    Returns
    -------
    pathlib.Path
        The default destination of :func:`vendor_assets`.
    """
    return PROJECT_ROOT / "static" / "vendor"


def _fingerprint() -> str:
    """Hash of everything that decides the vendored tree."""
    text = repr((_LAYOUT_VERSION, NPM_PACKAGES, PYTHON_SOURCES, ASSETS))
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- #
# Vendoring (setup time)
# --------------------------------------------------------------------------- #


def is_vendored(dest: Path | None = None) -> bool:
    """Tell whether ``dest`` holds a complete vendored tree for the current pins.

    Parameters
    ----------
    dest : pathlib.Path, optional
        The vendor folder; :func:`default_vendor_dir` when omitted.

    Returns
    -------
    bool
        True when the stamp matches :data:`ASSETS` and the pins, and every file
        it lists exists.
    """
    dest = default_vendor_dir() if dest is None else Path(dest)
    try:
        stamp = json.loads((dest / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("fingerprint") != _fingerprint():
        return False
    files = stamp.get("files")
    if not isinstance(files, list):
        return False
    return all((dest / name).is_file() for name in files)


def vendor_assets(dest: Path | None = None, *, force: bool = False) -> Path:
    """Put every JS/CSS/font/image file folium needs under ``dest``.

    Idempotent: when ``dest`` already holds the files for the current pins (see
    :func:`is_vendored`) it returns at once, without running npm. Otherwise it
    builds the tree in a temporary folder beside ``dest`` and swaps it in, so
    a failed run leaves the previous tree as it was.

    Parameters
    ----------
    dest : pathlib.Path, optional
        Destination folder; ``<project>/static/vendor`` by default (git-ignored,
        served by Streamlit at ``/app/static/vendor``).
    force : bool, default False
        Rebuild even when the tree is complete.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    AssetError
        When npm is missing or fails, a tarball does not match its pinned
        digest, or an installed XStatic/folium package has another version.
    """
    dest = default_vendor_dir() if dest is None else Path(dest)
    if not force and is_vendored(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".vendor-build-", dir=dest.parent))
    try:
        files = _build(build)
        stamp = {"fingerprint": _fingerprint(), "files": files}
        (build / STAMP_NAME).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
        old = None
        if dest.exists():
            old = dest.with_name(f".vendor-old-{os.getpid()}-{dest.name}")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        build.rename(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return dest


def _build(root: Path) -> list[str]:
    """Fill ``root`` with every vendored file; return their relative paths."""
    for source in PYTHON_SOURCES:
        _copy_python_source(source, root)
    with tempfile.TemporaryDirectory(prefix="gcrm-npm-") as tmp:
        tarballs = _npm_pack(NPM_PACKAGES, Path(tmp))
        for package, tarball in zip(NPM_PACKAGES, tarballs, strict=True):
            _extract(package, tarball, root / package.folder)
            if package.spec == "bootstrap@3.4.1":
                with tarfile.open(tarball) as tar:
                    member = tar.extractfile("package/dist/css/bootstrap.css")
                    if member is None:
                        msg = "bootstrap@3.4.1 has no dist/css/bootstrap.css"
                        raise AssetError(msg)
                    css = member.read().decode("utf-8")
                target = root / GLYPHICONS_CSS
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(glyphicons_css(css), encoding="utf-8")
    rotate = root / ROTATE_CSS
    rotate.parent.mkdir(parents=True, exist_ok=True)
    rotate.write_text(awesome_rotate_css(), encoding="utf-8")
    missing = [a.path for a in ASSETS if not (root / a.path).is_file()]
    if missing:
        msg = f"vendoring finished without {', '.join(missing)}: see gcrm.asset_catalogue"
        raise AssetError(msg)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _copy_python_source(source: PythonSource, root: Path) -> None:
    """Copy the files of one :class:`PythonSource` into ``root``."""
    try:
        module = importlib.import_module(source.module)
    except ImportError as exc:
        msg = f"vendoring map assets needs the Python package {source.module!r}: {exc}"
        raise AssetError(msg) from exc
    version = str(getattr(module, source.version_attr, ""))
    if version != source.version:
        msg = (
            f"{source.module} is {version or 'of unknown version'}, gcrm.assets expects "
            f"{source.version}: install the pinned requirements (or update the tables)"
        )
        raise AssetError(msg)
    if module.__file__ is None:
        msg = f"{source.module} has no folder on disk"
        raise AssetError(msg)
    base = Path(module.__file__).parent / source.subdir
    for src_name, dst_name in source.files:
        src, dst = base / src_name, root / dst_name
        if src_name.endswith("/"):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def _npm_pack(packages: tuple[NpmPackage, ...], where: Path) -> list[Path]:
    """Download the tarballs with ``npm pack`` and check their digests."""
    npm = shutil.which("npm")
    if npm is None:
        msg = (
            "npm is needed once to vendor the map assets (Node.js 18+); install it, "
            "or set GCRM_MAP_ASSETS=cdn to load them from public CDNs"
        )
        raise AssetError(msg)
    cmd = [npm, "pack", "--json", "--silent", "--pack-destination", str(where)]
    cmd += [p.spec for p in packages]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=600, check=False, cwd=where
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"npm pack failed: {exc}"
        raise AssetError(msg) from exc
    if proc.returncode != 0:
        msg = f"npm pack failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
        raise AssetError(msg)
    try:
        entries = json.loads(proc.stdout)
    except ValueError as exc:
        msg = f"npm pack printed no JSON: {proc.stdout[:500]!r}"
        raise AssetError(msg) from exc
    tarballs = []
    for package, entry in zip(packages, entries, strict=True):
        tarball = where / entry["filename"]
        digest = (
            "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        )
        if digest != package.integrity:
            msg = f"{package.spec}: tarball digest {digest} is not the pinned {package.integrity}"
            raise AssetError(msg)
        tarballs.append(tarball)
    return tarballs


def _extract(package: NpmPackage, tarball: Path, dest: Path) -> None:
    """Extract the kept files of an npm tarball (``package/...``) into ``dest``."""
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2 or ".." in parts or member.name.startswith("/"):
                continue
            inner = "/".join(parts[1:])
            is_license = len(parts) == 2 and "LICEN" in parts[1].upper()
            if not is_license and not any(
                inner == k or (k.endswith("/") and inner.startswith(k)) for k in package.keep
            ):
                continue
            data = tar.extractfile(member)
            if data is None:
                continue
            target = dest.joinpath(*parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read())


def _top_level_rules(css: str) -> list[tuple[str, str]]:
    """Split a stylesheet into top-level ``(prelude, block)`` pairs (comments dropped)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules, depth, start, prelude = [], 0, 0, ""
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                prelude, start = css[start:i].strip(), i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                rules.append((prelude, css[start : i + 1]))
                start = i + 1
    return rules


def glyphicons_css(bootstrap3_css: str) -> str:
    """Extract the glyphicon rules of Bootstrap 3's ``bootstrap.css``.

    Parameters
    ----------
    bootstrap3_css : str
        The text of ``dist/css/bootstrap.css`` of Bootstrap 3.

    Returns
    -------
    str
        The ``@font-face`` of "Glyphicons Halflings" and every rule whose
        selectors all start with ``.glyphicon``; font URLs stay relative
        (``../fonts/...``), as in Bootstrap's layout.
    """
    out = ["/* Glyphicons of Bootstrap 3.4.1 (MIT), extracted by gcrm.assets */"]
    for prelude, block in _top_level_rules(bootstrap3_css):
        if prelude == "@font-face" and "Glyphicons Halflings" in block:
            out.append(f"{prelude} {block}")
        elif prelude and all(s.strip().startswith(".glyphicon") for s in prelude.split(",")):
            out.append(f"{prelude} {block}")
    return "\n".join(out) + "\n"


def awesome_rotate_css() -> str:
    """Return the CSS of folium's ``leaflet.awesome.rotate.min.css``.

    Returns
    -------
    str
        ``.fa-rotate-N`` classes for N in 0..360, which folium's ``Icon(angle=N)``
        uses.
    """
    rule = (
        ".fa-rotate-{0}{{-ms-transform:rotate({0}deg);"
        "-webkit-transform:rotate({0}deg);transform:rotate({0}deg)}}"
    )
    return "\n".join(rule.format(n) for n in range(361)) + "\n"


# --------------------------------------------------------------------------- #
# Local URLs (run time)
# --------------------------------------------------------------------------- #


def local_asset_urls(base_url: str = DEFAULT_BASE_URL) -> dict[str, str]:
    """Map each CDN URL folium uses to its local URL.

    Parameters
    ----------
    base_url : str, default "/app/static/vendor"
        URL under which ``static/vendor`` is served.

    Returns
    -------
    dict of str to str
        ``{cdn_url: f"{base_url}/{path}"}`` for every :class:`Asset`.
    """
    base = base_url.rstrip("/")
    return {url: f"{base}/{asset.path}" for asset in ASSETS for url in asset.cdn_urls}


#: (class, default_js, default_css) as folium defined them, kept by use_local_assets.
_ORIGINALS: dict[type, tuple[object, object]] = {}


def _jscss_classes() -> list[type]:
    """Return the folium classes that declare their own ``default_js``/``default_css``."""
    # folium and its plugins are heavy; ``gcrm assets`` (setup) needs none of them
    import folium
    import folium.plugins  # registers the plugin classes
    from folium.elements import JSCSSMixin

    seen: list[type] = [folium.Map]
    stack = [JSCSSMixin]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
            stack.append(sub)
    return [c for c in seen if "default_js" in vars(c) or "default_css" in vars(c)]


def use_local_assets(base_url: str = DEFAULT_BASE_URL) -> None:
    """Point folium (Map and every plugin) at the vendored files.

    Replaces, in each folium class that declares ``default_js`` or
    ``default_css`` (``Map``, ``MarkerCluster``, ``FastMarkerCluster``,
    ``HeatMap``, ``Draw``, ...), every URL listed in :data:`ASSETS` by its URL
    under ``base_url``. URLs not listed are left as they are. The change is
    process-wide; :func:`use_cdn_assets` undoes it. Idempotent.

    Parameters
    ----------
    base_url : str, default "/app/static/vendor"
        URL under which ``static/vendor`` is served: Streamlit's static serving
        by default; a relative path such as ``"static/vendor"`` for an HTML file
        saved in the project root.
    """
    mapping = local_asset_urls(base_url)
    for cls in _jscss_classes():
        _ORIGINALS.setdefault(cls, (vars(cls).get("default_js"), vars(cls).get("default_css")))
        orig_js, orig_css = _ORIGINALS[cls]
        for attr, orig in (("default_js", orig_js), ("default_css", orig_css)):
            if isinstance(orig, list):
                # A new list: folium's add_js_link mutates these lists in place.
                setattr(cls, attr, [(name, mapping.get(url, url)) for name, url in orig])


def use_cdn_assets() -> None:
    """Undo :func:`use_local_assets`: folium loads its files from the CDNs again."""
    for cls, (orig_js, orig_css) in _ORIGINALS.items():
        for attr, orig in (("default_js", orig_js), ("default_css", orig_css)):
            if isinstance(orig, list):
                setattr(cls, attr, list(orig))


# --------------------------------------------------------------------------- #
# Standalone HTML
# --------------------------------------------------------------------------- #

_SCRIPT_TAG = re.compile(
    r"<script\b[^>]*?\bsrc\s*=\s*([\"'])(?P<url>[^\"']+)\1[^>]*>\s*</script\s*>", re.IGNORECASE
)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"\bhref\s*=\s*([\"'])(?P<url>[^\"']+)\1", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*([\"']?)(?P<url>[^\"')]+)\1\s*\)")
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.IGNORECASE)
_SRC_DECL = re.compile(r"src\s*:\s*[^;}]*;?", re.IGNORECASE)


def inline_assets(
    html: str, *, base_url: str = DEFAULT_BASE_URL, vendor_dir: Path | None = None
) -> str:
    """Inline the vendored scripts and stylesheets of a rendered folium page.

    The result needs no server and no internet for its code and styles (tile
    images, if the map has a tile layer, still come from the tile server).
    ``<script src=...>`` and ``<link rel="stylesheet" href=...>`` tags whose
    URL is a known CDN URL (:data:`ASSETS`) or lies under ``base_url`` are
    replaced by the file's text; images and fonts a stylesheet references
    become ``data:`` URIs (fonts: the woff2 file only, where there is one), and
    Leaflet's default marker icon is given as ``data:`` URIs too. Other tags
    are left as they are.

    Parameters
    ----------
    html : str
        A whole page, e.g. ``m.get_root().render()``.
    base_url : str, default "/app/static/vendor"
        The URL prefix local assets were rendered with.
    vendor_dir : pathlib.Path, optional
        The vendored tree; :func:`default_vendor_dir` when omitted.

    Returns
    -------
    str
        The page with the assets inlined.

    Raises
    ------
    AssetError
        When a file the page needs has not been vendored (run
        ``python -m gcrm.assets``).
    """
    root = default_vendor_dir() if vendor_dir is None else Path(vendor_dir)
    base = base_url.rstrip("/") + "/"
    by_cdn = {url: asset.path for asset in ASSETS for url in asset.cdn_urls}

    def resolve(url: str) -> Path | None:
        url = html_lib.unescape(url)
        path = by_cdn.get(url)
        if path is None and url.startswith(base):
            path = url[len(base) :].split("?", 1)[0].split("#", 1)[0]
        if path is None:
            return None
        file = (root / path).resolve()
        if not file.is_relative_to(root.resolve()):
            return None
        if not file.is_file():
            msg = f"{file} is missing: run `python -m gcrm.assets` to vendor the map assets"
            raise AssetError(msg)
        return file

    def script(match: re.Match[str]) -> str:
        file = resolve(match["url"])
        if file is None:
            return match[0]
        code = re.sub(r"</(script)", r"<\\/\1", file.read_text(encoding="utf-8"), flags=re.I)
        out = f"<script>/* {file.relative_to(root.resolve()).as_posix()} */\n{code}\n</script>"
        if file.name == "leaflet.js":
            out += _leaflet_icon_script(file.parent)
        return out

    def link(match: re.Match[str]) -> str:
        tag = match[0]
        href = _HREF.search(tag)
        if href is None or not re.search(r"\brel\s*=\s*[\"']?stylesheet", tag, re.IGNORECASE):
            return tag
        file = resolve(href["url"])
        if file is None:
            return tag
        css = _inline_css(file.read_text(encoding="utf-8"), file.parent)
        css = re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)
        return f"<style>/* {file.relative_to(root.resolve()).as_posix()} */\n{css}\n</style>"

    return _LINK_TAG.sub(link, _SCRIPT_TAG.sub(script, html))


def _data_uri(file: Path) -> str:
    """Return the ``data:`` URI of a file."""
    mime = mimetypes.guess_type(file.name)[0]
    if mime is None:
        mime = {".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf"}.get(
            file.suffix, "application/octet-stream"
        )
    return f"data:{mime};base64,{base64.b64encode(file.read_bytes()).decode()}"


def _prefer_woff2(font_face: str) -> str:
    """Keep only the woff2 source of an ``@font-face`` rule that has one."""
    decls = _SRC_DECL.findall(font_face)
    if not any(".woff2" in d for d in decls):
        return font_face
    out = font_face
    for decl in decls:
        if ".woff2" not in decl:
            out = out.replace(decl, "", 1)
            continue
        value = decl.split(":", 1)[1].rstrip(";")
        kept = [s.strip() for s in value.split(",") if ".woff2" in s]
        out = out.replace(decl, f"src:{','.join(kept)};", 1)
    return out


def _inline_css(css: str, folder: Path) -> str:
    """Turn the relative ``url(...)`` of a stylesheet into ``data:`` URIs."""
    css = _FONT_FACE.sub(lambda m: _prefer_woff2(m[0]), css)
    cache: dict[Path, str] = {}

    def repl(match: re.Match[str]) -> str:
        url = match["url"].strip()
        if url.startswith(("data:", "#", "http:", "https:", "//", "/")):
            return match[0]
        file = (folder / url.split("?", 1)[0].split("#", 1)[0]).resolve()
        if not file.is_file():
            return match[0]
        if file not in cache:
            cache[file] = _data_uri(file)
        return f'url("{cache[file]}")'

    return _CSS_URL.sub(repl, css)


def _leaflet_icon_script(dist: Path) -> str:
    """Script giving Leaflet's default marker icon as ``data:`` URIs."""
    images = dist / "images"
    names = {
        "iconUrl": "marker-icon.png",
        "iconRetinaUrl": "marker-icon-2x.png",
        "shadowUrl": "marker-shadow.png",
    }
    if not all((images / n).is_file() for n in names.values()):
        return ""
    options = {key: _data_uri(images / name) for key, name in names.items()}
    return (
        "\n<script>L.Icon.Default.imagePath = '';"
        f"L.Icon.Default.mergeOptions({json.dumps(options)});</script>"
    )


def main(argv: list[str] | None = None) -> int:
    """Vendor the map assets: ``python -m gcrm.assets [--force] [DEST]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    force = "--force" in args
    rest = [a for a in args if a != "--force"]
    try:
        dest = vendor_assets(Path(rest[0]) if rest else None, force=force)
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"map assets ready in {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
