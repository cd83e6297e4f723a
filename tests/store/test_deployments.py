"""Deployments, the scheduler, claims and lost runs in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from transom.core.states import StateType
from transom.exceptions import InvalidTransition, NotFound, UserInputError
from transom.schemas import (
    ArtifactCreate,
    BlockDocumentCreate,
    BlockTypeIn,
    ConcurrencyLimitCreate,
    DeploymentCreate,
    DeploymentRunCreate,
    DeploymentUpdate,
    PauseCreate,
    ResumeIn,
    ScheduleIn,
    SlotsAcquire,
    VariableCreate,
    WorkerPoll,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from transom.settings import Settings
from transom.store import Database, open_database, queries, runs, workers
from transom.store import deployments as deps
from transom.store.database import HEAD_REVISION

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def _pool(db: Database, name: str = "main", **extra: object) -> None:
    with db.write() as conn:
        deps.create_work_pool(conn, WorkPoolCreate(name=name, **extra))  # type: ignore[arg-type]


def _deploy(db: Database, name: str = "nightly", *, flow: str = "etl", pool: str | None = "main",
            every: float | None = None, now: datetime = T0, window: float = 600,
            **extra: object) -> uuid.UUID:
    schedules = [ScheduleIn(interval=every)] if every else []
    body = DeploymentCreate(flow_name=flow, name=name, entrypoint="flows/etl.py:etl",
                            path="/srv/project", work_pool=pool, schedules=schedules,
                            **extra)  # type: ignore[arg-type]
    with db.write() as conn:
        return deps.upsert_deployment(conn, body, now=now, window=window).id


def _poll(db: Database, name: str = "w1", *, limit: int = 10, running: list[uuid.UUID] | None = None,
          now: datetime = T0, instance: uuid.UUID | None = None, **extra: object):  # type: ignore[no-untyped-def]
    body = WorkerPoll(name=name, instance=instance or uuid.uuid5(uuid.NAMESPACE_OID, name),
                      work_pool=extra.pop("pool", "main"), running=running or [], limit=limit,
                      **extra)  # type: ignore[arg-type]
    with db.write() as conn:
        return workers.poll(conn, body, now=now, worker_timeout=30)


def _due(db: Database, deployment: uuid.UUID, count: int,
         earlier: timedelta = timedelta(0)) -> list[uuid.UUID]:
    """`count` runs of `deployment` due a second apart, the first `earlier` than T0."""
    with db.write() as conn:
        return [deps.create_deployment_run(conn, deployment, DeploymentRunCreate(
            scheduled_time=T0 - earlier - timedelta(seconds=i)), now=T0).id for i in range(count)]


def _states(db: Database, run_id: uuid.UUID) -> list[str]:
    with db.read() as conn:
        return [s.name for s in queries.list_states(conn, flow_run_id=run_id)]


def _runs(db: Database, state: str | None = None) -> list[object]:
    with db.read() as conn:
        return queries.list_flow_runs(conn, state=state, limit=1000)  # type: ignore[return-value]


class TestPoolsAndDeployments:
    def test_work_pool_lifecycle(self, db: Database) -> None:
        _pool(db, "main", concurrency_limit=2)
        with pytest.raises(UserInputError, match="a work pool named 'main' already exists"):
            _pool(db, "main")
        with db.write() as conn:
            pool = deps.update_work_pool(conn, "main", WorkPoolUpdate(paused=True))
            assert pool.paused and pool.concurrency_limit == 2
            pool = deps.update_work_pool(conn, "main", WorkPoolUpdate(concurrency_limit=None))
            assert pool.concurrency_limit is None and pool.paused
        with db.read() as conn:
            assert [p.name for p in deps.list_work_pools(conn)] == ["main"]
            with pytest.raises(NotFound, match="no work pool named 'nope'; create it with "
                                               "`transom work-pool create nope`"):
                deps.read_work_pool(conn, "nope")
        _deploy(db)
        with db.write() as conn, pytest.raises(UserInputError, match="used by the deployments etl/nightly"):
            deps.delete_work_pool(conn, "main")
        with db.write() as conn:
            deps.delete_deployment(conn, "nightly")
            deps.delete_work_pool(conn, "main")
            assert deps.list_work_pools(conn) == []

    def test_deploying_again_replaces_and_names_resolve(self, db: Database) -> None:
        _pool(db)
        first = _deploy(db, every=60, parameters={"n": 1}, tags=["a"])
        with db.read() as conn:
            deployment = deps.read_deployment(conn, "etl/nightly")
            assert deployment.id == first and deployment.work_pool_name == "main"
            assert deployment.schedules[0].interval == 60 and deployment.parameters == {"n": 1}
            assert deps.read_deployment(conn, "nightly").id == first
            assert deps.read_deployment(conn, str(first)).id == first
        assert len(_runs(db)) == 11  # 12:00 to 12:10, every minute, made at once
        again = _deploy(db, every=120)
        assert again == first
        with db.read() as conn:
            assert deps.read_deployment(conn, first).schedules[0].interval == 120
        assert len(_runs(db)) == 6  # the old schedule's runs were replaced
        _deploy(db, flow="other")
        with db.read() as conn, pytest.raises(UserInputError, match=r"\(etl/nightly, other/nightly\); write it as FLOW/NAME"):
            deps.read_deployment(conn, "nightly")
        with db.read() as conn, pytest.raises(NotFound, match="no deployment named 'etl/missing'"):
            deps.read_deployment(conn, "etl/missing")

    def test_a_missing_pool_is_refused_at_deploy_time(self, db: Database) -> None:
        with pytest.raises(NotFound, match="no work pool named 'main'"):
            _deploy(db)

    def test_pause_removes_upcoming_runs_and_resume_makes_them_again(self, db: Database) -> None:
        _pool(db)
        dep = _deploy(db, every=60)
        with db.write() as conn:
            deps.update_deployment(conn, dep, DeploymentUpdate(paused=True), now=T0, window=600)
            assert deps.schedule_runs(conn, now=T0, window=600) == 0
        assert [r.expected_start_time for r in _runs(db)] == [T0]  # due now: kept, still runs
        with db.write() as conn:
            deps.update_deployment(conn, dep, DeploymentUpdate(paused=False), now=T0, window=600)
        assert len(_runs(db)) == 11

    def test_a_deployment_run_merges_parameters_and_checks_required_ones(self, db: Database) -> None:
        _pool(db)
        schema = {"type": "object", "required": ["day"], "properties": {"day": {}, "n": {}}}
        dep = _deploy(db, parameters={"n": 1}, parameter_schema=schema, work_queue="fast")
        with db.write() as conn, pytest.raises(UserInputError, match="needs the parameter 'day'; pass it with --param day=VALUE"):
            deps.create_deployment_run(conn, dep, DeploymentRunCreate())
        strict = _deploy(db, name="strict", parameter_schema={**schema, "additionalProperties": False})
        with db.write() as conn, pytest.raises(UserInputError, match=r"has no parameter 'dya' \(it takes: day, n\)"):
            deps.create_deployment_run(conn, strict, DeploymentRunCreate(parameters={"dya": "mon"}))
        with db.write() as conn:  # a flow with **kwargs (or a schema from before) takes any name
            deps.create_deployment_run(conn, dep, DeploymentRunCreate(parameters={"day": "mon", "x": 1}))
        with db.write() as conn:
            run = deps.create_deployment_run(conn, dep, DeploymentRunCreate(
                parameters={"day": "mon"}, idempotency_key="k1"), now=T0)
            same = deps.create_deployment_run(conn, dep, DeploymentRunCreate(
                parameters={"day": "tue"}, idempotency_key="k1"), now=T0)
        assert same.id == run.id
        assert run.parameters == {"n": 1, "day": "mon"} and run.state_name == "Scheduled"
        assert run.deployment_id == dep and run.work_queue_name == "fast"
        assert run.expected_start_time == T0


class TestScheduler:
    def test_materialising_twice_or_concurrently_never_duplicates(self, db: Database) -> None:
        _pool(db)
        dep = _deploy(db, every=30, window=0)
        errors: list[BaseException] = []

        def tick(now: datetime) -> None:
            try:
                with db.write() as conn:
                    deps.schedule_runs(conn, now=now, window=600)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=tick, args=(T0 + timedelta(seconds=i),)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        with db.read() as conn:
            times = [r.expected_start_time for r in queries.list_flow_runs(conn, limit=1000)]
            assert len(times) == len(set(times)) == 21  # 12:00:00 .. 12:10:05, every 30 s
            keys = conn.execute(sa.text("SELECT COUNT(DISTINCT idempotency_key) FROM flow_runs "
                                        "WHERE deployment_id IS NOT NULL")).scalar()
        assert keys == 21 and dep is not None

    def test_a_secondly_rrule_makes_its_window_of_runs_in_bounded_time(self, db: Database) -> None:
        _pool(db)
        schedules = [ScheduleIn(rrule="FREQ=SECONDLY"), ScheduleIn(rrule="FREQ=MINUTELY")]
        body = DeploymentCreate(flow_name="etl", name="busy", entrypoint="flows/etl.py:etl",
                                work_pool="main", schedules=schedules)
        began = time.perf_counter()
        with db.write() as conn:  # walked from the 2020 anchor: half a minute, then hours
            dep = deps.upsert_deployment(conn, body, now=T0, window=3600).id
        with db.write() as conn:
            # 12:01:40 .. 12:02:09, less 12:02 which the minutely schedule has
            assert deps.schedule_runs(conn, now=T0 + timedelta(seconds=30), window=3600) == 29
        assert time.perf_counter() - began < 5.0
        times = [r.expected_start_time for r in _runs(db)]
        # at most 100 a schedule: 12:00:00 .. 12:01:39 and 12:00 .. 13:00, two shared
        assert len(times) == len(set(times)) == 100 + 61 - 2 + 29
        assert min(times) == T0 and dep is not None

    def test_the_scheduler_computes_times_without_the_write_lock(
            self, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from transom.services import Context, EmbeddedBackend

        _pool(db)
        _deploy(db, every=60, window=0)
        held: list[bool] = []
        real = deps.occurrences

        def spy(*args: Any, **kwargs: Any) -> list[datetime]:
            held.append(db._write_lock.locked())
            return real(*args, **kwargs)

        monkeypatch.setattr(deps, "occurrences", spy)
        settings = Settings.load({}, home=tmp_path / "home", server_scheduler_window=600)
        backend = EmbeddedBackend(Context(db, settings, clock=lambda: T0))
        assert backend.schedule_runs() == 10  # 12:01 .. 12:10; 12:00 was made at deploy time
        assert backend.schedule_runs() == 0
        assert held == [False, False]

    def test_the_uniqueness_guard_is_in_the_database(self, db: Database) -> None:
        from transom.store import models

        _pool(db)
        _deploy(db, every=60, window=0)
        with db.read() as conn:
            row = conn.execute(sa.select(models.flow_runs)).mappings().one()
        with pytest.raises(sa.exc.IntegrityError, match=r"(?i)unique"), db.engine.begin() as raw:
            raw.execute(models.flow_runs.insert().values({**row, "id": uuid.uuid4()}))


class TestClaims:
    def test_each_due_run_is_claimed_once_by_concurrent_workers(self, db: Database) -> None:
        _pool(db)
        dep = _deploy(db)
        _due(db, dep, 40)
        with db.write() as conn:
            deps.create_deployment_run(conn, dep, DeploymentRunCreate(
                scheduled_time=T0 + timedelta(hours=1)), now=T0)  # not due
        claimed: list[uuid.UUID] = []
        lock = threading.Lock()

        def work(name: str) -> None:
            mine: list[uuid.UUID] = []
            for _ in range(10):
                mine += [r.id for r in _poll(db, name, limit=3, running=mine).runs]
            with lock:
                claimed.extend(mine)

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(claimed) == 40 and len(set(claimed)) == 40
        pending = _runs(db, "pending")
        assert len(pending) == 40 and all(r.worker_id is not None for r in pending)  # type: ignore[attr-defined]
        assert _states(db, claimed[0]) == ["Scheduled", "Pending"]

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_poll_locks_only_the_runs_it_takes(self, db: Database) -> None:
        """A poll still in its transaction holds its one run; a second poll meanwhile takes the
        next three instead of finding every due run locked (it read 12 to claim 1 before)."""
        _pool(db)
        _due(db, _deploy(db), 5)
        body = WorkerPoll(name="first", instance=uuid.uuid4(), work_pool="main", limit=1)
        with db.engine.begin() as holding:
            first = workers.poll(holding, body, now=T0, worker_timeout=30).runs
            second = _poll(db, "second", limit=3).runs
        assert len(first) == 1 and len(second) == 3
        assert not {r.id for r in first} & {r.id for r in second}

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_poll_never_waits_for_a_limited_deployment_another_poll_counts(
            self, db: Database) -> None:
        """A poll inside its transaction holds a limited deployment's row while it claims: a
        second poll meanwhile goes past that deployment to the others' runs at once (it used to
        wait for the first to commit, and two polls could wait on each other's deployments)."""
        _pool(db)
        limited = _deploy(db, "limited", concurrency_limit=2)
        free = _deploy(db, "free")
        _due(db, limited, 4, earlier=timedelta(minutes=5))
        later = _due(db, free, 3)
        body = WorkerPoll(name="first", instance=uuid.uuid4(), work_pool="main", limit=1)
        second: list[Any] = []
        with db.engine.begin() as holding:
            first = workers.poll(holding, body, now=T0, worker_timeout=30).runs
            thread = threading.Thread(target=lambda: second.extend(_poll(db, "second").runs))
            thread.start()
            thread.join(15)
            assert not thread.is_alive(), "the second poll waited for the first"
        assert [r.deployment_id for r in first] == [limited]
        assert {r.id for r in second} == set(later)  # none of the limited deployment's
        third = _poll(db, "third").runs  # once the first committed: one slot left
        assert [r.deployment_id for r in third] == [limited]

    def test_a_full_deployment_does_not_keep_others_waiting(self, db: Database) -> None:
        """The oldest due runs belong to a deployment at its limit: the poll reads past them."""
        _pool(db)
        limited = _deploy(db, "limited", concurrency_limit=1)
        free = _deploy(db, "free")
        _due(db, limited, 30, earlier=timedelta(hours=1))
        late = _due(db, free, 2)
        runs = _poll(db, limit=3).runs
        assert [r.deployment_id for r in runs].count(limited) == 1
        assert {r.id for r in runs if r.deployment_id == free} == set(late)
        again = _poll(db, "w2", limit=3).runs
        assert again == []

    def test_claims_come_oldest_first_with_their_entrypoint(self, db: Database) -> None:
        _pool(db)
        dep = _deploy(db, parameters={"n": 2})
        with db.write() as conn:
            late = deps.create_deployment_run(conn, dep, DeploymentRunCreate(
                scheduled_time=T0 - timedelta(minutes=5)), now=T0)
            deps.create_deployment_run(conn, dep, DeploymentRunCreate(), now=T0)
            soon = deps.create_deployment_run(conn, dep, DeploymentRunCreate(
                scheduled_time=T0 + timedelta(seconds=2)), now=T0)
        first = _poll(db, limit=1).runs
        assert [r.id for r in first] == [late.id]
        assert first[0].entrypoint == "flows/etl.py:etl" and first[0].path == "/srv/project"
        assert first[0].parameters == {"n": 2} and first[0].deployment_name == "nightly"
        (now,) = _poll(db, limit=5, running=[late.id]).runs  # the one due 2 s later is not
        mine = [late.id, now.id]
        assert [r.id for r in _poll(db, limit=5, running=mine, prefetch_seconds=3).runs] == [soon.id]

    def test_concurrency_limits_of_pool_and_deployment_and_pause(self, db: Database) -> None:
        _pool(db, concurrency_limit=3)
        limited = _deploy(db, "limited", concurrency_limit=1)
        free = _deploy(db, "free")
        with db.write() as conn:
            # The limited deployment's runs are due first, so its own limit must hold them back.
            for i, dep in enumerate((limited, limited, limited, free, free, free, free)):
                deps.create_deployment_run(conn, dep, DeploymentRunCreate(
                    scheduled_time=T0 - timedelta(seconds=10 - i)), now=T0)
        got = _poll(db, limit=10).runs
        assert len(got) == 3
        assert Counter(r.deployment_name for r in got) == Counter({"free": 2, "limited": 1})
        mine = [r.id for r in got]
        assert _poll(db, limit=10, running=mine).runs == []
        with db.write() as conn:
            deps.update_work_pool(conn, "main", WorkPoolUpdate(paused=True, concurrency_limit=None))
        paused = _poll(db, limit=10, running=mine)
        assert paused.pool_paused and paused.runs == []

    def test_queues_filter_claims(self, db: Database) -> None:
        _pool(db)
        fast = _deploy(db, "fast", work_queue="fast")
        plain = _deploy(db, "plain")
        with db.write() as conn:
            deps.create_deployment_run(conn, fast, DeploymentRunCreate(), now=T0)
            deps.create_deployment_run(conn, plain, DeploymentRunCreate(), now=T0)
        assert [r.deployment_name for r in _poll(db, queues=["fast"]).runs] == ["fast"]
        assert [r.deployment_name for r in _poll(db, "w2", queues=["default"]).runs] == ["plain"]


