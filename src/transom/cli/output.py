"""CLI output: Rich consoles (results to stdout, messages and errors to stderr), listings as a
table, JSON or CSV, and times labelled with their zone.

A table printed to a terminal fits the terminal; printed to a pipe or a file it keeps its natural
width, so every id and name stays whole on one line for `grep`, `cut` and `awk`.
"""

from __future__ import annotations

import csv
import enum
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

__all__ = [
    "ListFormat",
    "ShowFormat",
    "console",
    "error_console",
    "format_time",
    "print_csv",
    "print_json",
    "print_listing",
    "print_table",
    "zone_of",
]


@lru_cache(maxsize=1)
def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@lru_cache(maxsize=1)
def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


class ListFormat(str, enum.Enum):
    """How a listing is printed: `--output table|json|csv`."""

    table = "table"
    json = "json"
    csv = "csv"


class ShowFormat(str, enum.Enum):
    """How one record and its parts are printed: `--output table|json`."""

    table = "table"
    json = "json"


def list_format_option() -> Any:
    return typer.Option(ListFormat.table, "--output", "-o", case_sensitive=False,
                        help="table (for people), json (the API's schema) or csv.")


def show_format_option() -> Any:
    return typer.Option(ShowFormat.table, "--output", "-o", case_sensitive=False,
                        help="table (for people) or json (the API's schema).")


def print_table(table: Table) -> None:
    """A table on stdout: fitted to a terminal; at its natural width anywhere else."""
    out = console()
    if out.is_terminal:
        out.print(table)
        return
    natural = Measurement.get(out, out.options.update(max_width=1_000_000), table).maximum
    wide = Console(file=out.file, width=max(natural, out.width), highlight=False,
                   soft_wrap=True, no_color=out.no_color, color_system=None)
    wide.print(table)


def as_json(value: Any) -> Any:
    """Pydantic models (and lists and dicts of them) as the API writes them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    """One JSON document on stdout (models dumped as the API's schema)."""
    sys.stdout.write(json.dumps(as_json(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_csv(items: Sequence[BaseModel], model: type[BaseModel]) -> None:
    """One CSV row per item with the model's fields as the header; nested values as JSON."""
    fields = list(model.model_fields)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(fields)
    for item in items:
        row = item.model_dump(mode="json")
        writer.writerow([_cell(row.get(name)) for name in fields])
    sys.stdout.flush()


def print_listing(output: ListFormat, items: Sequence[BaseModel], model: type[BaseModel]) -> bool:
    """Print `items` as JSON or CSV when `output` asks for a machine's format; whether it did
    (if not, the caller prints its table)."""
    if output is ListFormat.json:
        print_json(items)
        return True
    if output is ListFormat.csv:
        print_csv(items, model)
        return True
    return False


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def local_zone(environ: Mapping[str, str] = os.environ) -> tzinfo | None:
    """The zone times are shown in when no schedule says: `TZ` when it names an IANA zone (as it
    does on POSIX; Windows' C runtime would misread `TZ=Europe/Paris`), else the system's."""
    return zone_of(environ.get("TZ", "").lstrip(":"))


def zone_of(name: str | None) -> tzinfo | None:
    """The IANA zone of that name; None (the local zone) for no name or one that is unknown."""
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def format_time(value: datetime | None, zone: tzinfo | str | None = None, *,
                milliseconds: bool = False) -> str:
    """`2026-12-02 02:00:00 CET`: in `zone` (a schedule's), else the local zone, always labelled
    (with the offset, `+05:30`, where the zone has no letters for its name)."""
    if value is None:
        return "-"
    target = zone_of(zone) if isinstance(zone, str) else zone
    if target is None:
        target = local_zone()
    when = value.astimezone(target)
    name = when.tzname() or ""
    if not name[:1].isalpha():
        offset = when.strftime("%z")
        name = f"{offset[:3]}:{offset[3:]}" if offset else "UTC"
    shown = f"{when:%Y-%m-%d %H:%M:%S.%f}"[:-3] if milliseconds else f"{when:%Y-%m-%d %H:%M:%S}"
    return f"{shown} {name}"
