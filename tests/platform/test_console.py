"""UTF-8 console setup: real text streams, and the Windows decisions through a fake kernel32 seam."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from transom.platform.console import UTF8_CODE_PAGE, last_report, setup_utf8_console

TEXT = "Запуск-数据 ✓"


def legacy_stream(encoding: str = "cp1252") -> tuple[io.BytesIO, io.TextIOWrapper]:
    raw = io.BytesIO()
    return raw, io.TextIOWrapper(raw, encoding=encoding, errors="strict")


class FakeConsole:
    """kernel32 as seen by setup_utf8_console: a code page and two console handles."""

    def __init__(self, code_page: int = 1252, set_ok: bool = True, vt_ok: bool = True) -> None:
        self.code_page = code_page
        self.set_ok = set_ok
        self.vt_ok = vt_ok
        self.calls: list[tuple[str, int]] = []

    def get_output_code_page(self) -> int:
        return self.code_page

    def set_output_code_page(self, code_page: int) -> bool:
        self.calls.append(("set", code_page))
        if self.set_ok:
            self.code_page = code_page
        return self.set_ok

    def enable_virtual_terminal(self, std_handle: int) -> bool:
        self.calls.append(("vt", std_handle))
        return self.vt_ok


def test_legacy_streams_become_utf8_with_replacement() -> None:
    raw_out, out = legacy_stream()
    raw_err, err = legacy_stream("cp437")
    with pytest.raises(UnicodeEncodeError):
        out.write(TEXT)  # what users of other tools hit: 'charmap' codec can't encode
    report = setup_utf8_console(out, err, "linux")
    out.write(TEXT)
    err.write(TEXT + "\udcff")  # a lone surrogate (undecodable byte) is replaced, never fatal
    out.flush()
    err.flush()
    assert raw_out.getvalue().decode("utf-8").endswith(TEXT)
    assert raw_err.getvalue().decode("utf-8") == TEXT + "?"
    assert [s.reconfigured for s in report.streams] == [True, True]
    assert report.streams[0].encoding_before == "cp1252" and report.streams[0].encoding_after == "utf-8"
    assert report.streams[1].errors_after == "replace"


def test_the_last_report_is_kept_for_transom_doctor() -> None:
    _, out = legacy_stream("cp850")
    report = setup_utf8_console(out, out, "linux")
    assert last_report() is report
    assert report.streams[0].encoding_before == "cp850"


def test_streams_that_cannot_be_reconfigured_are_left_alone() -> None:
    out = io.StringIO()
    err = io.BytesIO()  # not a text stream at all
    report = setup_utf8_console(out, err, "linux")  # type: ignore[arg-type]
    stdout_report, stderr_report = report.streams
    assert not stdout_report.reconfigured and "StringIO" in stdout_report.note
    assert not stderr_report.reconfigured and "BytesIO" in stderr_report.note
    out.write(TEXT)
    assert out.getvalue() == TEXT


def test_posix_never_touches_the_windows_console() -> None:
    fake = FakeConsole()
    _, out = legacy_stream()
    report = setup_utf8_console(out, out, "linux", windows_api=fake)
    assert fake.calls == []
    assert report.code_page_before is None and not report.code_page_set


def test_windows_console_gets_code_page_65001_and_colours() -> None:
    fake = FakeConsole(code_page=850)
    _, out = legacy_stream()
    report = setup_utf8_console(out, out, "win32", windows_api=fake, restore_at_exit=False)
    assert ("set", UTF8_CODE_PAGE) in fake.calls
    assert report.code_page_before == 850 and report.code_page_set
    assert report.vt_enabled == ("stdout", "stderr")
    assert any("850" in line for line in report.lines())


def test_windows_console_already_utf8_is_not_changed() -> None:
    fake = FakeConsole(code_page=UTF8_CODE_PAGE)
    _, out = legacy_stream()
    report = setup_utf8_console(out, out, "win32", windows_api=fake, restore_at_exit=False)
    assert ("set", UTF8_CODE_PAGE) not in fake.calls
    assert report.code_page_before == UTF8_CODE_PAGE and not report.code_page_set


def test_windows_without_a_console_is_left_alone() -> None:
    fake = FakeConsole(code_page=0)  # a service or pythonw: GetConsoleOutputCP returns 0
    _, out = legacy_stream()
    report = setup_utf8_console(out, out, "win32", windows_api=fake, restore_at_exit=False)
    assert fake.calls == []
    assert "no console" in " ".join(report.notes)
    assert report.streams[0].reconfigured  # output is still UTF-8 (e.g. into a service log file)


def test_failed_code_page_change_is_reported_not_raised() -> None:
    fake = FakeConsole(code_page=1252, set_ok=False, vt_ok=False)
    _, out = legacy_stream()
    report = setup_utf8_console(out, out, "win32", windows_api=fake, restore_at_exit=False)
    assert not report.code_page_set and report.vt_enabled == ()
    assert any("65001" in note for note in report.notes)


def test_windows_calls_are_skipped_when_not_really_on_windows() -> None:
    if sys.platform == "win32":
        pytest.skip("on Windows the real console is configured")
    _, out = legacy_stream()
    report = setup_utf8_console(out, out, "win32")
    assert "not running on Windows" in " ".join(report.notes)


def test_real_process_with_a_legacy_code_page_prints_any_text() -> None:
    code = (
        "from transom.platform.console import setup_utf8_console\n"
        "setup_utf8_console()\n"
        f"print({TEXT!r})\n"
        "import sys; print('\\udcff', file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert done.stdout.decode("utf-8").strip() == TEXT
    assert b"charmap" not in done.stderr
