"""transom.platform.wine decides "Windows under Wine" from ntdll alone; fakes stand in for ntdll
off Windows. Runs on every OS."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from tests.wine.plugin import CAPABILITIES, missing_capability

from transom.platform.wine import (
    WINE_BUILTIN_MARKER,
    is_wine_builtin,
    running_under_wine,
    wine_version,
)


class WineNtdll:
    """ntdll as Wine ships it: it exports wine_get_version."""

    def __init__(self, version: bytes | None = b"8.0") -> None:
        def wine_get_version() -> bytes | None:
            return version

        self.wine_get_version: Any = wine_get_version


class MicrosoftNtdll:
    """ntdll of a real Windows: no wine_get_version."""


def test_not_windows_is_never_wine_and_ntdll_is_not_touched() -> None:
    def no_ntdll() -> Any:
        raise AssertionError("ntdll must not be loaded off Windows")

    assert wine_version("linux", no_ntdll) is None
    assert not running_under_wine("darwin", no_ntdll)


def test_wine_ntdll_gives_its_version() -> None:
    assert wine_version("win32", WineNtdll) == "8.0"
    assert running_under_wine("win32", WineNtdll)
    assert running_under_wine("win32", lambda: WineNtdll(None))  # an odd build: still Wine


def test_microsoft_ntdll_is_real_windows() -> None:
    assert wine_version("win32", MicrosoftNtdll) is None
    assert not running_under_wine("win32", MicrosoftNtdll)


def test_an_unloadable_ntdll_is_not_wine() -> None:
    def broken() -> Any:
        raise OSError("no ntdll here")

    assert not running_under_wine("win32", broken)


def test_this_process_agrees_with_its_platform() -> None:
    if sys.platform != "win32":
        assert not running_under_wine()
    else:  # real Windows in the GitHub job, Wine in the lane: both answers are possible
        assert isinstance(running_under_wine(), bool)


def _pe(tmp_path: Path, name: str, stub: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(b"MZ" + b"\0" * 0x3E + stub + b"\0" * 64)
    return path


def test_wine_builtin_programs_are_recognised(tmp_path: Path) -> None:
    assert is_wine_builtin(_pe(tmp_path, "powershell.exe", WINE_BUILTIN_MARKER))
    assert not is_wine_builtin(_pe(tmp_path, "pwsh.exe", b"This program cannot be run in DOS"))
    (tmp_path / "not-pe.exe").write_bytes(b"#!/bin/sh\n" + WINE_BUILTIN_MARKER)
    assert not is_wine_builtin(tmp_path / "not-pe.exe")
    assert not is_wine_builtin(tmp_path / "missing.exe")
    assert not is_wine_builtin(tmp_path)  # a folder cannot be opened as a program


def test_wine_lacks_names_are_checked() -> None:
    assert sorted(CAPABILITIES) == ["ctrl_break", "powershell", "process_names", "socket_owners"]
    with pytest.raises(ValueError, match="unknown wine_lacks capability 'pwsh'"):
        missing_capability("pwsh")


def test_off_wine_no_capability_is_reported_missing() -> None:
    if running_under_wine():
        pytest.skip("under Wine the capabilities are really probed (tests/wine/test_windows_lane.py)")
    for name in CAPABILITIES:
        assert missing_capability(name) is None
