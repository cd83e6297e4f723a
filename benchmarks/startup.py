"""Startup: `import transom` alone, and a new process running a one-task flow in a fresh
TRANSOM_HOME (database created and migrated), against `python -c pass` as the baseline.

    python benchmarks/startup.py [repeats]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from _common import report

ONE_TASK_FLOW = """
from transom import flow, task
@task
def hello():
    return 'hi'
@flow
def main():
    return hello()
assert main() == 'hi'
"""


def wall(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(repeats: int = 5) -> None:
    env = dict(os.environ, TRANSOM_LOGGING_LEVEL="WARNING")
    python = [sys.executable, "-X", "frozen_modules=on"] if sys.version_info >= (3, 11) else [sys.executable]
    bare = min(wall([*python, "-c", "pass"], env) for _ in range(repeats))
    imported = min(wall([*python, "-c", "import transom"], env) for _ in range(repeats))
    runs = []
    for _ in range(repeats):
        home = tempfile.mkdtemp(prefix="transom-startup-")
        runs.append(wall([*python, "-c", ONE_TASK_FLOW], dict(env, TRANSOM_HOME=home)))
    out = subprocess.run([*python, "-X", "importtime", "-c", "import transom"], env=env,
                         capture_output=True, text=True, check=True).stderr.strip().splitlines()
    cumulative_us = int(out[-1].split("|")[1])
    report("startup: new processes", [
        ("python -c pass", f"{bare * 1e3:.0f} ms"),
        ("python -c 'import transom'", f"{imported * 1e3:.0f} ms wall; import itself "
                                       f"{cumulative_us / 1e3:.0f} ms   (target < 300 ms)"),
        ("one-task flow, fresh TRANSOM_HOME", f"{min(runs) * 1e3:.0f} ms best, "
                                              f"{max(runs) * 1e3:.0f} ms worst   (target < 800 ms)"),
    ])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
