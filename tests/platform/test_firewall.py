"""Firewall rules and what the firewall says, for Windows, Linux and macOS, through the platform
parameter and a runner that answers like the real tools."""

from __future__ import annotations

import pytest
from tests.support.runner import FakeRunner, command_text, ok

from transom.platform.firewall import (
    SOCKETFILTERFW,
    firewall_plan,
    inspect_firewall,
    linux_firewall,
    rule_name,
    windows_powershell_rule,
)
from transom.platform.system import CommandResult, encoded_powershell

PWSH = r"C:\Program Files\PowerShell\7\pwsh.exe"


def which_of(*found: str):  # type: ignore[no-untyped-def]
    table = {name: f"/usr/sbin/{name}" for name in found}
    table.update({"pwsh": PWSH} if "pwsh" in found else {})
    return table.get


def test_windows_plan_creates_one_named_rule_for_the_port() -> None:
    plan = firewall_plan("win32", 4300, which=which_of("pwsh"), run=FakeRunner())
    assert plan.tool == "windows-firewall" and plan.needs == "Administrator"
    (step,) = plan.steps
    script = command_text(step.argv)
    assert step.argv[0] == PWSH and "-NonInteractive" in step.argv
    assert "Get-NetFirewallRule -DisplayName 'Transom server (TCP 4300)'" in script
    assert "-Direction Inbound -Action Allow -Protocol TCP -LocalPort 4300" in script
    assert windows_powershell_rule(4300) in script
    shown = dict(plan.alternatives)
    assert shown["cmd.exe (as Administrator)"] == (
        'netsh advfirewall firewall add rule name="Transom server (TCP 4300)" dir=in '
        "action=allow protocol=TCP localport=4300 profile=any",)
    assert "New-NetFirewallRule" in shown["PowerShell (as Administrator)"][0]


def test_windows_without_powershell_uses_netsh() -> None:
    plan = firewall_plan("win32", 4200, which=which_of(), run=FakeRunner())
    assert [s.argv[:5] for s in plan.steps] == [
        ("netsh", "advfirewall", "firewall", "delete", "rule"),
        ("netsh", "advfirewall", "firewall", "add", "rule")]
    assert not plan.steps[0].check
    assert "name=Transom server (TCP 4200)" in plan.steps[1].argv


def test_linux_plan_uses_the_firewall_that_runs() -> None:
    ufw = FakeRunner({"ufw status": ok("Status: active\n")})
    plan = firewall_plan("linux", 4200, which=which_of("ufw"), run=ufw)
    assert plan.tool == "ufw"
    assert [s.argv for s in plan.steps] == [("ufw", "allow", "4200/tcp", "comment", "Transom server")]
    firewalld = FakeRunner({"firewall-cmd --state": ok("running\n")})
    plan = firewall_plan("linux", 4200, which=which_of("firewall-cmd"), run=firewalld)
    assert [s.shown for s in plan.steps] == ["sudo firewall-cmd --permanent --add-port=4200/tcp",
                                             "sudo firewall-cmd --reload"]
    plan = firewall_plan("linux", 4200, which=which_of(), run=FakeRunner())
    assert plan.tool == "" and plan.steps == () and plan.notes
    assert "sudo ufw allow 4200/tcp comment 'Transom server'" in dict(plan.alternatives)[
        "ufw (Ubuntu, Debian)"]


def test_ufw_that_needs_root_still_counts_as_running() -> None:
    needs_root = FakeRunner({"ufw status": CommandResult(1, "", "ERROR: You need to be root "
                                                         "to run this script")})
    assert linux_firewall(which_of("ufw"), needs_root) == "ufw"
    inactive = FakeRunner({"ufw status": ok("Status: inactive\n")})
    assert linux_firewall(which_of("ufw"), inactive) == ""


def test_macos_allows_the_python_program() -> None:
    plan = firewall_plan("darwin", 4200, which=which_of(), run=FakeRunner(),
                         python="/Library/Frameworks/Python.framework/Versions/3.12/bin/python3")
    assert [s.argv[1] for s in plan.steps] == ["--add", "--unblockapp"]
    assert plan.steps[0].argv[0] == SOCKETFILTERFW


