"""`transom.concurrency` and tag limits as Prefect 3 documents them (docs: "Apply global
concurrency and rate limits", "Limit concurrent task runs with tags"): slots held across real
processes on SQLite and PostgreSQL, never more than the limit; leases freed when their holder
is killed; waits said in the run's log; timeouts, rate limits and bad arguments."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import clean_environ
from tests.server.conftest import LiveServer
from transom import flow, task
from transom.concurrency import asyncio as aconc
from transom.concurrency.sync import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    concurrency,
    rate_limit,
)
from transom.core.context import reset_runtime
from transom.exceptions import UserInputError
from transom.schemas import ConcurrencyLimitCreate, SlotsAcquire
from transom.services import open_backend
from transom.settings import Settings
from transom.task_runners import ProcessPoolTaskRunner
from transom.testing.utilities import transom_test_harness

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # A limit made by the test is seen by the next tagged task run at once.
    monkeypatch.setenv("TRANSOM_CONCURRENCY_NAMES_CACHE_SECONDS", "0")
    with transom_test_harness() as home:
        yield Path(home)


@pytest.fixture(params=["embedded", "server"])
def where(request: pytest.FixtureRequest, harness: Path, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Limits in the harness's embedded database, or in a live server's (on SQLite)."""
    if request.param == "embedded":
        yield str(harness)
        return
    server = LiveServer(Settings.load({}, home=tmp_path / "server",
                                      database_url=f"sqlite:///{tmp_path / 'server.db'}",
                                      server_services=False))
    server.start()
    monkeypatch.setenv("TRANSOM_API_URL", server.url)
    try:
        yield server.url
    finally:
        reset_runtime()  # the runs' events go to the server before it stops
        monkeypatch.delenv("TRANSOM_API_URL")
        server.stop()


def _create(name: str, limit: int, decay: float = 0.0) -> None:
    with open_backend() as backend:
        backend.create_concurrency_limit(ConcurrencyLimitCreate(
            name=name, limit=limit, slot_decay_per_second=decay))


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (one that ends where another starts: not both)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                   key=lambda edge: (edge[0], edge[1]))
    most = open_ = 0
    for _, step in edges:
        open_ += step
        most = max(most, open_)
    return most


def test_max_overlap_counts_what_it_should() -> None:
    assert _max_overlap([(0, 1), (1, 2), (2, 3)]) == 1
    assert _max_overlap([(0, 3), (1, 2), (1.5, 4), (3.5, 5)]) == 3


# -- in one process ------------------------------------------------------------------------------
def test_a_tag_limit_holds_task_runs_back_and_says_so_in_their_log(where: str) -> None:
    _create("tag:db", 1)
    spans: list[tuple[float, float]] = []

    @task(tags=["db"])
    def query(i: int) -> int:
        start = time.monotonic()
        time.sleep(0.1)
        spans.append((start, time.monotonic()))
        return i

    @flow
    def pipeline() -> list[int]:
        return [f.result() for f in [query.submit(i) for i in range(3)]]

    assert pipeline() == [0, 1, 2]
    assert _max_overlap(spans) == 1 and len(spans) == 3
    reset_runtime()  # the runs' logs are written
    with open_backend() as backend:
        run = backend.list_flow_runs(limit=1).items[0]
        lines = [line.message for line in backend.flow_run_logs(run.id).items]
        limit = backend.read_concurrency_limit("tag:db")
    assert any("waiting for a slot of concurrency limit 'tag:db' (1 of 1 in use)" in line
               for line in lines), lines
    assert limit.active_slots == 0 and limit.leases == []  # every slot given back


def test_slots_are_given_back_when_the_task_fails_and_a_limit_of_0_fails_at_once(
        harness: Path) -> None:
    _create("tag:flaky", 1)
    _create("tag:never", 0)

    @task(tags=["flaky"])
    def fails() -> None:
        raise ValueError("boom")

    @task(tags=["never"])
    def blocked() -> None:
        raise AssertionError("a task of a limit of 0 must not run")

    @flow
    def both() -> tuple[str, str, str]:
        a = fails(return_state=True)
        b = fails(return_state=True)  # it gets the slot the first one gave back
        c = blocked(return_state=True)
        return a.name, b.name, c.message or ""

    first, second, refused = both(return_state=True).result(raise_on_failure=False)
    assert (first, second) == ("Failed", "Failed")
    assert "could not take its concurrency slots" in refused and "its limit is 0" in refused
    with open_backend() as backend:
        assert backend.read_concurrency_limit("tag:flaky").leases == []


def test_async_task_runs_wait_for_their_tags_slots_without_blocking_the_loop(
        harness: Path) -> None:
    _create("tag:api", 2)
    spans: list[tuple[float, float]] = []

    @task(tags=["api"])
    async def call(i: int) -> int:
        start = time.monotonic()
        await asyncio.sleep(0.1)
        spans.append((start, time.monotonic()))
        return i

    @flow
    async def calls() -> list[int]:
        return list(await asyncio.gather(*(call(i) for i in range(6))))

    assert asyncio.run(calls()) == list(range(6))
    assert len(spans) == 6 and _max_overlap(spans) == 2


