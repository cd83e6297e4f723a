"""Run names as Prefect 3 gives them: `flow_run_name` / `task_run_name` as a `str.format` template
over the call's parameters, or a function called with no arguments inside the run's context. A
name that cannot be made never costs the run: it is named anyway, with a warning in its log."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from transom import flow, task
from transom.core.context import current_flow_run, current_task_run
from transom.core.naming import render_run_name


@dataclass
class Dataset:
    name: str
    rows: int


def test_a_template_reads_parameters_their_attributes_and_items(runtime: Any) -> None:
    @flow(flow_run_name="train on {dataset.name} ({options[mode]}, {epochs} epochs)")
    def train(dataset: Dataset, options: dict[str, str], epochs: int = 3) -> None:
        pass

    train(Dataset("mnist", 10), {"mode": "fast"})
    (run,) = runtime.flow_runs()
    assert run.name == "train on mnist (fast, 3 epochs)"


def test_a_task_template_and_the_name_inside_the_run(runtime: Any) -> None:
    seen: list[str] = []

    @task(task_run_name="load-{path}-{part:03d}")
    def load(path: str, part: int) -> None:
        ctx = current_task_run()
        assert ctx is not None
        seen.append(ctx.name)

    @flow
    def main() -> None:
        load("a.csv", 7)
        load.submit("b.csv", part=12).wait()

    main()
    assert sorted(r.name for r in runtime.task_runs("load")) == ["load-a.csv-007", "load-b.csv-012"]
    assert sorted(seen) == ["load-a.csv-007", "load-b.csv-012"]


def test_a_function_is_called_inside_the_run_and_its_name_is_recorded(runtime: Any) -> None:
    def flow_name() -> str:
        ctx = current_flow_run()
        assert ctx is not None
        return f"{ctx.flow.name}-for-{ctx.parameters['customer']}"

    def task_name() -> str:
        ctx = current_task_run()
        assert ctx is not None
        return f"bill-{ctx.parameters['amount']}"

    @task(task_run_name=task_name)
    def bill(amount: int) -> int:
        return amount

    @flow(flow_run_name=flow_name)
    def invoice(customer: str) -> int:
        return bill(30)

    assert invoice("acme") == 30
    (flow_run,) = runtime.flow_runs()
    (task_run,) = runtime.task_runs("bill")
    assert flow_run.name == "invoice-for-acme"
    assert task_run.name == "bill-30"


@pytest.mark.parametrize(("spec", "why"), [
    ("run-{missing}", "the template 'run-{missing}' raised KeyError: 'missing'"),
    ("run-{n.nope}", "raised AttributeError"),
    (lambda: 1 / 0, "raised ZeroDivisionError: division by zero"),
    (lambda: 42, "returned int, not a string"),
])
def test_a_name_that_cannot_be_made_falls_back_with_a_warning(runtime: Any, spec: Any,
                                                              why: str) -> None:
    @flow(flow_run_name=spec)
    def job(n: int) -> int:
        return n

    assert job(5) == 5  # the run goes on
    (run,) = runtime.flow_runs()
    assert run.name and run.name != spec
    warning = next(m for m in runtime.logs(run.id) if "could not name the run" in m)
    assert why in warning
    assert f"it is named {run.name!r} instead" in warning
    assert runtime.states(run.id) == ["Pending", "Running", "Completed"]


def test_a_task_name_that_cannot_be_made_falls_back_to_the_generated_one(runtime: Any) -> None:
    @task(task_run_name="step-{nothing}")
    def step() -> str:
        ctx = current_task_run()
        assert ctx is not None
        return ctx.name

    @flow
    def main() -> str:
        return step()

    assert main() == "step-0"
    (run,) = runtime.task_runs("step")
    assert run.name == "step-0"
    assert any("could not name the run from task_run_name" in m for m in runtime.logs(run.id))


def test_a_name_option_must_be_a_template_or_a_function() -> None:
    with pytest.raises(TypeError, match="flow_run_name must be a string template or a function"):
        flow(flow_run_name=42)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="task_run_name must be"):
        task(task_run_name=["x"])(lambda: None)  # type: ignore[arg-type]


def test_render_run_name_says_why_in_one_sentence() -> None:
    assert render_run_name("{a}-{b[0]}", {"a": 1, "b": [2]}) == "1-2"
    with pytest.raises(ValueError, match="the name it gave is empty"):
        render_run_name("{a}", {"a": ""})


SCRIPT = textwrap.dedent("""
    import sys, time
    from transom import flow, task

    @task(task_run_name=lambda: "named-task")
    def step() -> int:
        return 1

    @flow(flow_run_name=lambda: "named-by-a-function")
    def first() -> int:
        return step()

    @flow
    def second() -> int:
        return 2

    started = time.monotonic()
    first()
    second()
    print(f"{time.monotonic() - started:.3f}")
""")


def test_a_function_name_is_recorded_at_once_and_later_runs_are_too(tmp_path: Path) -> None:
    # Before: the function object reached the database, the recorder retried the batch for 30 s
    # at each flow's end and every later run of the process was lost.
    script = tmp_path / "named.py"
    script.write_text(SCRIPT, encoding="utf-8")
    home = tmp_path / "home"
    env = dict(os.environ, TRANSOM_HOME=str(home))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip()) < 10 and time.monotonic() - started < 30
    assert "could not record" not in proc.stderr
    with sqlite3.connect(home / "transom.db") as db:
        flows = db.execute("SELECT name, state_name FROM flow_runs ORDER BY created").fetchall()
        tasks = db.execute("SELECT name, state_name FROM task_runs").fetchall()
    assert flows[0] == ("named-by-a-function", "Completed")
    assert len(flows) == 2 and flows[1][1] == "Completed"
    assert tasks == [("named-task", "Completed")]
