"""Tests of gcrm.assets: vendored map assets, local URLs, standalone HTML."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import folium
import pytest
from folium.plugins import Draw, FastMarkerCluster, HeatMap, MarkerCluster

from gcrm import assets
from gcrm.assets import (
    ASSETS,
    DEFAULT_BASE_URL,
    NPM_PACKAGES,
    PYTHON_SOURCES,
    AssetError,
    inline_assets,
    local_asset_urls,
    use_cdn_assets,
    use_local_assets,
)
from gcrm.settings import get_settings

_ASSET_TAG = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']([^\"']+)[\"']", re.I)
_USED_CLASSES = (folium.Map, MarkerCluster, FastMarkerCluster, HeatMap, Draw)


def asset_urls(page: str) -> list[str]:
    """URLs of the page's ``<script src>`` and ``<link href>`` tags."""
    return _ASSET_TAG.findall(page)


def is_external(url: str) -> bool:
    return url.startswith(("http:", "https:", "//"))


@pytest.fixture(autouse=True)
def _restore_folium() -> Iterator[None]:
    """Leave folium's class-level URLs as folium defines them after each test."""
    yield
    use_cdn_assets()


@pytest.fixture(scope="session")
def vendor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete vendored tree: static/vendor if set up, else a fresh one via npm."""
    if assets.is_vendored():
        return assets.default_vendor_dir()
    if shutil.which("npm") is None:
        pytest.skip("static/vendor is not set up and npm is unavailable: run python -m gcrm.assets")
    try:
        return assets.vendor_assets(tmp_path_factory.mktemp("static") / "vendor")
    except AssetError as exc:
        pytest.skip(f"static/vendor is not set up and vendoring failed: {exc}")


def full_map() -> folium.Map:
    """A map using every plugin gcrm uses."""
    m = folium.Map(location=(60.17, 24.94), zoom_start=13)
    MarkerCluster().add_to(m)
    FastMarkerCluster([[60.17, 24.94]]).add_to(m)
    HeatMap([[60.17, 24.94, 1.0]]).add_to(m)
    Draw().add_to(m)
    folium.Marker((60.17, 24.94), icon=folium.Icon(icon="info-sign")).add_to(m)
    return m


def test_tables_are_consistent() -> None:
    """Every asset lies in a declared source; every pin is exact and has a digest."""
    roots = [p.folder + "/" for p in NPM_PACKAGES]
    roots += [dst for s in PYTHON_SOURCES for _, dst in s.files]
    roots += [assets.GLYPHICONS_CSS, assets.ROTATE_CSS]
    for asset in ASSETS:
        assert any(asset.path == r or asset.path.startswith(r) for r in roots if r), asset
        assert all(is_external(u) for u in asset.cdn_urls)
    for package in NPM_PACKAGES:
        assert re.fullmatch(r"\d+\.\d+\.\d+", package.version)
        assert package.integrity.startswith("sha512-")
    urls = [u for a in ASSETS for u in a.cdn_urls]
    assert len(urls) == len(set(urls))


def test_use_local_assets_covers_every_class_we_use() -> None:
    """After use_local_assets, Map and the plugins name only local URLs."""
    use_local_assets()
    for cls in _USED_CLASSES:
        for _, url in [*cls.default_js, *cls.default_css]:
            assert url.startswith(DEFAULT_BASE_URL + "/"), (cls.__name__, url)


def test_rendered_map_has_no_external_asset_urls() -> None:
    """A page using every plugin loads no script or stylesheet from outside."""
    use_local_assets()
    page = full_map().get_root().render()
    urls = asset_urls(page)
    assert urls
    assert [u for u in urls if is_external(u)] == []
    assert all(u.startswith(DEFAULT_BASE_URL) for u in urls)


def test_base_url_is_configurable() -> None:
    """A relative base URL serves a page saved in the project root."""
    use_local_assets("static/vendor/")
    urls = asset_urls(folium.Map().get_root().render())
    assert all(u.startswith("static/vendor/") and "//" not in u for u in urls)


def test_use_cdn_assets_restores_folium_urls() -> None:
    """use_cdn_assets undoes use_local_assets (the GCRM_MAP_ASSETS=cdn mode)."""
    before = list(folium.Map.default_js)
    use_local_assets()
    use_cdn_assets()
    assert folium.Map.default_js == before
    assert all(is_external(u) for u in asset_urls(full_map().get_root().render()))


def test_local_urls_do_not_mutate_on_add_js_link() -> None:
    """folium's add_js_link on one map must not leak into the shared class lists."""
    use_local_assets()
    m = folium.Map()
    m.add_js_link("extra", "/extra.js")
    assert ("extra", "/extra.js") in m.default_js
    use_local_assets()
    assert all(name != "extra" for name, _ in folium.Map.default_js)