def _in_pool(i: int) -> tuple[float, float]:
    start = time.time()
    time.sleep(0.2)
    return start, time.time()


def test_process_pool_task_runs_hold_their_slots_in_the_parent(harness: Path) -> None:
    _create("tag:cpu", 1)
    pooled = task(_in_pool, tags=["cpu"])

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def crunch() -> list[tuple[float, float]]:
        return [f.result() for f in [pooled.submit(i) for i in range(3)]]

    spans = crunch()
    assert len(spans) == 3 and _max_overlap(spans) == 1
    with open_backend() as backend:
        assert backend.read_concurrency_limit("tag:cpu").leases == []


def test_untagged_and_unlimited_tags_take_no_slots(harness: Path) -> None:
    _create("tag:db", 1)

    @task(tags=["other"])
    def free() -> float:
        time.sleep(0.2)
        return time.monotonic()

    @flow
    def fan() -> list[float]:
        return [f.result() for f in [free.submit() for _ in range(4)]]

    started = time.monotonic()
    fan()
    assert time.monotonic() - started < 0.7  # side by side, not one after another


def test_concurrency_and_its_timeout(where: str) -> None:
    _create("gpu", 1)
    with concurrency("gpu"):
        with open_backend() as backend:
            held = backend.read_concurrency_limit("gpu")
            assert held.active_slots == 1 and len(held.leases) == 1
            assert f"pid {os.getpid()}" in held.leases[0].holder
        started = time.monotonic()
        with pytest.raises(AcquireConcurrencySlotTimeoutError,
                           match=r"gave up waiting for a slot of concurrency limit 'gpu' "
                                 r"\(1 of 1 in use\) after 0.3s") as caught:
            with concurrency(["gpu"], timeout_seconds=0.3):
                raise AssertionError("the slot is taken")
        assert isinstance(caught.value, TimeoutError)
        assert 0.3 <= time.monotonic() - started < 2
    with concurrency("gpu", occupy=1, timeout_seconds=1):  # given back at the end of the block
        pass
    with pytest.raises(ValueError, match="occupy must be a whole number"):
        with concurrency("gpu", occupy=0):
            pass
    with pytest.raises(UserInputError, match="2 slots of concurrency limit 'gpu' can never be "
                                             "taken: its limit is 1"):
        with concurrency("gpu", occupy=2):
            pass


def test_a_wait_inside_a_run_is_in_the_runs_log_and_retries_keep_the_tag_slot(
        harness: Path) -> None:
    _create("report", 1)
    _create("tag:once", 1)
    attempts: list[float] = []

    @task(tags=["once"], retries=2, retry_delay_seconds=0)
    def flaky() -> str:
        with open_backend() as backend:  # its slot is held through every attempt
            attempts.append(backend.read_concurrency_limit("tag:once").active_slots)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return "done"

    @flow
    def busy() -> str:
        with concurrency("report"):
            with pytest.raises(AcquireConcurrencySlotTimeoutError):
                with concurrency("report", timeout_seconds=0.2):
                    pass
        return flaky()

    assert busy() == "done" and attempts == [1, 1, 1]
    reset_runtime()
    with open_backend() as backend:
        run = backend.list_flow_runs(limit=1).items[0]
        lines = [line.message for line in backend.flow_run_logs(run.id).items]
        assert backend.read_concurrency_limit("tag:once").leases == []
    assert "waiting for a slot of concurrency limit 'report' (1 of 1 in use)" in lines, lines


