"""`transom doctor`: a new process checking a fresh TRANSOM_HOME (nothing wrong), a home with a
database, and with a Transom server answering on the server port; against `python -c pass` and
`transom --version` (the CLI's own start-up) as baselines. Then, in this process, the checks of
a Windows machine whose every PowerShell takes 1 s to answer (a real one takes 0.5-2 s to start):
all of them together against the same checks one after another.

    python benchmarks/doctor.py [repeats]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

from _common import report


def wall(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def best(args: list[str], env: dict[str, str], repeats: int) -> float:
    return min(wall(args, env) for _ in range(repeats))


def main(repeats: int = 5) -> None:
    python = [sys.executable]
    transom = [*python, "-m", "transom"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update(TRANSOM_HOME=tempfile.mkdtemp(prefix="transom-doctor-"),
               TRANSOM_SERVER_API_PORT=str(free_port()))
    bare = best([*python, "-c", "pass"], env, repeats)
    version = best([*transom, "--version"], env, repeats)
    fresh = best([*transom, "doctor"], env, repeats)
    subprocess.run([*transom, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
    with_db = best([*transom, "doctor"], env, repeats)
    server = subprocess.Popen([*transom, "server", "start"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = int(env["TRANSOM_SERVER_API_PORT"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        served = best([*transom, "doctor"], env, repeats)
        api = best([*transom, "doctor"], dict(env, TRANSOM_API_URL=f"http://127.0.0.1:{port}/api"),
                   repeats)
    finally:
        server.terminate()
        server.wait(30)
    report("transom doctor: new processes, best of each", [
        ("python -c pass", f"{bare * 1e3:.0f} ms"),
        ("transom --version", f"{version * 1e3:.0f} ms"),
        ("doctor, fresh TRANSOM_HOME", f"{fresh * 1e3:.0f} ms   (target < 1000 ms)"),
        ("doctor, with a database", f"{with_db * 1e3:.0f} ms"),
        ("doctor, a server on the port", f"{served * 1e3:.0f} ms"),
        ("doctor, TRANSOM_API_URL at it", f"{api * 1e3:.0f} ms"),
    ])


def windows_shaped(seconds: float = 1.0) -> None:
    from transom import doctor
    from transom.platform.system import CommandResult

    def slow_powershell(argv: object, timeout: float | None = None) -> CommandResult:
        time.sleep(seconds)
        return CommandResult(0, "rtp\tFalse\nMachinePolicy=Undefined\n")

    pwsh = r"C:\Program Files\PowerShell\7\pwsh.exe"
    python = doctor.PythonInfo(r"C:\Python312\python.exe", "3.12.3", r"C:\Python312",
                               r"C:\Python312", r"C:\Python312\Scripts")
    machine = doctor.Machine(
        "win32", {"TRANSOM_HOME": tempfile.mkdtemp(prefix="transom-doctor-"),
                  "TRANSOM_SERVER_API_PORT": str(free_port())},
        {"pwsh": pwsh}.get, slow_powershell, "powershell", python, exists=lambda path: False)
    doctor.run_checks(machine)  # imports, once
    start = time.perf_counter()
    checks = doctor.run_checks(machine)
    together = time.perf_counter() - start
    settings = doctor.check_settings(machine.environ)[1]
    start = time.perf_counter()  # the baseline: the two PowerShell checks, one after the other
    doctor.check_powershell("win32", machine.environ, machine.which, machine.run)
    doctor.check_antivirus("win32", "powershell", [str(settings.home)], which=machine.which,
                           run=machine.run)
    in_turn = time.perf_counter() - start
    report(f"transom doctor's {len(checks)} checks on Windows, PowerShell answering in "
           f"{seconds:g} s", [
        ("the PowerShell checks in turn", f"{in_turn * 1e3:.0f} ms"),
        ("every check, side by side", f"{together * 1e3:.0f} ms"),
    ])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    windows_shaped()
