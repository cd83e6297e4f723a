"""Wine for the lane: installed from Debian, a private prefix, and Windows commands run in it.

Every trap of WINE-LANE.md is handled here once: wineserver and wineboot start with their stdio
on /dev/null (Wine's background processes keep the stdio they were started with, so a pipe they
inherit never closes); Windows programs write to pipes, never to files (CPython dies at start when
its stdout is a regular file); the crash debugger is off and the prefix says Windows 10.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .config import LAYOUT_VERSION
from .prng_shim import DLL_NAME, build_prng_shim

__all__ = ["LaneError", "Wine", "ensure_wine_installed"]

_DLL_OVERRIDES = "mscoree=;mshtml="  # no Mono / Gecko installer prompts in a new prefix
_KEEP_FROM_HOST = ("PATH", "TZ")  # the rest of the Linux environment stays out of Windows


class LaneError(Exception):
    """A setup step of the lane failed; the message says which and what to do."""


def ensure_wine_installed(log: Callable[[str], None] = print) -> float:
    """Install Debian's wine + wine64 when `wine` is missing; the seconds it took (0 if present)."""
    if shutil.which("wine") and shutil.which("wineserver"):
        return 0.0
    if os.geteuid() != 0:
        raise LaneError("Wine is not installed and this is not root; install it with: "
                        "sudo apt-get install -y --no-install-recommends wine wine64")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wine", "wine64"]):
        log("windows-lane: $ " + " ".join(command))
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0:
            raise LaneError(f"{' '.join(command)} failed ({done.returncode}): "
                            f"{(done.stderr or done.stdout).strip()[-2000:]}")
    if not shutil.which("wine"):
        raise LaneError("apt-get installed wine but there is no `wine` command on PATH")
    return time.monotonic() - started


