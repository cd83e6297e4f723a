"""The base of every read model (built from store rows, never changed once made)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["_Model"]


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)
