"""`transom.blocks.system`: Prefect's built-in blocks, Secret, JSON, String and DateTime.

    Secret(value="hunter22").save("db-password")
    Secret.load("db-password").get()       # "hunter22"; a dict value comes back as a dict
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic import Secret as PydanticSecret

from transom.blocks.core import Block, SecretDict

__all__ = ["JSON", "DateTime", "Secret", "SecretValue", "String"]


class SecretValue(PydanticSecret[Any]):
    """Any other JSON value kept secret (a list, a number, a boolean)."""


class Secret(Block):
    """A secret value: a string (`SecretStr`), a dict (`SecretDict`) or any other JSON value,
    encrypted where it is stored; `.get()` gives it in plaintext."""

    value: SecretStr | SecretDict | SecretValue = Field(
        description="The secret: a string, a dict or any other JSON value.")

    @field_validator("value", mode="before")
    @classmethod
    def _wrapped(cls, value: Any) -> Any:
        if isinstance(value, (SecretStr, PydanticSecret)):
            return value
        if isinstance(value, str):
            return SecretStr(value)
        return SecretDict(value) if isinstance(value, dict) else SecretValue(value)

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
