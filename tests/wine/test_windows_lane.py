"""The Windows lane itself: a real Windows CPython under Wine, laid out as scripts/windows-lane
promises (see its README section). Runs only there; everywhere else these tests are skipped."""

from __future__ import annotations

import multiprocessing
import ntpath
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest
from tests.wine.plugin import CAPABILITIES, missing_capability

from transom.platform.paths import default_home
from transom.platform.wine import is_wine_builtin, running_under_wine, wine_version
from transom.settings import Settings

pytestmark = pytest.mark.skipif(os.environ.get("TRANSOM_WINDOWS_LANE") != "1",
                                reason="runs only in the Windows lane (scripts/windows-lane)")

CHECKOUT = Path(__file__).resolve().parents[2]


def _pid() -> int:
    return os.getpid()


def test_it_is_windows_cpython_under_wine() -> None:
    assert sys.platform == "win32" and os.name == "nt"
    assert sys.version_info >= (3, 11)
    assert running_under_wine()
    assert re.match(r"^\d+\.\d+", wine_version() or ""), wine_version()


def test_transom_is_the_installed_wheel_not_the_checkout() -> None:
    import transom

    installed = Path(transom.__file__).resolve()
    assert Path(sysconfig.get_paths()["purelib"]).resolve() in installed.parents
    assert CHECKOUT / "src" not in installed.parents
    assert (Path(sys.executable).parent / "Scripts" / "transom.exe").is_file()


def test_the_interpreter_lives_under_program_files() -> None:
    # A space in sys.executable, as in a per-machine install, catches unquoted command lines.
    assert " " in sys.executable and sys.executable.lower().startswith(r"c:\program files")
    done = subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True)
    assert done.stdout.strip() == "ok"


def test_the_checkout_is_on_a_drive_and_linux_is_not_visible() -> None:
    assert re.match(r"^[A-Z]:\\", str(CHECKOUT)), CHECKOUT
    assert os.getcwd().lower() == str(CHECKOUT).lower()
    # Wine's Z: (the whole Linux file system) is unmapped: no /proc, no Linux programs.
    assert not Path("/proc/self").exists() and not Path("Z:/").exists()


def test_user_profile_and_temp_are_windows_folders_in_the_prefix() -> None:
    profile = os.environ["USERPROFILE"]
    assert re.match(r"^C:\\users\\[^\\]+$", profile, re.IGNORECASE), profile
    for name in ("TEMP", "TMP"):
        assert os.environ[name].lower().startswith(profile.lower() + "\\"), os.environ[name]
    assert tempfile.gettempdir().lower() == os.environ["TEMP"].lower()
    assert "HOME" not in os.environ  # as on a plain Windows: nothing may rely on it


def test_default_home_is_under_userprofile() -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    expected = ntpath.join(os.environ["USERPROFILE"], ".transom")
    assert default_home(sys.platform, environ) == expected
    settings = Settings.load(environ=environ)
    assert str(settings.home) == expected
    assert settings.database_url_resolved == "sqlite:///" + ntpath.join(expected, "transom.db")


def test_cmd_is_wines_own_and_powershell_is_detected_as_a_stub() -> None:
    assert os.environ["COMSPEC"].lower().endswith("cmd.exe")
    assert is_wine_builtin(os.environ["COMSPEC"]) and not is_wine_builtin(sys.executable)
    done = subprocess.run(["cmd.exe", "/c", "echo", "lane"], capture_output=True, text=True)
    assert done.stdout.strip() == "lane"
    missing = missing_capability("powershell")
    if missing and "stub" in missing:
        # The probe's claim holds: Wine's powershell.exe runs nothing and says nothing.
        done = subprocess.run(["powershell.exe", "-NoProfile", "-Command", "Write-Output 7"],
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, "")


def test_every_wine_gap_is_probed_with_a_reason() -> None:
    for name in CAPABILITIES:
        missing = missing_capability(name)
        assert missing is None or missing.strip(), name


def test_multiprocessing_spawns_children() -> None:
    assert multiprocessing.get_start_method() == "spawn"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_pid) != os.getpid()


def test_console_script_runs_a_flow_into_the_default_home(tmp_path: Path) -> None:
    """transom.exe (pip's launcher) runs a flow with retries; the run lands in USERPROFILE."""
    profile = tmp_path / "Zoë Müller"
    flows = tmp_path / "my flows" / "etl.py"
    flows.parent.mkdir()
    flows.write_text(textwrap.dedent("""
        from pathlib import Path
        from transom import flow, task

        @task(retries=2)
        def flaky(marker: str) -> int:
            path = Path(marker)
            if not path.exists():
                path.write_text("1")
                raise RuntimeError("first attempt")
            return 7

        @flow
        def etl(marker: str) -> int:
            return flaky.submit(marker).result() * 6
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env["USERPROFILE"] = str(profile)
    transom = Path(sys.executable).parent / "Scripts" / "transom.exe"
    done = subprocess.run([str(transom), "run", f"{flows}:etl", "--param",
                           f"marker={tmp_path / 'marker'}"], capture_output=True, env=env,
                          cwd=tmp_path, timeout=120)
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, output
    assert (profile / ".transom" / "transom.db").is_file(), output
    listed = subprocess.run([str(transom), "runs", "ls"], capture_output=True, env=env,
                            cwd=tmp_path, timeout=120)
    assert listed.returncode == 0 and b"etl" in listed.stdout, listed


def test_the_processprng_shim_gives_random_bytes() -> None:
    """Rust-built wheels (pydantic-core) need bcryptprimitives.ProcessPrng, which Wine 8 lacks."""
    import ctypes

    prng = ctypes.WinDLL("bcryptprimitives").ProcessPrng  # type: ignore[attr-defined,unused-ignore]
    first, second = (ctypes.c_ubyte * 32)(), (ctypes.c_ubyte * 32)()
    assert prng(first, 32) and prng(second, 32)
    assert bytes(first) != bytes(second) and any(first)
