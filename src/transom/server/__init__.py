"""The Transom server: a FastAPI app over the store, and how to serve it."""

from __future__ import annotations

from transom.server.app import create_app

__all__ = ["create_app"]
