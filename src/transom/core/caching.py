"""A task run's cache and transaction steps: its cache key (policy, result_storage_key), the
lookup, and handing a completed run to its transaction. Called by `_TaskRun` in engine.py, only
for tasks that cache or are inside (or hooked to) a transaction: the usual run never comes here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from transom.core import states as st
from transom.core.naming import render_storage_key
from transom.core.states import State
from transom.core.transactions import TransactionState, key_lock

if TYPE_CHECKING:
    from transom.core.engine import _TaskRun

__all__ = ["look_up", "stage"]


def look_up(run: _TaskRun) -> State | None:
    """Compute the run's cache key; a Cached state if a result is stored under it."""
    task = run.task
    assert run.ctx is not None
    run.ctx.parameters = run.parameters = task.bind(run.args, run.kwargs)
    policy = task.key_policy
    key: str | None = None
    if policy is not None:
        flow_parameters = run.flow_ctx.parameters if run.flow_ctx is not None else {}
        try:
            key = policy.compute_key(run.ctx, run.parameters, flow_parameters)
        except Exception as exc:
            run.log(logging.WARNING, "could not compute the cache key (%s); the result is "
                    "not cached", exc)
    if task.result_storage_key is not None:
        try:
            key = render_storage_key(task.result_storage_key, run.parameters, run_views(run))
        except (KeyError, AttributeError, IndexError, ValueError) as exc:
            return run.end_in(st.Failed(exc, message=(
                f"result_storage_key {task.result_storage_key!r} cannot be filled in from "
                f"the parameters: {exc!r}")))
    run.cache_key = key
    if run.txn is not None:
        run.txn.key = key
    location = policy.key_storage if policy is not None else None
    run.store = run.runtime.result_store(location or task.result_storage)
    if not key or task.refresh_cache:
        return None
    if policy is not None and policy.isolation_level == "SERIALIZABLE":
        run.key_lock = key_lock(key)
        run.key_lock.acquire()
    staged, value = (run.txn.parent.staged_result(key)
                     if run.txn is not None and run.txn.parent is not None
                     else (False, None))
    if staged:
        return cached(run, value, "staged in this transaction")
    hit = run.store.read(key)
    if hit is None:
        return None
    return cached(run, hit.value, f"cached {hit.created:%Y-%m-%d %H:%M:%S}")


def run_views(run: _TaskRun) -> dict[str, Any]:
    """`flow_run` and `task_run` as a result_storage_key template sees them."""
    flow_ctx = run.flow_ctx
    flow_run = None if flow_ctx is None else SimpleNamespace(
        id=flow_ctx.flow_run_id, name=flow_ctx.name, flow_name=flow_ctx.flow.name,
        parameters=flow_ctx.parameters)
    task_run = SimpleNamespace(id=run.run_id, name=run.name, task_name=run.task.name,
                               parameters=run.parameters, run_count=run.run_count)
    return {"flow_run": flow_run, "task_run": task_run}


def cached(run: _TaskRun, value: Any, message: str) -> State:
    assert run.cache_key is not None
    run.log(logging.INFO, "cache hit (key %s)", run.cache_key[:12])
    state = run.set_state(st.Completed(value, name="Cached", message=message),
                          result_ref=run.cache_key)
    run.log(logging.INFO, "finished in state %s", state.name)
    return state


def stage(run: _TaskRun, value: Any, write: Callable[[], str] | None) -> str | None:
    """Hand the completed run to its transaction: inside another one, a keyed result is
    written when that commits; outside, the run commits now (its on_commit hooks run)."""
    txn = run.txn
    assert txn is not None
    task = run.task
    txn.stage(value, on_rollback_hooks=list(task.on_rollback_hooks),
              on_commit_hooks=list(task.on_commit_hooks))
    ref = None
    if write is not None and (txn.parent is None or run.cache_key is None):
        ref = write()  # not keyed, or no transaction around: written now
        write = None
    if txn.parent is None:
        txn.state = TransactionState.ACTIVE
        txn.commit()
    else:
        txn.parent.add_child(txn, write)
        if write is not None:
            ref = run.cache_key
    return ref
