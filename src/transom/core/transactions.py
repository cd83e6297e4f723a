"""Transactions: groups of task runs whose keyed results are written together, or not at all.

`with transaction(key=...) as txn:` opens one. A task run that completes inside it is staged as
a child transaction: its result (when it is persisted under a key) is written when the outermost
transaction commits, and its `on_commit` hooks run then; if the block raises, every staged child
is rolled back, newest first, running its `on_rollback` hooks, and the exception goes on up. A
keyed transaction writes a record of its own on commit, so the next one with that key starts
committed (`txn.is_committed()`). SERIALIZABLE isolation holds an in-process lock per key.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transom.core.context import ResultStore

__all__ = [
    "CommitMode",
    "IsolationLevel",
    "Transaction",
    "TransactionState",
    "get_transaction",
    "key_lock",
    "transaction",
    "transaction_var",
]

logger = logging.getLogger("transom.transactions")

Hook = Callable[["Transaction"], Any]


class TransactionState(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    STAGED = "STAGED"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"


class CommitMode(enum.Enum):
    """EAGER: commit on leaving the block, even inside another transaction; LAZY: a nested
    transaction is staged and commits with its parent; OFF: never commit (roll back by hand)."""

    EAGER = "EAGER"
    LAZY = "LAZY"
    OFF = "OFF"


class IsolationLevel(enum.Enum):
    READ_COMMITTED = "READ_COMMITTED"
    SERIALIZABLE = "SERIALIZABLE"


transaction_var: ContextVar[Transaction | None] = ContextVar("transom_transaction", default=None)
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def key_lock(key: str) -> threading.Lock:
    """The in-process lock of a key (SERIALIZABLE isolation)."""
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.Lock()
        return lock


def get_transaction() -> Transaction | None:
    """The innermost transaction in effect here (a task run's own, inside a task), or None."""
    return transaction_var.get()


class Transaction:
    """One unit of work that commits or rolls back as a whole (see the module's docstring)."""

    def __init__(self, key: str | None = None, *, store: ResultStore | None = None,
                 commit_mode: CommitMode | str | None = None,
                 isolation_level: IsolationLevel | str | None = None,
                 overwrite: bool = False, write_on_commit: bool = True,
                 parent: Transaction | None = None) -> None:
        self.key = key
        self.store = store
        self.commit_mode = CommitMode(commit_mode) if commit_mode is not None else None
        self.isolation_level = (IsolationLevel(getattr(isolation_level, "value", isolation_level))
                                if isolation_level is not None else None)
        self.overwrite = overwrite
        self.write_on_commit = write_on_commit
        self.parent = parent
        self.state = TransactionState.PENDING
        self.children: list[Transaction] = []
        self.on_commit_hooks: list[Hook] = []
        self.on_rollback_hooks: list[Hook] = []
        self._values: dict[str, Any] = {}
        self._staged_value: Any = None
        self._write: Callable[[], Any] | None = None  # a task run's result, written on commit
        self._token: Token[Transaction | None] | None = None
        self._lock: threading.Lock | None = None

    # -- the block ---------------------------------------------------------------------------
    def __enter__(self) -> Transaction:
        if self.parent is None:
            self.parent = transaction_var.get()
        if self.isolation_level is IsolationLevel.SERIALIZABLE and self.key:
            self._lock = key_lock(self.key)
            self._lock.acquire()
        self.begin()
        self._token = transaction_var.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if self._token is not None:
            transaction_var.reset(self._token)
            self._token = None
        try:
            if exc is not None:
                self.rollback()
            elif self.state is TransactionState.ACTIVE:
                mode = self.commit_mode or (CommitMode.LAZY if self.parent else CommitMode.EAGER)
                if mode is CommitMode.EAGER:
                    self.commit()
                elif mode is CommitMode.LAZY and self.parent is not None:
                    self.parent.add_child(self)
                elif mode is CommitMode.LAZY:
                    self.commit()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def begin(self) -> None:
        """Active, or committed already if a record of its key exists (and overwrite is off)."""
        if (self.key and self.store is not None and not self.overwrite
                and self.store.read(self.key) is not None):
            self.state = TransactionState.COMMITTED
            return
        self.state = TransactionState.ACTIVE

    # -- values shared with hooks --------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        self._values[name] = value

    def get(self, name: str, default: Any = ...) -> Any:
        """A value set on this transaction or one it is inside; `default` (or KeyError) if none."""
        txn: Transaction | None = self
        while txn is not None:
            if name in txn._values:
                return txn._values[name]
            txn = txn.parent
        if default is ...:
            raise KeyError(f"no value {name!r} was set on this transaction or its parents")
        return default

    def stage(self, value: Any, on_rollback_hooks: list[Hook] | None = None,
              on_commit_hooks: list[Hook] | None = None) -> None:
        """The value a keyed transaction records on commit, and hooks to run then."""
        self._staged_value = value
        self.on_rollback_hooks.extend(on_rollback_hooks or ())
        self.on_commit_hooks.extend(on_commit_hooks or ())

    def read(self) -> Any:
        """The recorded value of this transaction's key (None if there is none)."""
        if not self.key or self.store is None:
            return None
        record = self.store.read(self.key)
        return record.value if record is not None else None

    # -- children ----------------------------------------------------------------------------
    def add_child(self, child: Transaction, write: Callable[[], Any] | None = None) -> None:
        """Stage `child` (a task run's, with the write of its result) to commit with this one;
        once this one has ended, the child follows it at once."""
        child.parent = self
        if write is not None:
            child._write = write
        if self.state is TransactionState.ACTIVE or self.state is TransactionState.STAGED:
            child.state = TransactionState.STAGED
            self.children.append(child)  # list.append: safe from the task runner's threads
        elif self.state is TransactionState.ROLLED_BACK:
            child.state = TransactionState.STAGED
            child.rollback()
        else:
            child.commit()

    def staged_result(self, key: str) -> tuple[bool, Any]:
        """(True, value) if a task result staged in this transaction tree has `key`."""
        txn: Transaction | None = self
        while txn is not None:
            for child in txn.children:
                if child.key == key and child._write is not None:
                    return True, child._staged_value
            txn = txn.parent
        return False, None

    # -- the end -----------------------------------------------------------------------------
    def commit(self) -> bool:
        """Commit the staged children, write what is due and run the on_commit hooks in order;
        a write or hook that fails is logged and the whole transaction rolls back (False)."""
        if self.state in (TransactionState.COMMITTED, TransactionState.ROLLED_BACK):
            return False
        try:
            for child in list(self.children):
                if not child.commit():
                    raise RuntimeError(f"the staged transaction {child.key!r} could not commit")
            if self._write is not None:
                self._write()
            elif self.key and self.store is not None and self.write_on_commit:
                self.store.write(self.key, self._staged_value)
            for hook in self.on_commit_hooks:
                hook(self)
        except Exception as exc:
            logger.error("transaction %r could not commit (%s); rolling back",
                         self.key, exc, exc_info=exc)
            self.rollback()
            return False
        self.state = TransactionState.COMMITTED
        return True

    def rollback(self) -> bool:
        """Run the rollback hooks of this transaction and of its staged children, newest first.
        A hook that raises is logged; the others still run. False if it had committed."""
        if self.state in (TransactionState.COMMITTED, TransactionState.ROLLED_BACK):
            return False
        self.state = TransactionState.ROLLED_BACK
        for hook in reversed(self.on_rollback_hooks):
            try:
                hook(self)
            except Exception as exc:
                logger.error("on_rollback hook %s of transaction %r raised %r",
                             getattr(hook, "__name__", hook), self.key, exc, exc_info=exc)
        for child in reversed(self.children):
            child.rollback()
        return True

    def is_committed(self) -> bool:
        return self.state is TransactionState.COMMITTED

    def is_rolled_back(self) -> bool:
        return self.state is TransactionState.ROLLED_BACK

    def is_staged(self) -> bool:
        return self.state is TransactionState.STAGED

    def is_active(self) -> bool:
        return self.state is TransactionState.ACTIVE

    def is_pending(self) -> bool:
        return self.state is TransactionState.PENDING

    def __repr__(self) -> str:
        return f"Transaction(key={self.key!r}, state={self.state.name})"


@contextmanager
def transaction(key: str | None = None, *, store: ResultStore | None = None,
                commit_mode: CommitMode | str | None = None,
                isolation_level: IsolationLevel | str | None = None,
                overwrite: bool = False, write_on_commit: bool = True) -> Iterator[Transaction]:
    """Open a transaction (see the module's docstring). A keyed one records itself in `store`,
    by default the runtime's result storage."""
    if key is not None and store is None:
        from transom.core.context import get_runtime

        store = get_runtime().result_store()
    with Transaction(key, store=store, commit_mode=commit_mode, isolation_level=isolation_level,
                     overwrite=overwrite, write_on_commit=write_on_commit) as txn:
        yield txn
