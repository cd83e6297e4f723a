"""Windows Job Objects through ctypes (no pywin32): a child and all it starts, killed together.

`platform.processes` puts every Windows child in a job with KILL_ON_JOB_CLOSE, so that the whole
tree dies when the job is terminated or its last handle closes, even if Transom itself dies first.
The structure layout is plain data and tested on every OS; the calls run only on Windows.
"""

from __future__ import annotations

import ctypes

__all__ = [
    "JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION",
    "JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE",
    "JobObjectLimits",
    "WindowsJob",
    "attach_job",
]

JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION = 0x00000400
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
_JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9
_PROCESS_TERMINATE = 0x0001
_PROCESS_SET_QUOTA = 0x0100


class _BasicLimits(ctypes.Structure):
    _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", ctypes.c_uint32), ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", ctypes.c_uint32),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", ctypes.c_uint32),
                ("SchedulingClass", ctypes.c_uint32)]


class JobObjectLimits(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION, laid out as Windows does (144 bytes on 64-bit)."""

    _fields_ = [("BasicLimitInformation", _BasicLimits),
                ("IoInfo", ctypes.c_uint64 * 6),  # IO_COUNTERS: six ULONGLONG counters
                ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]

    @classmethod
    def kill_on_close(cls) -> JobObjectLimits:
        """Kill every process of the job when its last handle closes; no crash dialogs that would
        hang a headless run."""
        limits = cls()
        limits.BasicLimitInformation.LimitFlags = (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
                                                   | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION)
        return limits


class WindowsJob:  # pragma: no cover - Windows only
    """A Job Object holding one child and all it starts; closing it kills them all."""

    def __init__(self) -> None:
        from ctypes import wintypes

        k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        k32.CreateJobObjectW.restype = wintypes.HANDLE
        k32.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
        k32.SetInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                                wintypes.DWORD]
        k32.OpenProcess.restype = wintypes.HANDLE
        k32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
        k32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
        k32.TerminateJobObject.argtypes = [wintypes.HANDLE, wintypes.UINT]
        k32.CloseHandle.argtypes = [wintypes.HANDLE]
        self._k32 = k32
        handle = k32.CreateJobObjectW(None, None)
        if not handle:
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
        self.handle: int | None = handle
        limits = JobObjectLimits.kill_on_close()
        if not k32.SetInformationJobObject(handle, _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                                           ctypes.byref(limits), ctypes.sizeof(limits)):
            error = ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
            self.close()
            raise error

    def assign(self, pid: int) -> None:
        process = self._k32.OpenProcess(_PROCESS_SET_QUOTA | _PROCESS_TERMINATE, False, pid)
        if not process:
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
        try:
            if not self._k32.AssignProcessToJobObject(self.handle, process):
                raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
        finally:
            self._k32.CloseHandle(process)

    def terminate(self, exit_code: int = 1) -> None:
        if self.handle:
            self._k32.TerminateJobObject(self.handle, exit_code)

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle:
            self._k32.CloseHandle(handle)


def attach_job(pid: int) -> WindowsJob | None:  # pragma: no cover - Windows only
    """Put a new Windows child (by pid) in a kill-on-close Job Object; None if Windows refuses (then the
    tree is killed through psutil alone)."""
    try:
        job = WindowsJob()
    except OSError:
        return None
    try:
        job.assign(pid)
    except OSError:
        job.close()
        return None
    return job
