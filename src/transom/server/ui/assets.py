"""The pages' static files, served under names holding their content hash (`htmx.min.<hash>.js`)
so a browser may keep them for a year: a changed file is a new name. Read and gzipped once, at
start; the types are ours, never the OS's (a Windows registry mapping `.js` to text/plain would
give a blank page).

Two things keep a first load to few requests: the scripts every page runs are also served as
one file (`app.js`: htmx, then ours, in the order the pages ran them as two), and the style
sheets are small enough to go inside the page itself (`inline`), so the first paint waits for
no second request; the CSP allows exactly those sheets by their SHA-256."""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

__all__ = ["BUNDLES", "IMMUTABLE", "STATIC", "Asset", "Assets"]

STATIC = Path(__file__).parent / "static"

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"
BUNDLES = {"app.js": ("htmx.min.js", "transom.js")}
"""Files served as one, by the bundle's name: its parts, in order."""


@dataclass(frozen=True)
class Asset:
    name: str  # as served: with its hash
    media_type: str
    body: bytes
    gzipped: bytes


class Assets:
    """Every .js and .css file of a folder, by served name, and the bundles of them."""

    def __init__(self, folder: Path = STATIC) -> None:
        self.by_name: dict[str, Asset] = {}
        self.urls: dict[str, str] = {}
        self._text: dict[str, str] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix in _TYPES:  # the licences and the manifest are in the package only
                self._add(path.name, path.read_bytes())
        for name, parts in BUNDLES.items():
            if all(part in self._text for part in parts):
                # A newline and a semicolon between files: a file's last statement may lack one.
                self._add(name, b"\n;\n".join(self._text[part].encode() for part in parts))

    def _add(self, name: str, body: bytes) -> None:
        stem, dot, suffix = name.rpartition(".")
        served = f"{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{suffix}"
        self.by_name[served] = Asset(served, _TYPES[dot + suffix], body,
                                     gzip.compress(body, 9, mtime=0))
        self.urls[name] = f"/static/{served}"
        self._text[name] = body.decode()

    def url(self, name: str) -> str:
        """The served path of a file of the folder (KeyError for one that is not there)."""
        return self.urls[name]

    def inline(self, name: str) -> Markup:
        """A style sheet of the folder as a <style> element, for the page's head."""
        if "</" in self._text[name]:
            raise ValueError(f"{name} holds '</', which would end its <style> element early")
        return Markup("<style>{}</style>").format(Markup(self._text[name]))

    def style_hashes(self) -> str:
        """The CSP sources allowing every sheet `inline` gives, by their SHA-256."""
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"
            for name, text in sorted(self._text.items()) if name.endswith(".css"))
