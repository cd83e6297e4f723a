"""Rich consoles for CLI output: results to stdout, messages and errors to stderr."""

from __future__ import annotations

from functools import lru_cache

from rich.console import Console

__all__ = ["console", "error_console"]


@lru_cache(maxsize=1)
def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@lru_cache(maxsize=1)
def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)
