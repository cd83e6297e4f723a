"""The `transom` command line: a Typer app, one module per noun."""

from __future__ import annotations

import sys

from transom.cli.app import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
