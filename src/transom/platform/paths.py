"""Paths across operating systems: the home folder, UNC/long/network paths, entrypoint parsing.

Every function takes the platform (`sys.platform` values: "win32", "linux", "darwin") and the
environment as inputs, so the Windows rules are tested on Linux and nothing is read at import.
Windows paths are handled as text with `ntpath`, which works the same on every OS.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
import sys
from collections.abc import Callable, Mapping

from transom.exceptions import EntrypointError

__all__ = [
    "LONG_PATH_LIMIT",
    "NETWORK_FILESYSTEMS",
    "default_home",
    "expand_user",
    "is_drive_path",
    "is_network_path",
    "is_unc",
    "is_windows",
    "is_windows_absolute",
    "parse_entrypoint",
    "resolve_entrypoint_path",
    "to_long_path",
    "unc_for_mapped_drive",
    "user_home",
]

# Windows refuses longer paths without the `\\?\` prefix: MAX_PATH is 260 including the NUL, and a
# folder must leave room for an 8.3 file name (CreateDirectoryW fails past 248 characters).
LONG_PATH_LIMIT = 248

# File system types (as psutil/`mount` name them) that live on another machine; SQLite's locking
# and WAL mode are unreliable on all of them.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smbfs", "smb3", "smb2", "afpfs", "ncpfs", "9p", "ceph", "glusterfs",
    "fuse.sshfs", "sshfs", "fuse.glusterfs", "fuse.cephfs", "davfs", "fuse.davfs2", "webdav",
    "lustre", "gpfs", "beegfs", "afs",
})

_DRIVE = re.compile(r"^[A-Za-z]:")
_DRIVE_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")
_DEVICE_DRIVE = re.compile(r"^[\\/]{2}[?.][\\/][A-Za-z]:")  # \\?\C:\...  \\.\C:\...
_UNC = re.compile(r"^[\\/]{2}(?![?.][\\/])[^\\/]+[\\/]+[^\\/]+")  # \\server\share
_DEVICE_UNC = re.compile(r"^[\\/]{2}[?.][\\/]UNC[\\/][^\\/]+[\\/]+[^\\/]+", re.IGNORECASE)


def is_windows(platform: str) -> bool:
    """True for the platform string of native Windows Python ("win32")."""
    return platform == "win32"


def is_unc(path: str) -> bool:
    """True for `\\\\server\\share\\...` (either slash) and its long form `\\\\?\\UNC\\server\\share`."""
    return bool(_UNC.match(path) or _DEVICE_UNC.match(path))


def is_drive_path(path: str) -> bool:
    """True for a path that starts with a drive letter: `C:\\x`, `C:/x`, `C:x`, `\\\\?\\C:\\x`."""
    return bool(_DRIVE.match(path) or _DEVICE_DRIVE.match(path))


def is_windows_absolute(path: str) -> bool:
    """True for a path that is absolute on Windows and means nothing on POSIX (drive or UNC)."""
    return bool(_DRIVE_ABSOLUTE.match(path) or _DEVICE_DRIVE.match(path) or is_unc(path))


def user_home(platform: str = sys.platform, environ: Mapping[str, str] | None = None) -> str:
    """The user's home folder: %USERPROFILE% on Windows, $HOME elsewhere, from `environ`."""
    env = os.environ if environ is None else environ
    if is_windows(platform):
        if env.get("USERPROFILE"):
            return env["USERPROFILE"]
        if env.get("HOMEDRIVE") and env.get("HOMEPATH"):
            return env["HOMEDRIVE"] + env["HOMEPATH"]
    elif env.get("HOME"):
        return env["HOME"]
    # A service account or a stripped environment: ask the OS (pwd database / profile folder).
    return os.path.expanduser("~") if environ is None else _home_from_os()


def _home_from_os() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, AttributeError):
        return os.path.expanduser("~")