def test_local_asset_urls_maps_every_cdn_url() -> None:
    mapping = local_asset_urls("/base/")
    assert mapping["https://code.jquery.com/jquery-3.7.1.min.js"] == (
        "/base/jquery@3.7.1/dist/jquery.min.js"
    )
    assert len(mapping) == sum(len(a.cdn_urls) for a in ASSETS)


def test_glyphicons_css_keeps_only_glyphicon_rules() -> None:
    css = """
    /* comment */
    body { color: red; }
    @font-face { font-family: "Glyphicons Halflings"; src: url("../fonts/g.woff2"); }
    @font-face { font-family: "Other"; src: url("o.woff2"); }
    .glyphicon { display: inline-block; }
    .glyphicon-euro:before, .glyphicon-eur:before { content: "\\20ac"; }
    .btn .glyphicon, .x { margin: 0; }
    @media print { .glyphicon { display: none; } }
    """
    out = assets.glyphicons_css(css)
    assert "Glyphicons Halflings" in out and "../fonts/g.woff2" in out
    assert ".glyphicon-euro:before, .glyphicon-eur:before" in out
    assert "Other" not in out and "body" not in out and ".btn" not in out and "@media" not in out


def test_awesome_rotate_css() -> None:
    css = assets.awesome_rotate_css()
    assert ".fa-rotate-90{" in css and "rotate(360deg)" in css


def _stamp(dest: Path, files: list[str]) -> None:
    stamp = {"fingerprint": assets._fingerprint(), "files": files}
    (dest / assets.STAMP_NAME).write_text(json.dumps(stamp), encoding="utf-8")


def test_vendor_assets_skips_a_complete_tree(tmp_path: Path, monkeypatch) -> None:
    """A complete tree is left alone: no npm, no copy (fast in make/CI)."""
    (tmp_path / "a.js").write_text("x")
    _stamp(tmp_path, ["a.js"])

    def boom(_root: Path) -> list[str]:
        raise AssertionError("rebuilt a complete tree")

    monkeypatch.setattr(assets, "_build", boom)
    start = time.perf_counter()
    assert assets.vendor_assets(tmp_path) == tmp_path
    assert time.perf_counter() - start < 0.5


