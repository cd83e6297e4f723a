"""worker/handover.py: a worker's hand-over folder, and the sweep of those of dead workers, with
real processes (one that ran and ended, this one, and this one's id with another start time)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from transom.schemas import ClaimedRun
from transom.worker.handover import PREFIX, HandOver, sweep


def _ended_process() -> tuple[int, int]:
    """The id and start time of a process that ran and is gone."""
    out = subprocess.run([sys.executable, "-c", "import os, psutil; p = psutil.Process(); "
                          "print(p.pid, int(p.create_time()))"],
                         capture_output=True, text=True, check=True).stdout
    pid, started = map(int, out.split())
    assert not psutil.pid_exists(pid) or int(psutil.Process(pid).create_time()) != started
    return pid, started


def _folder(root: Path, pid: int, started: int) -> Path:
    folder = root / f"{PREFIX}{pid}-{started}-x{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "run-1.json").write_text("{}", encoding="utf-8")
    return folder


def _run() -> ClaimedRun:
    return ClaimedRun(id=uuid.uuid4(), name="r", flow_name="etl", entrypoint="flows.py:etl",
                      parameters={"big": "x" * 1000})


def test_the_folders_of_workers_that_are_gone_are_swept_and_no_others(tmp_path: Path) -> None:
    me = psutil.Process()
    dead = _folder(tmp_path, *_ended_process())
    alive = _folder(tmp_path, me.pid, int(me.create_time()))
    reused = _folder(tmp_path, me.pid, int(me.create_time()) - 3600)  # an id given again
    drifted = _folder(tmp_path, me.pid, int(me.create_time()) + 1)  # the clock was adjusted
    other = tmp_path / "transom-workers-notes"  # not a hand-over folder's name
    other.mkdir()
    loose = tmp_path / f"{PREFIX}1-1-file"  # a file, not a folder
    loose.write_text("keep", encoding="utf-8")
    assert sorted(sweep(tmp_path)) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert alive.is_dir() and drifted.is_dir() and other.is_dir()
    assert loose.read_text(encoding="utf-8") == "keep"
    assert sweep(tmp_path) == []
    assert sweep(tmp_path / "no-such-folder") == []


@pytest.mark.skipif(os.name != "posix", reason="zombies are POSIX's")
def test_a_worker_killed_and_not_yet_waited_for_is_gone(tmp_path: Path) -> None:
    """A zombie (what `kill -9` leaves until its parent waits) keeps its id and start time."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = int(psutil.Process(child.pid).create_time())
        folder = _folder(tmp_path, child.pid, started)
        assert sweep(tmp_path) == []  # alive
        child.kill()
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            pass
        assert sweep(tmp_path) == [folder]
    finally:
        child.kill()
        child.wait()


def test_a_worker_writes_its_runs_in_its_own_folder_and_removes_it(tmp_path: Path) -> None:
    dead = _folder(tmp_path, *_ended_process())
    handover = HandOver(tmp_path)
    assert handover.folder is None and dead.exists()  # nothing made, nothing swept, before use
    run = _run()
    first, second = handover.write(run), handover.write(_run())
    folder = handover.folder
    assert folder is not None and not dead.exists()  # the first write swept
    me = psutil.Process()
    assert folder.name.startswith(f"{PREFIX}{me.pid}-{int(me.create_time())}-")
    assert {Path(first).parent, Path(second).parent} == {folder} and first != second
    assert ClaimedRun.model_validate_json(Path(first).read_text(encoding="utf-8")) == run
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    assert sweep(tmp_path) == []  # a live worker's folder stays
    handover.close()
    assert not folder.exists() and handover.folder is None
    handover.close()  # twice is harmless


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="owners are POSIX's")
def test_a_folder_another_user_owns_is_left_alone(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, *_ended_process())
    mine = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: mine + 1)  # as another user sees the folder
    assert sweep(tmp_path) == []
    monkeypatch.undo()
    assert folder.exists() and sweep(tmp_path) == [folder]
