"""Variables, artifacts and pauses on the wire: what a client sends and what it reads back."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from transom.fields import Flag, Seconds
from transom.schemas._base import _Model

__all__ = [
    "MAX_ARTIFACT",
    "MAX_RUN_INPUT",
    "MAX_VARIABLE_NAME",
    "MAX_VARIABLE_VALUE",
    "ArtifactCreate",
    "ArtifactData",
    "ArtifactKey",
    "ArtifactRead",
    "ArtifactType",
    "ArtifactUpdate",
    "PauseCreate",
    "PauseKey",
    "PauseRead",
    "ResumeIn",
    "VariableCreate",
    "VariableName",
    "VariableRead",
    "check_json_schema",
]


# -- variables -----------------------------------------------------------------------------------
MAX_VARIABLE_NAME = 255
MAX_VARIABLE_VALUE = 5000
"""Prefect's caps: names of at most 255 characters, values of 5,000 characters as JSON."""
def _matching(pattern: str, what: str, allowed: str) -> AfterValidator:
    """A name made of `allowed` only (None passes: no name), else a sentence naming `what`."""
    compiled = re.compile(pattern)

    def check(value: str | None) -> str | None:
        if value is not None and not compiled.fullmatch(value):
            raise ValueError(f"{value!r} cannot be {what}: use {allowed} only")
        return value

    return AfterValidator(check)


def _json_capped(what: str, cap: int) -> AfterValidator:
    """A JSON value (no NaN) of at most `cap` characters as JSON, else a sentence naming `what`."""

    def check(value: Any) -> Any:
        try:
            size = len(json.dumps(value, allow_nan=False, ensure_ascii=False))
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be JSON: a string, number, boolean, None, or a list "
                             f"or dict of them (got {type(value).__name__})") from None
        if size > cap:
            raise ValueError(f"{what} may be at most {cap} characters as JSON; this one is {size}")
        return value

    return AfterValidator(check)


def check_json_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON Schema values can be checked against later (a deployment's parameters, a pause's
    input), else a ValueError saying where it is wrong."""
    if value is None:
        return None
    import jsonschema

    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ValueError(f"not a valid JSON Schema{f' at {where}' if where else ''}: "
                         f"{exc.message}") from None
    return value


VariableName = Annotated[str, Field(min_length=1, max_length=MAX_VARIABLE_NAME), _matching(
    r"[a-z0-9_-]+", "a variable name", "lowercase letters, digits, dashes and underscores")]


class VariableCreate(BaseModel):
    """A variable to set: a name, a JSON value and tags."""

    model_config = ConfigDict(extra="forbid")

    name: VariableName
    value: Annotated[Any, _json_capped("a variable's value", MAX_VARIABLE_VALUE)] = None
    tags: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field([], max_length=100)


class VariableRead(_Model):
    id: uuid.UUID
    name: str
    value: Any = None
    tags: list[str] = []
    created: datetime
    updated: datetime


# -- artifacts -----------------------------------------------------------------------------------
MAX_ARTIFACT = 1_000_000  # characters of an artifact's data as JSON (a report, a table)
ArtifactType = Literal["markdown", "table", "link", "progress", "image"]
ArtifactKey = Annotated[str | None, Field(min_length=1, max_length=255), _matching(
    r"[a-z0-9-]+", "an artifact key", "lowercase letters, digits and dashes")]
ArtifactData = Annotated[Any, _json_capped("an artifact's data", MAX_ARTIFACT)]


class ArtifactCreate(BaseModel):
    """An artifact a run (or anyone) made; a key seen before makes a new version of it."""

    model_config = ConfigDict(extra="forbid")

    key: ArtifactKey = None
    type: ArtifactType
    data: ArtifactData = None
    description: str | None = Field(default=None, max_length=5000)
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None


class ArtifactUpdate(BaseModel):
    """A progress artifact's new value (and description)."""

    model_config = ConfigDict(extra="forbid")

    data: ArtifactData
    description: str | None = Field(default=None, max_length=5000)


class ArtifactRead(_Model):
    id: uuid.UUID
    key: str | None = None
    version: int | None = None  # 1, 2, ... among the artifacts of its key
    type: ArtifactType
    data: Any = None
    description: str | None = None
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    created: datetime
    updated: datetime


# -- pauses (pause_flow_run / suspend_flow_run) and their run input ------------------------------
MAX_RUN_INPUT = 100_000  # characters of a resume's input, or of the schema it is checked by
PauseKey = Annotated[str, Field(min_length=1, max_length=255), _matching(
    r"[A-Za-z0-9_.-]+", "a pause key", "letters, digits, dots, dashes and underscores")]


class PauseCreate(BaseModel):
    """A running flow run pausing (Paused, its process waits) or suspending (`reschedule`:
    Suspended, its process ends and a worker starts the run again on resume)."""

    model_config = ConfigDict(extra="forbid")

    key: PauseKey
    timeout_seconds: Annotated[Seconds, Field(gt=0, le=10**9)]
    run_input_schema: Annotated[dict[str, Any] | None, _json_capped(
        "a run input's schema", MAX_RUN_INPUT), AfterValidator(check_json_schema)] = Field(
        default=None, description="The JSON Schema the resume's run_input must match; none: "
                                  "the resume carries no input.")
    reschedule: Flag = False


class ResumeIn(BaseModel):
    """What a resume carries: the input the paused run waits for (if it waits for one)."""

    model_config = ConfigDict(extra="forbid")

    run_input: Annotated[Any, _json_capped("a run input", MAX_RUN_INPUT)] = None


class PauseRead(_Model):
    flow_run_id: uuid.UUID
    key: str
    run_input_schema: dict[str, Any] | None = None
    run_input: Any = None
    timeout_seconds: float
    reschedule: bool
    created: datetime
    resumed: datetime | None = None
