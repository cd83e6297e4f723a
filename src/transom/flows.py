"""`transom.flows`: the flow decorator, and `serve` for running several deployments at once."""

from __future__ import annotations

from transom.core.flows import Flow, flow
from transom.deployments import serve

__all__ = ["Flow", "flow", "serve"]
