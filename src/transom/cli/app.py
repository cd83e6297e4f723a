"""The root Typer app, its global options, and the one place user errors become one sentence."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer
from rich.text import Text

from transom.cli import artifact as artifact_cli
from transom.cli import block as block_cli
from transom.cli import concurrency_limit as concurrency_limit_cli
from transom.cli import config as config_cli
from transom.cli import db as db_cli
from transom.cli import deploy as deploy_cli
from transom.cli import deployment as deployment_cli
from transom.cli import doctor as doctor_cli
from transom.cli import run as run_cli
from transom.cli import runs as runs_cli
from transom.cli import server as server_cli
from transom.cli import service as service_cli
from transom.cli import variable as variable_cli
from transom.cli import work_pool as work_pool_cli
from transom.cli import worker as worker_cli
from transom.cli.help import Typer
from transom.cli.output import error_console
from transom.cli.version import print_version, version
from transom.exceptions import TransomError, UserInputError

app = Typer(
    name="transom",
    help="Transom: run, record and observe Python workflows.",
    no_args_is_help=True,
)
app.add_typer(config_cli.app, name="config", help="View and change settings.")
app.add_typer(config_cli.profile_app, name="profile", help="Manage settings profiles.")
app.add_typer(runs_cli.app, name="runs", help="List and inspect recorded runs.")
app.add_typer(server_cli.app, name="server", help="Run the API server.")
app.add_typer(db_cli.app, name="db", help="Upgrade or reset the database.")
app.command("run", help="Run a flow from a file: transom run path/to/file.py:flow_fn")(run_cli.run)
app.add_typer(service_cli.app, name="service",
              help="Run the server or a worker as a service (Windows, systemd, launchd).")
app.command("doctor", help="Check this installation and print the fix for each problem.")(
    doctor_cli.doctor)
app.command("deploy", help="Register a flow as a deployment: transom deploy path/to/file.py:flow_fn "
            "--name N --pool P --cron '0 9 * * *'; or those of transom.yaml (or prefect.yaml): "
            "transom deploy --all")(deploy_cli.deploy)
app.add_typer(deployment_cli.app, name="deployment",
              help="List, inspect, run, pause, resume and delete deployments.")
app.add_typer(work_pool_cli.app, name="work-pool", help="Manage work pools.")
app.add_typer(worker_cli.app, name="worker", help="Start and list workers.")
app.add_typer(variable_cli.app, name="variable",
              help="Set, get, list and unset variables (Variable.get in flows).")
app.add_typer(artifact_cli.app, name="artifact",
              help="List, inspect and delete the artifacts runs published.")
app.add_typer(block_cli.app, name="block",
              help="List, inspect and delete saved blocks and secrets; list block types.")
app.add_typer(concurrency_limit_cli.app, name="concurrency-limit",
              help="Create, list, inspect, update and delete concurrency limits (tag:T limits "
                   "the task runs tagged T).")
app.command("version", help="Show the version of Transom, Python, the platform and the database.")(
    version)


def _show_version(value: bool) -> None:
    if value:
        print_version()
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    _version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                  expose_value=False, help="Show the version and exit."),
) -> None:
    if debug:
        os.environ["TRANSOM_DEBUG"] = "1"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `transom` script and `python -m transom`; returns the exit code."""
    from transom.platform.console import setup_utf8_console

    setup_utf8_console()
    if os.environ.get("TRANSOM__SUPERVISED") == "1":
        _watch_stdin_for_stop()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("TRANSOM_DEBUG", "").lower() in ("1", "true", "yes")
    try:
        code = app(args=args, prog_name="transom", standalone_mode=False)
    except SystemExit as exc:  # typer.Exit inside standalone_mode=False surfaces as SystemExit
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 1
    except KeyboardInterrupt:
        error_console().print("Interrupted.")
        return 130
    except Exception as exc:
        return _report(exc, debug)
    return code if isinstance(code, int) else 0


def _watch_stdin_for_stop() -> None:
    """Started by a service (`transom service run`): a stop may come as a message on stdin, the
    only way to reach a process without a console on Windows."""
    from transom.platform.processes import watch_for_stop

    watch_for_stop()


# Typer re-exports click's Exit/Abort; ClickException (usage errors) is a base of BadParameter.
# Found this way it works whether Typer uses click or its own vendored copy.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _report(exc: BaseException, debug: bool) -> int:
    console = error_console()
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, typer.Abort):
        console.print("Aborted.")
        return 1
    if isinstance(exc, _ClickException):
        exc.show(file=sys.stderr)  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    if debug:
        console.print_exception()
    elif isinstance(exc, UserInputError | TransomError):
        console.print(Text.assemble(("Error: ", "red"), str(exc)))
    else:
        console.print(Text.assemble(
            ("Error: ", "red"), f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"))
    return 1
