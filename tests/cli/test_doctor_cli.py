"""`transom doctor` as a real command: the report, --json, and a non-zero exit on a failure."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

from tests.support.network import free_port

Transom = Any  # the `transom` fixture of tests/cli/conftest.py

TITLES = ("transom on PATH", "Python", "Encoding", "Settings", "TRANSOM_HOME", "Network storage",
          "Database", "Server port", "API URL", "Firewall", "Antivirus")


def test_doctor_reports_every_check(transom: Transom, home: Path) -> None:
    port = free_port()
    done = transom("doctor", env={"TRANSOM_SERVER_API_PORT": str(port)})
    assert done.code == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Transom ") and " doctor: " in lines[0]
    for title in TITLES:
        assert any(title in line for line in lines), title
    assert lines[-1].startswith("12 checks: ") and lines[-1].endswith(" 0 failures")
    assert not home.exists()  # looking changes nothing: no home, no database created


def test_doctor_json(transom: Transom) -> None:
    port = free_port()
    done = transom("doctor", "--json", env={"TRANSOM_SERVER_API_PORT": str(port)})
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["summary"]["fail"] == 0
    names = [check["name"] for check in report["checks"]]
    assert names == ["command", "python", "encoding", "settings", "home", "network", "database",
                     "port", "api", "firewall", "shell", "antivirus"]
    assert all(set(check) == {"name", "title", "status", "finding", "fix", "details"}
               for check in report["checks"])


def test_doctor_fails_on_a_busy_port_and_names_the_fix(transom: Transom) -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        done = transom("doctor", "--json", env={"TRANSOM_SERVER_API_PORT": str(port),
                                                "SHELL": "/bin/bash"})
    assert done.code == 1, done.stdout
    report = json.loads(done.stdout)
    check = next(c for c in report["checks"] if c["name"] == "port")
    assert check["status"] == "fail" and f"127.0.0.1:{port} is in use" in check["finding"]
    assert "TRANSOM_SERVER_API_PORT" in check["fix"]  # in the syntax of the user's shell
    assert report["ok"] is False


def test_the_summary_counts_in_good_english(transom: Transom) -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        done = transom("doctor", env={"TRANSOM_SERVER_API_PORT": str(port)})
    assert done.code == 1
    # How many warnings depends on the machine (Windows: Defender); the words must agree.
    summary = re.search(r" (\d+) (warnings?), 1 failure$", done.stdout.splitlines()[-1])
    assert summary, done.stdout
    assert (summary.group(2) == "warning") == (summary.group(1) == "1"), summary.group(0)


def test_doctor_goes_on_when_settings_are_broken(transom: Transom) -> None:
    done = transom("doctor", env={"TRANSOM_SERVER_API_PORT": "abc"})
    assert done.code == 1
    assert "TRANSOM_SERVER_API_PORT must be a whole number" in done.stdout
    assert "Traceback" not in done.stderr
    assert "Antivirus" in done.stdout  # the later checks still ran


def test_doctor_with_an_unreachable_api_url(transom: Transom) -> None:
    port = free_port()
    done = transom("doctor", env={"TRANSOM_API_URL": f"http://127.0.0.1:{port}/api",
                                  "TRANSOM_SERVER_API_PORT": str(port)})
    assert done.code == 1
    assert "cannot reach the Transom server" in done.stdout
    assert "fix: transom server start" in done.stdout


def test_doctor_under_a_legacy_console_encoding(transom: Transom, tmp_path: Path) -> None:
    legacy = {"PYTHONIOENCODING": "cp1252", "TRANSOM_HOME": str(tmp_path / "домашний 数据")}
    done = transom("doctor", env=legacy)
    assert "домашний 数据" in done.stdout  # decoded strictly as UTF-8 by the fixture
    assert "charmap" not in done.stderr and "Traceback" not in done.stderr


def test_an_emptied_database_fails_doctor_and_every_command(transom: Transom, home: Path,
                                                            tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text("from transom import flow\n\n@flow\ndef hello():\n"
                                       "    return 1\n", encoding="utf-8")
    assert transom("run", "flows.py:hello").code == 0
    (home / "transom.db").write_bytes(b"")
    checked = transom("doctor", "--json", env={"TRANSOM_SERVER_API_PORT": str(free_port())})
    assert checked.code != 0
    database = next(c for c in json.loads(checked.stdout)["checks"] if c["name"] == "database")
    assert database["status"] == "fail" and "is empty (0 bytes)" in database["finding"]
    transom("runs", "ls").assert_user_error("is empty (0 bytes)", "restore the file")
    assert (home / "transom.db").stat().st_size == 0
