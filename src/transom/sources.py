"""Where a flow's code comes from: a folder, or a git repository cloned into a cache under
TRANSOM_HOME, and the pull steps a worker runs before it loads a deployment's flow.

`Flow.from_source` (deployments.py) and a deployment's `git_clone` pull step (a worker's run
process, worker/execute.py) clone through the same `clone`. Pull steps are stored as Prefect
writes them, `[{"transom.deployments.steps.git_clone": {"repository": ..., "branch": ...}}]`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transom.exceptions import UserInputError

if TYPE_CHECKING:
    from transom.settings import Settings

__all__ = ["PULL_STEPS", "check_pull_steps", "clone", "run_pull_steps", "source_folder"]

PULL_STEPS: dict[str, tuple[set[str], set[str]]] = {
    # step: (required keys, optional keys)
    "git_clone": ({"repository"}, {"branch"}),
    "set_working_directory": ({"directory"}, set()),
}
"""The pull steps Transom runs, by their short name; `prefect.deployments.steps.` and
`transom.deployments.steps.` spellings name the same steps."""

_PREFIXES = ("transom.deployments.steps.", "prefect.deployments.steps.")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_pull_steps(raw: Any, where: str) -> list[dict[str, dict[str, Any]]]:
    """Pull steps as a user wrote them (a list of one-key mappings), checked and named the
    transom way; a mistake raises UserInputError saying where (`where[i]`) and what."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UserInputError(f"{where}: must be a list of steps, like "
                             "- prefect.deployments.steps.git_clone: {repository: URL}")
    steps: list[dict[str, dict[str, Any]]] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping) or len(item) != 1:
            raise UserInputError(f"{at}: a step is one name with its options, like "
                                 "prefect.deployments.steps.git_clone: {repository: URL}")
        ((name, options),) = item.items()
        short = str(name)
        for prefix in _PREFIXES:
            short = short.removeprefix(prefix)
        if short not in PULL_STEPS:
            known = [f"{p}{s}" for p in _PREFIXES[1:] for s in PULL_STEPS]
            raise UserInputError(f"{at}: unknown step {name!r}{_suggest(str(name), known)}; "
                                 "Transom runs git_clone and set_working_directory")
        required, optional = PULL_STEPS[short]
        options = options if options is not None else {}
        if not isinstance(options, Mapping):
            raise UserInputError(f"{at}: the options of {short} must be a mapping")
        for key in options:
            if key not in required | optional:
                raise UserInputError(f"{at}: {short} has no option {key!r}"
                                     f"{_suggest(str(key), sorted(required | optional))}")
        for key in sorted(required - set(options)):
            raise UserInputError(f"{at}: {short} needs {key!r}")
        for key, value in options.items():
            if not isinstance(value, str) or not value.strip():
                raise UserInputError(f"{at}: {short} option {key!r} must be text")
        steps.append({f"{_PREFIXES[0]}{short}": {str(k): str(v) for k, v in options.items()}})
    return steps


def run_pull_steps(steps: Sequence[Mapping[str, Mapping[str, str]]], *,
                   settings: Settings | None = None) -> Path:
    """Run a deployment's pull steps in order, as Prefect's worker does: `git_clone` clones (or
    updates) the repository in the cache and moves into it; `set_working_directory` moves into
    its directory (relative to where the previous step left off). Returns the folder reached."""
    for step in steps:
        ((name, options),) = step.items()
        short = name.rsplit(".", 1)[-1]
        if short == "git_clone":
            os.chdir(clone(options["repository"], settings, branch=options.get("branch")))
        elif short == "set_working_directory":
            directory = Path(options["directory"]).expanduser()
            if not directory.is_dir():
                raise UserInputError(f"pull step set_working_directory: folder {directory} "
                                     f"does not exist (in {os.getcwd()})")
            os.chdir(directory)
        else:
            raise UserInputError(f"unknown pull step {name!r}")
    return Path.cwd()


def source_folder(source: str, settings: Settings | None) -> Path:
    """The folder `source` names, or the clone of the repository it names."""
    local = Path(source).expanduser()
    if local.is_dir() and not _is_bare_repository(local):
        return local.resolve()
    if local.is_dir() or "://" in source or _SCP_LIKE.match(source) or source.endswith(".git"):
        return clone(source, settings)
    raise UserInputError(f"source {source!r} is neither a folder nor a git repository; pass a "
                         "folder, or a URL git can clone (https://..., git@host:repo.git)")


def _is_bare_repository(folder: Path) -> bool:
    return (folder / "HEAD").is_file() and (folder / "objects").is_dir() \
        and not (folder / ".git").exists()


def clone(url: str, settings: Settings | None, *, branch: str | None = None) -> Path:
    """A shallow clone of `url` (its `branch`, default its HEAD) in TRANSOM_HOME/sources: made
    once, brought up to date after."""
    from transom.settings import Settings as _Settings

    home = (settings or _Settings.load()).home
    stem = url.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    stem = re.sub(r"[^\w.-]", "-", stem.removesuffix(".git")) or "repository"
    key = url if branch is None else f"{url}#{branch}"
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    cache = home / "sources"
    target = cache / f"{stem}-{digest}"
    if (target / ".git").is_dir():
        _git(["fetch", "--quiet", "--depth", "1", "origin", branch or "HEAD"], target, url)
        _git(["reset", "--quiet", "--hard", "FETCH_HEAD"], target, url)
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Cloned beside the target and moved in whole: another process cloning the same repository
    # at the same time finds either nothing or a complete clone.
    scratch = Path(tempfile.mkdtemp(prefix=f".{stem}-", dir=cache))
    try:
        which = ["--branch", branch] if branch else []
        _git(["clone", "--quiet", "--depth", "1", *which, url, str(scratch / "clone")], cache,
             url)
        try:
            os.replace(scratch / "clone", target)
        except OSError:
            if not (target / ".git").is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _git(args: list[str], cwd: Path, url: str) -> None:
    git = shutil.which("git")
    if git is None:
        raise UserInputError(f"git is needed to load flows from {url}, and it is not installed "
                             "(or not on PATH); install git, or pass a folder")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # fail, never wait for a password
    try:
        done = subprocess.run([git, *args], cwd=cwd, env=env, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=600)
    except subprocess.TimeoutExpired:
        raise UserInputError(f"git {args[0]} of {url} took more than 10 minutes; check the "
                             "URL and the network") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise UserInputError(f"git {args[0]} of {url} failed: {reason}")