def default_home(platform: str = sys.platform, environ: Mapping[str, str] | None = None) -> str:
    """TRANSOM_HOME when unset: `%USERPROFILE%\\.transom` on Windows, `~/.transom` elsewhere."""
    join = ntpath.join if is_windows(platform) else posixpath.join
    return join(user_home(platform, environ), ".transom")


def expand_user(path: str, platform: str = sys.platform,
                environ: Mapping[str, str] | None = None) -> str:
    """Replace a leading `~` (alone or before a slash) by the user's home from `environ`."""
    if path == "~" or path.startswith(("~/", "~\\")):
        join = ntpath.join if is_windows(platform) else posixpath.join
        rest = path[2:]
        return join(user_home(platform, environ), rest) if rest else user_home(platform, environ)
    return path


def to_long_path(path: str, platform: str = sys.platform, *, cwd: str | None = None) -> str:
    """On Windows, the `\\\\?\\` form of a path too long for MAX_PATH; unchanged elsewhere.

    The prefix turns off Windows' own normalisation, so the path is made absolute (against `cwd`)
    and normalised first. Short paths and already-prefixed paths are returned as they are.
    """
    if not is_windows(platform) or len(path) < LONG_PATH_LIMIT:
        return path
    if path.startswith(("\\\\?\\", "//?/")):
        return path
    if not is_windows_absolute(path):
        if cwd is None:
            return path  # a relative path cannot take the prefix; the caller did not say from where
        path = ntpath.join(cwd, path)
        if len(path) < LONG_PATH_LIMIT:
            return path
    normal = ntpath.normpath(path)
    if is_unc(normal):
        return "\\\\?\\UNC\\" + normal.lstrip("\\")
    return "\\\\?\\" + normal


def is_network_path(
    path: str,
    platform: str = sys.platform,
    *,
    drive_is_remote: Callable[[str], bool] | None = None,
    mount_fstype: Callable[[str], str | None] | None = None,
) -> bool:
    """True when `path` lives on another machine: UNC, a mapped network drive, an NFS/SMB mount.

    The two lookups are the I/O seams: `drive_is_remote("Z:")` (default: GetDriveTypeW on a real
    Windows) and `mount_fstype(path)` (default: the mount table through psutil on a real POSIX).
    """
    if is_windows(platform):
        if is_unc(path):
            return True
        match = _DRIVE.match(path) or _DEVICE_DRIVE.match(path)
        if not match:
            return False
        drive = match.group(0)[-2:].upper()
        if drive_is_remote is None:
            drive_is_remote = _windows_drive_is_remote if sys.platform == "win32" else _never
        return drive_is_remote(drive)
    if mount_fstype is None:
        mount_fstype = _posix_mount_fstype if sys.platform != "win32" else _no_fstype
    fstype = mount_fstype(path)
    return fstype is not None and fstype.lower() in NETWORK_FILESYSTEMS


def unc_for_mapped_drive(
    path: str,
    platform: str = sys.platform,
    *,
    resolve: Callable[[str], str | None] | None = None,
) -> str | None:
    """The UNC form of a path on a mapped network drive (`Z:\\x` -> `\\\\server\\share\\x`),
    or None when it is not on one.

    Services run in a logon session of their own, where the user's drive letters do not exist;
    the UNC path works in every session. `resolve("Z:")` is the seam (default: WNetGetConnectionW
    on a real Windows).
    """
    if not is_windows(platform):
        return None
    match = _DRIVE.match(path)
    if not match:
        return None
    if resolve is None:
        resolve = _windows_mapped_target if sys.platform == "win32" else _no_target
    target = resolve(match.group(0).upper())
    if not target:
        return None
    rest = path[2:].lstrip("\\/")
    return ntpath.join(target.rstrip("\\/"), rest) if rest else target


def _no_target(drive: str) -> str | None:
    return None


