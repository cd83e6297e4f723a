"""W13: under a legacy console encoding the CLI prints any run name, and logs stay UTF-8.

The run test's child gets PYTHONIOENCODING=cp1252 and, on POSIX, the plain C locale with
Python's own UTF-8 rescue turned off (PYTHONUTF8=0, PYTHONCOERCECLOCALE=0): its default encoding
is then ASCII, as bad a console as exists. The `transom` fixture decodes what comes out strictly
as UTF-8.
"""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.support.network import free_port

Transom = Any  # the `transom` fixture of tests/cli/conftest.py

NAME = "Отчёт-数据-ελληνικά ✓"
LEGACY = {"PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
if sys.platform != "win32":
    LEGACY.update({"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0"})


def test_non_latin_run_names_and_logs_print_under_a_legacy_encoding(
        transom: Transom, home: Path, tmp_path: Path) -> None:
    script = tmp_path / "flows.py"
    script.write_text(textwrap.dedent(f"""
        from transom import flow, get_run_logger

        @flow(name={NAME!r})
        def report():
            get_run_logger().info("готово ✓ 完成")
            print("progress ⠋⠙⠹ 100%")
            return "✓"
    """), encoding="utf-8")
    ran = transom("run", f"{script}:report", env=LEGACY)
    assert ran.code == 0, ran.stderr
    assert "charmap" not in ran.stderr and "codec" not in ran.stderr
    assert "готово ✓ 完成" in ran.stderr
    listed = transom("runs", "ls", env=LEGACY)
    assert listed.code == 0, listed.stderr
    assert NAME in listed.stdout
    with sqlite3.connect(home / "transom.db") as db:
        (run_id,) = db.execute("SELECT id FROM flow_runs").fetchone()
    shown = transom("runs", "show", run_id, env=LEGACY)
    assert shown.code == 0, shown.stderr
    assert NAME in shown.stdout and "готово ✓ 完成" in shown.stdout
    assert "charmap" not in shown.stderr + listed.stderr


def test_service_log_is_utf8_under_a_legacy_encoding(transom: Transom, tmp_path: Path) -> None:
    """What a service's child prints lands in its log as UTF-8, whatever the console encoding."""
    folder = tmp_path / "данные 数据"
    folder.mkdir()
    (folder / "transom.db").write_bytes(b"not a database" * 100)
    log = tmp_path / "журнал" / "server.log"
    # A port of the OS's choosing: with the default (4200) the test would fail, on a busy-port
    # message, whenever anything listens there, such as the README's own server.
    done = transom("service", "run", "server", "--log-file", str(log),
                   env={"PYTHONIOENCODING": "cp1252", "TRANSOM_SERVER_API_PORT": str(free_port()),
                        "TRANSOM_DATABASE_URL": f"sqlite:///{folder / 'transom.db'}"})
    assert done.code == 1, done.stderr  # the server refuses the corrupt database and exits
    text = log.read_text(encoding="utf-8")
    assert f"{folder / 'transom.db'} is not a SQLite database" in text
    assert "service exited on its own (exit code 1)" in text
    assert "Fatal Python error" not in text
