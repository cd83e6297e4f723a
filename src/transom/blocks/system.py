"""`transom.blocks.system`: Prefect's built-in blocks, Secret, JSON, String and DateTime.

    Secret(value="hunter22").save("db-password")
    Secret.load("db-password").get()       # "hunter22"; a dict value comes back as a dict
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr

from transom.blocks.core import Block, SecretDict

__all__ = ["JSON", "DateTime", "Secret", "String"]


class Secret(Block):
    """A secret value: a string (`SecretStr`) or a dict (`SecretDict`), encrypted where it is
    stored; `.get()` gives it in plaintext."""

    value: SecretStr | SecretDict = Field(description="The secret: a string or a dict.")

    def get(self) -> Any:
        """The secret's plain value."""
        return self.value.get_secret_value()


class JSON(Block):
    """Any JSON value."""

    _block_type_name = "JSON"
    value: Any = Field(description="A JSON value.")


class String(Block):
    """A string."""

    value: str = Field(description="A string.")


class DateTime(Block):
    """A date and time."""

    _block_type_name = "Date Time"
    value: datetime = Field(description="A date and time (ISO 8601).")
