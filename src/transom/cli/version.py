"""`transom version` and `transom --version`: what a bug report needs, with nothing opened or
contacted (the database kind is read from its URL)."""

from __future__ import annotations

import os
import platform
import sys

import typer
from rich.text import Text

from transom.cli.output import ShowFormat, console, print_json, show_format_option

__all__ = ["print_version", "version", "version_info"]


def version_info() -> dict[str, str | None]:
    from transom._version import __version__
    from transom.exceptions import ConfigError
    from transom.platform.system import describe_os
    from transom.settings import Settings

    try:
        settings: Settings | None = Settings.load(os.environ)
    except ConfigError:
        settings = None  # `transom version` must answer even with broken settings
    database = _database_kind(settings.database_url_resolved) if settings else "unknown"
    return {
        "transom": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
                  f"{sys.executable})",
        "platform": describe_os(),
        "database": database,
        "api_url": settings.api_url if settings and settings.api_url else None,
    }


def _database_kind(url: str) -> str:
    """The kind of database the URL names, read from its scheme alone (loading the database
    stack for it would double the time `--version` takes)."""
    scheme, _, rest = url.partition(":")
    kind = scheme.split("+", 1)[0].lower()
    if kind == "sqlite":
        path = rest.removeprefix("///").split("?", 1)[0]
        return f"SQLite ({path})" if path and not path.startswith(":memory:") else "SQLite"
    return {"postgresql": "PostgreSQL", "postgres": "PostgreSQL"}.get(kind, kind or "unknown")


def print_version() -> None:
    info = version_info()
    out = console()
    out.print(Text(f"Transom {info['transom']}"))
    out.print(Text(f"Python:   {info['python']}"))
    out.print(Text(f"Platform: {info['platform']}"))
    out.print(Text(f"Database: {info['database']}"))
    if info["api_url"]:
        out.print(Text(f"API URL:  {info['api_url']} (runs are recorded there)"))


def version(output: ShowFormat = show_format_option()) -> None:
    """Show the version of Transom, Python, the platform, the database and the API URL."""
    if output is ShowFormat.json:
        print_json(version_info())
        raise typer.Exit(0)
    print_version()