def test_an_unknown_name_limits_nothing_unless_strict(harness: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with concurrency("nobody-made-this"):
        pass
    assert "there is no concurrency limit named 'nobody-made-this'" in caplog.text
    with pytest.raises(ConcurrencySlotAcquisitionError, match="no concurrency limit named 'x'"):
        with concurrency("x", strict=True):
            pass


def test_rate_limit_needs_decay_and_frees_slots_over_time(harness: Path) -> None:
    _create("plain", 2)
    with pytest.raises(UserInputError, match="rate_limit needs a limit with slot decay, and "
                                             "'plain' has none"):
        rate_limit("plain")
    _create("api", 2, decay=5.0)  # a slot back every 0.2 s
    started = time.monotonic()
    for _ in range(4):
        rate_limit("api")
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 2.5  # two at once, then as the slots decay
    with open_backend() as backend:
        assert backend.read_concurrency_limit("api").leases == []  # a rate limit holds no lease


def test_the_async_forms(harness: Path) -> None:
    _create("db", 1)
    _create("calls", 1, decay=10.0)
    spans: list[tuple[float, float]] = []

    async def use(i: int) -> None:
        async with aconc.concurrency("db"):
            start = time.monotonic()
            await asyncio.sleep(0.05)
            spans.append((start, time.monotonic()))

    async def main() -> None:
        await asyncio.gather(*(use(i) for i in range(4)))
        await aconc.rate_limit("calls")
        await aconc.rate_limit("calls")
        with pytest.raises(aconc.AcquireConcurrencySlotTimeoutError):
            async with aconc.concurrency("db", timeout_seconds=0.1):
                async with aconc.concurrency("db", timeout_seconds=0.1):
                    pass

    asyncio.run(main())
    assert len(spans) == 4 and _max_overlap(spans) == 1


# -- across processes, on both databases ---------------------------------------------------------
HOLDER = textwrap.dedent("""
    import sys, time
    from concurrent.futures import ThreadPoolExecutor
    from transom import flow, task
    from transom.concurrency.sync import concurrency

    mode, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    spans = []

    def record():
        start = time.time()
        time.sleep(0.03)
        spans.append((start, time.time()))

    @task(tags=["db"])
    def tagged(i):
        record()

    @flow
    def tagged_flow():
        for future in [tagged.submit(i) for i in range(count)]:
            future.result()

    def limited(i):
        with concurrency("x", timeout_seconds=300):
            record()

    if mode == "tag":
        tagged_flow()
    else:
        with ThreadPoolExecutor(5) as pool:
            list(pool.map(limited, range(count)))
    with open(out, "w") as f:
        f.write("\\n".join(f"{a!r} {b!r}" for a, b in spans))
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of processes sharing one database: a SQLite file, or a PostgreSQL."""
    env = clean_environ(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env["TRANSOM_LOGGING_LEVEL"] = "WARNING"
    if request.param == "postgresql":
        env["TRANSOM_DATABASE_URL"] = str(request.getfixturevalue("postgres_url"))
    yield env


def _settings(env: dict[str, str]) -> Settings:
    return Settings.load({k: v for k, v in env.items() if k.startswith("TRANSOM_")})


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tag", "concurrency"])
def test_four_processes_of_twenty_never_exceed_a_limit_of_two(
        shared: dict[str, str], tmp_path: Path, mode: str) -> None:
    with open_backend(_settings(shared)) as backend:
        backend.create_concurrency_limit(ConcurrencyLimitCreate(
            name="tag:db" if mode == "tag" else "x", limit=2))
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    outs = [tmp_path / f"spans-{i}.txt" for i in range(4)]
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, str(script), mode, str(out), "20"], env=shared,
                              stderr=subprocess.PIPE, text=True) for out in outs]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    elapsed = time.monotonic() - started
    spans = [tuple(map(float, line.split())) for out in outs
             for line in out.read_text().splitlines()]
    assert len(spans) == 80
    most = _max_overlap(spans)  # type: ignore[arg-type]
    where = "postgresql" if "TRANSOM_DATABASE_URL" in shared else "sqlite"
    print(f"\n{mode} on {where}: 80 slot holders "
          f"in {elapsed:.1f}s, at most {most} at once (limit 2)")
    assert most == 2  # never above the limit, and the limit was used
    with open_backend(_settings(shared)) as backend:
        assert backend.read_concurrency_limit("tag:db" if mode == "tag" else "x").leases == []


KILLED = textwrap.dedent("""
    import time
    from transom.concurrency.sync import concurrency

    with concurrency("k"):
        print("held", flush=True)
        time.sleep(600)
""")


@pytest.mark.slow
def test_a_killed_holders_slot_is_free_within_its_lease(shared: dict[str, str],
                                                        tmp_path: Path) -> None:
    lease = 2.0
    env = {**shared, "TRANSOM_CONCURRENCY_LEASE_SECONDS": str(lease)}
    settings = _settings(env)
    with open_backend(settings) as backend:
        backend.create_concurrency_limit(ConcurrencyLimitCreate(name="k", limit=1))
        script = tmp_path / "killed.py"
        script.write_text(KILLED)
        proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            ask = SlotsAcquire(names=["k"], holder="the test", lease_seconds=lease)
            # Renewed while its holder lives: still held after twice the lease.
            time.sleep(2 * lease)
            assert not backend.acquire_concurrency_slots(ask).granted
        finally:
            proc.kill()  # SIGKILL (TerminateProcess on Windows): nothing of it runs after
            proc.wait(10)
        killed = time.monotonic()
        while not (answer := backend.acquire_concurrency_slots(ask)).granted:
            assert time.monotonic() - killed < lease + 2, "the dead holder's slot stays taken"
            time.sleep(0.05)
        freed = time.monotonic() - killed
        where = "postgresql" if "TRANSOM_DATABASE_URL" in shared else "sqlite"
        print(f"\nkill -9 of the holder on {where}: its slot was free {freed:.2f}s later "
              f"(lease {lease:g}s)")
        assert freed <= lease + 0.5
        assert answer.lease_id is not None
        backend.release_concurrency_lease(answer.lease_id)
