"""`transom.blocks`: saved configuration and credentials (Prefect's `prefect.blocks`).

`core.Block` is the class users subclass; `system` has the built-in Secret, JSON, String and
DateTime blocks.
"""

from __future__ import annotations

from transom.blocks.core import Block, SecretDict

__all__ = ["Block", "SecretDict"]
