"""The HTTP client of the Transom API, and the recorder sink that reports runs through it."""

from __future__ import annotations

from transom.client.http import ApiError, TransomClient

__all__ = ["ApiError", "TransomClient"]
