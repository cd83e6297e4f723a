"""Transactions as Prefect 3 documents them: `with transaction(key=...) as txn:` groups task runs;
their keyed results are written when it commits, on_commit hooks run then; a failure inside the
block rolls it back, running the on_rollback hooks of the completed task runs newest first, and
goes on up; a keyed transaction records itself, so `txn.is_committed()` says the work is done."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from transom import flow, task
from transom.cache_policies import INPUTS
from transom.transactions import Transaction, get_transaction, transaction


def test_a_failure_in_the_block_rolls_back_what_completed_and_reraises(
        runtime: Any, tmp_path: Path) -> None:
    side_effect = tmp_path / "side-effect.txt"

    @task
    def write_file(contents: str) -> None:
        side_effect.write_text(contents)

    @write_file.on_rollback
    def delete_file(txn: Transaction) -> None:
        side_effect.unlink()

    @task
    def quality_test() -> None:
        if len(side_effect.read_text().splitlines()) < 2:
            raise ValueError("not enough data")

    @flow
    def pipeline(contents: str) -> None:
        with transaction():
            write_file(contents)
            assert side_effect.exists()
            quality_test()

    state = pipeline("one line", return_state=True)
    assert state.is_failed() and isinstance(state.exception, ValueError)
    assert not side_effect.exists()
    assert pipeline("two\nlines") is None
    assert side_effect.exists()


def test_rollback_hooks_run_newest_first_and_commit_hooks_in_order(runtime: Any) -> None:
    seen: list[str] = []

    def hooks(name: str) -> dict[str, Any]:
        return {"on_commit": [lambda txn: seen.append(f"commit {name}")],
                "on_rollback": [lambda txn: seen.append(f"undo {name}")]}

    first = task(lambda: 1, name="first", **hooks("first"))
    second = task(lambda: 2, name="second", **hooks("second"))

    with pytest.raises(RuntimeError, match="stop"):
        with transaction():
            first()
            second()
            raise RuntimeError("stop")
    assert seen == ["undo second", "undo first"]

    seen.clear()
    with transaction() as txn:
        first()
        second()
        assert seen == []  # not before the commit
    assert seen == ["commit first", "commit second"]
    assert txn.is_committed()


def test_hooks_through_with_options_and_method_decorators(runtime: Any) -> None:
    seen: list[str] = []

    @task(on_commit=[lambda txn: seen.append("arg")])
    def step() -> int:
        return 1

    @step.on_commit
    def decorated(txn: Transaction) -> None:
        seen.append("decorator")

    copy = step.with_options(on_rollback=[lambda txn: seen.append("undo")])
    with pytest.raises(KeyError):
        with transaction():
            copy()
            raise KeyError("x")
    assert seen == ["undo"]
    step()  # outside a transaction: its own commits as it completes
    assert seen == ["undo", "arg", "decorator"]


def test_a_failed_task_does_not_run_its_own_rollback_hooks(runtime: Any) -> None:
    seen: list[str] = []

    @task(on_rollback=[lambda txn: seen.append("undo")],
          on_commit=[lambda txn: seen.append("commit")])
    def broken() -> None:
        raise OSError("disk")

    with pytest.raises(OSError), transaction():
        broken()
    assert seen == []  # it never completed: nothing of it to undo


def test_keyed_results_are_written_on_commit_not_before(runtime: Any) -> None:
    storage = Path(runtime.storage)

    @task(result_storage_key="total-{n}")
    def total(n: int) -> int:
        return n * 10

    with transaction() as txn:
        assert total(1) == 10
        assert not (storage / "total-1").exists()
        assert total(1) == 10  # read back from what is staged in this transaction
    assert txn.is_committed() and (storage / "total-1").exists()

    with pytest.raises(ZeroDivisionError), transaction():
        total(2)
        1 / 0  # noqa: B018
    assert not (storage / "total-2").exists()


def test_a_keyed_transaction_is_committed_once_its_record_exists(runtime: Any) -> None:
    calls: list[str] = []

    @task
    def download() -> str:
        calls.append("download")
        return "data"

    @flow
    def pipeline() -> str:
        with transaction(key="download-and-write") as txn:
            if txn.is_committed():
                return "skipped"
            download()
        return "done"

    with pytest.raises(ValueError), transaction(key="download-and-write"):
        raise ValueError("first try fails: nothing is recorded")
    assert pipeline() == "done"
    assert pipeline() == "skipped"
    assert calls == ["download"]


def test_values_set_in_a_task_reach_its_hooks(runtime: Any, tmp_path: Path) -> None:
    undone: list[str] = []

    @task
    def write(name: str) -> None:
        path = tmp_path / name
        path.write_text("x")
        txn = get_transaction()
        assert txn is not None
        txn.set("path", str(path))

    @write.on_rollback
    def remove(txn: Transaction) -> None:
        undone.append(txn.get("path"))
        Path(txn.get("path")).unlink()

    with pytest.raises(RuntimeError), transaction() as outer:
        outer.set("run", "nightly")
        write("a.txt")
        write("b.txt")
        raise RuntimeError("later step failed")
    assert undone == [str(tmp_path / "b.txt"), str(tmp_path / "a.txt")]
    assert list(tmp_path.glob("*.txt")) == []
    assert outer.is_rolled_back() and not outer.is_committed()
    assert get_transaction() is None


def test_a_rollback_hook_that_raises_is_logged_and_the_others_run(
        runtime: Any, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def bad(txn: Transaction) -> None:
        raise OSError("cannot undo")

    first = task(lambda: 1, name="first", on_rollback=[lambda txn: seen.append("first")])
    second = task(lambda: 2, name="second", on_rollback=[bad])
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError), transaction():
        first()
        second()
        raise RuntimeError("fail")
    assert seen == ["first"]
    assert "cannot undo" in caplog.text


def test_cached_results_inside_a_transaction_commit_with_it(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    with pytest.raises(RuntimeError), transaction():
        square(3)
        raise RuntimeError("rolled back: the cache entry is never written")
    with transaction():
        square(3)
    assert square(3) == 9
    assert calls == [3, 3]


def test_submitted_tasks_in_a_transaction_are_staged_from_their_threads(runtime: Any) -> None:
    seen: list[int] = []

    @task(on_rollback=[lambda txn: seen.append(txn.get("x"))])
    def part(x: int) -> int:
        txn = get_transaction()
        assert txn is not None
        txn.set("x", x)
        return x

    @flow
    def fan_out() -> None:
        with transaction():
            futures = part.map([1, 2, 3])
            futures.wait()
            raise RuntimeError("after the parts")

    state = fan_out(return_state=True)
    assert state.is_failed()
    assert sorted(seen) == [1, 2, 3]


def test_a_nested_transaction_commits_with_its_parent_unless_eager(runtime: Any) -> None:
    seen: list[str] = []
    step = task(lambda name: seen.append(f"ran {name}"), name="step")
    hooked = step.with_options(on_commit=[lambda txn: seen.append("hook")])

    with transaction() as outer:
        with transaction() as inner:
            hooked("inner")
        assert inner.is_staged() and seen == ["ran inner"]  # ran, hook not yet
        with transaction(commit_mode="EAGER") as eager:
            hooked("eager")
        assert eager.is_committed() and seen[-1] == "hook"
    assert outer.is_committed() and inner.is_committed()
    assert seen == ["ran inner", "ran eager", "hook", "hook"]


def test_an_on_commit_hook_that_raises_rolls_the_transaction_back(
        runtime: Any, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(txn: Transaction) -> None:
        raise OSError("notify failed")

    step = task(lambda: 1, name="step", on_commit=[broken],
                on_rollback=[lambda txn: seen.append("undo")])
    with caplog.at_level(logging.ERROR), transaction() as txn:
        step()
    assert txn.is_rolled_back() and seen == ["undo"]
    assert "could not commit" in caplog.text


def test_a_transaction_inside_an_async_flow(runtime: Any) -> None:
    import asyncio

    seen: list[str] = []

    @task(on_rollback=[lambda txn: seen.append("undo")])
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 1

    @flow
    async def pipeline() -> None:
        with transaction():
            await fetch()
            raise RuntimeError("after fetch")

    state = asyncio.run(pipeline(return_state=True))
    assert state.is_failed() and seen == ["undo"]
