"""The Windows lane's dependency list, derived from pyproject.toml so it never drifts from it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the project depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef,unused-ignore]

try:
    from packaging.requirements import Requirement
except ModuleNotFoundError:  # a bare interpreter: pip always carries a copy
    from pip._vendor.packaging.requirements import (  # type: ignore[assignment,no-redef,unused-ignore]
        Requirement,
    )

__all__ = ["requirements_hash", "windows_requirements"]

TEST_EXTRA = "test"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def windows_requirements(pyproject: Path, environment: Mapping[str, str],
                         extra: Iterable[str] = ()) -> list[str]:
    """[project] dependencies + the `test` extra + `extra`, as requirement strings for Windows.

    Environment markers are evaluated against `environment` (the Windows interpreter's values),
    because `pip download --platform` would evaluate them for this Linux machine; the strings
    returned carry no markers. A dependency on the project itself with extras is expanded.
    """
    data: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data["project"]
    own_name = _canonical(project["name"])
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    pending = [*project.get("dependencies", []), *optional.get(TEST_EXTRA, []), *extra]
    seen_extras = {TEST_EXTRA}
    chosen: dict[str, Requirement] = {}
    while pending:
        requirement = Requirement(pending.pop(0))
        if requirement.marker is not None and not requirement.marker.evaluate(
                {**environment, "extra": ""}):
            continue
        if _canonical(requirement.name) == own_name:
            for name in sorted(set(requirement.extras) - seen_extras):
                seen_extras.add(name)
                pending.extend(optional.get(name, []))
            continue
        requirement.marker = None
        key = _canonical(requirement.name)
        if key in chosen:  # listed twice (e.g. pyproject and EXTRA_REQUIREMENTS): merge
            chosen[key].specifier &= requirement.specifier
            chosen[key].extras |= requirement.extras
        else:
            chosen[key] = requirement
    return sorted((str(r) for r in chosen.values()), key=str.lower)


def requirements_hash(requirements: Iterable[str], *context: str) -> str:
    """A short hash of the requirement list and its context (Python version, platform)."""
    text = "\n".join([*context, *sorted(requirements)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
