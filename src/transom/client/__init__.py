"""The HTTP client of the Transom API: the `services.Backend` protocol over HTTP."""

from __future__ import annotations

from transom.client.http import ApiError, TransomClient

__all__ = ["ApiError", "TransomClient"]
