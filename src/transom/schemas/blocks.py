"""Blocks on the wire: a block document to save (its type, schema, data and which fields are
secret) and what a client reads back (secrets as `**********` unless asked for)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from transom.fields import Text
from transom.schemas._base import _Model
from transom.schemas.objects import _json_capped, _matching

__all__ = [
    "MAX_BLOCK_DATA",
    "OBFUSCATED",
    "BlockDocumentCreate",
    "BlockDocumentRead",
    "BlockTypeIn",
    "BlockTypeRead",
    "resolve_path",
]

MAX_BLOCK_DATA = 500_000  # characters of a block's data (or its type's schema) as JSON
OBFUSCATED = "**********"
"""What a secret field's value reads as when its secrets were not asked for."""

# The pattern is in the schema too (what the OpenAPI promises), the sentence from _matching.
_SLUG = {"pattern": "^[a-z0-9-]+$"}
BlockSlug = Annotated[str, Field(min_length=1, max_length=255, json_schema_extra=_SLUG),
                      _matching(r"[a-z0-9-]+", "a block type slug",
                                "lowercase letters, digits and dashes")]
BlockName = Annotated[str, Field(min_length=1, max_length=255, json_schema_extra=_SLUG),
                      _matching(r"[a-z0-9-]+", "a block name",
                                "lowercase letters, digits and dashes")]
SecretPath = Annotated[str, Field(min_length=1, max_length=1000,
                                  pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]


def resolve_path(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    """The dict holding the field a dotted `path` names, and the field's key; None if `data`
    has no such field."""
    *parents, last = path.split(".")
    holder: Any = data
    for part in parents:
        holder = holder.get(part) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or last not in holder:
        return None
    return holder, last


class BlockTypeIn(BaseModel):
    """A block type as its class describes it: slug, name and the JSON schema of its fields."""

    model_config = ConfigDict(extra="forbid")

    slug: BlockSlug
    name: Text = Field(min_length=1, max_length=255)
    block_schema: Annotated[dict[str, Any], _json_capped("a block type's schema",
                                                         MAX_BLOCK_DATA)] = {}


class BlockDocumentCreate(BaseModel):
    """A block to save: every field's value in plaintext, and the dotted paths of the secret
    ones (`value`, `credentials.password`), which the storing side encrypts (a path under
    another secret one is part of it)."""

    model_config = ConfigDict(extra="forbid")

    name: BlockName
    block_type: BlockTypeIn
    data: Annotated[dict[str, Any], _json_capped("a block's data", MAX_BLOCK_DATA)] = {}
    # A path the data lacks is no secret of this block (a field left out): it is dropped.
    secret_fields: list[SecretPath] = Field([], max_length=1000)


class BlockTypeRead(_Model):
    id: uuid.UUID
    slug: str
    name: str
    block_schema: dict[str, Any] = {}
    created: datetime
    updated: datetime


class BlockDocumentRead(_Model):
    id: uuid.UUID
    name: str
    block_type_slug: str
    block_type_name: str
    data: dict[str, Any] = {}
    secret_fields: list[str] = []
    secrets_included: bool = False  # False: each secret field reads as `**********`
    created: datetime
    updated: datetime
