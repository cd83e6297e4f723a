"""Values a database refuses for good are repaired in the batch, never retried until the run is
lost: lone surrogates, NUL, names past their column, NaN and infinities, integers past 64 bits."""

from __future__ import annotations

import math
import uuid

import pytest

from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import now_utc
from transom.core.storable import storable_json, storable_text
from transom.store import Database, queries
from transom.store.sink import StoreSink

ODD = "file-\udcff-\ud800x-\x00-end"  # surrogateescape'd byte, a lone surrogate, a NUL


def test_text_keeps_what_it_can() -> None:
    assert storable_text(ODD) == "file-\ufffd-\ufffdx-\ufffd-end"
    assert storable_text("pair \U0001f600 stays") == "pair \U0001f600 stays"
    assert storable_text("x" * 300, 255) == "x" * 254 + "…"
    assert storable_json({"a": math.nan, "b": [math.inf, -math.inf], "c": 2**70, ODD: ODD}) == {
        "a": "NaN", "b": ["Infinity", "-Infinity"], "c": str(2**70),
        "file-\ufffd-\ufffdx-\ufffd-end": "file-\ufffd-\ufffdx-\ufffd-end"}


def test_a_batch_with_odd_values_is_written_at_once(db: Database,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    flow_id, task_id = uuid.uuid4(), uuid.uuid4()
    failed = st.Failed(ValueError(f"bad {ODD}"))
    batch = [
        FlowRunCreated(flow_id, f"flow {ODD}", f"run {ODD}",
                       {"nan": math.nan, "inf": math.inf, "big": 2**80, "path": ODD},
                       tags=[ODD]),
        StateChanged(flow_id, False, st.Running(), 1),
        TaskRunCreated(task_id, flow_id, f"mod.{ODD}", "t" * 400, cache_key="k" * 300),
        StateChanged(task_id, True, st.Running(), 1),
        LogRecorded(flow_id, task_id, 20, "transom", f"printed {ODD}", now_utc()),
        StateChanged(task_id, True, failed, 1, result_ref=f"file:///{ODD}"),
        StateChanged(flow_id, False, st.Completed(message=f"done {ODD}"), 1),
    ]
    StoreSink("unused", database=db).write(batch)  # raised (or was retried for ever) before
    with db.read() as conn:
        run = queries.read_flow_run(conn, flow_id)
        (task_run,) = queries.list_task_runs(conn, flow_id)
        (line,) = queries.list_logs(conn, flow_id)
        history = queries.list_states(conn, task_run_id=task_id)
    assert run.flow_name == "flow file-\ufffd-\ufffdx-\ufffd-end"
    assert run.state_name == "Completed" and "\ufffd" in (run.state_message or "")
    assert run.parameters["nan"] == "NaN" and run.parameters["big"] == str(2**80)
    assert len(task_run.name) == 255 and task_run.state_name == "Failed"
    assert line.message == "printed file-\ufffd-\ufffdx-\ufffd-end"
    (record,) = [r for r in history if r.name == "Failed"]
    assert "\ufffd" in (record.error or {}).get("traceback", "")
    assert any("repaired" in r.message for r in caplog.records)


def test_clean_batches_are_written_unchanged(db: Database) -> None:
    flow_id = uuid.uuid4()
    StoreSink("unused", database=db).write([
        FlowRunCreated(flow_id, "plain", "r", {"x": 1.5, "y": "ü"}),
        StateChanged(flow_id, False, st.Completed(message="nul-free ü"), 1)])
    with db.read() as conn:
        run = queries.read_flow_run(conn, flow_id)
    assert run.parameters == {"x": 1.5, "y": "ü"} and run.state_message == "nul-free ü"
