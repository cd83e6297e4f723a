"""Blocks: saved configuration (`transom.blocks.core.Block`), their secret fields encrypted.

This is where secrets are split off a block's data and encrypted on save, and put back on a
load that asks for them (with the key of this backend: `services/secrets.py`); everything
else, listings included, reads each secret field as `**********`.
"""

from __future__ import annotations

import copy
from typing import Any

from transom.schemas import (
    OBFUSCATED,
    BlockDocumentCreate,
    BlockDocumentRead,
    BlockTypeIn,
    BlockTypeRead,
    resolve_path,
)
from transom.services.context import Context
from transom.services.secrets import SecretBox
from transom.store import blocks as store
from transom.store.blocks import StoredBlock

__all__ = ["Blocks"]


def _split(data: dict[str, Any], paths: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The data without its secret fields, and the secret fields by path (the outermost of
    nested ones: `auth` holds `auth.token`)."""
    public = copy.deepcopy(data)
    secrets: dict[str, Any] = {}
    for path in sorted(dict.fromkeys(paths), key=lambda p: p.count(".")):
        if any(path.startswith(f"{outer}.") for outer in secrets):
            continue
        found = resolve_path(public, path)
        if found is not None:
            holder, key = found
            secrets[path] = holder.pop(key)
    return public, secrets


def _merged(data: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    for path, value in secrets.items():
        *parents, last = path.split(".")
        holder = data
        for part in parents:
            holder = holder.setdefault(part, {})
        holder[last] = value
    return data


class Blocks:
    ctx: Context

    @property
    def secret_box(self) -> SecretBox:
        """This backend's key (read when first used by each operation)."""
        return SecretBox(self.ctx.settings)

    def _read(self, stored: StoredBlock, *, include_secrets: bool) -> BlockDocumentRead:
        if include_secrets and stored.secrets is not None:
            secrets = self.secret_box.decrypt(
                stored.secrets, f"block {stored.block_type_slug}/{stored.name}")
        else:
            secrets = dict.fromkeys(stored.secret_fields, OBFUSCATED)
        return BlockDocumentRead(
            id=stored.id, name=stored.name, block_type_slug=stored.block_type_slug,
            block_type_name=stored.block_type_name, data=_merged(stored.data, secrets),
            secret_fields=stored.secret_fields, secrets_included=include_secrets,
            created=stored.created, updated=stored.updated)

    def save_block(self, body: BlockDocumentCreate, *,
                   overwrite: bool = False) -> BlockDocumentRead:
        """Save a block (its type made or its schema updated); AlreadyExists if one of that
        type and name exists, unless `overwrite`. Read back with its secrets obfuscated."""
        public, secrets = _split(body.data, body.secret_fields)
        token = self.secret_box.encrypt(secrets) if secrets else None
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            type_id = store.save_block_type(conn, body.block_type, now=now)
            stored = store.save_block_document(
                conn, type_id, body.block_type.slug, body.name, data=public,
                secret_fields=list(secrets), secrets=token, overwrite=overwrite, now=now)
        return self._read(stored, include_secrets=False)

    def read_block(self, slug: str, name: str, *,
                   include_secrets: bool = False) -> BlockDocumentRead:
        """A block by type slug and name; its secrets decrypted only if `include_secrets`
        (SecretsKeyError if this backend's key did not encrypt them)."""
        with self.ctx.db.read() as conn:
            stored = store.read_block_document(conn, slug, name)
        return self._read(stored, include_secrets=include_secrets)

    def list_blocks(self, *, block_type: str | None = None, limit: int = 200,
                    offset: int = 0) -> list[BlockDocumentRead]:
        """By type slug, then name; secrets always obfuscated."""
        with self.ctx.db.read() as conn:
            stored = store.list_block_documents(conn, slug=block_type, limit=limit,
                                                offset=offset)
        return [self._read(one, include_secrets=False) for one in stored]

    def delete_block(self, slug: str, name: str) -> None:
        """NotFound if there is no block of that type and name."""
        with self.ctx.db.write() as conn:
            store.delete_block_document(conn, slug, name)

    def register_block_type(self, body: BlockTypeIn) -> BlockTypeRead:
        """Make the block type, or replace its name and schema (a class's
        `register_type_and_schema()`, with no block saved)."""
        with self.ctx.db.write() as conn:
            store.save_block_type(conn, body, now=self.ctx.clock())
            return store.read_block_type(conn, body.slug)

    def list_block_types(self) -> list[BlockTypeRead]:
        """By slug."""
        with self.ctx.db.read() as conn:
            return store.list_block_types(conn)
