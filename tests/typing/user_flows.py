"""A user's flows, type-checked by tests/test_typing.py with mypy (never run, never collected).

`# reveal: LABEL` marks a `reveal_type` whose type the test expects; `# error: LABEL` a line mypy
must refuse. Unmarked lines must pass.
"""

from __future__ import annotations

from transom import State, TaskFuture, flow, task


@task
def double(x: int) -> int:
    return x * 2


@task(retries=2)
def label(x: int, prefix: str = "n") -> str:
    return f"{prefix}{x}"


@task
async def fetch(url: str) -> bytes:
    return url.encode()


@flow
def pipeline(n: int, name: str = "run") -> list[str]:
    return [label(double(i)) for i in range(n)]


@flow(name="nightly", retries=1)
async def nightly(days: int) -> float:
    return float(len(await fetch("https://example.com"))) * days


@flow
def fan_out(n: int) -> int:
    future = double.submit(n)
    futures = double.map(range(n))
    return future.result() + sum(f.result() for f in futures)


@flow
async def gather(n: int) -> bytes:
    reveal_type(await nightly(n))  # reveal: awaited async flow
    return await fetch(str(n)) + fetch.submit("u").result()


reveal_type(pipeline(3))  # reveal: flow call
reveal_type(nightly(2))  # reveal: async flow call
reveal_type(double(2))  # reveal: task call
reveal_type(label(2, prefix="x"))  # reveal: task with options call
reveal_type(fetch("u"))  # reveal: async task call
reveal_type(double.submit(2))  # reveal: submit
reveal_type(fetch.submit("u"))  # reveal: async submit
reveal_type(double.map([1, 2]))  # reveal: map
reveal_type(double.map([1, 2]).result())  # reveal: map result
reveal_type(double.submit(2, return_state=True))  # reveal: submit return_state
reveal_type(double.map([1, 2], return_state=True))  # reveal: map return_state
reveal_type(double.submit(2, wait_for=[double.submit(1)]))  # reveal: submit wait_for
reveal_type(double(2, wait_for=[double.submit(1)]))  # reveal: task wait_for
reveal_type(pipeline(3, return_state=True))  # reveal: flow return_state
reveal_type(nightly(2, return_state=True))  # reveal: async flow return_state
reveal_type(double(2, return_state=True))  # reveal: task return_state
reveal_type(pipeline.with_options(retries=3))  # reveal: with_options
reveal_type(pipeline)  # reveal: flow object
reveal_type(double)  # reveal: task object

future: TaskFuture[int] = double.submit(1)
state: State = pipeline(1, return_state=True)

pipeline("three")  # error: flow argument type
pipeline(3, nmae="x")  # error: flow unknown keyword
double("2")  # error: task argument type
double.submit("2")  # error: submit argument type
wrong: str = double(2)  # error: task return type
