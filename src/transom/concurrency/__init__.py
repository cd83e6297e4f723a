"""`transom.concurrency`: global concurrency limits and rate limits (Prefect's module paths).

`transom.concurrency.sync` has `concurrency(...)` (a context manager) and `rate_limit(...)`;
`transom.concurrency.asyncio` has the same as an async context manager and a coroutine. The
limits themselves are made with `transom concurrency-limit create NAME --limit N`.
"""

from __future__ import annotations

from transom.exceptions import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError

__all__ = ["AcquireConcurrencySlotTimeoutError", "ConcurrencySlotAcquisitionError"]
