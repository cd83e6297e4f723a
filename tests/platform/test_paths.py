"""Paths across OSes: the Windows rules run here on any OS, because the platform is a parameter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from transom.exceptions import EntrypointError
from transom.platform.paths import (
    LONG_PATH_LIMIT,
    default_home,
    expand_user,
    is_drive_path,
    is_network_path,
    is_unc,
    is_windows_absolute,
    parse_entrypoint,
    resolve_entrypoint_path,
    to_long_path,
    unc_for_mapped_drive,
)

# -- home --------------------------------------------------------------------------------------


def test_default_home_on_windows_is_under_userprofile() -> None:
    env = {"USERPROFILE": r"C:\Users\Zoë Müller", "HOME": "/ignored"}
    assert default_home("win32", env) == r"C:\Users\Zoë Müller\.transom"


def test_default_home_on_windows_falls_back_to_homedrive_homepath() -> None:
    env = {"HOMEDRIVE": "D:", "HOMEPATH": r"\Users\svc"}
    assert default_home("win32", env) == r"D:\Users\svc\.transom"


def test_default_home_on_windows_accepts_a_unc_profile() -> None:
    assert default_home("win32", {"USERPROFILE": r"\\fs01\profiles\ann"}) == r"\\fs01\profiles\ann\.transom"


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_default_home_on_posix_is_under_home(platform: str) -> None:
    env = {"HOME": "/home/ann", "USERPROFILE": r"C:\nope"}
    assert default_home(platform, env) == "/home/ann/.transom"


def test_default_home_without_home_variable_asks_the_os() -> None:
    home = default_home("linux", {})
    assert home.endswith("/.transom") and len(home) > len("/.transom")


def test_expand_user_uses_the_given_environment() -> None:
    assert expand_user("~/x", "linux", {"HOME": "/h"}) == "/h/x"
    assert expand_user("~", "win32", {"USERPROFILE": r"C:\U"}) == r"C:\U"
    assert expand_user(r"~\x", "win32", {"USERPROFILE": r"C:\U"}) == r"C:\U\x"
    assert expand_user("/a/~b", "linux", {"HOME": "/h"}) == "/a/~b"


# -- UNC, drives, network ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    r"\\server\share", r"\\server\share\dir\file.py", "//server/share/x", r"\\?\UNC\srv\share\x",
])
def test_is_unc_true(path: str) -> None:
    assert is_unc(path)
    assert is_windows_absolute(path)


@pytest.mark.parametrize("path", [
    r"C:\x", "/usr/lib", r"\\?\C:\x", r"\\.\pipe\name", r"\\server", "relative\\x", "",
])
def test_is_unc_false(path: str) -> None:
    assert not is_unc(path)


def test_drive_paths() -> None:
    assert is_drive_path(r"C:\work") and is_drive_path("c:/work") and is_drive_path(r"\\?\D:\x")
    assert is_windows_absolute(r"C:\work") and is_windows_absolute("z:/a")
    assert not is_windows_absolute("C:relative") and not is_windows_absolute("/posix")
    assert not is_drive_path("/c/work") and not is_drive_path("etl.py")


def test_unc_is_a_network_path_on_windows() -> None:
    assert is_network_path(r"\\nas\flows\etl.py", "win32")
    assert is_network_path(r"\\?\UNC\nas\flows\etl.py", "win32")


def test_mapped_drive_is_asked_through_the_seam() -> None:
    asked: list[str] = []

    def remote(drive: str) -> bool:
        asked.append(drive)
        return drive == "Z:"

    assert is_network_path(r"z:\data\transom.db", "win32", drive_is_remote=remote)
    assert not is_network_path(r"C:\data\transom.db", "win32", drive_is_remote=remote)
    assert asked == ["Z:", "C:"]


def test_a_mapped_drive_becomes_its_unc_path_for_services() -> None:
    shares = {"Z:": "\\\\nas\\team"}
    assert unc_for_mapped_drive(r"z:\transom\home", "win32", resolve=shares.get) == (
        r"\\nas\team\transom\home")
    assert unc_for_mapped_drive("Z:", "win32", resolve=shares.get) == r"\\nas\team"
    assert unc_for_mapped_drive(r"C:\Users\zoë\.transom", "win32", resolve=shares.get) is None
    assert unc_for_mapped_drive(r"\\nas\team\x", "win32", resolve=shares.get) is None
    assert unc_for_mapped_drive("/mnt/z/transom", "linux", resolve=shares.get) is None


def test_local_drive_is_not_a_network_path_when_not_on_windows() -> None:
    if sys.platform == "win32":
        pytest.skip("on Windows the real drive type is asked")
    assert not is_network_path(r"C:\data", "win32")


def test_posix_network_mounts_by_file_system_type() -> None:
    types = {"/mnt/nfs/x": "nfs4", "/mnt/smb/x": "cifs", "/home/x": "ext4", "/tmp/y": None}
    def fstype_of(path: str) -> str | None:
        return types[path]

    for path, fstype in types.items():
        expected = fstype in ("nfs4", "cifs")
        assert is_network_path(path, "linux", mount_fstype=fstype_of) is expected


def test_posix_real_mount_lookup_of_a_local_folder(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX mount table")
    assert is_network_path(str(tmp_path), sys.platform) is False


# -- long paths --------------------------------------------------------------------------------


def test_to_long_path_prefixes_long_windows_paths() -> None:
    long = "C:\\" + "\\".join(["folder-" + "x" * 20] * 12) + "\\etl.py"
    assert len(long) > 260
    assert to_long_path(long, "win32") == "\\\\?\\" + long


def test_to_long_path_normalises_before_prefixing() -> None:
    long = "C:/" + "/".join(["d" * 30] * 9) + "/../etl.py"
    result = to_long_path(long, "win32")
    assert result.startswith("\\\\?\\C:\\") and "/" not in result and ".." not in result


def test_to_long_path_uses_the_unc_form_for_shares() -> None:
    long = r"\\server\share" + "\\sub" * 70
    assert to_long_path(long, "win32") == "\\\\?\\UNC\\server\\share" + "\\sub" * 70


def test_to_long_path_leaves_short_prefixed_and_posix_paths_alone() -> None:
    assert to_long_path(r"C:\short\etl.py", "win32") == r"C:\short\etl.py"
    prefixed = "\\\\?\\C:\\" + "a" * 300
    assert to_long_path(prefixed, "win32") == prefixed
    posix = "/" + "a/" * 200
    assert to_long_path(posix, "linux") == posix


def test_to_long_path_anchors_a_relative_path_to_cwd() -> None:
    relative = "x" * (LONG_PATH_LIMIT + 5)
    assert to_long_path(relative, "win32") == relative  # no cwd given: cannot be prefixed
    assert to_long_path(relative, "win32", cwd=r"D:\work") == "\\\\?\\D:\\work\\" + relative


# -- entrypoints -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("etl.py:main", ("etl.py", "main")),
    (r"C:\work\etl.py:main", (r"C:\work\etl.py", "main")),
    ("C:/work/my flows/etl.py:main", ("C:/work/my flows/etl.py", "main")),
    (r"\\server\share\etl.py:main", (r"\\server\share\etl.py", "main")),
    (r"\\?\C:\very\long\etl.py:main", (r"\\?\C:\very\long\etl.py", "main")),
    ("/home/ann/flows/etl.py:main", ("/home/ann/flows/etl.py", "main")),
    (r"flows\etl.py:main", (r"flows\etl.py", "main")),
    ("./données/flux ü.py:traiter", ("./données/flux ü.py", "traiter")),
    ("/srv/a:b/etl.py:main", ("/srv/a:b/etl.py", "main")),
    ("pkg.module:flow_fn", ("pkg.module", "flow_fn")),
    ("etl.py:Pipelines.nightly", ("etl.py", "Pipelines.nightly")),
    ("  etl.py:main \n", ("etl.py", "main")),
    ("c:x.py:запуск", ("c:x.py", "запуск")),
])
def test_parse_entrypoint(text: str, expected: tuple[str, str]) -> None:
    assert parse_entrypoint(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("etl.py", "names no flow function"),
    (r"C:\work\etl.py", "names no flow function"),
    (":main", "no file before the colon"),
    ("etl.py:", "must end with"),
    ("etl.py:not-a-name", "must end with"),
    ("etl.py:1st", "must end with"),
])
def test_parse_entrypoint_errors_are_one_clear_sentence(text: str, fragment: str) -> None:
    with pytest.raises(EntrypointError) as info:
        parse_entrypoint(text)
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_windows_relative_entrypoint_runs_on_posix() -> None:
    assert resolve_entrypoint_path(r"flows\sub\etl.py", "linux", "/work") == "/work/flows/sub/etl.py"
    assert resolve_entrypoint_path(r"..\etl.py", "linux", "/work/a") == "/work/etl.py"


def test_posix_relative_entrypoint_runs_on_windows() -> None:
    assert resolve_entrypoint_path("flows/etl.py", "win32", r"C:\work") == r"C:\work\flows\etl.py"
    assert resolve_entrypoint_path(r"D:\x\etl.py", "win32", r"C:\work") == r"D:\x\etl.py"
    assert resolve_entrypoint_path(r"\\srv\share\etl.py", "win32", r"C:\w") == r"\\srv\share\etl.py"


def test_long_entrypoint_on_windows_gets_the_prefix() -> None:
    deep = "\\".join(["flows"] * 60) + "\\etl.py"
    assert resolve_entrypoint_path(deep, "win32", r"C:\work").startswith("\\\\?\\C:\\work\\flows")


@pytest.mark.parametrize("path", [r"C:\work\etl.py", r"\\server\share\etl.py", "D:/flows/etl.py"])
def test_absolute_windows_entrypoint_on_posix_is_a_clear_error(path: str, tmp_path: Path) -> None:
    with pytest.raises(EntrypointError, match="is a Windows path and cannot be opened on linux"):
        resolve_entrypoint_path(path, "linux", str(tmp_path))


def test_posix_absolute_entrypoint_missing_on_windows_is_a_clear_error() -> None:
    with pytest.raises(EntrypointError, match="POSIX path that does not exist"):
        resolve_entrypoint_path("/home/ann/etl.py", "win32", r"C:\w", exists=lambda p: False)


def test_posix_absolute_entrypoint_that_exists_on_windows_is_kept() -> None:
    result = resolve_entrypoint_path("/work/etl.py", "win32", r"C:\w", exists=lambda p: True)
    assert result == r"C:\work\etl.py"

