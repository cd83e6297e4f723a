"""Every error Transom raises on purpose.

TransomError
 ├── UserInputError .............. something the user typed or passed is wrong (one clear sentence)
 │    ├── ParameterError ......... a flow parameter failed validation before the run started
 │    ├── EntrypointError ........ `path/file.py:flow_fn` missing, unreadable, or not a flow
 │    ├── ConfigError ............ an unknown or malformed setting / profile
 │    ├── NotFound ............... no run / flow with that id
 │    └── ShellNotFound .......... the shell asked for (or any usable shell) is not installed
 ├── StorageError ................ the database or result storage cannot be used
 │    └── DatabaseError .......... unreachable, locked, corrupt or unwritable database
 ├── ResultError ................. a result could not be persisted or read back
 │    └── SerializationError ..... a value could not be serialised (e.g. unpicklable)
 ├── ShellError .................. a shell command exited non-zero; `.result` has its output
 │    └── ShellTimeout ........... it ran past its timeout and was stopped (also TimeoutError)
 ├── ServiceError ................ a service manager or firewall command failed (sc.exe, systemctl, ...)
 ├── InvalidTransition ........... a state change the transition table forbids
 ├── RunFailed ................... a run ended Failed/Crashed/Cancelled; `.state` carries why
 │    └── TaskRunTimeout / FlowRunTimeout (also TimeoutError)
 └── Abort ....................... raised inside a run to end it Failed without retries

RunInterrupted (BaseException, not Exception) is raised into a run that must stop now
(a cancel, a termination signal), so that user code's `except Exception` does not swallow it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transom.core.states import State
    from transom.shell import ShellResult

__all__ = [
    "Abort",
    "ConfigError",
    "DatabaseError",
    "EntrypointError",
    "FlowRunTimeout",
    "InvalidTransition",
    "NotFound",
    "ParameterError",
    "ResultError",
    "RunFailed",
    "RunInterrupted",
    "SerializationError",
    "ServiceError",
    "ShellError",
    "ShellNotFound",
    "ShellTimeout",
    "StorageError",
    "TaskRunTimeout",
    "TransomError",
    "UserInputError",
]


class TransomError(Exception):
    """Base class of every error Transom raises on purpose."""


class UserInputError(TransomError):
    """Something the user passed is wrong; the message is one sentence that says what and how to fix it."""


class ParameterError(UserInputError):
    """A flow parameter failed validation; raised before the run starts."""


class EntrypointError(UserInputError):
    """A `path/file.py:flow_fn` entrypoint cannot be loaded."""


class ConfigError(UserInputError):
    """An unknown or malformed setting or profile."""


class NotFound(UserInputError):
    """No run or flow has the id that was asked for."""


class ShellNotFound(UserInputError):
    """The shell asked for (or any usable shell) is not installed or not known."""


class StorageError(TransomError):
    """The database or the result storage cannot be used.

    `permanent` says that trying again will not help (a corrupt file, a folder that cannot be
    written), as opposed to a passing failure (a locked database, a server that is restarting).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class DatabaseError(StorageError):
    """The database is unreachable, locked, corrupt or not writable."""


class ResultError(TransomError):
    """A result could not be persisted or read back."""


class SerializationError(ResultError):
    """A value could not be serialised by the chosen serializer."""


class ShellError(TransomError):
    """A shell command exited with a non-zero code; `.result` holds everything it printed."""

    def __init__(self, message: str, result: ShellResult) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process boundaries intact (a process-pool task runner pickles errors).
        return (type(self), (str(self), self.result))


class ShellTimeout(ShellError, TimeoutError):
    """A shell command ran past its `timeout` and was stopped with everything it started."""


class ServiceError(TransomError):
    """A command of the OS's service manager or firewall failed; the message quotes it and its
    own reason."""


class InvalidTransition(TransomError):
    """A state change that the transition table in `core/states.py` forbids."""


class RunFailed(TransomError):
    """A run did not complete; `state` is its final state."""

    def __init__(self, message: str, state: State | None = None) -> None:
        super().__init__(message)
        self.state = state


class TaskRunTimeout(RunFailed, TimeoutError):
    """A task run exceeded its `timeout_seconds`."""


class FlowRunTimeout(RunFailed, TimeoutError):
    """A flow run exceeded its `timeout_seconds`."""


class Abort(TransomError):
    """Raise inside a flow or task to end it Failed at once, without retries."""


class RunInterrupted(BaseException):
    """Raised into a run that must stop now (cancel, SIGTERM/CTRL_BREAK); not an Exception on purpose."""

    def __init__(self, message: str = "run interrupted", *, cancelled: bool = True, **extra: Any) -> None:
        super().__init__(message)
        self.cancelled = cancelled
        self.extra = extra
