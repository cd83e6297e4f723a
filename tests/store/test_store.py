"""The store contract: what goes in through the sink comes out of the queries, on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from transom.core import states as st
from transom.core.recorder import Event, FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import StateType, now_utc
from transom.exceptions import DatabaseError, UserInputError
from transom.store import Database, open_database, queries
from transom.store.sink import StoreSink


def _flow_run(name: str = "etl", **extra: object) -> FlowRunCreated:
    return FlowRunCreated(uuid.uuid4(), name, f"{name}-run", {"n": 1}, **extra)  # type: ignore[arg-type]


def _lifecycle(run_id: uuid.UUID, is_task: bool, final: st.State) -> list[StateChanged]:
    return [StateChanged(run_id, is_task, st.Pending()), StateChanged(run_id, is_task, st.Running(), 1),
            StateChanged(run_id, is_task, final, 1)]


class TestStoreContract:
    def test_a_run_with_tasks_states_and_logs_round_trips(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        flow = _flow_run(tags=["nightly"])
        task_id = uuid.uuid4()
        started = [StateChanged(task_id, True, st.Pending()), StateChanged(task_id, True, st.Running(), 1)]
        try:
            raise ValueError("bad row")
        except ValueError as exc:
            failed = StateChanged(task_id, True, st.Failed(exc), 1)
        sink.write([
            flow, *_lifecycle(flow.id, False, st.Completed(3)),
            TaskRunCreated(task_id, flow.id, "etl.load", "load-0", 0), *started, failed,
            LogRecorded(flow.id, None, 20, "transom.flow_runs", "données chargées ✓"),
            LogRecorded(flow.id, task_id, 40, "transom.task_runs", "task said no"),
        ])
        with db.read() as conn:
            (run,) = queries.list_flow_runs(conn)
            assert (run.flow_name, run.name, run.state_type, run.state_name) == (
                "etl", "etl-run", StateType.COMPLETED, "Completed")
            assert run.parameters == {"n": 1} and run.tags == ["nightly"]
            assert run.task_run_count == 1 and run.run_count == 1
            assert run.start_time is not None and run.end_time is not None
            assert run.start_time.tzinfo is not None and run.duration is not None
            (task_run,) = queries.list_task_runs(conn, run.id)
            assert (task_run.name, task_run.state_name) == ("load-0", "Failed")
            history = queries.list_states(conn, task_run_id=task_id)
            assert [s.name for s in history] == ["Pending", "Running", "Failed"]
            assert history[-1].error is not None and history[-1].error["type"] == "ValueError"
            assert "bad row" in history[-1].error["traceback"]
            assert [(line.level, line.message) for line in queries.list_logs(conn, run.id)] == [
                (20, "données chargées ✓"), (40, "task said no")]

    def test_events_may_arrive_across_batches(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        flow = _flow_run()
        pending, running, done = _lifecycle(flow.id, False, st.Completed())
        sink.write([flow, pending, running])
        with db.read() as conn:
            assert queries.read_flow_run(conn, flow.id).state_name == "Running"
        sink.write([done])
        with db.read() as conn:
            run = queries.read_flow_run(conn, flow.id)
        assert run.state_name == "Completed"
        assert run.start_time == running.state.timestamp  # kept from the earlier batch

    def test_a_batch_delivered_twice_does_not_fail(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        flow = _flow_run()
        batch: list[Event] = [flow, *_lifecycle(flow.id, False, st.Completed())]
        sink.write(batch)
        sink.write(batch)
        with db.read() as conn:
            assert queries.count_flow_runs(conn) == 1

    def test_filters_and_paging(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        for i in range(6):
            run = _flow_run("etl" if i % 2 else "report")
            final = st.Completed() if i % 3 else st.Failed(message="no")
            sink.write([run, *_lifecycle(run.id, False, final)])
        with db.read() as conn:
            assert queries.count_flow_runs(conn) == 6
            assert queries.count_flow_runs(conn, flow_name="etl") == 3
            assert queries.count_flow_runs(conn, state="failed") == 2
            assert queries.count_flow_runs(conn, state=StateType.COMPLETED, flow_name="etl") == 2
            assert queries.count_flow_runs(conn, since=now_utc() + timedelta(hours=1)) == 0
            page1 = queries.list_flow_runs(conn, limit=4)
            page2 = queries.list_flow_runs(conn, limit=4, offset=4)
            assert len(page1) == 4 and len(page2) == 2
            assert not {r.id for r in page1} & {r.id for r in page2}
            created = [r.created for r in page1 + page2]
            assert created == sorted(created, reverse=True)
            with pytest.raises(UserInputError, match="unknown state 'done'"):
                queries.list_flow_runs(conn, state="done")

    def test_short_id_prefixes(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        runs = [_flow_run() for _ in range(3)]
        sink.write(runs)
        with db.read() as conn:
            target = runs[0].id
            assert queries.resolve_flow_run_id(conn, target.hex[:10]) == target
            assert queries.resolve_flow_run_id(conn, str(target)) == target
            with pytest.raises(UserInputError, match="no flow run has an id starting with"):
                queries.resolve_flow_run_id(conn, "f" * 12 if not target.hex.startswith("f") else "0" * 12)
            with pytest.raises(UserInputError, match="is not a run id"):
                queries.resolve_flow_run_id(conn, "not-an-id!")

    def test_a_subflow_links_to_its_parent(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        parent = _flow_run("parent")
        child = _flow_run("child", parent_flow_run_id=parent.id)
        sink.write([parent, child])
        with db.read() as conn:
            assert queries.read_flow_run(conn, child.id).parent_flow_run_id == parent.id

    def test_a_failed_batch_does_not_poison_the_flow_cache(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        first = _flow_run("brand-new")
        broken_log = LogRecorded(first.id, None, 20, "x", None)  # type: ignore[arg-type]
        with pytest.raises(DatabaseError):
            sink.write([first, broken_log])  # rolled back whole, the new flow row with it
        second = _flow_run("brand-new")
        sink.write([first, second])  # the recorder's retry, then more of the same flow
        with db.read() as conn:
            runs = queries.list_flow_runs(conn, flow_name="brand-new")
            assert {r.id for r in runs} == {first.id, second.id}
            assert [f.name for f in queries.list_flows(conn)] == ["brand-new"]

    def test_retries_keep_the_first_start_and_the_result_ref(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        flow = _flow_run()
        task_id = uuid.uuid4()
        t0 = now_utc()
        sink.write([flow, TaskRunCreated(task_id, flow.id, "etl.t", "t-0"),
                    StateChanged(task_id, True, st.State(StateType.PENDING, "Pending",
                                                         t0 - timedelta(seconds=1))),
                    StateChanged(task_id, True, st.State(StateType.RUNNING, "Running", t0), 1)])
        sink.write([StateChanged(task_id, True, st.AwaitingRetry(scheduled_time=t0), 1)])
        with db.read() as conn:
            (waiting,) = queries.list_task_runs(conn, flow.id)
        assert (waiting.state_name, waiting.start_time, waiting.end_time) == ("AwaitingRetry", t0, None)
        done = st.State(StateType.COMPLETED, "Completed", t0 + timedelta(seconds=2))
        sink.write([
            StateChanged(task_id, True, st.State(StateType.RUNNING, "Retrying", t0 + timedelta(seconds=1)), 2),
            StateChanged(task_id, True, done, 2, result_ref="file:///results/abc"),
        ])
        cached = st.State(StateType.COMPLETED, "Cached", t0 + timedelta(seconds=3))
        sink.write([StateChanged(task_id, True, cached, 2)])  # refused: Completed is final
        sink.write([StateChanged(task_id, True, cached, 2, force=True)])  # an operator's override
        with db.read() as conn:
            (task_run,) = queries.list_task_runs(conn, flow.id)
            history = queries.list_states(conn, task_run_id=task_id)
        assert task_run.start_time == t0 and task_run.run_count == 2
        assert task_run.state_name == "Cached" and task_run.end_time is not None
        assert task_run.result_ref == "file:///results/abc"  # a later state without one keeps it
        assert [s.name for s in history] == ["Pending", "Running", "AwaitingRetry", "Retrying",
                                             "Completed", "Cached"]
        assert history[2].scheduled_time == t0

    def test_many_runs_in_one_batch(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        flow = _flow_run()
        events: list[Event] = [flow, *_lifecycle(flow.id, False, st.Completed())]
        for i in range(300):
            task_id = uuid.uuid4()
            events += [TaskRunCreated(task_id, flow.id, "etl.t", f"t-{i}", i),
                       *_lifecycle(task_id, True, st.Completed() if i % 10 else st.Failed()),
                       LogRecorded(flow.id, task_id, 20, "x", f"line {i}")]
        sink.write(events)
        with db.read() as conn:
            task_runs = queries.list_task_runs(conn, flow.id)
            assert len(task_runs) == 300 and queries.read_flow_run(conn, flow.id).task_run_count == 300
            assert sum(t.state_type is StateType.FAILED for t in task_runs) == 30
            assert all(t.start_time and t.end_time for t in task_runs)
            assert len(queries.list_states(conn, flow_run_id=flow.id)) == 3
            lines = queries.list_logs(conn, flow.id)
            assert [line.message for line in lines[:2]] == ["line 0", "line 1"] and len(lines) == 300
            assert [line.message for line in queries.list_logs(conn, flow.id, limit=2, offset=10)] == [
                "line 10", "line 11"]
            one = task_runs[7].id
            assert [line.message for line in queries.list_logs(conn, flow.id, task_run_id=one)] == ["line 7"]

    def test_awkward_values_are_stored_not_fatal(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        flow = FlowRunCreated(uuid.uuid4(), "odd", "odd-run", {"when": now_utc().date()})
        sink.write([flow, LogRecorded(flow.id, None, 30, "x", "nul\x00byte"),
                    StateChanged(flow.id, False, st.Failed(message="bad\x00input"))])
        with db.read() as conn:
            run = queries.read_flow_run(conn, flow.id)
            (line,) = queries.list_logs(conn, flow.id)
        assert run.parameters == {"when": str(now_utc().date())}
        assert run.state_message is not None and run.state_message.startswith("bad")
        assert line.message.startswith("nul") and line.message.endswith("byte")

    def test_ambiguous_prefixes_and_missing_runs(self, db: Database) -> None:
        sink = StoreSink("unused", database=db)
        a = FlowRunCreated(uuid.UUID("abcdef01" + "0" * 24), "etl", "a")
        b = FlowRunCreated(uuid.UUID("abcdef02" + "0" * 24), "etl", "b")
        sink.write([a, b])
        with db.read() as conn:
            with pytest.raises(UserInputError, match="more than one flow run id starts with 'abcdef0'"):
                queries.read_flow_run(conn, "abcdef0")
            assert queries.read_flow_run(conn, "ABCDEF02").name == "b"
            assert queries.read_flow_run(conn, "abcdef01-0000").name == "a"
            with pytest.raises(UserInputError, match="no flow run has an id starting with '1234'"):
                queries.read_flow_run(conn, "1234")


def test_the_core_path_stores_what_the_sqlite_fast_path_stores(tmp_path: Path) -> None:
    """SQLite writes go straight to the driver; other databases use SQLAlchemy Core. Same rows."""
    flow = _flow_run(tags=["a"], parent_task_run_id=uuid.uuid4())
    task_id = uuid.uuid4()
    batch: list[Event] = [flow, *_lifecycle(flow.id, False, st.Failed(ValueError("x"))),
             TaskRunCreated(task_id, flow.id, "k", "t", 3, "ck", [uuid.uuid4()], ["t"]),
             *_lifecycle(task_id, True, st.Completed())[:2],
             StateChanged(task_id, True, st.Completed(), 1, result_ref="ref"),
             LogRecorded(flow.id, task_id, 10, "lg", "msg")]
    dumps = []
    for driver_sql in (True, False):
        db = open_database(f"sqlite:///{tmp_path / f'{driver_sql}.db'}")
        try:
            StoreSink("unused", database=db, driver_sql=driver_sql).write(batch)
            with db.read() as conn:
                dumps.append({  # the raw stored text, flow ids aside (each database has its own)
                    table: [{k: v for k, v in row.items() if k != "flow_id"}
                            for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1").mappings()]
                    for table in ("flow_runs", "task_runs", "states", "logs")})
        finally:
            db.close()
    fast, core = dumps
    assert fast == core
    assert len(fast["states"]) == 6 and len(fast["logs"]) == 1


def test_a_runs_task_run_rows_are_its_task_runs_few_columns(db: Database) -> None:
    """The run page's light read (store/overview.task_run_rows) agrees with the full one, in
    order, state and duration, on every backend."""
    from tests.support.seed import T0, flow_run

    from transom.store import overview

    run_id, events = flow_run("etl", "rows", created=T0, failed=True, tasks=29)
    going = uuid.uuid4()  # and one that never ended: no end time, its duration runs on
    events += [TaskRunCreated(going, run_id, "etl.wait", "wait-0", 0, created=T0),
               StateChanged(going, True, st.Pending()), StateChanged(going, True, st.Running(), 1)]
    StoreSink("unused", database=db).write(events)
    with db.read() as conn:
        full = queries.list_task_runs(conn, run_id)
        rows = overview.task_run_rows(conn, run_id)
    assert len(rows) == 30 and [r.id for r in rows] == [t.id for t in full]
    assert [(r.name, r.task_key, r.state_type, r.state_name, r.start_time, r.end_time)
            for r in rows] == [(t.name, t.task_key, t.state_type, t.state_name, t.start_time,
                                t.end_time) for t in full]
    assert [r.duration for r in rows[1:]] == [t.duration for t in full[1:]]
    assert {r.state_type for r in rows} == {StateType.COMPLETED, StateType.RUNNING}
    assert rows[0].name == "wait-0" and rows[0].end_time is None
    assert rows[0].duration is not None and rows[0].duration >= 0


def test_what_a_run_page_shows_of_its_task_runs_is_read_without_them_all(db: Database) -> None:
    """store/overview.run_tasks: the first few in order, the count, runs per task in the order
    the tasks first ran, the first to fail (by when it ended; a Crashed one counts) and the names
    asked for, the same as reading every task run would give."""
    from tests.support.seed import T0, flow_run

    from transom.store import overview

    run_id, events = flow_run("etl", "tasks", created=T0, failed=True, tasks=12)
    late_fail, early_crash, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = T0 + timedelta(seconds=2)
    events += [TaskRunCreated(late_fail, run_id, "etl.load", "load-0", 0, created=at),
               StateChanged(late_fail, True, st.Failed(ValueError("late")), 1),
               TaskRunCreated(early_crash, run_id, "etl.load", "load-1", 1, created=at),
               StateChanged(early_crash, True, st.Crashed(message="gone"), 1)]
    other_run, more = flow_run("etl", "other", created=T0, tasks=0)
    more.append(TaskRunCreated(other, other_run, "etl.step", "not-this-run", 0, created=T0))
    StoreSink("unused", database=db).write(events + more)
    with db.read() as conn:
        full = queries.list_task_runs(conn, run_id)
        shown = overview.run_tasks(conn, run_id, shown=5,
                                   named=[full[3].id, late_fail, other, uuid.uuid4()])
        every = overview.run_tasks(conn, run_id, shown=None)
        crash_ended = {t.id: t for t in full}[early_crash]
        fail_ended = {t.id: t for t in full}[late_fail]
    assert [t.id for t in shown.first] == [t.id for t in full[:5]]
    assert [t.id for t in every.first] == [t.id for t in full] and shown.count == 14
    assert list(shown.keys.items()) == [("etl.step", 12), ("etl.load", 2)]
    first_bad = min((crash_ended, fail_ended), key=lambda t: (t.end_time or t.start_time
                                                              or t.created, t.name))
    assert shown.failed is not None and shown.failed.id == first_bad.id
    assert shown.names == {full[3].id: full[3].name, late_fail: "load-0"}  # not another run's
    assert every.names == {}
    empty_run, nothing = flow_run("etl", "empty", created=T0)
    StoreSink("unused", database=db).write(nothing)
    with db.read() as conn:
        none = overview.run_tasks(conn, empty_run, shown=5)
    assert (none.first, none.count, none.keys, none.failed) == ([], 0, {}, None)


def test_the_newest_page_of_logs_read_backwards_is_the_last_page(db: Database) -> None:
    """list_logs(newest=True), the run page's default view: the same lines, in the same order, as
    the last page by offset, ties in time kept in id order, with a filter too."""
    from tests.support.seed import T0

    run_id = uuid.uuid4()
    same = T0 + timedelta(seconds=5)  # four lines in the same microsecond
    StoreSink("unused", database=db).write(
        [FlowRunCreated(run_id, "etl", "logs", {}, created=T0)]
        + [LogRecorded(run_id, None, 40 if i % 3 == 0 else 20, "lg", f"line {i}",
                       same if 10 <= i < 14 else T0 + timedelta(seconds=i)) for i in range(25)])
    with db.read() as conn:
        for where in ({}, {"min_level": 40}):
            total = queries.count_logs(conn, run_id, **where)
            for limit in (1, 4, 7, 100):
                by_offset = queries.list_logs(conn, run_id, limit=limit,
                                              offset=max(total - limit, 0), **where)
                newest = queries.list_logs(conn, run_id, limit=limit, newest=True, **where)
                assert [x.id for x in newest] == [x.id for x in by_offset], (where, limit)
        last = [x.message for x in queries.list_logs(conn, run_id, limit=15, newest=True)]
    # Lines 10-13 share line 5's second: they come after it, before line 6.
    assert last[:5] == ["line 6", "line 7", "line 8", "line 9", "line 14"]
    assert len(last) == 15 and last[-1] == "line 24"
    with db.read() as conn:
        tied = [x.message for x in queries.list_logs(conn, run_id, limit=20, newest=True)]
    assert tied[:6] == ["line 5", "line 10", "line 11", "line 12", "line 13", "line 6"]