class Wine:
    """A private Wine prefix inside the lane's cache, and the way to run Windows programs in it.

    Drives: C: is the prefix; D: is the folder holding the checkout (so the checkout is
    D:\\<name>); W: is the lane's cache (wheels, reports). Wine's usual Z: (the whole Linux file
    system) is removed, so Windows code cannot find Linux programs or /proc by accident.
    """

    def __init__(self, cache: Path, checkout: Path) -> None:
        self.cache = cache
        self.prefix = cache / "prefix"
        self.checkout = checkout
        self.unix_home = cache / "unix-home"
        self._marker = self.prefix / ".transom-windows-lane.json"

    # -- paths ---------------------------------------------------------------------------------
    @property
    def drive_c(self) -> Path:
        return self.prefix / "drive_c"

    def windows_path(self, path: Path) -> str:
        """The Windows path of a file in the cache, the checkout or the prefix's C: drive."""
        path = path.resolve()
        for drive, root in (("C:", self.drive_c), ("W:", self.cache),
                            ("D:", self._checkout_drive_root())):
            if path == root or root in path.parents:
                rest = path.relative_to(root).as_posix().replace("/", "\\")
                return f"{drive}\\{rest}"
        raise LaneError(f"{path} is on no drive of the Wine prefix")

    def unix_path(self, windows: str) -> Path:
        """The Linux path of `C:\\...` inside the prefix."""
        if not windows[:2].upper() == "C:":
            raise LaneError(f"{windows} is not on drive C:")
        return self.drive_c.joinpath(*[p for p in windows[3:].split("\\") if p])

    def _checkout_drive_root(self) -> Path:
        parent = self.checkout.parent
        return self.checkout if parent == Path(parent.anchor) else parent

    # -- environment ---------------------------------------------------------------------------
    def environ(self, extra: Mapping[str, str] | None = None, home: bool = False) -> dict[str, str]:
        """A clean environment for Wine: Wine's settings, UTF-8 file names, nothing else of Linux.

        Wine copies the Linux environment into every Windows process; HOME, PYTHON* or TRANSOM_*
        variables of this machine would leak into the tests, so only PATH and TZ pass. HOME is
        given only to wineboot, pointing at an empty folder, so the prefix's Desktop/Documents
        links never reach the real home.
        """
        env = {key: os.environ[key] for key in _KEEP_FROM_HOST if key in os.environ}
        env.update({
            "WINEPREFIX": str(self.prefix),
            "WINEARCH": "win64",
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": _DLL_OVERRIDES,
            # Wine turns Windows file names into Linux bytes with the locale's charset: UTF-8 so
            # non-ASCII paths work. Windows code pages stay 1252/437, as on a US Windows.
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        })
        if home:
            env["HOME"] = str(self.unix_home)
        env.update(extra or {})
        return env

    # -- processes -----------------------------------------------------------------------------
    def _background(self, command: Sequence[str], home: bool = False,
                    timeout: float = 180) -> None:
        """Run a Wine helper with its stdio on /dev/null (see the module docstring)."""
        subprocess.run(command, env=self.environ(home=home), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout,
                       check=False)

    def start_server(self) -> None:
        """Start this prefix's wineserver and Wine's own services, persistent until stop_server().

        Both are started here with their stdio on /dev/null: whatever Windows program started
        first would otherwise pass its pipes to services.exe & co, and they never close them.
        """
        self.prefix.mkdir(parents=True, exist_ok=True)
        self._background(["wineserver", "-p"])
        self._background(["wine", "wineboot"])

    def stop_server(self) -> None:
        """Kill every Windows process of the prefix and its wineserver (flushing the registry)."""
        if self.prefix.exists():
            self._background(["wineserver", "-k"], timeout=60)
            self._background(["wineserver", "-w"], timeout=60)

    def run(self, program: str, *args: str, env: Mapping[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 600, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        """Run a Windows program, its output piped (never a file) and returned decoded."""
        done = subprocess.run(["wine", program, *args], env=self.environ(env), cwd=cwd or self.cache,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
        result = subprocess.CompletedProcess(done.args, done.returncode,
                                             done.stdout.decode("cp1252", "replace"), "")
        if check and done.returncode != 0:
            raise LaneError(f"`{program} {' '.join(args)}` failed under Wine "
                            f"({done.returncode}):\n{result.stdout.strip()[-4000:]}")
        return result

    def popen(self, program: str, *args: str, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a Windows program whose combined output is read from a pipe as it comes."""
        return subprocess.Popen(["wine", program, *args], env=self.environ(env),
                                cwd=cwd or self.cache, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)

    # -- the prefix ----------------------------------------------------------------------------
    def version(self) -> str:
        done = subprocess.run(["wine", "--version"], capture_output=True, text=True, check=False,
                              env=self.environ())
        return done.stdout.strip()

    def ready(self) -> bool:
        try:
            recorded = json.loads(self._marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return bool(recorded == {"wine": self.version(), "layout": LAYOUT_VERSION})

    def create_prefix(self) -> None:
        """A new prefix: wineboot, no crash debugger, Windows 10, sandboxed user folders."""
        self.stop_server()
        shutil.rmtree(self.prefix, ignore_errors=True)
        shutil.rmtree(self.unix_home, ignore_errors=True)
        self.unix_home.mkdir(parents=True)
        self.start_server()
        self._background(["wine", "wineboot", "-i"], home=True)
        if not (self.drive_c / "windows" / "system32").is_dir():
            raise LaneError(f"wineboot did not create a prefix in {self.prefix}")
        for key, name, value in (
                # A crashing program would open Wine's debugger and hang its parent.
                (r"HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug", "Debugger", ""),
                # A new prefix says Windows 7.
                (r"HKCU\Software\Wine", "Version", "win10")):
            self.run("reg", "add", key, "/v", name, "/d", value, "/f")
        self._sandbox_user_folders()
        self._install_prng_shim()
        self.stop_server()  # writes the registry to disk before the prefix is called ready
        self._marker.write_text(json.dumps({"wine": self.version(), "layout": LAYOUT_VERSION}),
                                encoding="utf-8")

    def _sandbox_user_folders(self) -> None:
        """wineboot links Desktop, Documents... to the Linux home: make them plain folders."""
        users = self.drive_c / "users"
        for link in users.glob("*/*"):
            if link.is_symlink():
                link.unlink()
                link.mkdir()

    def _install_prng_shim(self) -> None:
        """bcryptprimitives.dll for Rust-built wheels, unless this Wine has its own (9.0+)."""
        target = self.drive_c / "windows" / "system32" / DLL_NAME
        if not target.exists():
            target.write_bytes(build_prng_shim())

    def map_drives(self) -> None:
        """C: the prefix, D: the checkout's folder, W: the cache, \\\\localhost\\C$ the C: drive as a
        UNC share; no Z: (see the class doc)."""
        devices = self.prefix / "dosdevices"
        for name, target in (("d:", self._checkout_drive_root()), ("w:", self.cache)):
            link = devices / name
            if link.is_symlink() or link.exists():
                if link.is_symlink() and Path(os.readlink(link)) == target:
                    continue
                link.unlink()
            link.symlink_to(target)
        # \\localhost\C$ (an administrative share on a real Windows): UNC paths are real here too.
        share = devices / "unc" / "localhost" / "c$"
        if not share.is_symlink():
            share.parent.mkdir(parents=True, exist_ok=True)
            share.symlink_to(self.drive_c)
        z_drive = devices / "z:"
        if z_drive.is_symlink() or z_drive.exists():
            z_drive.unlink()
