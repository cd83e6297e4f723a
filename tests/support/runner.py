"""A stand-in for the OS's own tools (PowerShell, sc.exe, ufw, ...) at the `Runner` seam: it
answers the way the real tool does for the commands a test names, and records every call."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from transom.platform.system import CommandResult

__all__ = ["FakeRunner", "command_text", "ok"]


def ok(stdout: str = "") -> CommandResult:
    return CommandResult(0, stdout, "")


def command_text(args: Sequence[str]) -> str:
    """The command as text; a PowerShell `-EncodedCommand` is decoded back into its script."""
    args = list(args)
    if "-EncodedCommand" in args:
        encoded = args[args.index("-EncodedCommand") + 1]
        return base64.b64decode(encoded).decode("utf-16-le")
    return " ".join(args)


class FakeRunner:
    """`answers` maps a fragment of the command text to the result; the first match wins.
    Commands nobody answers behave like a program that is not installed."""

    def __init__(self, answers: dict[str, CommandResult] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str], *, timeout: float = 30.0) -> CommandResult:
        self.calls.append(list(args))
        text = command_text(args)
        for fragment, result in self.answers.items():
            if fragment in text:
                return result
        return CommandResult(127, "", f"{args[0]}: command not found", started=False)

    def texts(self) -> list[str]:
        return [command_text(call) for call in self.calls]