class TestLostAndLateRuns:
    def _claimed(self, db: Database, n: int = 2) -> list[uuid.UUID]:
        _pool(db)
        dep = _deploy(db)
        with db.write() as conn:
            for _ in range(n):
                deps.create_deployment_run(conn, dep, DeploymentRunCreate(), now=T0)
        return [r.id for r in _poll(db, limit=n).runs]

    def _start(self, db: Database, run_id: uuid.UUID) -> None:
        from transom.schemas import StateIn

        with db.write() as conn:
            runs.set_run_state(conn, run_id, StateIn(type=StateType.RUNNING))

    def test_runs_a_worker_no_longer_has_are_given_back_or_crashed(self, db: Database) -> None:
        started, unstarted = self._claimed(db)
        self._start(db, started)
        _poll(db, limit=0, running=[], instance=uuid.uuid4(), now=T0 + timedelta(seconds=60))
        with db.read() as conn:
            crashed = queries.read_flow_run(conn, started)
            back = queries.read_flow_run(conn, unstarted)
        assert crashed.state_type is StateType.CRASHED
        assert "its worker 'w1' no longer runs it" in (crashed.state_message or "")
        assert back.state_name == "Scheduled" and back.worker_id is None
        assert "given back" in _states_messages(db, unstarted)[-1]
        assert [r.id for r in _poll(db, "w2", limit=5).runs] == [unstarted]  # claimable again

    def test_a_second_live_worker_may_not_take_the_name(self, db: Database) -> None:
        self._claimed(db, 0)
        _poll(db, "w1", limit=0)
        with pytest.raises(workers.WorkerNameTaken, match="a worker named 'w1' is already running"):
            _poll(db, "w1", limit=0, instance=uuid.uuid4(), now=T0 + timedelta(seconds=5))
        # Once the first one is silent past the timeout, a new one may take over the name.
        _poll(db, "w1", limit=0, instance=uuid.uuid4(), now=T0 + timedelta(seconds=31))

    def test_runs_of_a_silent_worker_end_crashed_with_the_reason(self, db: Database) -> None:
        running, pending = self._claimed(db)
        self._start(db, running)
        with db.write() as conn:
            assert workers.crash_runs_of_lost_workers(conn, now=T0 + timedelta(seconds=29),
                                                      worker_timeout=30) == 0
            assert workers.crash_runs_of_lost_workers(conn, now=T0 + timedelta(seconds=45),
                                                      worker_timeout=30) == 2
            assert workers.crash_runs_of_lost_workers(conn, now=T0 + timedelta(seconds=45),
                                                      worker_timeout=30) == 0
        with db.read() as conn:
            for run_id in (running, pending):
                run = queries.read_flow_run(conn, run_id)
                assert run.state_type is StateType.CRASHED and run.end_time is not None
                assert "its worker 'w1' stopped heart-beating (45s without a heartbeat, the " \
                       "limit is 30s)" in (run.state_message or "")
            (worker,) = workers.list_workers(conn, now=T0 + timedelta(seconds=45), worker_timeout=30)
            assert not worker.online and worker.active_runs == 0 and worker.work_pool_name == "main"

    def test_late_runs_are_named_late_and_still_claimed(self, db: Database) -> None:
        _pool(db)
        dep = _deploy(db)
        with db.write() as conn:
            run = deps.create_deployment_run(conn, dep, DeploymentRunCreate(), now=T0)
            assert workers.mark_late_runs(conn, now=T0 + timedelta(seconds=10), late_after=15) == 0
            assert workers.mark_late_runs(conn, now=T0 + timedelta(seconds=20), late_after=15) == 1
            assert workers.mark_late_runs(conn, now=T0 + timedelta(seconds=25), late_after=15) == 0
        assert _states(db, run.id) == ["Scheduled", "Late"]
        assert [r.id for r in _poll(db, now=T0 + timedelta(seconds=30)).runs] == [run.id]

    def test_cancelling_a_claimed_run_asks_its_worker(self, db: Database) -> None:
        claimed, _ = self._claimed(db)
        with db.write() as conn:
            state, process = runs.cancel_flow_run(conn, claimed)
        assert state.name == "Cancelling" and process is None  # its worker stops it
        result = _poll(db, limit=0, running=[claimed])
        assert result.cancel == [claimed]
        with db.write() as conn, pytest.raises(InvalidTransition, match="already being cancelled"):
            runs.cancel_flow_run(conn, claimed)