def test_incomplete_or_stale_tree_is_not_vendored(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("x")
    _stamp(tmp_path, ["a.js", "b.css"])
    assert not assets.is_vendored(tmp_path)
    (tmp_path / "b.css").write_text("y")
    assert assets.is_vendored(tmp_path)
    (tmp_path / assets.STAMP_NAME).write_text('{"fingerprint": "old", "files": []}')
    assert not assets.is_vendored(tmp_path)
    assert not assets.is_vendored(tmp_path / "missing")


def test_failed_build_keeps_the_old_tree(tmp_path: Path, monkeypatch) -> None:
    """A failing rebuild (e.g. npm offline) leaves the previous files in place."""
    dest = tmp_path / "vendor"
    dest.mkdir()
    (dest / "keep.js").write_text("x")

    def fail(_root: Path) -> list[str]:
        raise AssetError("offline")

    monkeypatch.setattr(assets, "_build", fail)
    with pytest.raises(AssetError, match="offline"):
        assets.vendor_assets(dest, force=True)
    assert (dest / "keep.js").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["vendor"]


def test_missing_npm_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(assets.shutil, "which", lambda _name: None)
    with pytest.raises(AssetError, match="npm is needed"):
        assets._npm_pack(NPM_PACKAGES, Path("."))


def _fake_vendor(root: Path) -> None:
    dist = root / "leaflet@1.9.3" / "dist"
    (dist / "images").mkdir(parents=True)
    (dist / "images" / "layers.png").write_bytes(b"\x89PNG fake")
    (dist / "f.woff2").write_bytes(b"woff2")
    (dist / "f.ttf").write_bytes(b"ttf")
    (dist / "leaflet.css").write_text(
        ".a{background:url(images/layers.png)}"
        ".b{behavior:url(#default#VML)}"
        "@font-face{font-family:F;src:url(f.eot);"
        "src:url(f.woff2) format('woff2'),url(f.ttf) format('truetype')}"
    )
    (dist / "leaflet.js").write_text("var s = '</script>'; window.L = {};")


def test_inline_assets_inlines_scripts_styles_and_resources(tmp_path: Path) -> None:
    """Known CDN and local URLs become inline code; fonts keep woff2 only."""
    _fake_vendor(tmp_path)
    page = (
        '<html><head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">'
        '</script><link rel="stylesheet" href="/app/static/vendor/leaflet@1.9.3/dist/leaflet.css"/>'
        '<script src="https://example.org/other.js"></script></head></html>'
    )
    out = inline_assets(page, vendor_dir=tmp_path)
    assert asset_urls(out) == ["https://example.org/other.js"]
    assert "<\\/script>" in out and "window.L = {}" in out
    assert "data:image/png;base64," in out
    assert "data:font/woff2;base64," in out
    assert "f.ttf" not in out and "truetype" not in out and "f.eot" not in out
    assert "url(#default#VML)" in out


def test_inline_assets_needs_the_vendored_file(tmp_path: Path) -> None:
    page = '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    with pytest.raises(AssetError, match=r"python -m gcrm\.assets"):
        inline_assets(page, vendor_dir=tmp_path)


def test_vendored_files_exist_for_every_url(vendor_dir: Path) -> None:
    """Every local URL and every url() inside the vendored CSS points at a file."""
    base = "/x"
    for url in local_asset_urls(base).values():
        assert (vendor_dir / url[len(base) + 1 :]).is_file(), url
    for asset in ASSETS:
        if not asset.path.endswith(".css"):
            continue
        css_file = vendor_dir / asset.path
        for ref in re.findall(r"url\(\s*[\"']?([^\"')]+)", css_file.read_text(encoding="utf-8")):
            if ref.startswith(("data:", "#")):
                continue
            target = css_file.parent / ref.split("?", 1)[0].split("#", 1)[0]
            assert target.is_file(), f"{asset.path} -> {ref}"


def test_standalone_page_loads_nothing_from_outside(vendor_dir: Path, monkeypatch) -> None:
    """inline_assets on a real page leaves no script or stylesheet URL at all."""
    use_local_assets()
    page = inline_assets(full_map().get_root().render(), vendor_dir=vendor_dir)
    assert asset_urls(page) == []
    assert "L.Icon.Default.mergeOptions" in page
    assert len(page) < 4_000_000


def test_standalone_html_of_a_gcrm_map(vendor_dir: Path, monkeypatch) -> None:
    from gcrm import maps

    monkeypatch.setattr(assets, "default_vendor_dir", lambda: vendor_dir)
    monkeypatch.setenv("GCRM_MAP_ASSETS", "local")
    monkeypatch.setenv("GCRM_MAP_TILES", "none")
    get_settings.cache_clear()
    page = maps.standalone_html(maps.base_map())
    assert asset_urls(page) == []
    assert maps.CREDIT in page
