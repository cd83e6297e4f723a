"""The web UI's files: the vendored htmx and uPlot are the ones recorded, pages load nothing from another
host, assets are served under hashed names, cached for good and gzipped."""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
from pathlib import Path

import pytest

from transom.server.ui.assets import STATIC, Assets

UI = STATIC.parent
MANIFEST = json.loads((STATIC / "VENDORED.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_a_vendored_file_is_the_one_recorded_with_its_licence(name: str) -> None:
    entry = MANIFEST["files"][name]
    body = (STATIC / name).read_bytes()
    assert hashlib.sha256(body).hexdigest() == entry["sha256"], f"{name} is not the recorded file"
    licence = STATIC / entry["licence"].split()[0]
    assert licence.is_file() and licence.stat().st_size > 0


def test_htmx_is_pinned_to_2_0_11() -> None:
    # npm's `latest` is 4.x now, which breaks 2.x pages: the pin is exact.
    assert MANIFEST["files"]["htmx.min.js"]["version"] == "2.0.11"
    assert b'version:"2.0.11"' in (STATIC / "htmx.min.js").read_bytes()


def test_uplot_is_pinned_to_1_6_32() -> None:
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert MANIFEST["files"][name]["version"] == "1.6.32"
    assert (STATIC / "uPlot.iife.min.js").read_bytes().startswith(
        b"/*! https://github.com/leeoniya/uPlot (v1.6.32) */")


def _ui_files() -> list[Path]:
    return sorted(p for p in UI.rglob("*") if p.suffix in {".html", ".js", ".css"})


def _without_banner(body: bytes) -> bytes:
    # A vendored file's licence banner (`/*! https://github.com/leeoniya/uPlot (v1.6.32) */`)
    # names where it comes from; it is a comment, never a request, and the file must stay
    # byte for byte the recorded one.
    if body.startswith(b"/*!"):
        end = body.find(b"*/")
        return b" " * (end + 2) + body[end + 2:] if end > 0 else body
    return body


def test_no_page_or_asset_names_another_host() -> None:
    url = re.compile(rb"""(?:https?:)?//([A-Za-z0-9.\-\[\]:]+)""")
    local = {b"127.0.0.1", b"localhost", b"[::1]"}
    found = []
    for path in _ui_files():
        body = _without_banner(path.read_bytes())
        for match in url.finditer(body):
            host = match.group(1).split(b":")[0] if not match.group(1).startswith(b"[") else match.group(1)
            before = body[max(match.start() - 1, 0):match.start()]
            if host and host not in local and before not in (b"/", b"*"):  # not `///` or `/*//`
                found.append(f"{path.relative_to(UI)}: {match.group(0).decode(errors='replace')}")
    assert _ui_files() and not found, found


def test_assets_are_hashed_gzipped_and_typed_by_us_not_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Windows registry mapping .js to text/plain gives a blank page: the type map is ignored.
    monkeypatch.setattr(mimetypes, "types_map", {".js": "text/plain", ".css": "text/plain"})
    mimetypes.add_type("text/plain", ".js")
    assets = Assets()
    htmx = assets.url("htmx.min.js")
    assert re.fullmatch(r"/static/htmx\.min\.[0-9a-f]{12}\.js", htmx)
    asset = assets.by_name[htmx.removeprefix("/static/")]
    assert asset.media_type.startswith("text/javascript")
    assert len(asset.gzipped) < len(asset.body) / 2
    assert assets.by_name[assets.url("transom.css").removeprefix("/static/")].media_type \
        .startswith("text/css")
    assert not any(name.endswith((".json", ".LICENSE")) for name in assets.by_name)


def test_the_bundle_is_its_parts_in_order_and_sheets_inline_only_by_their_hash(
        tmp_path: Path) -> None:
    assets = Assets()
    bundle = assets.by_name[assets.url("app.js").removeprefix("/static/")].body
    htmx, ours = (STATIC / "htmx.min.js").read_bytes(), (STATIC / "transom.js").read_bytes()
    assert bundle == htmx + b"\n;\n" + ours
    style = assets.inline("transom.css")
    css = (STATIC / "transom.css").read_text()
    assert style == f"<style>{css}</style>"
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in assets.style_hashes()
    # A sheet that would close its own element is refused, not inlined.
    (tmp_path / "bad.css").write_text("a::after { content: '</style><script>' }")
    with pytest.raises(ValueError, match="would end its <style> element"):
        Assets(tmp_path).inline("bad.css")