WINDOWS_QUERY = "Get-NetFirewallPortFilter"


@pytest.mark.parametrize(("stdout", "state"), [
    ("profile\tDomain\tTrue\nprofile\tPrivate\tTrue\nrule\tTransom server (TCP 4200)\n", "open"),
    ("profile\tDomain\tTrue\nprofile\tPrivate\tTrue\nprofile\tPublic\tFalse\n", "closed"),
    ("profile\tDomain\tFalse\nprofile\tPrivate\tFalse\nprofile\tPublic\tFalse\n", "off"),
])
def test_windows_firewall_findings(stdout: str, state: str) -> None:
    runner = FakeRunner({WINDOWS_QUERY: ok(stdout)})
    finding = inspect_firewall("win32", 4200, which=which_of("pwsh"), run=runner)
    assert finding.state == state
    assert "LocalPort -contains '4200'" in runner.texts()[0]
    if state == "open":
        assert finding.rules == (rule_name(4200),)
    if state == "closed":
        assert "Domain, Private" in finding.detail


def test_windows_query_failure_is_unknown() -> None:
    runner = FakeRunner({WINDOWS_QUERY: CommandResult(1, "", "Access is denied.")})
    finding = inspect_firewall("win32", 4200, which=which_of("pwsh"), run=runner)
    assert finding.state == "unknown" and "Access is denied." in finding.detail
    assert inspect_firewall("win32", 4200, which=which_of(), run=runner).state == "unknown"


@pytest.mark.parametrize(("answers", "tools", "state"), [
    ({"ufw status": ok("Status: active\n\nTo Action From\n4200/tcp ALLOW Anywhere\n")},
     ("ufw",), "open"),
    ({"ufw status": ok("Status: active\n\nTo Action From\n4100:4300/tcp ALLOW Anywhere\n")},
     ("ufw",), "open"),
    ({"ufw status": ok("Status: active\n\nTo Action From\n22/tcp ALLOW Anywhere\n")},
     ("ufw",), "closed"),
    ({"ufw status": ok("Status: inactive\n")}, ("ufw",), "off"),
    ({"ufw status": CommandResult(1, "", "ERROR: You need to be root to run this script")},
     ("ufw",), "unknown"),
    ({"firewall-cmd --state": ok("running\n"), "--list-ports": ok("4200/tcp 8080/tcp\n")},
     ("firewall-cmd",), "open"),
    ({"firewall-cmd --state": ok("running\n"), "--list-ports": ok("\n")},
     ("firewall-cmd",), "closed"),
    ({"firewall-cmd --state": CommandResult(252, "not running", "")}, ("firewall-cmd",), "off"),
    ({}, (), "off"),
])
def test_linux_firewall_findings(answers: dict[str, CommandResult], tools: tuple[str, ...],
                                 state: str) -> None:
    finding = inspect_firewall("linux", 4200, which=which_of(*tools), run=FakeRunner(answers))
    assert finding.state == state, finding


@pytest.mark.parametrize(("answers", "state"), [
    ({"--getglobalstate": ok("Firewall is disabled. (State = 0)\n")}, "off"),
    ({"--getglobalstate": ok("Firewall is enabled. (State = 1)\n"),
      "--getappblocked": ok("The application /usr/bin/python3 is permitted\n")}, "open"),
    ({"--getglobalstate": ok("Firewall is enabled. (State = 1)\n"),
      "--getappblocked": ok("The application /usr/bin/python3 is blocked\n")}, "closed"),
])
def test_macos_firewall_findings(answers: dict[str, CommandResult], state: str) -> None:
    finding = inspect_firewall("darwin", 4200, which=which_of(), run=FakeRunner(answers),
                               python="/usr/bin/python3")
    assert finding.state == state


def test_encoded_powershell_survives_any_characters() -> None:
    script = "Write-Output 'it''s \"quoted\" — ünïcode; $x = 1'"
    argv = encoded_powershell("pwsh", script)
    assert argv[:5] == ["pwsh", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass"]
    assert command_text(argv).endswith(script)
    assert "UTF8" in command_text(argv).splitlines()[0]
