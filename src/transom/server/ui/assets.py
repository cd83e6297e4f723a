"""The pages' static files, served under names holding their content hash (`htmx.min.<hash>.js`)
so a browser may keep them for a year: a changed file is a new name. Read and gzipped once, at
start; the types are ours, never the OS's (a Windows registry mapping `.js` to text/plain would
give a blank page)."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STATIC", "Asset", "Assets"]

STATIC = Path(__file__).parent / "static"

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str  # as served: with its hash
    media_type: str
    body: bytes
    gzipped: bytes


class Assets:
    """Every .js and .css file of a folder, by served name."""

    def __init__(self, folder: Path = STATIC) -> None:
        self.by_name: dict[str, Asset] = {}
        self.urls: dict[str, str] = {}
        for path in sorted(folder.iterdir()):
            kind = _TYPES.get(path.suffix)
            if kind is None:
                continue  # the licences and the manifest are in the package, not served
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            served = f"{path.stem}.{digest}{path.suffix}"
            self.by_name[served] = Asset(served, kind, body, gzip.compress(body, 9, mtime=0))
            self.urls[path.name] = f"/static/{served}"

    def url(self, name: str) -> str:
        """The served path of a file of the folder (KeyError for one that is not there)."""
        return self.urls[name]
