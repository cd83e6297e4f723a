from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from transom import Abort, exponential_backoff, flow, get_run_logger, task, task_input_hash
from transom.core.policies import retry_delay_for
from transom.exceptions import TaskRunTimeout


def test_retries_until_success_with_states_recorded(runtime: Any) -> None:
    calls: list[int] = []

    @task(retries=3, retry_delay_seconds=[0, 0.01])
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "up"

    @flow
    def main() -> str:
        return flaky()

    assert main() == "up"
    (run,) = runtime.task_runs("flaky")
    assert runtime.states(run.id) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]


def test_retries_exhausted_fail_with_the_last_error(runtime: Any) -> None:
    @task(retries=1)
    def always() -> None:
        raise ValueError("still broken")

    state = always(return_state=True)
    assert state.is_failed() and "still broken" in state.message
    assert runtime.states(state.run_id)[-1] == "Failed"


def test_retry_condition_can_refuse_a_retry(runtime: Any) -> None:
    calls: list[int] = []

    def only_connection_errors(task_: Any, ctx: Any, state: Any) -> bool:
        return isinstance(state.exception, ConnectionError)

    @task(retries=5, retry_condition_fn=only_connection_errors)
    def picky() -> None:
        calls.append(1)
        raise KeyError("not retryable")

    assert picky(return_state=True).is_failed()
    assert len(calls) == 1


def test_abort_ends_without_retries(runtime: Any) -> None:
    calls: list[int] = []

    @task(retries=3)
    def stop() -> None:
        calls.append(1)
        raise Abort("nothing to do")

    assert stop(return_state=True).is_failed() and len(calls) == 1


def test_retry_delays_number_list_backoff_and_jitter() -> None:
    assert retry_delay_for(2, 1, 3) == 2.0
    assert [retry_delay_for([1, 5], n, 3) for n in (1, 2, 3)] == [1.0, 5.0, 5.0]
    backoff = exponential_backoff(backoff_factor=0.5)
    assert [retry_delay_for(backoff, n, 4) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    rng = random.Random(7)
    jittered = [retry_delay_for(10, 1, 1, jitter_factor=0.5, rng=rng) for _ in range(50)]
    assert all(10 <= d <= 15 for d in jittered) and len(set(jittered)) > 1


def test_sync_timeout_is_enforced_without_signals_off_the_main_thread(runtime: Any) -> None:
    @task(timeout_seconds=0.2)
    def hang() -> None:
        time.sleep(30)

    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("s", hang(return_state=True)))
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    state = result["s"]
    assert state.name == "TimedOut" and isinstance(state.exception, TaskRunTimeout)


def test_timed_out_attempts_are_retried(runtime: Any) -> None:
    calls: list[int] = []

    @task(timeout_seconds=0.2, retries=1)
    def first_slow() -> str:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(30)
        return "fast"

    assert first_slow() == "fast"


def test_cache_hit_skips_the_call_and_says_cached(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_key_fn=task_input_hash)
    def expensive(x: int) -> int:
        calls.append(x)
        return x * x

    first = expensive(4, return_state=True)
    second = expensive(4, return_state=True)
    other = expensive(5, return_state=True)
    assert (first.result(), second.result(), other.result()) == (16, 16, 25)
    assert calls == [4, 5]
    assert second.name == "Cached" and second.cached and not first.cached


def test_expired_cache_runs_again(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(0))
    def short_lived() -> int:
        calls.append(1)
        return 1

    short_lived()
    short_lived()
    assert len(calls) == 2


def test_custom_cache_key_fn_and_refresh(runtime: Any) -> None:
    calls: list[str] = []

    def by_name(ctx: Any, params: dict[str, Any]) -> str:
        return f"greeting-{params['name'].lower()}"

    @task(cache_key_fn=by_name)
    def greet(name: str) -> str:
        calls.append(name)
        return f"hello {name}"

    assert greet("Ada") == "hello Ada"
    assert greet("ADA") == "hello Ada"  # same key: cached value
    assert greet.with_options(refresh_cache=True)("ADA") == "hello ADA"
    assert calls == ["Ada", "ADA"]


def test_unpicklable_result_fails_with_a_clear_reason(runtime: Any) -> None:
    @task(persist_result=True)
    def make_lock() -> Any:
        return threading.Lock()

    state = make_lock(return_state=True)
    assert state.is_failed()
    assert "cannot be pickled" in state.message


def test_json_persisted_result_is_readable(runtime: Any, tmp_path: Any) -> None:
    @task(persist_result=True, result_serializer="json", result_storage=str(tmp_path / "res"))
    def data() -> dict[str, Any]:
        return {"rows": [1, 2], "name": "données"}

    state = data(return_state=True)
    files = list((tmp_path / "res").iterdir())
    assert len(files) == 1 and "données" in files[0].read_text(encoding="utf-8")
    assert state.result() == {"rows": [1, 2], "name": "données"}


def test_run_logger_and_print_capture_are_recorded(runtime: Any) -> None:
    @task(log_prints=True)
    def chatty() -> None:
        get_run_logger().warning("from the logger")
        print("from print", 42)

    @flow
    def main() -> None:
        chatty()

    main()
    (run,) = runtime.task_runs("chatty")
    assert runtime.logs(run.id) == ["from the logger", "from print 42",
                                    "finished in state Completed"]


def test_print_is_not_captured_without_log_prints(runtime: Any, capsys: Any) -> None:
    @flow
    def quiet() -> None:
        print("to stdout")

    quiet()
    assert "to stdout" in capsys.readouterr().out
    assert "to stdout" not in runtime.logs()


def test_get_run_logger_outside_a_run_says_so() -> None:
    from transom.exceptions import MissingContextError

    # Prefect's class: code that catches it to fall back to a plain logger keeps working.
    with pytest.raises(MissingContextError, match="outside a flow or task run"):
        get_run_logger()


def test_task_options_are_checked() -> None:
    with pytest.raises(ValueError, match="retries"):
        task(retries=-1)(lambda: None)
    with pytest.raises(ValueError, match="result_serializer"):
        task(result_serializer="yaml")(lambda: None)
