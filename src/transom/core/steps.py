"""The steps of a run, written once without I/O, and the two drivers that carry them out.

What a run does from start to end is a generator of steps (`task_steps`, `flow_steps`, both over
`attempts`): it yields CALL (call the function), HOOKS (call the state change hooks now due), a
`Sleep` (a retry delay) or a `Wait` (blocking work: upstream futures, submitted task runs, the
final flush) and is sent back the outcome. `drive` carries the steps out in the calling thread,
`drive_async` under asyncio (the pattern of httpx's `Auth.auth_flow`): they are the only code that
calls user functions, sleeps or blocks, and they decide nothing, so sync and async runs cannot
drift apart. The run objects (`engine._TaskRun`, `engine._FlowRun`) hold the rules.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from transom.core.context import TaskSlots
from transom.core.hooks import fire, fire_async
from transom.core.states import State
from transom.core.timeouts import call_async_with_timeout, call_with_timeout

if TYPE_CHECKING:
    from transom.core.engine import _FlowRun, _Run, _TaskRun

__all__ = ["CALL", "HOOKS", "Sleep", "Steps", "Wait", "attempts", "drive", "drive_async",
           "flow_steps", "limited", "task_steps"]


class Step(enum.Enum):
    """CALL: call the run's function within its timeout; the driver sends back the value, or
    throws in the exception (an interrupt too). HOOKS: call the hooks now due (`run.due`)."""

    CALL = "call"
    HOOKS = "hooks"


CALL: Final = Step.CALL
HOOKS: Final = Step.HOOKS


class Sleep(NamedTuple):
    """Wait `seconds` before the next attempt."""

    seconds: float


class Wait(NamedTuple):
    """Call `fn`, which blocks (on futures, other threads, the recorder); under asyncio it runs
    on a thread so that the event loop goes on."""

    fn: Callable[[], Any]


Steps = Generator[Step | Sleep | Wait, Any, State]
GuardFactory = Callable[[bool], AbstractContextManager[object]]


def task_steps(run: _TaskRun) -> Steps:
    """A task call: its upstream futures, then the cache, then its attempts.

    A call with no futures among its arguments is prepared here and now, and its steps are the
    attempts themselves: one generator less on the path every trivial task takes."""
    if run.waits_for_upstream:
        return _prepared_steps(run, None)
    final = run.prepare()
    if final is not None:
        return _prepared_steps(run, final)
    slots = run.slots() if run.tags else None
    return attempts(run) if slots is None else limited(run, slots)


def _prepared_steps(run: _TaskRun, final: State | None) -> Steps:
    if run.waits_for_upstream:
        final = yield Wait(run.prepare)
    if final is not None:
        if run.due:
            yield HOOKS
        return final
    slots = run.slots() if run.tags else None
    return (yield from (attempts(run) if slots is None else limited(run, slots)))


def limited(run: _TaskRun, slots: TaskSlots) -> Steps:
    """A tagged task run's attempts, between taking the slots of its tags' concurrency limits
    (it waits Pending, its log saying for what) and giving them back, however it ends."""
    try:
        yield Wait(slots.acquire)
    except GeneratorExit:
        raise
    except Exception as exc:  # no limit could grant it (a limit of 0), or the backend failed
        final = run.slots_refused(exc)
        if run.due:
            yield HOOKS
        return final
    except BaseException as exc:  # a cancel or Ctrl+C while it waits
        run.on_interrupt(exc)
        if run.due:
            yield HOOKS
        raise
    try:
        return (yield from attempts(run))
    finally:
        slots.release()


def flow_steps(run: _FlowRun, guard: GuardFactory) -> Steps:
    """A flow call: what it waits for, its attempts, then, for a top-level run, a wait until it
    is recorded (the run is durable when the call returns). `guard(top_level)` turns a stop
    request (a signal, `interrupt_flow_run`) into an interrupt of the run; which one depends on
    the driver."""
    top_level = run.parent is None
    with guard(top_level):
        try:
            state = (yield from _upstream(run)) if run.wait_for else None
            if state is None:
                state = yield from attempts(run)
        except GeneratorExit:
            raise
        except BaseException:
            if top_level:
                yield Wait(run.finish)
            raise
        if top_level:
            yield Wait(run.finish)
    return state


def _upstream(run: _FlowRun) -> Generator[Step | Sleep | Wait, Any, State | None]:
    """A subflow's `wait_for`: NotReady if an upstream did not complete; an interrupt while it
    waits ends the run (it is not left Pending)."""
    try:
        return (yield Wait(run.wait_for_upstream))  # type: ignore[no-any-return]
    except GeneratorExit:
        raise
    except BaseException as exc:
        run.on_interrupt(exc)
        if run.due:
            yield HOOKS
        raise


def attempts(run: _Run) -> Steps:
    """Call until the run completes, fails for good, or runs out of retries.

    An exception of the call fails the attempt (retried if the rules allow); an interrupt (Ctrl+C,
    a cancel, a termination signal, SystemExit), during the call, a wait or a retry delay, ends
    the run Cancelled or Crashed and goes on up. Work an attempt submitted is waited for, whether
    it succeeded or failed, unless it timed out (the abandoned call may still be submitting).
    Hooks are called after each state that has some: Running before the call, the final state
    (an interrupt's too) after it.
    """
    while True:
        run.begin_attempt()
        tokens: list[tuple[ContextVar[Any], Token[Any]]] = []
        interrupt: BaseException | None = None
        try:
            if run.due:
                yield HOOKS  # on_running: outside the run's context, before the call
            tokens = run.enter()
            error: Exception | None = None
            try:
                value = yield CALL
            except Exception as exc:
                error = exc
            if run.settles:
                if isinstance(error, TimeoutError):
                    run.settle(wait=False)
                else:
                    yield Wait(run.wait_for_children)
        except GeneratorExit:
            raise
        except BaseException as exc:
            run.settle(wait=False)
            run.on_interrupt(exc)
            interrupt = exc
        finally:
            run.leave(tokens)
        delay = None
        if interrupt is None:
            if error is None:
                run.on_success(value)
            else:
                delay = run.on_failure(error)
            if delay:
                try:
                    yield Sleep(delay)
                except GeneratorExit:
                    raise
                except BaseException as exc:
                    run.on_interrupt(exc)
                    interrupt = exc
        if run.due:
            yield HOOKS
        if interrupt is not None:
            raise interrupt
        if delay is None:
            return run.state  # type: ignore[return-value]


# -- drivers: the only code that calls user functions, sleeps and waits ------------------------
def drive(run: _Run, steps: Steps) -> State:
    """Carry out `steps` in this thread."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(result) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result = error = None
        try:
            if step is CALL:
                result = call_with_timeout(run.call, run.timeout, run.timeout_error)
            elif step is HOOKS:
                fire(run.hook_steps())
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
            else:
                result = step.fn()
        except BaseException as exc:
            error = exc


async def drive_async(run: _Run, steps: Steps) -> State:
    """Carry out `steps` in an event loop: the call is awaited, sleeps and waits do not block."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(result) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result = error = None
        try:
            if step is CALL:
                result = await call_async_with_timeout(run.call, run.timeout, run.timeout_error)
            elif step is HOOKS:
                await fire_async(run.hook_steps())
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            else:
                result = await asyncio.get_running_loop().run_in_executor(None, step.fn)
        except BaseException as exc:
            error = exc
