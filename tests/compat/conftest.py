"""Compatibility tests run the real engine over the same in-memory recorder as tests/core."""

from __future__ import annotations

from tests.core.conftest import MemoryRuntime, runtime

__all__ = ["MemoryRuntime", "runtime"]
