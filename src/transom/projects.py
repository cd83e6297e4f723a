"""A project file of deployments: `transom.yaml` (or Prefect's `prefect.yaml`) in Prefect 3's
layout, read for `transom deploy --all` / `--name N`.

```yaml
pull:                                   # what a worker does before it loads the flow
  - prefect.deployments.steps.git_clone: {repository: https://host/repo.git, branch: main}
  - prefect.deployments.steps.set_working_directory: {directory: flows}
deployments:
  - name: nightly
    entrypoint: flows/etl.py:etl
    parameters: {day: today}
    work_pool: {name: main, work_queue_name: default}
    schedules: [{cron: "0 2 * * *", timezone: Europe/Paris, active: true}]
```

Every key is checked: an unknown one is reported with where it is and the key meant, never
ignored. The flows are loaded (from the project's folder) to check their parameters.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from transom.exceptions import TransomError, UserInputError
from transom.schemas import DeploymentCreate, ScheduleIn

__all__ = ["PROJECT_FILES", "ProjectDeployment", "find_project_file", "read_project"]

PROJECT_FILES = ("transom.yaml", "prefect.yaml")
"""The project files looked for, in this order, in the current folder."""

# `name` and `prefect-version` are what `prefect init` writes about the project; `definitions`
# holds YAML anchors the deployments refer to. None of them changes a deployment.
_TOP = {"deployments", "pull", "name", "prefect-version", "definitions", "build", "push"}
_DEPLOYMENT = {"name", "entrypoint", "parameters", "work_pool", "schedules", "tags",
               "concurrency_limit", "description", "version", "pull", "paused", "build", "push"}
_WORK_POOL = {"name", "work_queue_name", "job_variables"}
_SCHEDULE = {"cron", "interval", "rrule", "timezone", "anchor_date", "active"}


@dataclass(frozen=True)
class ProjectDeployment:
    """One deployment of the project file, checked, ready to register."""

    body: DeploymentCreate
    where: str  # `transom.yaml: deployments[0]`, for messages

    @property
    def full_name(self) -> str:
        return f"{self.body.flow_name}/{self.body.name}"


def find_project_file(folder: Path) -> Path:
    """`transom.yaml` in `folder`, else `prefect.yaml`; neither is one clear sentence."""
    for name in PROJECT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise UserInputError(f"no transom.yaml or prefect.yaml in {folder}; write one with a "
                         "`deployments:` list, or deploy one flow with `transom deploy "
                         "path/file.py:flow_fn --name N --pool P`")


def _keys(mapping: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserInputError(f"{where}: unknown key {key!r}{hint}")


def _mapping(value: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UserInputError(f"{where}: must be {what}, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise UserInputError(f"{where}: must be text, not {_kind(value)}")
    return str(value).strip()


def _not_supported(raw: Mapping[str, Any], key: str, where: str) -> None:
    if raw.get(key):  # `build: null` (what `prefect init` writes) is fine
        raise UserInputError(f"{where}: {key!r} steps are not supported by Transom (only pull "
                             "steps are); build and push the code yourself, then remove them")


def _schedules(raw: Any, where: str) -> list[ScheduleIn]:
    from transom.deployments import schedules_from

    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UserInputError(f"{where}: must be a list of schedules, like "
                             "- cron: '0 9 * * *'")
    found: list[ScheduleIn] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        entry = _mapping(item, at, "a mapping with one of cron, interval or rrule")
        _keys(entry, _SCHEDULE, at)
        kinds = [k for k in ("cron", "interval", "rrule") if entry.get(k) is not None]
        if len(kinds) != 1:
            raise UserInputError(f"{at}: a schedule needs exactly one of cron, interval or rrule")
        active = entry.get("active", True)
        if not isinstance(active, bool):
            raise UserInputError(f"{at}: active must be true or false")
        anchor = entry.get("anchor_date")
        try:
            (schedule,) = schedules_from(
                cron=entry.get("cron"), interval=entry.get("interval"), rrule=entry.get("rrule"),
                anchor_date=anchor if anchor is None or isinstance(anchor, datetime)
                else str(anchor),
                timezone=entry.get("timezone"))
        except (TransomError, ValueError) as exc:
            raise UserInputError(f"{at}: {_sentence(exc)}") from None
        found.append(schedule.model_copy(update={"active": active}))
    return found


def _sentence(exc: BaseException) -> str:
    text = str(exc)
    if hasattr(exc, "errors"):  # a pydantic ValidationError: its first reason
        error = exc.errors()[0]
        text = str(error.get("msg", text))
    return text.removeprefix("Value error, ")


def read_project(file: Path, *, names: Sequence[str] = ()) -> list[ProjectDeployment]:
    """The deployments of `file` (all, or those `names` name: `name` or `flow/name`), each
    checked: keys, schedules, pull steps, and its flow's parameters."""
    import yaml

    from transom.deployments import deployment_for
    from transom.entrypoints import load_flow
    from transom.sources import check_pull_steps

    label = file.name
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "it is not valid YAML"
        raise UserInputError(f"{label} is not valid YAML{line}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read {file}: {exc}") from None
    top = _mapping(raw, label, "a mapping with a `deployments:` list")
    _keys(top, _TOP, label)
    for key in ("build", "push"):
        _not_supported(top, key, label)
    pull = check_pull_steps(top.get("pull"), f"{label}: pull")
    entries = top.get("deployments")
    if not isinstance(entries, list) or not entries:
        raise UserInputError(f"{label}: `deployments:` must be a list of deployments (each with "
                             "a name, an entrypoint and a work_pool)")
    folder = file.parent.resolve()
    found: list[ProjectDeployment] = []
    listed: list[str] = []
    for i, item in enumerate(entries):
        at = f"{label}: deployments[{i}]"
        entry = _mapping(item, at, "a mapping (name, entrypoint, work_pool, ...)")
        _keys(entry, _DEPLOYMENT, at)
        for key in ("build", "push"):
            _not_supported(entry, key, at)
        for key in ("name", "entrypoint"):
            if entry.get(key) is None:
                raise UserInputError(f"{at}: needs {key!r}")
        name = _text(entry["name"], f"{at}: name")
        listed.append(name)
        at = f"{label}: deployments[{i}] ({name})"
        # A name may also be flow/name: the flow's name is known once it is loaded (below).
        if names and not any(n.rsplit("/", 1)[-1] == name for n in names):
            continue
        entrypoint = _text(entry["entrypoint"], f"{at}: entrypoint")
        pool = _mapping(entry.get("work_pool"), f"{at}: work_pool",
                        "a mapping like {name: POOL}") if entry.get("work_pool") is not None \
            else None
        if pool is not None:
            _keys(pool, _WORK_POOL, f"{at}: work_pool")
            if pool.get("job_variables"):
                raise UserInputError(f"{at}: work_pool: job_variables are not supported by "
                                     "Transom (its workers run flows as processes); remove them")
        if pool is None or pool.get("name") is None:
            raise UserInputError(f"{at}: needs work_pool: {{name: POOL}}, the work pool whose "
                                 "workers run it (`transom work-pool create NAME` makes one)")
        parameters = entry.get("parameters") or {}
        _mapping(parameters, f"{at}: parameters", "a mapping of names to values")
        tags = entry.get("tags") or []
        if not isinstance(tags, list):
            raise UserInputError(f"{at}: tags must be a list")
        limit = entry.get("concurrency_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise UserInputError(f"{at}: concurrency_limit must be a whole number, 0 or more")
        paused = entry.get("paused", False)
        if not isinstance(paused, bool):
            raise UserInputError(f"{at}: paused must be true or false")
        steps = check_pull_steps(entry["pull"], f"{at}: pull") if "pull" in entry else pull
        schedules = _schedules(entry.get("schedules"), f"{at}: schedules")
        try:
            flow = load_flow(entrypoint, cwd=folder)
            body = deployment_for(
                flow, name=name, entrypoint=entrypoint,
                # With pull steps the worker finds the code where they leave it, not here.
                path=None if steps else str(folder),
                work_pool=_text(pool["name"], f"{at}: work_pool: name"),
                work_queue=None if pool.get("work_queue_name") is None else
                _text(pool["work_queue_name"], f"{at}: work_pool: work_queue_name"),
                schedules=schedules, parameters=parameters, tags=[str(t) for t in tags],
                paused=paused, concurrency_limit=limit,
                description=None if entry.get("description") is None else
                str(entry["description"]))
        except TransomError as exc:
            raise UserInputError(f"{at}: {exc}") from None
        version = entry.get("version")
        body = body.model_copy(update={
            "pull_steps": steps, "version": None if version is None else str(version)})
        found.append(ProjectDeployment(body, at))
    if not names:
        return found
    for wanted in names:
        if not any(wanted in (d.body.name, d.full_name) for d in found):
            raise UserInputError(f"{label} has no deployment named {wanted!r} (it has: "
                                 f"{', '.join(listed)})")
    return [d for d in found if any(n in (d.body.name, d.full_name) for n in names)]
