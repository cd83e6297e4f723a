"""`tags("a", "b")`: tags added to every flow run and task run created inside the block.

Blocks nest (the tags add up) and follow the code into submitted tasks, since they live in a
contextvar that each task runner copies to its threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["check_tags", "current_tags", "merge_tags", "tags"]

_current: ContextVar[tuple[str, ...]] = ContextVar("transom_tags", default=())


def check_tags(values: Iterable[str], where: str) -> list[str]:
    """`values` as a list, if each is a string (a tag that is not cannot be recorded)."""
    if isinstance(values, str):
        raise TypeError(f"{where} takes a list of tags, not one string; write [{values!r}]")
    result = list(values)
    for value in result:
        if not isinstance(value, str):
            raise TypeError(f"{where}: a tag must be a string, got {value!r}")
    return result


@contextmanager
def tags(*new_tags: str) -> Iterator[set[str]]:
    """Add `new_tags` to the runs created inside the block; yields the tags now in effect."""
    merged = tuple(dict.fromkeys((*_current.get(), *check_tags(new_tags, "tags()"))))
    token = _current.set(merged)
    try:
        yield set(merged)
    finally:
        _current.reset(token)


def current_tags() -> tuple[str, ...]:
    """The tags of the enclosing `tags(...)` blocks, outermost first."""
    return _current.get()


def merge_tags(own: list[str]) -> list[str]:
    """A run's own tags followed by those in effect, each once (`own` itself if there are none)."""
    extra = _current.get()
    if not extra:
        return own
    return list(dict.fromkeys((*own, *extra)))
