"""Result serialisation and storage: persisted results and the task cache.

A stored result is one UTF-8 JSON file named by its key: the serializer, when it was written, when
it expires, and the payload (JSON itself, or base64 of a cloudpickle). Local folders (drive, UNC,
mapped, long paths) are written directly; other URLs (`s3://...`) go through fsspec if installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from transom.core.context import StoredResult
from transom.core.states import now_utc
from transom.exceptions import ResultError, SerializationError
from transom.platform.system import current_platform

__all__ = ["LocalResultStore", "RemoteResultStore", "dumps_result", "loads_result", "open_result_store"]

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,120}$")
SERIALIZERS = ("pickle", "json")


def _file_name(key: str) -> str:
    # Keys from a user's cache_key_fn can hold anything: hash the ones unsafe as a file name.
    return key if _SAFE_KEY.match(key) and key not in (".", "..") else hashlib.sha256(
        key.encode()).hexdigest()


def dumps_result(value: Any, serializer: str, *, key: str = "", created: datetime | None = None,
                 expiration: datetime | None = None) -> bytes:
    """The stored form of a value; SerializationError says plainly why a value cannot be stored."""
    if serializer == "json":
        try:
            payload: Any = json.loads(json.dumps(value))
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"the result ({type(value).__name__}) cannot be stored as JSON: {exc}; "
                "use result_serializer='pickle'") from None
    elif serializer == "pickle":
        import cloudpickle

        try:
            payload = base64.b64encode(cloudpickle.dumps(value)).decode("ascii")
        except Exception as exc:
            raise SerializationError(
                f"the result ({type(value).__name__}) cannot be pickled: {exc}; return a "
                "picklable value or set persist_result=False") from None
    else:
        raise SerializationError(f"unknown result serializer {serializer!r}; use 'pickle' or 'json'")
    document = {
        "key": key,
        "serializer": serializer,
        "created": (created or now_utc()).isoformat(),
        "expiration": expiration.isoformat() if expiration else None,
        "data": payload,
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def loads_result(blob: bytes, *, key: str = "") -> StoredResult:
    try:
        document = json.loads(blob.decode("utf-8"))
        serializer = document["serializer"]
        if serializer == "json":
            value = document["data"]
        elif serializer == "pickle":
            import cloudpickle

            value = cloudpickle.loads(base64.b64decode(document["data"]))
        else:
            raise ValueError(f"unknown serializer {serializer!r}")
        expiration = document.get("expiration")
        return StoredResult(
            key=document.get("key") or key,
            value=value,
            created=datetime.fromisoformat(document["created"]),
            expiration=datetime.fromisoformat(expiration) if expiration else None,
        )
    except Exception as exc:
        raise ResultError(f"the stored result {key!r} cannot be read back: {exc}") from None


class _ResultStore:
    """Keys to stored results; subclasses only move bytes."""

    location: str

    def _read_bytes(self, name: str) -> bytes | None:
        raise NotImplementedError

    def _write_bytes(self, name: str, blob: bytes) -> str:
        raise NotImplementedError

    def read(self, key: str, *, now: datetime | None = None) -> StoredResult | None:
        try:
            blob = self._read_bytes(_file_name(key))
        except OSError as exc:
            raise ResultError(f"cannot read result {key!r} in {self.location}: {exc}") from None
        if blob is None:
            return None
        stored = loads_result(blob, key=key)
        if stored.expiration is not None and stored.expiration <= (now or now_utc()):
            return None
        return stored

    def write(self, key: str, value: Any, *, serializer: str | None = None,
              expiration: datetime | None = None) -> str:
        blob = dumps_result(value, serializer or "pickle", key=key, expiration=expiration)
        try:
            return self._write_bytes(_file_name(key), blob)
        except OSError as exc:
            raise ResultError(f"cannot write result {key!r} to {self.location}: {exc}") from None


class LocalResultStore(_ResultStore):
    """Results as files in a local folder (drive letter, UNC share or mapped drive)."""

    def __init__(self, location: str | os.PathLike[str], *, platform: str | None = None) -> None:
        self.location = str(location)
        self.platform = platform = platform or current_platform()
        self.path = Path(_long_path(self.location, platform))

    def _read_bytes(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def _write_bytes(self, name: str, blob: bytes) -> str:
        target = self.path / name
        self.path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        _replace(tmp, target)
        return str(target)


class RemoteResultStore(_ResultStore):
    """Results on any fsspec file system (`s3://`, `gcs://`, `memory://`, ...)."""

    def __init__(self, location: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise ResultError(
                f"result storage {location!r} needs fsspec: pip install fsspec (and the "
                "package for that file system, e.g. s3fs)") from None
        self.location = location.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.location)

    def _read_bytes(self, name: str) -> bytes | None:
        try:
            with self.fs.open(f"{self.root}/{name}", "rb") as handle:
                blob: bytes = handle.read()
                return blob
        except FileNotFoundError:
            return None

    def _write_bytes(self, name: str, blob: bytes) -> str:
        self.fs.makedirs(self.root, exist_ok=True)
        with self.fs.open(f"{self.root}/{name}", "wb") as handle:
            handle.write(blob)
        return f"{self.location}/{name}"


def open_result_store(location: str, *, platform: str | None = None
                      ) -> LocalResultStore | RemoteResultStore:
    """A store for a folder path or a URL; `file://` URLs and bare paths are local."""
    if location.startswith("file://"):
        location = location[len("file://"):]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", location):
        return RemoteResultStore(location)
    return LocalResultStore(location, platform=platform)


def _long_path(location: str, platform: str) -> str:
    from transom.platform.paths import to_long_path

    return str(to_long_path(location, platform))


def _replace(source: str, target: Path) -> None:
    # On Windows a reader holding the target open makes os.replace fail for a moment; retry.
    for attempt in range(20):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt == 19:
                raise
            time.sleep(0.01 * (attempt + 1))
