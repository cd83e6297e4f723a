"""`transom.variables.Variable`: named JSON values shared by flows and tasks, Prefect's API.

    Variable.set("crew", ["Zaphod", "Arthur"])
    crew = Variable.get("crew", default=[])
    Variable.set("crew", ["Trillian"], overwrite=True)
    Variable.unset("crew")  # True: it existed

Kept in the server of TRANSOM_API_URL, else in the embedded database, like runs. A name is
lowercase letters, digits, dashes and underscores, at most 255 characters; a value is any JSON
value (str, int, float, bool, None, lists and dicts of them) of at most 5,000 characters as JSON.
As in Prefect, `get`, `set` and `unset` called where an event loop runs (an `async def`) return
an awaitable; `aget`, `aset` and `aunset` are always async.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic

from transom.core.context import in_event_loop
from transom.exceptions import AlreadyExists, NotFound
from transom.schemas import VariableCreate, VariableRead, first_error

__all__ = ["Variable"]

R = TypeVar("R")


def _body(name: str, value: Any, tags: list[str] | None) -> VariableCreate:
    try:
        return VariableCreate(name=name, value=value, tags=list(tags or []))
    except pydantic.ValidationError as exc:
        raise ValueError(first_error(exc, "variable")) from None


def _read(name: str) -> VariableRead | None:
    from transom.services import open_backend

    with open_backend() as backend:
        try:
            return backend.read_variable(name)
        except NotFound:
            return None


def _set(name: str, value: Any, tags: list[str] | None, overwrite: bool) -> Variable:
    from transom.services import open_backend

    body = _body(name, value, tags)
    with open_backend() as backend:
        try:
            stored = backend.set_variable(body, overwrite=overwrite)
        except AlreadyExists as exc:  # Prefect raises ValueError
            raise ValueError(str(exc)) from None
    return Variable(name=stored.name, value=stored.value, tags=stored.tags)


def _unset(name: str) -> bool:
    from transom.services import open_backend

    with open_backend() as backend:
        try:
            backend.delete_variable(name)
        except NotFound:
            return False
    return True


async def _in_thread(call: Callable[..., R], *args: Any) -> R:
    return await asyncio.to_thread(call, *args)



class Variable(pydantic.BaseModel):
    """A variable: its name, JSON value and tags (what `set` returns)."""

    name: str
    value: Any = None
    tags: list[str] = []

    # -- async ---------------------------------------------------------------------------------
    @classmethod
    async def aget(cls, name: str, default: Any = None) -> Any:
        """The value of the variable `name`, or `default` if there is none."""
        stored = await _in_thread(_read, name)
        return default if stored is None else stored.value

    @classmethod
    async def aset(cls, name: str, value: Any, tags: list[str] | None = None,
                   overwrite: bool = False) -> Variable:
        """Create the variable; ValueError if one of that name exists, unless `overwrite`
        (which replaces its value and tags)."""
        return await _in_thread(_set, name, value, tags, overwrite)

    @classmethod
    async def aunset(cls, name: str) -> bool:
        """Delete the variable: True if it existed, False if there was none."""
        return await _in_thread(_unset, name)

    # -- sync: typed as such; an awaitable inside async code, as Prefect's ----------------------
    @classmethod
    def get(cls, name: str, default: Any = None) -> Any:
        """The value of the variable `name`, or `default` if there is none."""
        if in_event_loop():
            return cls.aget(name, default)
        stored = _read(name)
        return default if stored is None else stored.value

    @classmethod
    def set(cls, name: str, value: Any, tags: list[str] | None = None,
            overwrite: bool = False) -> Variable:
        """Create the variable; ValueError if one of that name exists, unless `overwrite`
        (which replaces its value and tags)."""
        if in_event_loop():
            return cls.aset(name, value, tags, overwrite)  # type: ignore[return-value]
        return _set(name, value, tags, overwrite)

    @classmethod
    def unset(cls, name: str) -> bool:
        """Delete the variable: True if it existed, False if there was none."""
        if in_event_loop():
            return cls.aunset(name)  # type: ignore[return-value]
        return _unset(name)
