"""Per-task overhead of two source trees, measured side by side (is a change slower?).

    git worktree add /tmp/base <commit>
    python benchmarks/compare.py /tmp/base/src src [N] [ROUNDS] [--map]

Each tree runs in a process of its own that stays up; the two take turns, ROUNDS times, each
turn one flow of N trivial tasks called one after another (or, with --map, submitted at once
with `.map()` to the thread pool), recorded in its own embedded database. Taking turns
many times in short slices, rather than running one tree after the other, spreads whatever else
the machine does over both trees alike. Reports each tree's median and fastest turn per task,
in elapsed time and in CPU time (the steadier of the two on a busy machine: waiting for the disk
or for a core does not count), each less the plain-Python loop of the same N calls.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, os, sys, tempfile, time
os.environ["TRANSOM_HOME"] = tempfile.mkdtemp(prefix="transom-bench-")
os.environ["TRANSOM_LOGGING_LEVEL"] = "WARNING"
from transom import flow, task, wait

def plain(x):
    return x + 1

nop = task(plain)

@flow
def sequential(count):
    total = 0
    for i in range(count):
        total += nop(i)
    return total

@flow
def submitted(count):
    wait(nop.map(range(count)))

n, run = int(sys.argv[1]), submitted if sys.argv[2] == "map" else sequential
run(50)  # warm up: imports, schema, first writes
for line in sys.stdin:
    start = time.perf_counter()
    for i in range(n):
        plain(i)
    base = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    run(n)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"wall": (took - base) / n * 1e6, "cpu": (cpu - base) / n * 1e6}), flush=True)
"""


def _start(src: str, n: int, kind: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
    script = os.path.join(tempfile.mkdtemp(prefix="transom-compare-"), "child.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(_CHILD)
    return subprocess.Popen([sys.executable, script, str(n), kind], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)


def _turn(proc: subprocess.Popen[str]) -> dict[str, float]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return {k: float(v) for k, v in json.loads(proc.stdout.readline()).items()}


def main(base: str, head: str, n: int = 1000, rounds: int = 30, kind: str = "call") -> None:
    procs = {base: _start(base, n, kind), head: _start(head, n, kind)}
    times: dict[str, list[dict[str, float]]] = {base: [], head: []}
    try:
        for i in range(rounds):
            order = (base, head) if i % 2 == 0 else (head, base)
            for tree in order:
                times[tree].append(_turn(procs[tree]))
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=30)
    how = "submitted with .map() on the thread pool" if kind == "map" else "called in turn"
    print(f"\ncompare: {n} trivial tasks {how} per turn, {rounds} turns each, taking turns "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    for kind, what in (("wall", "elapsed"), ("cpu", "CPU time of the process, both threads")):
        med = {t: statistics.median(x[kind] for x in v) for t, v in times.items()}
        low = {t: min(x[kind] for x in v) for t, v in times.items()}
        print(f"  per task, {what}:")
        for label, tree in (("base", base), ("head", head)):
            print(f"    {label} {tree:<28} median {med[tree]:6.1f} us   fastest {low[tree]:6.1f} us")
        print(f"    head / base: median {med[head] / med[base]:.3f}   "
              f"fastest {low[head] / low[base]:.3f}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--map"]
    if len(args) < 2:
        sys.exit("usage: python benchmarks/compare.py BASE_SRC HEAD_SRC [N] [ROUNDS] [--map]")
    main(args[0], args[1], *(int(a) for a in args[2:4]),
         kind="map" if "--map" in sys.argv else "call")
