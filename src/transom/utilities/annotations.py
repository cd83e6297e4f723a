"""`transom.utilities.annotations`: wrappers that change how a task treats an argument.

`unmapped(x)` passes `x` whole to every call of `.map()`; `allow_failure(future)` lets a task
run even if that upstream failed; `quote(x)` passes `x` as it is, without looking inside it
for futures.
"""

from __future__ import annotations

from transom.core.annotations import allow_failure, quote, unmapped

__all__ = ["allow_failure", "quote", "unmapped"]
