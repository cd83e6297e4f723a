"""`python -m transom` is the `transom` command."""

from __future__ import annotations

import sys

from transom.cli import main

sys.exit(main())
