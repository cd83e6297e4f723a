"""Which OS this is, asked in one place, and the hints that depend on it."""

from __future__ import annotations

import sys

from transom.platform.shells import environ_get
from transom.platform.system import admin_hint, current_platform


def test_the_current_platform_is_a_sys_platform_value() -> None:
    assert current_platform() == sys.platform


def test_admin_hint_names_an_elevated_terminal_on_windows_and_sudo_elsewhere() -> None:
    command = "/usr/bin/python3 -m transom server firewall --apply"
    assert admin_hint("win32", command) == "from an Administrator terminal"
    assert admin_hint("win32", command, refused=True) == (
        "from a terminal opened with 'Run as administrator'")
    assert admin_hint("linux", command) == f"as root (sudo {command})"
    assert admin_hint("darwin", command, refused=True) == f"with sudo: sudo {command}"


def test_environment_names_are_case_insensitive_on_windows_only() -> None:
    env = {"Path": r"C:\Windows;C:\tools"}
    assert environ_get(env, "PATH", "win32") == r"C:\Windows;C:\tools"
    assert environ_get(env, "PATH", "linux") is None
    assert environ_get({"PATH": "/bin", "Path": "x"}, "PATH", "win32") == "/bin"
