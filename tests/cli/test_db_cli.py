"""`transom db reset`: its help and its confirmation say exactly what it deletes, and it does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.conftest import Transom

DELETED = ("flow run", "task run", "states", "logs", "flow", "deployment", "schedule",
           "work pool", "worker")


def test_reset_says_what_it_deletes_and_deletes_it(transom: Transom, tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(textwrap.dedent("""
        from transom import flow

        @flow
        def hello():
            return 1
    """), encoding="utf-8")
    assert transom("run", "flows.py:hello").code == 0
    assert transom("work-pool", "create", "main").code == 0
    assert transom("deploy", "flows.py:hello", "--name", "daily", "--pool", "main",
                   "--cron", "0 9 * * *").code == 0

    helped = transom("db", "reset", "--help", env={"COLUMNS": "300"})
    assert helped.code == 0
    asked = transom("db", "reset")
    line = asked.assert_user_error("run `transom db reset --yes` to do it")
    for what in DELETED:
        assert what in helped.stdout and what in line, what
    assert "every recorded run" not in helped.stdout  # it deletes more than runs
    assert json.loads(transom("work-pool", "ls", "-o", "json").stdout) != []  # untouched

    done = transom("db", "reset", "--yes")
    assert done.code == 0, done.stderr
    assert "deployment and schedule, every work pool and worker" in done.stdout
    for listing in (("runs", "ls"), ("deployment", "ls"), ("work-pool", "ls")):
        assert json.loads(transom(*listing, "-o", "json").stdout) == [], listing
