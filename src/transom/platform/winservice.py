"""The native Windows service host (pywin32): what `transom service install` registers as the
service's program, `python.exe -m transom.platform.winservice ROLE --log-file FILE ...`.

It talks to the Service Control Manager through pywin32's `servicemanager` and runs the same
`platform.supervisor.supervise()` as `transom service run` on the other OSes: the server or
worker runs as a child (started through `platform.processes`, without a console), its output goes
to the rotating log, and a service stop asks it to stop gracefully (the stop message on its
stdin), then kills its tree after a grace period. A child that exits on its own with an error
makes the service stop with an error, so the recovery actions set at install restart it.

Windows only: importing it elsewhere raises ImportError.
"""

from __future__ import annotations

import sys

if sys.platform != "win32":
    raise ImportError("transom.platform.winservice is the Windows service host; it runs only "
                      "on Windows")

import threading
from typing import Any

import servicemanager
import win32service
import win32serviceutil

from transom.platform.supervisor import STOP_GRACE, parse_run_arguments, supervise

__all__ = ["ServiceFailed", "TransomService", "main"]


class ServiceFailed(RuntimeError):
    """The server or worker exited on its own with an error (the SCM then restarts it)."""


class TransomService(win32serviceutil.ServiceFramework):  # type: ignore[misc,unused-ignore]
    """One Transom service; the SCM gives its real name in `args[0]`, so one class serves all."""

    _svc_name_ = "transom"
    _svc_display_name_ = "Transom"

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self._stop = threading.Event()

    def SvcStop(self) -> None:  # pywin32's name
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING,
                                 waitHint=int((STOP_GRACE + 10) * 1000))
        self._stop.set()

    def SvcDoRun(self) -> None:  # pywin32's name
        options = parse_run_arguments(sys.argv[1:])
        code = supervise(options.command(sys.executable), log_file=options.log_file,
                         stop=self._stop, max_bytes=options.max_bytes, backups=options.backups)
        if code != 0 and not self._stop.is_set():
            raise ServiceFailed(f"transom {options.role} exited with code {code}; see "
                                f"{options.log_file}")


def main() -> None:
    """Hand this process to the Service Control Manager (only it may start us)."""
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(TransomService)
    servicemanager.StartServiceCtrlDispatcher()


if __name__ == "__main__":
    main()
