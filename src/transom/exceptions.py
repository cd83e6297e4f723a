"""Every error Transom raises on purpose, and the one table of their HTTP statuses.

TransomError
 ├── UserInputError .............. something the user typed or passed is wrong (one clear sentence)  400
 │    ├── ParameterError ......... a flow parameter failed validation before the run started      422
 │    ├── EntrypointError ........ `path/file.py:flow_fn` missing, unreadable, or not a flow
 │    ├── ConfigError ............ an unknown or malformed setting / profile
 │    │    └── SecretsKeyError ... the secrets key is malformed, missing, or not the one      409
 │    │                            the stored secrets were encrypted with
 │    ├── NotFound ............... no run / flow / deployment / pool with that name or id         404
 │    ├── AlreadyExists .......... an object of that name exists already                         409
 │    │    └── WorkerNameTaken ... another live worker goes by that name                          409
 │    ├── Ambiguous .............. a prefix or name more than one stored object has               409
 │    ├── NotAllowedFor .......... the object is not of the kind the request is for              409
 │    ├── RunInputInvalid ........ a resume's run_input does not match the paused run's schema    400
 │    ├── PortInUse .............. the port the server should listen on is taken
 │    └── ShellNotFound .......... the shell asked for (or any usable shell) is not installed
 ├── StorageError ................ the database or result storage cannot be used                  503
 │    ├── DatabaseError .......... unreachable, locked, corrupt or unwritable database             503
 │    │    ├── ValueRefused ...... the database refused a value it was given (too long, NULL,   422
 │    │    │                       out of range): the caller's mistake, never retried
 │    │    └── WriteConflict ..... the write conflicts with what is stored (a unique key, a    409
 │    │                            row deleted meanwhile): never retried
 │    └── ApiError ............... the Transom server could not be reached, or answered an error
 ├── ResultError ................. a result could not be persisted or read back
 │    └── SerializationError ..... a value could not be serialised (e.g. unpicklable)
 ├── ShellError .................. a shell command exited non-zero; `.result` has its output
 │    └── ShellTimeout ........... it ran past its timeout and was stopped (also TimeoutError)
 ├── ServiceError ................ a service manager or firewall command failed (sc.exe, systemctl, ...)
 ├── InvalidTransition ........... a state change the transition table forbids                     409
 │    └── ClaimLost .............. the run is held by another worker now                           409
 ├── RunFailed ................... a run ended Failed/Crashed/Cancelled; `.state` carries why
 │    ├── FailedRun .............. the result of a Failed run asked for, no exception attached
 │    ├── CrashedRun ............. the same for a Crashed run
 │    ├── CancelledRun ........... the same for a Cancelled run
 │    ├── UnfinishedRun .......... its result asked for before it ended
 │    ├── MissingResult .......... its stored result is gone (expired or deleted)
 │    └── TaskRunTimeout / FlowRunTimeout (also TimeoutError)
 ├── MissingContextError ......... run context asked for outside a run (also RuntimeError)
 ├── FlowRunWaitTimeout .......... wait_for_flow_run gave up waiting (also TimeoutError)
 ├── FlowPauseTimeout ............ a paused run was not resumed in time (also TimeoutError)
 ├── ConcurrencySlotAcquisitionError  slots of a concurrency limit could not be taken
 │    └── AcquireConcurrencySlotTimeoutError  not within timeout_seconds (also TimeoutError)
 └── Abort ....................... raised inside a run to end it Failed without retries

RunInterrupted (BaseException, not Exception) is raised into a run that must stop now
(a cancel, a termination signal), so that user code's `except Exception` does not swallow it.
Pause (BaseException too, Prefect's name) is raised by `suspend_flow_run` to end the process of a
run that is Suspended: the engine writes no state for it.

Prefect's names stand for the same classes: PrefectException (TransomError), ObjectNotFound
(NotFound), ObjectAlreadyExists (AlreadyExists), ParameterTypeError and ParameterBindError
(ParameterError).

The statuses on the right are `HTTP_STATUS`: the server answers an error with its status and
the class's name (`{"detail": ..., "error": "NotFound"}`), and the client raises the same class
again (`error_from_http`), so a caller catches the same exception with or without a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transom.core.states import State
    from transom.shell import ShellResult

__all__ = [
    "HTTP_STATUS",
    "Abort",
    "AcquireConcurrencySlotTimeoutError",
    "AlreadyExists",
    "Ambiguous",
    "ApiError",
    "CancelledRun",
    "ClaimLost",
    "ConcurrencySlotAcquisitionError",
    "ConfigError",
    "CrashedRun",
    "DatabaseError",
    "EntrypointError",
    "FailedRun",
    "FlowPauseTimeout",
    "FlowRunTimeout",
    "FlowRunWaitTimeout",
    "InvalidTransition",
    "MissingContextError",
    "MissingResult",
    "NotAllowedFor",
    "NotFound",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "ParameterBindError",
    "ParameterError",
    "ParameterTypeError",
    "Pause",
    "PortInUse",
    "PrefectException",
    "ResultError",
    "RunFailed",
    "RunInputInvalid",
    "RunInterrupted",
    "SecretsKeyError",
    "SerializationError",
    "ServiceError",
    "ShellError",
    "ShellNotFound",
    "ShellTimeout",
    "StorageError",
    "TaskRunTimeout",
    "TransomError",
    "UnfinishedRun",
    "UserInputError",
    "ValueRefused",
    "WorkerNameTaken",
    "WriteConflict",
    "error_from_http",
    "http_status",
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


class SecretsKeyError(ConfigError):
    """The key of TRANSOM_SECRETS_KEY (or TRANSOM_HOME/secrets.key) is malformed, missing, or not
    the one the stored secrets were encrypted with: answered 409, a conflict with what is stored."""


class NotFound(UserInputError):
    """No run or flow has the id that was asked for."""


class AlreadyExists(UserInputError):
    """An object of that name exists already (a work pool, a deployment's flow and name, ...)."""


class NotAllowedFor(UserInputError):
    """The object asked for is not of a kind the request applies to (a link artifact's
    progress updated): answered 409, as a conflict with what is stored."""


class Ambiguous(UserInputError):
    """An id prefix or a name that more than one stored object has: give more of it."""


class WorkerNameTaken(AlreadyExists):
    """Another live worker already goes by that name."""


class RunInputInvalid(UserInputError):
    """The input a resume carries does not match the schema the paused run waits for."""


class PortInUse(UserInputError):
    """The port the server should listen on is taken."""


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


class ValueRefused(DatabaseError):
    """The database refused a value of the write (too long, NULL where one is needed, out of
    range): a permanent error the caller caused, answered 422 and never retried."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message, permanent=permanent)


class WriteConflict(DatabaseError):
    """The write conflicts with what is stored (a unique key taken, a row it refers to deleted
    meanwhile): answered 409 and never retried."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message, permanent=permanent)


class ApiError(StorageError):
    """The Transom server could not be reached, or answered with an error no class here names."""

    def __init__(self, message: str, *, status: int | None = None, permanent: bool = False) -> None:
        super().__init__(message, permanent=permanent)
        self.status = status


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


class ClaimLost(InvalidTransition):
    """A worker reported on a run that another worker holds now (it was given back or taken
    over while this one was away): the report is refused, the other worker's run stands."""


class RunFailed(TransomError):
    """A run did not complete; `state` is its final state."""

    def __init__(self, message: str, state: State | None = None) -> None:
        super().__init__(message)
        self.state = state


class FailedRun(RunFailed):
    """The result of a Failed run was asked for and the state holds no exception (Prefect's name)."""


class CrashedRun(RunFailed):
    """The result of a Crashed run was asked for and the state holds no exception."""


class CancelledRun(RunFailed):
    """The result of a Cancelled run was asked for and the state holds no exception."""


class UnfinishedRun(RunFailed):
    """The result of a run that has not ended (Scheduled, Pending, Running, ...) was asked for."""


class MissingResult(RunFailed):
    """A result is not there any more (expired or deleted from result storage)."""


class FlowRunWaitTimeout(TransomError, TimeoutError):
    """`wait_for_flow_run` gave up: the run had not ended within its timeout."""


class FlowPauseTimeout(TransomError, TimeoutError):
    """A paused flow run was not resumed within its timeout: it ends Failed with this reason."""


class ConcurrencySlotAcquisitionError(TransomError):
    """Slots of a concurrency limit could not be taken (Prefect's name)."""


class AcquireConcurrencySlotTimeoutError(ConcurrencySlotAcquisitionError, TimeoutError):
    """The slots were not free within `timeout_seconds` (Prefect's name)."""


class MissingContextError(TransomError, RuntimeError):
    """Code that needs a flow or task run was called outside one."""


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


class Pause(BaseException):
    """Raised by `suspend_flow_run` once its run is Suspended: the run's process ends without
    another state (a worker starts the run again on resume). Not an Exception on purpose."""


# Prefect 3's names for the same errors (`from prefect.exceptions import ...` after the rename).
PrefectException = TransomError
ObjectNotFound = NotFound
ObjectAlreadyExists = AlreadyExists
ParameterTypeError = ParameterError
ParameterBindError = ParameterError

# -- errors over HTTP ---------------------------------------------------------------------------
HTTP_STATUS: dict[type[TransomError], int] = {
    UserInputError: 400,
    ParameterError: 422,
    RunInputInvalid: 400,
    NotFound: 404,
    AlreadyExists: 409,
    WorkerNameTaken: 409,
    Ambiguous: 409,
    NotAllowedFor: 409,
    SecretsKeyError: 409,
    InvalidTransition: 409,
    ClaimLost: 409,
    StorageError: 503,
    DatabaseError: 503,
    ValueRefused: 422,
    WriteConflict: 409,
}
"""The HTTP status of each error a server may answer with; a subclass not listed takes its
nearest listed base's status (and travels as that base)."""

_BY_NAME = {cls.__name__: cls for cls in HTTP_STATUS}


def http_status(exc: BaseException) -> tuple[int, str] | None:
    """The status and the class name a server answers `exc` with; None if it is no error a
    client caused or should see (a bug: the server answers 500)."""
    for cls in type(exc).__mro__:
        status = HTTP_STATUS.get(cls)
        if status is not None:
            return status, cls.__name__
    return None


def error_from_http(status: int, name: str | None, message: str) -> TransomError | None:
    """The exception a server's error answer stands for: the named class when it is one of
    `HTTP_STATUS` with that status, else the class for the status; None for any other status
    (the caller raises ApiError)."""
    cls = _BY_NAME.get(name or "")
    if cls is None or HTTP_STATUS[cls] != status:
        cls = {400: UserInputError, 404: NotFound, 409: InvalidTransition,
               422: UserInputError}.get(status)
    if cls is None:
        return None
    if issubclass(cls, StorageError):
        return cls(message, permanent=False)
    return cls(message)
