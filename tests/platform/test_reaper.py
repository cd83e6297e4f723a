"""The child subreaper: Linux only, and an orphan of a subreaper is its child again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from tests.support.processes import gone

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