def _windows_mapped_target(drive: str) -> str | None:  # pragma: no cover - real Windows only
    import ctypes
    from ctypes import wintypes

    mpr = ctypes.WinDLL("mpr")  # type: ignore[attr-defined,unused-ignore]
    size = wintypes.DWORD(1024)
    buffer = ctypes.create_unicode_buffer(size.value)
    if mpr.WNetGetConnectionW(drive, buffer, ctypes.byref(size)) != 0:
        return None  # not a network drive (ERROR_NOT_CONNECTED) or no longer connected
    return buffer.value or None


def _never(drive: str) -> bool:
    return False


def _no_fstype(path: str) -> str | None:
    return None


def _windows_drive_is_remote(drive: str) -> bool:  # pragma: no cover - real Windows only
    import ctypes

    drive_remote = 4
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    return bool(kernel32.GetDriveTypeW(drive + "\\") == drive_remote)


def _posix_mount_fstype(path: str) -> str | None:
    """The file system type of the mount that holds `path` (longest mount point prefix)."""
    try:
        import psutil

        partitions = psutil.disk_partitions(all=True)
    except Exception:
        return None
    target = os.path.realpath(path)
    best: tuple[int, str | None] = (-1, None)
    for part in partitions:
        mount = part.mountpoint.rstrip("/") or "/"
        inside = target == mount or target.startswith(mount + "/") or mount == "/"
        if inside and len(mount) > best[0]:
            best = (len(mount), part.fstype)
    return best[1]


def parse_entrypoint(text: str) -> tuple[str, str]:
    """Split `path/to/file.py:flow_fn` (or `pkg.module:flow_fn`) into the path and the name.

    The split is on the last colon that is not a drive letter's, so `C:\\work\\etl.py:main`,
    `\\\\server\\share\\etl.py:main` and `C:/my flows/étl.py:main` all work. The name may be
    dotted (`file.py:Class.flow`).
    """
    entry = text.strip()
    drive_colons = set()
    if _DRIVE.match(entry):
        drive_colons.add(1)
    device = _DEVICE_DRIVE.match(entry)
    if device:
        drive_colons.add(device.end() - 1)
    cut = -1
    for index in range(len(entry) - 1, -1, -1):
        if entry[index] == ":" and index not in drive_colons:
            cut = index
            break
    if cut < 0:
        raise EntrypointError(
            f"entrypoint {text!r} names no flow function; write it as path/to/file.py:flow_fn"
        )
    path, name = entry[:cut].strip(), entry[cut + 1:].strip()
    if not path:
        raise EntrypointError(
            f"entrypoint {text!r} has no file before the colon; write it as path/to/file.py:flow_fn"
        )
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise EntrypointError(
            f"entrypoint {text!r} must end with ':' and a Python name, as in path/to/file.py:flow_fn"
        )
    return path, name


def resolve_entrypoint_path(
    path: str,
    platform: str = sys.platform,
    cwd: str | None = None,
    *,
    exists: Callable[[str], bool] = os.path.exists,
) -> str:
    """Make an entrypoint path written on any OS usable on `platform`, absolute against `cwd`.

    On POSIX, backslashes of a relative Windows path become slashes (`flows\\etl.py`), and an
    absolute drive or UNC path that does not exist here is an EntrypointError saying so. On Windows
    forward slashes are fine as they are; a very long result gets the `\\\\?\\` prefix.
    """
    base = os.getcwd() if cwd is None else cwd
    if is_windows(platform):
        if path.startswith("/") and not path.startswith("//") and not exists(path):
            raise EntrypointError(
                f"{path} is a POSIX path that does not exist on this Windows machine; "
                f"use a path relative to the working folder or a Windows path"
            )
        full = path if is_windows_absolute(path) else ntpath.join(base, path)
        return to_long_path(ntpath.normpath(full), platform)
    if is_windows_absolute(path):
        if exists(path):  # a POSIX file whose name merely looks like a Windows path
            return path
        raise EntrypointError(
            f"{path} is a Windows path and cannot be opened on {platform}; use a path relative "
            f"to the working folder (with / or \\) or a path on this machine"
        )
    posix = path.replace("\\", "/")
    return posixpath.normpath(posixpath.join(base, posix))
