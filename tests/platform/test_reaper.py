"""The child subreaper: Linux only, and an orphan of a subreaper is its child again."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from tests.support.processes import gone

from transom.exceptions import UserInputError
from transom.platform._reap import descendants
from transom.platform.processes import keeper_command, run
from transom.platform.reaper import become_subreaper, subreaper_supported


@pytest.mark.parametrize(("platform", "supported"),
                         [("linux", True), ("darwin", False), ("win32", False)])
def test_only_linux_has_a_subreaper(platform: str, supported: bool) -> None:
    assert subreaper_supported(platform) is supported
    if not supported:
        assert become_subreaper(platform) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
def test_an_orphan_stays_a_descendant_of_the_subreaper() -> None:
    # A process that becomes the subreaper, then double-forks: its grandchild, orphaned, must be
    # among its children (where stop_process_tree looks), not init's.
    script = textwrap.dedent("""
        import subprocess, psutil
        from transom.platform.reaper import become_subreaper
        assert become_subreaper()
        script = "setsid sh -c 'echo $$; exec sleep 60 >/dev/null 2>&1' &"
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                             check=True).stdout
        orphan = int(out.split()[0])
        kids = [p.pid for p in psutil.Process().children(recursive=True)]
        print(orphan, orphan in kids)
        psutil.Process(orphan).kill()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=30).stdout.split()
    assert out[1] == "True"
    assert gone(int(out[0]))


# -- the keeper of a command's tree (platform/_reap.py), which shell_run starts commands under ----
DETACH = "setsid sh -c 'echo $$; exec sleep 1000 >/dev/null 2>&1' &"
# The same, but the command has the orphan's pid before it goes on: `$(...)` reads until the
# orphan's sh has printed it and let go of the pipe. (With DETACH then `exit 3`, the keeper could
# stop the orphan before it printed anything.)
DETACHED = "echo $(" + DETACH + ")"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the keeper needs Linux's child subreaper")


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_only_linux_starts_commands_under_the_keeper(platform: str) -> None:
    kept = keeper_command(platform, ["bash", "-c", "true"], "/usr/bin/python3")
    if platform == "linux":
        assert kept is not None and kept[:3] == ["/usr/bin/python3", "-I", "-S"]
        assert kept[3].endswith("_reap.py") and kept[4:] == ["bash", "-c", "true"]
    else:
        assert kept is None
    assert keeper_command(platform, ["true"], None) is None  # no Python to run it with


def _orphan(lines: tuple[str, ...]) -> int:
    return int(next(line for line in lines if line.strip().isdigit()))


@linux_only
def test_without_the_keeper_a_detached_grandchild_outlives_its_command() -> None:
    # What the keeper is for: this test process is no subreaper, so the orphan escapes.
    result = run(["bash", "-c", DETACHED])
    orphan = _orphan(result.stdout)
    try:
        assert not gone(orphan, within=0.5)
    finally:
        psutil.Process(orphan).kill()


@linux_only
def test_a_detached_grandchild_ends_with_its_command_under_the_keeper() -> None:
    result = run(["bash", "-c", DETACHED + "\nexit 3"], keep_tree=True)
    assert result.exit_code == 3  # the command's own code, not the keeper's
    assert result.args == ("bash", "-c", DETACHED + "\nexit 3")
    assert gone(_orphan(result.stdout), within=5)


@linux_only
def test_a_timeout_stops_the_detached_grandchild_too() -> None:
    result = run(["bash", "-c", DETACHED + "\nsleep 1000"], keep_tree=True, timeout=1, grace=1)
    assert result.timed_out
    assert gone(_orphan(result.stdout), within=5)


@linux_only
def test_the_keeper_exits_as_its_command_did() -> None:
    assert run(["bash", "-c", "kill -9 $$"], keep_tree=True).exit_code == -9
    assert run(["sh", "-c", "exit 0"], keep_tree=True).exit_code == 0
    with pytest.raises(UserInputError, match="cannot start no-such-program-here"):
        run(["no-such-program-here"], keep_tree=True)


@linux_only
def test_the_keeper_stops_what_is_below_it_when_its_parent_is_killed(tmp_path: Path) -> None:
    # kill -9 of the process that started the command (a flow's process): nobody will stop the
    # command now but the keeper, which notices its parent is gone.
    pidfile = tmp_path / "pids"
    script = textwrap.dedent(f"""
        from transom.platform.processes import spawn
        child = spawn(["bash", "-c", "echo $$ > {pidfile}.tmp; {DETACH} sleep 1000"],
                      keep_tree=True, capture=False)
        import os, time
        while not os.path.exists("{pidfile}.tmp") or os.path.getsize("{pidfile}.tmp") == 0:
            time.sleep(0.02)
        time.sleep(0.3)
        os.replace("{pidfile}.tmp", "{pidfile}")
        time.sleep(1000)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists():
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        shell = int(pidfile.read_text().split()[0])
        orphan = _orphan(tuple(parent.stdout.readline() for _ in range(1)))  # type: ignore[union-attr]
        parent.kill()
        parent.wait(10)
        assert gone(shell, within=10) and gone(orphan, within=10)
    finally:
        parent.kill()


def test_the_keeper_finds_every_process_below_a_pid(tmp_path: Path) -> None:
    # A /proc picture: 1 -> 10 -> 11 -> 12, 1 -> 20; a comm with spaces and parentheses.
    for pid, ppid, comm in [(10, 1, "bash"), (11, 10, "a (b) c"), (12, 11, "sleep"),
                            (20, 1, "other")]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0")
    (tmp_path / "self").mkdir()
    assert descendants(10, proc=str(tmp_path)) == [11, 12]
    assert descendants(1, proc=str(tmp_path)) in ([10, 20, 11, 12], [20, 10, 11, 12])
