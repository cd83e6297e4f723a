"""The store contract: what goes in through the sink comes out of the queries, on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import StateType, now_utc
from transom.exceptions import UserInputError
from transom.store import Database, queries
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
        batch = [flow, *_lifecycle(flow.id, False, st.Completed())]
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
