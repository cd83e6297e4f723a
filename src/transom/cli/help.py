"""Help that reads like other Click tools': `--debug`, not `--debug <bool>`; `--limit INTEGER`,
not `--limit <int range>`; `Usage: ... NAME`, not `{name}`.

Typer 0.2x renders a `<type>` after every parameter, flags included (its Rich help asks each
parameter for `display_type_rich`, which only the plain help checks against `is_flag`), and
writes required arguments as `{name}` in the usage line. Every `transom` app is a `Typer` from
here: its commands and groups give their parameters the Click conventions. Typer builds the
parameter objects itself and has no hook for their class, so the command re-classes them to the
two small subclasses below (which add behaviour, no state); with a Typer that has no
`display_type` (before 0.2x) they change nothing visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import CommandFunctionType

__all__ = ["Command", "Group", "Typer", "click_type_name"]

_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN", "path": "PATH",
          "file": "FILE", "dir": "DIRECTORY", "datetime": "DATETIME", "UUID": "UUID"}


def click_type_name(label: str) -> str:
    """Typer's `<int range>`, `<list[str]>`, `<a|b>` as Click writes them: `INTEGER RANGE`,
    `TEXT`, `[a|b]`."""
    label = label.strip().removeprefix("<").removesuffix(">")
    while label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if "|" in label:
        return f"[{label}]"
    ranged = label.endswith(" range")
    base = label.removesuffix(" range")
    name = _NAMES.get(base, base.upper())
    return f"{name} RANGE" if ranged else name


def _type_label(param: Any, ctx: Any) -> str | None:
    display = getattr(param, "display_type", None)
    if display is None:
        return None
    return click_type_name(str(display(ctx)))


class _Option(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None  # a flag takes no value
        if self.metavar is not None:
            return self.metavar
        label = _type_label(self, ctx)
        return None if label is None else label + ("..." if self.nargs != 1 else "")


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return None  # the name column shows it already
        return _type_label(self, ctx)

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        shown = name if self.required else f"[{name}]"
        return [shown + ("..." if self.nargs != 1 else "")]


def _plain(param: Any) -> None:
    if type(param) is TyperOption:
        param.__class__ = _Option
    elif type(param) is TyperArgument:
        param.__class__ = _Argument


class Command(TyperCommand):
    """A Typer command whose help follows Click's conventions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _plain(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _plain(option)
        return option


class Group(TyperGroup):
    """A Typer group whose own options follow Click's conventions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _plain(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _plain(option)
        return option


class Typer(typer.Typer):
    """`typer.Typer` whose commands and groups are the `Command` and `Group` above."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)

    def command(  # the same keywords as typer.Typer.command, passed on as they come
        self, name: str | None = None, **kwargs: Any,
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        kwargs.setdefault("cls", Command)
        return super().command(name, **kwargs)
