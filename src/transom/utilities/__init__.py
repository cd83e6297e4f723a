"""`transom.utilities`: Prefect's home of small helpers (see `transom.utilities.annotations`)."""

from __future__ import annotations

__all__: list[str] = []
