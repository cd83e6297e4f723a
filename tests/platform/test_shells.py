"""Shell detection, script files and command lines: every Windows branch runs here on any OS,
because the platform, the environment and `which` are inputs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from transom.exceptions import UserInputError
from transom.platform.shells import (
    ShellNotFound,
    ShellSpec,
    command_line,
    detect_shell,
    normalize_command,
    prepare_script,
    temporary_script,
)

PWSH = r"C:\Program Files\PowerShell\7\pwsh.exe"
POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
CMD = r"C:\Windows\system32\cmd.exe"
GIT_BASH = r"C:\Program Files\Git\bin\bash.exe"
WIN_ENV = {"COMSPEC": CMD, "SystemRoot": r"C:\Windows", "ProgramFiles": r"C:\Program Files",
           "PATH": r"C:\Windows\system32"}


def fake_which(found: dict[str, str]) -> Callable[[str], str | None]:
    """`which` over a fixed table: a name (or full path) -> where it is."""
    return lambda name: found.get(name)


# -- detection order ----------------------------------------------------------------------------


def test_windows_prefers_pwsh_over_windows_powershell_and_cmd() -> None:
    which = fake_which({"pwsh": PWSH, "powershell": POWERSHELL, CMD: CMD})
    spec = detect_shell("win32", WIN_ENV, which)
    assert (spec.kind, spec.path, spec.forced) == ("pwsh", PWSH, False)
    assert spec.name == "pwsh.exe" and spec.suffix == ".ps1"


def test_windows_falls_back_to_windows_powershell() -> None:
    spec = detect_shell("win32", WIN_ENV, fake_which({"powershell": POWERSHELL, CMD: CMD}))
    assert (spec.kind, spec.path) == ("powershell", POWERSHELL)


def test_windows_finds_powershell_where_windows_puts_it_when_path_is_stripped() -> None:
    # A service's PATH may lack System32\WindowsPowerShell: the standard location still counts.
    spec = detect_shell("win32", WIN_ENV, fake_which({POWERSHELL: POWERSHELL, CMD: CMD}))
    assert spec.kind == "powershell"


def test_windows_finds_pwsh_in_program_files_when_not_on_path() -> None:
    spec = detect_shell("win32", WIN_ENV, fake_which({PWSH: PWSH, CMD: CMD}))
    assert (spec.kind, spec.path) == ("pwsh", PWSH)


def test_windows_falls_back_to_cmd_from_comspec() -> None:
    custom = r"D:\Tools\cmd.exe"
    env = {**WIN_ENV, "COMSPEC": custom}
    spec = detect_shell("win32", env, fake_which({custom: custom, CMD: CMD}))
    assert (spec.kind, spec.path, spec.family, spec.suffix) == ("cmd", custom, "cmd", ".cmd")


def test_windows_comspec_is_found_whatever_the_case_of_its_name() -> None:
    env = {"ComSpec": r"E:\cmd.exe", "SystemRoot": r"C:\Windows"}
    spec = detect_shell("win32", env, fake_which({r"E:\cmd.exe": r"E:\cmd.exe"}))
    assert spec.path == r"E:\cmd.exe"


def test_windows_without_comspec_uses_system32_cmd() -> None:
    env = {"SystemRoot": r"C:\Windows"}
    spec = detect_shell("win32", env, fake_which({r"C:\Windows\System32\cmd.exe": CMD}))
    assert (spec.kind, spec.path) == ("cmd", CMD)


def test_posix_prefers_bash_then_sh() -> None:
    both = fake_which({"bash": "/usr/bin/bash", "sh": "/bin/sh"})
    assert detect_shell("linux", {}, both).kind == "bash"
    spec = detect_shell("darwin", {}, fake_which({"sh": "/bin/sh"}))
    assert (spec.kind, spec.path, spec.family, spec.suffix) == ("sh", "/bin/sh", "posix", ".sh")


def test_posix_never_picks_a_windows_shell_even_if_one_is_on_path() -> None:
    which = fake_which({"pwsh": "/usr/bin/pwsh", "sh": "/bin/sh"})
    assert detect_shell("linux", {}, which).kind == "sh"


def test_no_shell_at_all_is_a_clear_error() -> None:
    with pytest.raises(ShellNotFound, match=r"no shell found: none of pwsh, powershell\.exe, cmd\.exe"):
        detect_shell("win32", {}, fake_which({}))
    with pytest.raises(ShellNotFound, match="none of bash, sh is on PATH; install bash"):
        detect_shell("linux", {}, fake_which({}))


@pytest.mark.skipif(sys.platform == "win32", reason="an executable without .exe is POSIX only")
def test_default_which_looks_on_the_given_path(tmp_path: Path) -> None:
    program = tmp_path / "bash"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    assert detect_shell("linux", {"PATH": str(tmp_path)}).path == str(program)


# -- a forced shell is used or refused, never replaced ------------------------------------------


def test_forced_cmd_is_used_although_pwsh_is_installed() -> None:
    which = fake_which({"pwsh": PWSH, CMD: CMD})
    spec = detect_shell("win32", WIN_ENV, which, shell="cmd")
    assert (spec.kind, spec.path, spec.forced) == ("cmd", CMD, True)


def test_forced_pwsh_missing_names_what_was_found_instead() -> None:
    which = fake_which({"powershell": POWERSHELL, CMD: CMD})
    with pytest.raises(ShellNotFound) as caught:
        detect_shell("win32", WIN_ENV, which, shell="pwsh")
    assert str(caught.value) == (f"pwsh not found; found powershell.exe at {POWERSHELL} — "
                                 "pass shell='powershell' or install PowerShell 7")
    assert isinstance(caught.value, UserInputError)


def test_forced_shell_by_full_path_with_spaces() -> None:
    which = fake_which({PWSH: PWSH})
    spec = detect_shell("win32", WIN_ENV, which, shell=PWSH)
    assert (spec.kind, spec.path, spec.name) == ("pwsh", PWSH, "pwsh.exe")


def test_forced_shell_path_that_does_not_exist() -> None:
    missing = r"D:\No Such\pwsh.exe"
    which = fake_which({CMD: CMD})
    with pytest.raises(ShellNotFound, match=r"shell D:\\No Such\\pwsh.exe does not exist; "
                                            r"found cmd.exe at .* — pass shell='cmd'"):
        detect_shell("win32", WIN_ENV, which, shell=missing)


def test_forced_exe_names_and_case_are_understood() -> None:
    which = fake_which({"powershell.exe": POWERSHELL, "CMD.EXE": CMD})
    assert detect_shell("win32", WIN_ENV, which, shell="powershell.exe").kind == "powershell"
    assert detect_shell("win32", WIN_ENV, which, shell="CMD.EXE").kind == "cmd"


def test_forced_bash_on_windows_finds_git_bash() -> None:
    spec = detect_shell("win32", WIN_ENV, fake_which({GIT_BASH: GIT_BASH}), shell="bash")
    assert (spec.kind, spec.path) == ("bash", GIT_BASH)


def test_forced_bash_missing_on_windows_suggests_git() -> None:
    which = fake_which({CMD: CMD})
    with pytest.raises(ShellNotFound, match=r"bash not found; found cmd\.exe at .* or install Git"):
        detect_shell("win32", WIN_ENV, which, shell="bash")


def test_forced_windows_shell_on_posix_is_refused_with_what_to_use() -> None:
    which = fake_which({"bash": "/usr/bin/bash", "cmd": "/usr/local/bin/cmd"})
    with pytest.raises(ShellNotFound, match=r"cmd\.exe exists only on Windows; on linux pass shell='bash'"):
        detect_shell("linux", {}, which, shell="cmd")


def test_forced_pwsh_on_posix_is_allowed() -> None:
    spec = detect_shell("linux", {}, fake_which({"pwsh": "/opt/microsoft/powershell/7/pwsh"}),
                        shell="pwsh")
    assert (spec.kind, spec.family) == ("pwsh", "powershell")


def test_forced_sh_relatives_run_that_very_program() -> None:
    which = fake_which({"zsh": "/usr/bin/zsh", "sh": "/bin/sh"})
    spec = detect_shell("linux", {}, which, shell="zsh")
    assert (spec.kind, spec.path) == ("sh", "/usr/bin/zsh")
    with pytest.raises(ShellNotFound, match=r"dash not found; found .* or install dash"):
        detect_shell("linux", {}, which, shell="dash")


def test_unknown_or_empty_shell_is_refused() -> None:
    which = fake_which({"bash": "/usr/bin/bash", "fish": "/usr/bin/fish"})
    with pytest.raises(ShellNotFound, match="unknown shell 'fish'; pass one of pwsh"):
        detect_shell("linux", {}, which, shell="fish")
    with pytest.raises(ShellNotFound, match="shell must be a shell's name or path"):
        detect_shell("linux", {}, which, shell="  ")


def test_a_shell_spec_passes_through() -> None:
    spec = ShellSpec("cmd", CMD, "win32", forced=True)
    assert detect_shell("linux", {}, fake_which({}), shell=spec) is spec


# -- command lines ------------------------------------------------------------------------------


def test_powershell_command_line_bypasses_execution_policy() -> None:
    script = r"C:\Users\Zoë Müller\AppData\Local\Temp\transom-x.ps1"
    assert command_line(ShellSpec("powershell", POWERSHELL, "win32"), script) == [
        POWERSHELL, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", script]
    assert command_line(ShellSpec("pwsh", PWSH, "win32"), script)[0] == PWSH


def test_cmd_command_line_keeps_quotes_for_paths_with_spaces() -> None:
    script = r"C:\Users\Zoë Müller\Temp\transom-x.cmd"
    line = command_line(ShellSpec("cmd", r"C:\Program Files\Tools\cmd.exe", "win32"), script)
    # /s strips only the outer quotes: cmd then runs `"C:\Users\Zoë Müller\Temp\transom-x.cmd"`.
    assert line == ('"C:\\Program Files\\Tools\\cmd.exe" /d /e:on /v:off /s /c '
                    '""C:\\Users\\Zoë Müller\\Temp\\transom-x.cmd""')


def test_posix_command_lines() -> None:
    assert command_line(ShellSpec("bash", "/usr/bin/bash", "linux"), "/tmp/t x.sh") == [
        "/usr/bin/bash", "/tmp/t x.sh"]
    assert command_line(ShellSpec("bash", GIT_BASH, "win32"), r"C:\Temp\t.sh") == [
        GIT_BASH, "C:/Temp/t.sh"]


# -- script files -------------------------------------------------------------------------------


def test_powershell_script_is_utf8_with_bom_and_propagates_errors_and_exit_codes() -> None:
    spec = ShellSpec("powershell", POWERSHELL, "win32")
    prepared = prepare_script(spec, "Write-Output 'Grüße ✓ 日本'\ngit status")
    assert prepared.data.startswith(b"\xef\xbb\xbf")
    text = prepared.data[3:].decode("utf-8")
    assert text == prepared.text and prepared.suffix == ".ps1"
    lines = text.split("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert lines[0] == "$ErrorActionPreference = 'Stop'"
    body = lines.index("try {")
    assert lines[body + 1: body + 3] == ["Write-Output 'Grüße ✓ 日本'", "git status"]
    assert "    exit 1" in lines  # an error (terminating, or any under 'Stop') exits non-zero
    assert "if (Test-Path -LiteralPath variable:\\LASTEXITCODE) { exit $LASTEXITCODE }" in lines
    assert lines[-2:] == ["exit 0", ""]
    assert "[Console]::OutputEncoding = $TransomUtf8" in text


def test_powershell_fail_fast_checks_between_list_items() -> None:
    spec = ShellSpec("pwsh", PWSH, "win32")
    lines = prepare_script(spec, ["a.exe", "b.exe", "c.exe"], fail_fast=True).text.split("\r\n")
    check = "if ($LASTEXITCODE) { exit $LASTEXITCODE }"
    start = lines.index("try {")
    assert lines[start + 1: start + 6] == ["a.exe", check, "b.exe", check, "c.exe"]
    assert "$PSNativeCommandUseErrorActionPreference = $true" in lines
    assert check not in prepare_script(spec, ["a.exe", "b.exe"]).text


def test_cmd_script_switches_to_utf8_before_any_non_ascii_line() -> None:
    spec = ShellSpec("cmd", CMD, "win32")
    prepared = prepare_script(spec, "echo Grüße ✓\necho second")
    assert not prepared.data.startswith(b"\xef\xbb\xbf")  # a BOM would break the first command
    assert prepared.suffix == ".cmd" and not prepared.cwd_in_script
    text = prepared.data.decode("utf-8")
    lines = text.split("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only: `call :label` fails on LF files
    assert lines[0] == "@echo off"
    utf8_from = lines.index("chcp 65001 >nul 2>&1")
    assert all(line.isascii() for line in lines[:utf8_from + 1])
    assert lines.index("call :transom_main") > utf8_from
    assert lines[lines.index(":transom_main") + 1:] == ["echo Grüße ✓", "echo second", ""]
    assert "exit /b %TRANSOM_EXIT_CODE%" in lines
    assert any(line.startswith("if defined TRANSOM_CODE_PAGE") for line in lines)


def test_cmd_script_enters_a_unc_working_directory_itself() -> None:
    spec = ShellSpec("cmd", CMD, "win32")
    unc = r"\\fileserver\team share\100% done"
    prepared = prepare_script(spec, "dir", cwd=unc)
    lines = prepared.text.split("\r\n")
    at = lines.index(r'pushd "\\fileserver\team share\100%% done"')
    # ERRORLEVEL cleared before, checked on a line of its own after (Wine's cmd.exe would take
    # `pushd "x" || goto ...` whole as the path).
    assert lines[at - 1] == "ver >nul" and lines[at + 1] == "if errorlevel 1 goto transom_no_cwd"
    assert lines.index("popd") > lines.index("call :transom_main")
    assert prepared.cwd_in_script
    # cmd.exe would fall back to C:\Windows for a UNC cwd: it starts in the script's folder.
    assert prepared.process_cwd(r"C:\Temp") == r"C:\Temp"


def test_cmd_unc_long_form_and_forward_slashes_become_plain_unc() -> None:
    spec = ShellSpec("cmd", CMD, "win32")
    long_form = prepare_script(spec, "dir", cwd=r"\\?\UNC\srv\share\data").text
    assert r'pushd "\\srv\share\data"' in long_form
    slashes = prepare_script(spec, "dir", cwd="//srv/share/data").text
    assert r'pushd "\\srv\share\data"' in slashes


def test_cmd_local_cwd_is_passed_to_the_process() -> None:
    spec = ShellSpec("cmd", CMD, "win32")
    prepared = prepare_script(spec, "dir", cwd=r"C:\Program Files\App")
    assert "pushd" not in prepared.text
    assert prepared.process_cwd(r"C:\Temp") == r"C:\Program Files\App"


def test_cmd_fail_fast_checks_between_list_items() -> None:
    spec = ShellSpec("cmd", CMD, "win32")
    lines = prepare_script(spec, ["one", "two"], fail_fast=True).text.split("\r\n")
    assert lines[lines.index(":transom_main") + 1:] == [
        "one", 'if not "%ERRORLEVEL%"=="0" exit /b %ERRORLEVEL%', "two", ""]


def test_posix_script_uses_lf_and_optional_set_e() -> None:
    bash = ShellSpec("bash", "/bin/bash", "linux")
    prepared = prepare_script(bash, "echo a\r\necho b\r\n")  # written on Windows
    assert prepared.data == b"echo a\necho b\n"
    assert prepare_script(bash, ["x", "y"], fail_fast=True).text == "set -eo pipefail\nx\ny\n"
    sh = ShellSpec("sh", "/bin/sh", "linux")
    assert prepare_script(sh, "echo ü", fail_fast=True).data == "set -e\necho ü\n".encode()


@pytest.mark.parametrize(("command", "message"), [
    (b"echo hi", "must be a string or a list of strings, not bytes"),
    (None, "must be a string or a list of strings, not NoneType"),
    (42, "not int"),
    (["echo", 3], "every command in the list must be a string, not int"),
    ("   \n", "the command is empty"),
    ([], "the command list is empty"),
])
def test_bad_commands_are_clear_errors(command: object, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        normalize_command(command)


def test_temporary_script_is_written_and_removed(tmp_path: Path) -> None:
    prepared = prepare_script(ShellSpec("pwsh", PWSH, "win32"), "Write-Output 'é'")
    with temporary_script(prepared, str(tmp_path)) as path:
        assert path.endswith(".ps1") and Path(path).parent == tmp_path
        assert Path(path).read_bytes() == prepared.data
    assert list(tmp_path.iterdir()) == []


def test_temporary_script_is_removed_when_the_run_fails(tmp_path: Path) -> None:
    prepared = prepare_script(ShellSpec("sh", "/bin/sh", "linux"), "true")
    with pytest.raises(RuntimeError), temporary_script(prepared, str(tmp_path)) as path:
        assert path.endswith(".sh")
        raise RuntimeError("the run broke")
    assert list(tmp_path.iterdir()) == []
