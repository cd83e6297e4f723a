"""`transom.transactions`: `with transaction(key=...) as txn:`, where a Prefect user imports it."""

from __future__ import annotations

from transom.core.transactions import (
    CommitMode,
    IsolationLevel,
    Transaction,
    TransactionState,
    get_transaction,
    transaction,
)

__all__ = [
    "CommitMode",
    "IsolationLevel",
    "Transaction",
    "TransactionState",
    "get_transaction",
    "transaction",
]
