"""`transom.testing`: helpers for testing flows (see `transom.testing.utilities`)."""

from __future__ import annotations

__all__: list[str] = []
