"""Files only their owner may read (the secrets key): POSIX mode 0600, or on Windows an ACL
that grants the current user alone.

The file is written under a temporary name created with O_CREAT | O_EXCL and mode 0o600 (on
Windows its ACL is set with `icacls` before a byte is written), then linked to its name, which
fails if the name exists: two processes making the key at once end with one key, and nobody
ever reads a half-written file. `icacls` (a tool every Windows has) was chosen over the Win32
security API through ctypes: one command that a test can check, against a page of descriptor
and ACE structures.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from transom.platform.system import Runner, run_system_command

__all__ = ["create_private_file", "windows_owner_only_acl"]


def windows_owner_only_acl(path: str | os.PathLike[str],
                           environ: Mapping[str, str]) -> list[str]:
    """The `icacls` command that leaves `path` readable and writable by the current user alone:
    inherited entries removed, every other grant replaced, full control for the user."""
    user = environ.get("USERNAME") or "%USERNAME%"
    domain = environ.get("USERDOMAIN")
    account = f"{domain}\\{user}" if domain else user
    return ["icacls", os.fspath(path), "/inheritance:r", "/grant:r", f"{account}:F"]


def create_private_file(path: Path, data: bytes, *, platform: str,
                        environ: Mapping[str, str] | None = None,
                        run: Runner = run_system_command) -> bool:
    """Write `data` to a new file at `path` that only its owner can read; False (and nothing
    written) if `path` exists already. OSError if the folder cannot be written; on Windows,
    PermissionError if the ACL cannot be set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")  # one per caller
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o600)
    try:
        try:
            if platform == "win32":  # the mode means little there: the ACL does it
                result = run(windows_owner_only_acl(temporary, os.environ if environ is None
                                                    else environ))
                if not result.ok:
                    raise PermissionError(f"cannot limit {temporary} to the current user: "
                                          f"{result.reason()}")
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)