def _states_messages(db: Database, run_id: uuid.UUID) -> list[str]:
    with db.read() as conn:
        return [s.message or "" for s in queries.list_states(conn, flow_run_id=run_id)]


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004", "0005", "0006",
                                      "0007", "0008", "0009", "0010"])
def test_an_older_database_is_upgraded_with_its_runs(database_url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from transom.store.database import _MIGRATIONS, normalise_url

    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(normalise_url(database_url))
    run_id, flow_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        # The rows as that revision's Transom wrote them (its columns only).
        from transom.store import models

        now = datetime(2026, 11, 1, tzinfo=timezone.utc)
        conn.execute(models.flows.insert().values(id=flow_id, name="old", created=now))
        conn.execute(models.flow_runs.insert().values(
            id=run_id, flow_id=flow_id, name="old-run", parameters={}, tags=[],
            state_type="RUNNING", state_name="Running", run_count=1, created=now, updated=now))
    engine.dispose()
    db = open_database(database_url)
    try:
        assert db.revision() == HEAD_REVISION
        with db.read() as conn:
            run = queries.read_flow_run(conn, run_id)
        assert run.state_name == "Running" and run.worker_id is None
        # A run from before heartbeats has no process to watch: it is not taken for dead.
        from transom.services import Context, EmbeddedBackend

        backend = EmbeddedBackend(Context(db, Settings.load({})), owns_database=False)
        assert backend.crash_runs_without_heartbeat() == 0
        _pool(db)
        assert _deploy(db, every=60) is not None
        # Variables (0005): a table of their own, empty, set and read back.
        assert backend.list_variables() == []
        backend.set_variable(VariableCreate(name="after-upgrade", value={"n": [1, None]}))
        assert backend.read_variable("after-upgrade").value == {"n": [1, None]}
        # Artifacts (0006): versions by key, linked to the run from before the upgrade.
        for text in ("v1", "v2"):
            backend.create_artifact(ArtifactCreate(key="report", type="markdown", data=text,
                                                   flow_run_id=run_id))
        latest = backend.read_artifact("report")
        assert (latest.version, latest.data, latest.flow_run_id) == (2, "v2", run_id)
        # Pauses (0010): the run from before the upgrade pauses and is resumed with its input.
        backend.pause_flow_run(run_id, PauseCreate(key="k", timeout_seconds=60,
                                                   run_input_schema={"type": "integer"}))
        assert backend.resume_flow_run(run_id, ResumeIn(run_input=3)).name == "Running"
        assert backend.read_pause(run_id, "k").run_input == 3
        # Blocks (0008): types and documents, the secret encrypted and read back.
        from cryptography.fernet import Fernet

        keyed = EmbeddedBackend(Context(db, Settings.load(
            {}, secrets_key=Fernet.generate_key().decode())), owns_database=False)
        assert keyed.list_blocks() == [] and keyed.list_block_types() == []
        keyed.save_block(BlockDocumentCreate(
            name="after-upgrade", data={"value": "s3cr3t-value"}, secret_fields=["value"],
            block_type=BlockTypeIn(slug="secret", name="Secret")))
        assert keyed.read_block("secret", "after-upgrade",
                                include_secrets=True).data == {"value": "s3cr3t-value"}
        assert [t.slug for t in keyed.list_block_types()] == ["secret"]
        # Concurrency limits (0009): limits and their leases, taken and given back.
        assert backend.list_concurrency_limits() == []
        backend.create_concurrency_limit(ConcurrencyLimitCreate(name="tag:db", limit=1))
        taken = backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"], holder="old"))
        assert taken.granted and taken.lease_id is not None
        assert not backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"])).granted
        backend.release_concurrency_lease(taken.lease_id)
        assert backend.read_concurrency_limit("tag:db").active_slots == 0
    finally:
        db.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_work_pool_another_writer_creates_meanwhile_is_already_exists(db: Database) -> None:
    """The race path: the name is free when looked up, and taken by the time of the insert
    (PostgreSQL lets the two writers interleave; SQLite has one writer at a time)."""
    from transom.exceptions import AlreadyExists
    from transom.store import models

    now = datetime.now(timezone.utc)
    other = db.engine.connect()
    holding = other.begin()
    other.execute(sa.insert(models.work_pools).values(
        id=uuid.uuid4(), name="raced", paused=False, created=now, updated=now))
    outcome: list[BaseException | str] = []

    def create() -> None:
        try:
            with db.engine.begin() as conn:
                deps.create_work_pool(conn, WorkPoolCreate(name="raced"))
            outcome.append("created")
        except BaseException as exc:  # reported below
            outcome.append(exc)

    thread = threading.Thread(target=create)
    thread.start()
    time.sleep(0.5)  # its INSERT waits on the row not yet committed
    holding.commit()
    other.close()
    thread.join(20)
    assert len(outcome) == 1 and isinstance(outcome[0], AlreadyExists), outcome
