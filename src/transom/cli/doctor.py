"""`transom doctor [--json]`: check the installation, encoding, storage, database, port, firewall,
PowerShell and antivirus; exit 1 when a check fails (warnings do not fail)."""

from __future__ import annotations

import json
import sys

import typer
from rich.text import Text

from transom.cli.output import console

__all__ = ["doctor", "plural"]

_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def plural(count: int, noun: str) -> str:
    """`1 failure`, `2 failures`, `0 failures`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def doctor(
    as_json: bool = typer.Option(False, "--json", help="One JSON document, for machines."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the details of every check."),
) -> None:
    """Check that Transom can run here, and print the exact command that fixes each problem."""
    from transom import doctor as diagnostics
    from transom._version import __version__

    machine = diagnostics.Machine.current()
    checks = diagnostics.run_checks(machine)
    counts = diagnostics.summary(checks)
    code = diagnostics.exit_code(checks)
    if as_json:
        report = {
            "transom": __version__,
            "platform": machine.platform,
            "python": machine.python.executable,
            "python_version": machine.python.version,
            "shell": machine.shell,
            "ok": code == 0,
            "summary": counts,
            "checks": [check.as_dict() for check in checks],
        }
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        raise typer.Exit(code)
    out = console()
    out.print(Text(f"Transom {__version__} doctor: {machine.platform}, Python "
                   f"{machine.python.version}, {machine.shell}", style="bold"))
    width = max(len(check.title) for check in checks)
    for check in checks:
        line = Text.assemble((f" {check.status:<4} ", _STYLE[check.status]),
                             f" {check.title:<{width}}  ", check.finding)
        out.print(line)
        indent = " " * (width + 9)
        if check.fix:
            label = "tip: " if check.status == "ok" else "fix: "
            out.print(Text.assemble(indent, (label, "bold"), check.fix))
        if check.details and (verbose or check.status != "ok"):
            for detail in check.details:
                out.print(Text(f"{indent}- {detail}", style="dim"))
    out.print(Text(f"{len(checks)} checks: {counts['ok']} ok, "
                   f"{plural(counts['warn'], 'warning')}, {plural(counts['fail'], 'failure')}",
                   style="bold"))
    raise typer.Exit(code)
