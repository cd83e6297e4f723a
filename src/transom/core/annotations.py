"""Wrappers around a task's arguments that change how the engine treats them.

- `unmapped(x)`: `Task.map` passes `x` whole to every call instead of mapping over it.
- `allow_failure(x)`: an upstream future or state of `x` may have failed; the downstream run
  starts anyway and receives the upstream's exception in its place.
- `quote(x)`: `x` is passed as it is; the engine does not look inside it for futures or states
  (no waiting, no upstream link; cheaper for a large collection).

Each keeps its value in `.value`; `unwrap()` gives it back and `rewrap(v)` wraps another value
the same way (`Task.map` uses it to annotate each element it maps over).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["BaseAnnotation", "allow_failure", "quote", "unmapped"]

T = TypeVar("T")


class BaseAnnotation(Generic[T]):
    """A value wrapped to tell the engine how to treat it. (Plain classes, not dataclasses: they
    are made when `transom` is imported, and a dataclass costs a millisecond to make.)"""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        return self.value

    def rewrap(self, value: Any) -> BaseAnnotation[Any]:
        return type(self)(value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.value == self.value

    def __hash__(self) -> int:
        return hash((type(self), self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class unmapped(BaseAnnotation[T]):
    """An argument of `Task.map` passed whole to every call instead of mapped over."""

    __slots__ = ()


class allow_failure(BaseAnnotation[T]):
    """A future or state (or a collection of them) that may have failed: the downstream run
    starts anyway, and gets the failed upstream's exception instead of its value."""

    __slots__ = ()


class quote(BaseAnnotation[T]):
    """A value passed as it is, never searched for futures or states."""

    __slots__ = ()

    def unquote(self) -> T:
        return self.value
