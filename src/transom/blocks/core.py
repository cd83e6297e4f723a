"""`transom.blocks.core.Block`: a pydantic model saved under a name and loaded back anywhere.

    class Warehouse(Block):
        host: str
        password: SecretStr

    Warehouse(host="db", password="hunter22").save("prod")
    Warehouse.load("prod").password.get_secret_value()
    Block.load("warehouse/prod")          # by type slug and name, on the base class too

A block's type is its class: slug from the class name (`Warehouse` -> `warehouse`, or
`_block_type_slug`), stored with its JSON schema on every save. Fields that are `SecretStr`,
`SecretBytes` or `SecretDict` (in nested blocks too) are secret: encrypted where they are stored,
`**********` in listings, and redacted from this process's run logs once loaded or saved. A
nested block (a field holding a Block) is saved inline, inside its parent's document; save it
on its own as well to load it by its own name. A secret inside a list or dict field (a block's
too) is refused on save, never stored as `**********`: use a SecretDict or a nested Block
field. As in Prefect, `save`, `load` and `delete` called inside async code return an awaitable;
`asave`, `aload` and `adelete` are always async.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import pydantic
from pydantic_core import to_jsonable_python

from transom.core.context import in_event_loop
from transom.core.logs import redact_secret
from transom.exceptions import AlreadyExists, NotFound
from transom.schemas import BlockDocumentCreate, BlockTypeIn, first_error, resolve_path

__all__ = ["Block", "SecretDict"]

B = TypeVar("B", bound="Block")
R = TypeVar("R")


class SecretDict(pydantic.Secret[dict[str, Any]]):
    """A dict kept secret as a whole (`.get_secret_value()` gives it); shown as `**********`."""


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _plain(value: Any, path: str, secrets: list[str]) -> Any:
    """`value` as JSON with its secrets revealed; the paths of secret values go to `secrets`."""
    if isinstance(value, Block):
        return value._plain_data(prefix=f"{path}.", secrets=secrets)
    if isinstance(value, pydantic.SecretBytes):
        secrets.append(path)
        return value.get_secret_value().decode("utf-8")
    if isinstance(value, (pydantic.SecretStr, pydantic.Secret)):
        secrets.append(path)
        return to_jsonable_python(value.get_secret_value())
    if _holds_secret(value):  # it would be saved as `**********`: refused, never lost
        raise ValueError(f"{path} holds a secret inside a list or dict, which a block cannot "
                         "keep: make the field a SecretDict, or a nested Block")
    return to_jsonable_python(value)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_secret(item) for item in value)
    if isinstance(value, Block):
        return any(_holds_secret(getattr(value, field)) for field in type(value).model_fields)
    return isinstance(value, (pydantic.SecretStr, pydantic.SecretBytes, pydantic.Secret))


def _redact_all(value: Any) -> None:
    """Keep every string (and long number) in `value` out of this process's run logs."""
    if isinstance(value, dict):
        for item in value.values():
            _redact_all(item)
    elif isinstance(value, list):
        for item in value:
            _redact_all(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        redact_secret(str(value))


def _split_ref(cls: type[Block], name: str) -> tuple[type[Block], str]:
    """The class and document name of `name` (`slug/name`, or a name of `cls`'s type)."""
    if "/" not in name:
        if cls is Block:
            raise ValueError(f"{name!r} names no block type: load it as 'type-slug/{name}' "
                             "(`transom block ls` lists them)")
        return cls, name
    slug, _, document = name.partition("/")
    found = Block._registry.get(slug)
    if found is None:
        raise ValueError(f"no Block class of type {slug!r} is defined in this process: import "
                         "the module that defines it (or load it through its class)")
    if not issubclass(found, cls):
        raise ValueError(f"{slug}/{document} is a {found.__name__}, not a {cls.__name__}")
    return found, document



class _ClassOrInstance:
    """A method callable on the class with a name (`Secret.delete("x")`) or on a loaded or
    saved block with none (`block.delete()`)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance: Block | None, owner: type[Block]) -> Callable[..., Any]:
        def bound(*args: Any, **kwargs: Any) -> Any:
            return self.fn(owner, instance, *args, **kwargs)
        bound.__doc__ = self.fn.__doc__
        return bound


class Block(pydantic.BaseModel):
    """The base of every block: subclass it with pydantic fields."""

    model_config = pydantic.ConfigDict(ignored_types=(_ClassOrInstance,))
    _block_type_name: ClassVar[str | None] = None
    _block_type_slug: ClassVar[str | None] = None
    _registry: ClassVar[dict[str, type[Block]]] = {}
    _block_document_name: str | None = pydantic.PrivateAttr(None)
    _block_document_id: uuid.UUID | None = pydantic.PrivateAttr(None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Block._registry[cls.get_block_type_slug()] = cls

    # -- the type ------------------------------------------------------------------------------
    @classmethod
    def get_block_type_name(cls) -> str:
        return cls._block_type_name or cls.__name__

    @classmethod
    def get_block_type_slug(cls) -> str:
        return cls._block_type_slug or _slugify(cls.get_block_type_name())

    @classmethod
    def _type_in(cls) -> BlockTypeIn:
        try:
            return BlockTypeIn(slug=cls.get_block_type_slug(), name=cls.get_block_type_name(),
                               block_schema=cls.model_json_schema())
        except pydantic.ValidationError as exc:
            raise ValueError(f"{cls.__name__} cannot be a block type: "
                             f"{first_error(exc, 'block type')}") from None

    @classmethod
    def _register(cls) -> None:
        from transom.services import open_backend

        with open_backend() as backend:
            backend.register_block_type(cls._type_in())

    @classmethod
    async def aregister_type_and_schema(cls) -> None:
        """The async form of `register_type_and_schema`."""
        await asyncio.to_thread(cls._register)

    @classmethod
    def register_type_and_schema(cls) -> None:
        """Store this class's block type and schema without saving a block (a save does it
        too); `transom block types` lists it."""
        if in_event_loop():
            return cls.aregister_type_and_schema()  # type: ignore[return-value]
        cls._register()
        return None

    def _plain_data(self, *, prefix: str = "", secrets: list[str]) -> dict[str, Any]:
        return {field: _plain(getattr(self, field), prefix + field, secrets)
                for field in type(self).model_fields}

    def _document(self, name: str) -> BlockDocumentCreate:
        cls = type(self)
        secrets: list[str] = []
        data = self._plain_data(secrets=secrets)
        try:
            return BlockDocumentCreate(
                name=name, data=data, secret_fields=secrets, block_type=cls._type_in())
        except pydantic.ValidationError as exc:
            raise ValueError(first_error(exc, "block")) from None

    # -- save, load, delete --------------------------------------------------------------------
    def _save(self, name: str, overwrite: bool) -> uuid.UUID:
        from transom.services import open_backend

        document = self._document(name)
        for path in document.secret_fields:
            found = resolve_path(document.data, path)
            if found is not None:
                _redact_all(found[0][found[1]])
        with open_backend() as backend:
            try:
                saved = backend.save_block(document, overwrite=overwrite)
            except AlreadyExists as exc:  # Prefect raises ValueError
                raise ValueError(str(exc)) from None
        self._block_document_name, self._block_document_id = saved.name, saved.id
        return saved.id

    @classmethod
    def _load(cls: type[B], name: str) -> B:
        from transom.services import open_backend

        kind, document = _split_ref(cls, name)
        with open_backend() as backend:
            try:
                stored = backend.read_block(kind.get_block_type_slug(), document,
                                            include_secrets=True)
            except NotFound as exc:  # Prefect raises ValueError
                raise ValueError(str(exc)) from None
        for path in stored.secret_fields:
            found = resolve_path(stored.data, path)
            if found is not None:
                _redact_all(found[0][found[1]])
        try:
            block = kind.model_validate(stored.data)
        except pydantic.ValidationError as exc:
            raise ValueError(f"block {stored.block_type_slug}/{stored.name} does not fit "
                             f"{kind.__name__} any more: {first_error(exc, 'block')}") from None
        block._block_document_name, block._block_document_id = stored.name, stored.id
        return block  # type: ignore[return-value]

    @staticmethod
    def _delete_target(self_or_cls: Any, instance: Block | None,
                       name: str | None) -> tuple[type[Block], str]:
        if name is None:
            if instance is None or instance._block_document_name is None:
                raise ValueError("delete() needs the block's name: call it on a saved or "
                                 "loaded block, or as Block.delete('type-slug/name')")
            return type(instance), instance._block_document_name
        return _split_ref(self_or_cls, name)

    @staticmethod
    def _delete(self_or_cls: Any, instance: Block | None, name: str | None) -> None:
        from transom.services import open_backend

        kind, document = Block._delete_target(self_or_cls, instance, name)
        with open_backend() as backend:
            try:
                backend.delete_block(kind.get_block_type_slug(), document)
            except NotFound as exc:
                raise ValueError(str(exc)) from None

    async def asave(self, name: str | None = None, overwrite: bool = False) -> uuid.UUID:
        """Save this block as `name` (its loaded name if None); ValueError if one of that type
        and name exists, unless `overwrite`. Its document id."""
        return await asyncio.to_thread(self._save, self._name_for_save(name), overwrite)

    def save(self, name: str | None = None, overwrite: bool = False) -> uuid.UUID:
        """Save this block as `name` (its loaded name if None); ValueError if one of that type
        and name exists, unless `overwrite`. Its document id."""
        if in_event_loop():
            return self.asave(name, overwrite)  # type: ignore[return-value]
        return self._save(self._name_for_save(name), overwrite)

    def _name_for_save(self, name: str | None) -> str:
        if name is not None:
            return name
        if self._block_document_name is None:
            raise ValueError("save() needs a name for a block that was never saved or loaded")
        return self._block_document_name

    @classmethod
    async def aload(cls: type[B], name: str) -> B:
        """The block saved as `name` (`type-slug/name` on Block itself); ValueError if none."""
        return await asyncio.to_thread(cls._load, name)

    @classmethod
    def load(cls: type[B], name: str) -> B:
        """The block saved as `name` (`type-slug/name` on Block itself); ValueError if none."""
        if in_event_loop():
            return cls.aload(name)  # type: ignore[return-value]
        return cls._load(name)

    @_ClassOrInstance
    def delete(cls: Any, instance: Block | None, name: str | None = None) -> Any:
        """Delete a saved block: `Secret.delete("name")`, `Block.delete("secret/name")`, or
        `block.delete()` of a saved or loaded one. ValueError if there is none."""
        if in_event_loop():
            return asyncio.to_thread(Block._delete, cls, instance, name)
        Block._delete(cls, instance, name)
        return None

    @_ClassOrInstance
    async def adelete(cls: Any, instance: Block | None, name: str | None = None) -> None:
        """The async form of `delete`."""
        await asyncio.to_thread(Block._delete, cls, instance, name)
