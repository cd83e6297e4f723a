"""Every code block of README.md runs as pasted, top to bottom, in a fresh TRANSOM_HOME.

Each fenced block says in its info string what the test does with it, so a new block cannot be
left out unnoticed (an unmarked block fails this test):

    ```python run           written to a file and run with this interpreter
    ```sh run               run with bash, `transom` on PATH
    ```sh background        started in the background, with TRANSOM_SERVER_API_PORT set to a
                            port the OS chose (never 4200); stopped at the end of its section.
                            A `transom server start` is waited for until /api/health answers.
    ```sh shown: REASON     not run; the test prints the reason

The blocks run in a temporary folder holding a copy of `examples/`, one after the other, with one
TRANSOM_HOME for all of them (a later block sees what an earlier one recorded), as a new user
pasting them would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```(\S*)(.*)$")


@dataclass
class Block:
    line: int  # where it starts in README.md
    section: str
    language: str
    mode: str  # run | background | shown
    reason: str
    code: str


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    section = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        match = _FENCE.match(line)
        if match is None:
            i += 1
            continue
        start, info = i + 1, match.group(2).strip()
        body: list[str] = []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        mode, _, reason = info.partition(":")
        blocks.append(Block(start, section, match.group(1), mode.strip(), reason.strip(),
                            "\n".join(body) + "\n"))
    return blocks


BLOCKS = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_every_block_says_whether_it_runs() -> None:
    for block in BLOCKS:
        where = f"README.md:{block.line}"
        assert block.language in ("python", "sh"), f"{where}: say python or sh"
        assert block.mode in ("run", "background", "shown"), \
            f"{where}: mark the block `run`, `background` or `shown: why`"
        assert block.mode != "shown" or block.reason, f"{where}: say why it is not run"
        assert block.mode == "run" or block.language == "sh", where


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environ(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    bin_dir = str(Path(sys.executable).parent)  # where `transom` is installed with this Python
    env.update(TRANSOM_HOME=str(home), TRANSOM_SERVER_API_PORT=str(port),
               PATH=bin_dir + os.pathsep + env.get("PATH", ""), PYTHONIOENCODING="utf-8",
               COLUMNS="100")
    return env


def _wait_for_server(port: int, process: subprocess.Popen[str], block: Block) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"README.md:{block.line}: the server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"README.md:{block.line}: the server never answered"
        time.sleep(0.1)


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:  # bash and what it started: the process group (its session)
        if hasattr(os, "killpg"):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        else:
            process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    processes.clear()


@pytest.mark.skipif(shutil.which("bash") is None, reason="the README's shell blocks need bash")
@pytest.mark.timeout(900)  # some forty commands, each a new process
def test_the_readme_runs_as_pasted(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    shutil.copytree(ROOT / "examples", work / "examples")
    port = _free_port()
    assert port != 4200
    env = _environ(home, port)
    background: list[subprocess.Popen[str]] = []
    section = ""
    try:
        for n, block in enumerate(BLOCKS):
            where = f"README.md:{block.line} ({block.section})"
            if block.section != section:
                _stop(background)
                section = block.section
            if block.mode == "shown":
                print(f"{where}: shown, not run: {block.reason}")
                continue
            if block.language == "python":
                script = work / f"readme_block_{n}.py"
                script.write_text(block.code, encoding="utf-8")
                command = [sys.executable, str(script)]
            else:
                command = ["bash", "-e", "-o", "pipefail", "-c", block.code]
            if block.mode == "background":
                log = (tmp_path / f"background_{n}.log").open("w", encoding="utf-8")
                process = subprocess.Popen(command, cwd=work, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, text=True,
                                           start_new_session=True)
                background.append(process)
                if "transom server start" in block.code:
                    _wait_for_server(port, process, block)
                print(f"{where}: started in the background on port {port}")
                continue
            started = time.monotonic()
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                                  timeout=300)
            print(f"{where}: ran in {time.monotonic() - started:.1f}s")
            assert done.returncode == 0, (f"{where} failed ({done.returncode}):\n{block.code}\n"
                                          f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
            assert "Traceback" not in done.stderr, f"{where}:\n{done.stderr}"
    finally:
        _stop(background)
