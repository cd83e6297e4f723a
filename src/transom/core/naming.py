"""Run names: generated ones (like `brave-otter`) and those a flow or task asks for.

A flow's `flow_run_name` (a task's `task_run_name`) is either a `str.format` template over the
call's parameters (`"train on {dataset.name}"`, `"{config[mode]}"`) or a function called with no
arguments. `render_run_name` says in one sentence (ValueError) why a name cannot be made, so the
engine can name the run anyway and warn; a run is never lost over its name.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "RunNameSpec",
    "check_run_name_spec",
    "generate_run_name",
    "render_run_name",
    "render_storage_key",
]

RunNameSpec = str | Callable[[], str]

_ADJECTIVES = (
    "amber", "ancient", "bold", "brave", "bright", "calm", "clever", "cosmic", "crimson", "daring",
    "eager", "fancy", "fearless", "gentle", "golden", "grand", "happy", "hidden", "humble",
    "jolly", "keen", "lively", "lucky", "mellow", "merry", "mighty", "misty", "nimble", "noble",
    "patient", "polite", "proud", "quick", "quiet", "rapid", "royal", "rustic", "shiny", "silent",
    "silver", "smooth", "snowy", "solid", "spry", "steady", "swift", "tidy", "vivid", "wise", "witty",
)
_NOUNS = (
    "badger", "beaver", "bison", "cheetah", "condor", "coyote", "crane", "dolphin", "eagle",
    "falcon", "ferret", "finch", "fox", "gazelle", "gecko", "heron", "ibis", "jackal", "jaguar",
    "koala", "lemur", "leopard", "lynx", "marmot", "marten", "moose", "newt", "ocelot", "orca",
    "osprey", "otter", "owl", "panda", "pelican", "puffin", "quail", "raven", "robin", "salmon",
    "seal", "sparrow", "stork", "swan", "tapir", "tiger", "toucan", "turtle", "walrus", "wolf",
    "wren",
)


def generate_run_name(rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}"


def check_run_name_spec(spec: object, option: str) -> None:
    """Refuse, when the flow or task is defined, a run name that is neither template nor function."""
    if spec is not None and not isinstance(spec, str) and not callable(spec):
        raise TypeError(f"{option} must be a string template or a function returning a string, "
                        f"got {type(spec).__name__}")


def render_run_name(spec: RunNameSpec, parameters: Mapping[str, Any]) -> str:
    """The name `spec` gives a run with these parameters; ValueError says why there is none."""
    try:
        name = spec.format(**parameters) if isinstance(spec, str) else spec()
    except Exception as exc:
        what = f"the template {spec!r}" if isinstance(spec, str) else _describe(spec)
        raise ValueError(f"{what} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(name, str):
        raise ValueError(f"{_describe(spec)} returned {type(name).__name__}, not a string")
    if not name.strip():
        raise ValueError("the name it gave is empty")
    return name


def _describe(spec: object) -> str:
    return f"the function {getattr(spec, '__qualname__', None) or repr(spec)}"


def render_storage_key(template: str, parameters: Mapping[str, Any],
                       runs: Mapping[str, Any]) -> str:
    """A task's `result_storage_key` filled in: parameters by name (`"report-{day}.pkl"`) or as
    Prefect writes them (`"{parameters[day]}"`), and the run objects in `runs` (`flow_run`,
    `task_run`); a parameter of the same name wins. KeyError/AttributeError if one is missing."""
    fields: dict[str, Any] = {"parameters": dict(parameters), **runs}
    fields.update(parameters)
    key = template.format(**fields)
    if not key.strip():
        raise ValueError("the key it gave is empty")
    return key
