"""Files only their owner can read (the secrets key): mode 0600 on POSIX, an owner-only ACL by
icacls on Windows (its branch run here with the platform as a parameter), made atomically."""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from transom.platform.private_files import create_private_file, windows_owner_only_acl
from transom.platform.system import CommandResult

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@posix_only
def test_the_file_is_made_with_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "home" / "secrets.key"
    before = os.umask(0)  # the most permissive umask: the mode must not come from it
    try:
        assert create_private_file(path, b"key-one\n", platform=sys.platform) is True
    finally:
        os.umask(before)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"key-one\n"
    assert create_private_file(path, b"key-two\n", platform=sys.platform) is False
    assert path.read_bytes() == b"key-one\n"  # an existing key is never replaced
    assert sorted(p.name for p in path.parent.iterdir()) == ["secrets.key"]  # no temporaries


def test_callers_making_it_at_once_end_with_one_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    results: dict[int, bool] = {}
    start = threading.Barrier(8)

    def make(n: int) -> None:
        start.wait()
        results[n] = create_private_file(path, f"key-{n}\n".encode() * 1000,
                                         platform=sys.platform)

    threads = [threading.Thread(target=make, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8  # every one answered (none raised)
    [winner] = [n for n, made in results.items() if made]
    assert path.read_bytes() == f"key-{winner}\n".encode() * 1000


def test_the_windows_acl_grants_the_current_user_alone() -> None:
    assert windows_owner_only_acl(r"C:\Users\alice\.transom\secrets.key",
                                  {"USERNAME": "alice", "USERDOMAIN": "CORP"}) == [
        "icacls", r"C:\Users\alice\.transom\secrets.key", "/inheritance:r", "/grant:r",
        "CORP\\alice:F"]
    assert windows_owner_only_acl("k", {"USERNAME": "bob"})[-1] == "bob:F"


class _Icacls:
    """Answers as icacls does; records what it was asked and what the file held then."""

    def __init__(self, exit_code: int = 0, stderr: str = "") -> None:
        self.calls: list[tuple[list[str], bytes]] = []
        self.exit_code, self.stderr = exit_code, stderr

    def __call__(self, args: Sequence[str], *, timeout: float = 30.0) -> CommandResult:
        self.calls.append((list(args), Path(args[1]).read_bytes()))
        return CommandResult(self.exit_code, "processed file", self.stderr)


def test_on_windows_the_acl_is_set_before_the_key_is_written(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    icacls = _Icacls()
    assert create_private_file(path, b"the key\n", platform="win32",
                               environ={"USERNAME": "alice", "USERDOMAIN": "CORP"}, run=icacls)
    [(argv, held)] = icacls.calls
    assert argv[0] == "icacls" and argv[2:] == ["/inheritance:r", "/grant:r", "CORP\\alice:F"]
    assert Path(argv[1]).parent == tmp_path and held == b""  # the ACL first, then the key
    assert path.read_bytes() == b"the key\n"


def test_on_windows_an_acl_that_cannot_be_set_leaves_no_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    icacls = _Icacls(exit_code=5, stderr="Access is denied.")
    with pytest.raises(PermissionError, match=r"cannot limit .* to the current user: Access is "
                                              r"denied"):
        create_private_file(path, b"the key\n", platform="win32", environ={"USERNAME": "a"},
                            run=icacls)
    assert list(tmp_path.iterdir()) == []
