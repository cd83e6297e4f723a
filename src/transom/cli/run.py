"""`transom run path/to/file.py:flow_fn --param name=value`: run a flow once, here and now.

The run is recorded like any other (embedded database or server, per settings); the command prints
its final state, id and duration, and exits 0 only when the run Completed.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NoReturn, cast

import typer
from rich.text import Text

from transom.cli.output import console, error_console
from transom.core.states import State
from transom.exceptions import ConfigError, ParameterError
from transom.settings import Settings

__all__ = ["check_database", "check_home_writable", "parse_parameters", "run"]

_MAX_RESULT_CHARS = 200


def run(
    entrypoint: str = typer.Argument(..., help="path/to/file.py:flow_fn or package.module:flow_fn; "
                                     "path/to/file.py alone when the file has one flow"),
    param: list[str] = typer.Option(
        [], "--param", "-p", metavar="NAME=VALUE",
        help="A flow parameter; VALUE is read as JSON when it parses (3, true, [1,2]), else as text. Repeatable."),
    params_json: str | None = typer.Option(
        None, "--params", metavar="JSON", help='All parameters as a JSON object, e.g. \'{"days": 3}\'.'),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a failed run."),
) -> None:
    """Run a flow once and report how it ended; exit code 0 only if it Completed."""
    from transom.entrypoints import find_flow
    from transom.exceptions import RunInterrupted

    parameters = parse_parameters(param, params_json)
    settings = Settings.load(os.environ)
    check_home_writable(settings)
    check_database(settings)
    flow, full = find_flow(entrypoint)
    if full != entrypoint.strip():
        error_console().print(Text(f"Running {full}, the one flow in {entrypoint.strip()}.",
                                   style="dim"))
    validated = flow.validate_parameters(parameters)

    started = datetime.now(timezone.utc)
    try:
        if flow.is_async:
            state = asyncio.run(flow(**validated, return_state=True))
        else:  # a loaded flow is Flow[..., Any], so only is_async says which overload ran
            state = cast(State, flow(**validated, return_state=True))
    except (RunInterrupted, KeyboardInterrupt) as exc:
        # The engine recorded the run's final state before letting the stop through.
        _report_interrupted(settings, flow.name, started, exc)
    # The final state's timestamp, not "now": the engine may still be flushing records after it.
    duration = max((state.timestamp - started).total_seconds(), 0.0)

    out = console()
    out.print(Text.assemble(
        "Flow run ", (str(state.run_id), "bold"), " ended ",
        (state.name, "green" if state.is_completed() else "red"), f" after {_seconds(duration)}.",
    ))
    if state.is_completed():
        if state.data is not None:
            out.print(Text(f"Result: {_short(state.data)}"))
    else:
        err = error_console()
        message = state.message or f"the run ended {state.name}"
        err.print(Text.assemble(("Error: ", "red"), message))
        if (debug or settings.debug) and state.error is not None:
            err.print(Text(state.error.traceback.rstrip()))
    unrecorded = _recording_failure()
    if unrecorded is None:  # the hint only where the run can be seen
        out.print(Text(f"Next: transom runs show {state.run_id}", style="dim"))
    else:
        error_console().print(Text.assemble(
            ("Error: ", "red"), f"the run was not fully recorded: {unrecorded}"))
    if not state.is_completed() or unrecorded is not None:
        raise SystemExit(1)


def _report_interrupted(settings: Settings, flow_name: str, started: datetime,
                        exc: BaseException) -> NoReturn:
    """One line for a run stopped by Ctrl+C, SIGTERM or CTRL_BREAK: how it was recorded."""
    from transom.services import open_backend

    reason = "interrupted (Ctrl+C)" if isinstance(exc, KeyboardInterrupt) else str(exc)
    try:
        with open_backend(settings, retries=0) as backend:
            runs = backend.list_flow_runs(flow_name=flow_name, since=started, limit=1).items
    except Exception:  # without the record, the line says what it knows
        runs = []
    ended = runs[0].end_time if runs else None
    if runs and ended is not None:
        run = runs[0]
        took = max((ended - started).total_seconds(), 0.0)
        line = Text.assemble("Flow run ", (str(run.id), "bold"), " ended ",
                             (run.state_name or "?", "red"), f" after {_seconds(took)}: {reason}.")
    else:
        line = Text.assemble(f"Flow run of {flow_name!r} stopped: {reason}.")
    console().print(line)
    raise SystemExit(130 if isinstance(exc, KeyboardInterrupt) else 1)


def parse_parameters(params: Sequence[str], params_json: str | None = None) -> dict[str, Any]:
    """Parameters from `--params` (a JSON object) then each `--param name=value` (which wins)."""
    values: dict[str, Any] = {}
    if params_json is not None:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"--params is not valid JSON ({exc.msg} at column {exc.colno}); "
                                 f'write it as a JSON object like \'{{"days": 3}}\'') from None
        if not isinstance(loaded, dict):
            raise ParameterError(f'--params must be a JSON object like \'{{"days": 3}}\', not {type(loaded).__name__}')
        values.update(loaded)
    for item in params:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ParameterError(f"--param {item!r} is not NAME=VALUE; write it as e.g. --param days=3")
        values[name] = _json_or_text(raw)
    return values


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def check_home_writable(settings: Settings) -> None:
    """Fail early, in one sentence, when the embedded database's folder cannot be written."""
    if settings.database_url or settings.api_url:
        return  # runs are recorded elsewhere
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"TRANSOM_HOME {home} is not writable ({reason}); fix its permissions or set "
            f"TRANSOM_HOME to a folder you can write"
        ) from None


def check_database(settings: Settings) -> None:
    """Check where the run will be recorded before running it (the server answers, or the
    database opens and is migrated), so a problem is one sentence up front instead of a run
    that is not recorded."""
    from transom.services import open_backend

    with open_backend(settings, retries=1) as backend:  # a database is opened and migrated
        backend.health()


def _recording_failure() -> BaseException | None:
    from transom.core.context import get_runtime

    recorder = get_runtime().recorder
    return getattr(recorder, "broken", None) or getattr(recorder, "last_error", None)


def _seconds(duration: float) -> str:
    if duration < 60:
        return f"{duration:.2f}s"
    minutes, seconds = divmod(duration, 60)
    return f"{int(minutes)}m {seconds:.0f}s"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_RESULT_CHARS else text[: _MAX_RESULT_CHARS - 3] + "..."
