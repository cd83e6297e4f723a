"""The inbound firewall rule for the server's port: what to type, what `--apply` runs, and what
the firewall says now.

Windows: a Windows Defender Firewall rule (`New-NetFirewallRule`, or `netsh advfirewall` from
cmd.exe). Linux: ufw or firewalld, whichever is running. macOS: the application firewall
(`socketfilterfw`) lets the Python interpreter accept connections. Everything takes the platform,
`which` and a `Runner` (see `platform.system`) as inputs, so each branch is tested on Linux.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from transom.platform.system import CommandResult, Runner, encoded_powershell, powershell_quote

__all__ = [
    "SOCKETFILTERFW",
    "FirewallCommand",
    "FirewallFinding",
    "FirewallPlan",
    "firewall_plan",
    "inspect_firewall",
    "linux_firewall",
    "rule_name",
    "windows_powershell_rule",
]

SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"

Which = Callable[[str], "str | None"]


def rule_name(port: int) -> str:
    """The display name of Transom's rule: one rule per port, replaced when applied again."""
    return f"Transom server (TCP {port})"


@dataclass(frozen=True)
class FirewallCommand:
    """One step: as the user would type it, and the argv `--apply` runs."""

    shown: str
    argv: tuple[str, ...]
    check: bool = True  # a failure stops --apply (False: e.g. removing a rule that may not exist)


@dataclass(frozen=True)
class FirewallPlan:
    """How to open `port` on `platform`: the steps `--apply` runs and the other ways to do it."""

    platform: str
    port: int
    tool: str  # "windows-firewall", "ufw", "firewalld", "socketfilterfw" or "" (none found)
    steps: tuple[FirewallCommand, ...]
    alternatives: tuple[tuple[str, tuple[str, ...]], ...] = ()
    needs: str = "root"  # "Administrator" on Windows
    notes: tuple[str, ...] = field(default_factory=tuple)


def windows_powershell_rule(port: int) -> str:
    """The PowerShell that (re)creates the rule: an older rule of the same name is replaced."""
    name = powershell_quote(rule_name(port))
    return (f"Get-NetFirewallRule -DisplayName {name} -ErrorAction SilentlyContinue | "
            "Remove-NetFirewallRule\n"
            f"New-NetFirewallRule -DisplayName {name} -Group 'Transom' -Direction Inbound "
            f"-Action Allow -Protocol TCP -LocalPort {port} -Profile Any | Out-Null")


def _windows_plan(port: int, powershell: str | None) -> FirewallPlan:
    name = rule_name(port)
    shown_ps = (f"New-NetFirewallRule -DisplayName {powershell_quote(name)} -Direction Inbound "
                f"-Action Allow -Protocol TCP -LocalPort {port} -Profile Any")
    netsh_add = ("netsh", "advfirewall", "firewall", "add", "rule", f"name={name}", "dir=in",
                 "action=allow", "protocol=TCP", f"localport={port}", "profile=any")
    netsh_delete = ("netsh", "advfirewall", "firewall", "delete", "rule", f"name={name}")
    shown_netsh = (f'netsh advfirewall firewall add rule name="{name}" dir=in action=allow '
                   f"protocol=TCP localport={port} profile=any")
    if powershell:
        steps: tuple[FirewallCommand, ...] = (FirewallCommand(
            shown_ps, tuple(encoded_powershell(powershell, windows_powershell_rule(port)))),)
    else:  # no PowerShell at all: netsh is always there
        steps = (FirewallCommand(f'netsh advfirewall firewall delete rule name="{name}"',
                                 netsh_delete, check=False),
                 FirewallCommand(shown_netsh, netsh_add))
    return FirewallPlan(
        "win32", port, "windows-firewall", steps,
        alternatives=(("PowerShell (as Administrator)", (shown_ps,)),
                      ("cmd.exe (as Administrator)", (shown_netsh,)),
                      ("remove it again",
                       (f"Remove-NetFirewallRule -DisplayName {powershell_quote(name)}",))),
        needs="Administrator")


def _ufw(port: int) -> tuple[FirewallCommand, ...]:
    return (FirewallCommand(f"sudo ufw allow {port}/tcp comment 'Transom server'",
                            ("ufw", "allow", f"{port}/tcp", "comment", "Transom server")),)


def _firewalld(port: int) -> tuple[FirewallCommand, ...]:
    return (FirewallCommand(f"sudo firewall-cmd --permanent --add-port={port}/tcp",
                            ("firewall-cmd", "--permanent", f"--add-port={port}/tcp")),
            FirewallCommand("sudo firewall-cmd --reload", ("firewall-cmd", "--reload")))


def linux_firewall(which: Which, run: Runner) -> str:
    """The firewall that is running here: "ufw", "firewalld", or "" when neither is.

    `ufw status` needs root; without it a ufw that is installed counts as the one in use.
    """
    if which("ufw"):
        status = run(["ufw", "status"], timeout=10)
        if status.ok and "status: active" in status.stdout.lower():
            return "ufw"
        if not status.ok and "root" in status.reason().lower():
            return "ufw"
    if which("firewall-cmd"):
        state = run(["firewall-cmd", "--state"], timeout=10)
        if state.ok and state.stdout.strip() == "running":
            return "firewalld"
    return ""


def firewall_plan(
    platform: str,
    port: int,
    *,
    which: Which,
    run: Runner,
    python: str = "",
) -> FirewallPlan:
    """The steps that open `port` for the server on `platform` (see the module docstring)."""
    if platform == "win32":
        powershell = which("pwsh") or which("powershell")
        return _windows_plan(port, powershell)
    if platform == "darwin":
        steps: tuple[FirewallCommand, ...] = (FirewallCommand(f'sudo {SOCKETFILTERFW} --add "{python}"',
                                 (SOCKETFILTERFW, "--add", python)),
                 FirewallCommand(f'sudo {SOCKETFILTERFW} --unblockapp "{python}"',
                                 (SOCKETFILTERFW, "--unblockapp", python)))
        return FirewallPlan(
            platform, port, "socketfilterfw", steps,
            notes=("macOS's application firewall allows programs, not ports: this lets the "
                   f"Python that runs Transom ({python}) accept connections on any port.",))
    tool = linux_firewall(which, run)
    alternatives = (("ufw (Ubuntu, Debian)", tuple(c.shown for c in _ufw(port))),
                    ("firewalld (Fedora, RHEL, openSUSE)", tuple(c.shown for c in _firewalld(port))),
                    ("nftables", (f"sudo nft add rule inet filter input tcp dport {port} accept",)))
    steps = _ufw(port) if tool == "ufw" else _firewalld(port) if tool == "firewalld" else ()
    notes = () if tool else ("Neither ufw nor firewalld is running here, so no rule is needed "
                             "unless another firewall filters inbound traffic.",)
    return FirewallPlan(platform, port, tool, steps, alternatives=alternatives, notes=notes)


# -- what the firewall says now -----------------------------------------------------------------
@dataclass(frozen=True)
class FirewallFinding:
    """Whether inbound connections to the port get through.

    `state`: "open" (a rule allows it), "closed" (the firewall is on and no rule allows it),
    "off" (no firewall filters it) or "unknown" (we could not tell; `detail` says why).
    """

    tool: str
    state: str
    detail: str
    rules: tuple[str, ...] = ()


def windows_query_script(port: int) -> str:
    """PowerShell listing each firewall profile's state and the enabled inbound allow rules for
    TCP `port`, as tab-separated `profile` / `rule` lines."""
    return (
        "Get-NetFirewallProfile | ForEach-Object { \"profile`t$($_.Name)`t$($_.Enabled)\" }\n"
        f"Get-NetFirewallPortFilter -Protocol TCP | Where-Object {{ $_.LocalPort -contains '{port}' }} | "
        "Get-NetFirewallRule | Where-Object { $_.Direction -eq 'Inbound' -and $_.Enabled -eq 'True' "
        "-and $_.Action -eq 'Allow' } | ForEach-Object { \"rule`t$($_.DisplayName)\" }"
    )


def _windows_finding(result: CommandResult) -> FirewallFinding:
    if not result.ok:
        return FirewallFinding("windows-firewall", "unknown",
                               f"could not query Windows Firewall: {result.reason()}")
    profiles: dict[str, bool] = {}
    rules: list[str] = []
    for line in result.stdout.splitlines():
        parts = line.strip().split("\t")
        if parts[0] == "profile" and len(parts) == 3:
            profiles[parts[1]] = parts[2].strip().lower() == "true"
        elif parts[0] == "rule" and len(parts) >= 2:
            rules.append("\t".join(parts[1:]))
    if rules:
        return FirewallFinding("windows-firewall", "open", "allowed by " + ", ".join(rules),
                               tuple(rules))
    if profiles and not any(profiles.values()):
        return FirewallFinding("windows-firewall", "off", "Windows Firewall is off on every profile")
    on = ", ".join(name for name, enabled in profiles.items() if enabled) or "some profiles"
    return FirewallFinding("windows-firewall", "closed",
                           f"Windows Firewall is on ({on}) and no inbound rule allows the port")


def inspect_firewall(
    platform: str,
    port: int,
    *,
    which: Which,
    run: Runner,
    python: str = "",
) -> FirewallFinding:
    """Ask the firewall of `platform` whether inbound TCP `port` gets through."""
    if platform == "win32":
        powershell = which("pwsh") or which("powershell")
        if not powershell:
            return FirewallFinding("windows-firewall", "unknown",
                                   "PowerShell is not available to query Windows Firewall")
        return _windows_finding(run(encoded_powershell(powershell, windows_query_script(port)),
                                    timeout=60))
    if platform == "darwin":
        state = run([SOCKETFILTERFW, "--getglobalstate"], timeout=10)
        if not state.ok:
            return FirewallFinding("socketfilterfw", "unknown",
                                   f"could not ask the application firewall: {state.reason()}")
        if "disabled" in state.stdout.lower():
            return FirewallFinding("socketfilterfw", "off", "the macOS application firewall is off")
        blocked = run([SOCKETFILTERFW, "--getappblocked", python], timeout=10)
        text = blocked.stdout.lower()
        if blocked.ok and "permitted" in text:
            return FirewallFinding("socketfilterfw", "open", f"{python} is allowed")
        if blocked.ok and "blocked" in text:
            return FirewallFinding("socketfilterfw", "closed", f"{python} is blocked")
        return FirewallFinding("socketfilterfw", "unknown",
                               "the application firewall is on; cannot tell whether Python "
                               "is allowed")
    return _linux_finding(port, which, run)


def _linux_finding(port: int, which: Which, run: Runner) -> FirewallFinding:
    if which("ufw"):
        status = run(["ufw", "status"], timeout=10)
        if status.ok:
            text = status.stdout
            if "status: inactive" in text.lower():
                return FirewallFinding("ufw", "off", "ufw is installed but inactive")
            rules = tuple(line.strip() for line in text.splitlines()
                          if _ufw_rule_allows(line, port))
            if rules:
                return FirewallFinding("ufw", "open", "allowed by ufw: " + "; ".join(rules), rules)
            return FirewallFinding("ufw", "closed", "ufw is active and no rule allows the port")
        return FirewallFinding("ufw", "unknown",
                               f"ufw is installed but its rules cannot be read ({status.reason()})")
    if which("firewall-cmd"):
        state = run(["firewall-cmd", "--state"], timeout=10)
        if not state.ok or state.stdout.strip() != "running":
            return FirewallFinding("firewalld", "off", "firewalld is installed but not running")
        ports = run(["firewall-cmd", "--list-ports"], timeout=10)
        if not ports.ok:
            return FirewallFinding("firewalld", "unknown",
                                   f"cannot list firewalld's ports ({ports.reason()})")
        if f"{port}/tcp" in ports.stdout.split():
            return FirewallFinding("firewalld", "open", f"firewalld allows {port}/tcp", (f"{port}/tcp",))
        return FirewallFinding("firewalld", "closed", "firewalld is running and does not list the port")
    return FirewallFinding("", "off", "neither ufw nor firewalld is installed")


def _ufw_rule_allows(line: str, port: int) -> bool:
    words = line.split()
    if len(words) < 2 or "ALLOW" not in line or "OUT" in words[1:3]:
        return False
    target = words[0]
    return target in (str(port), f"{port}/tcp") or (
        ":" in target and _in_range(target.removesuffix("/tcp"), port))


def _in_range(text: str, port: int) -> bool:
    low, _, high = text.partition(":")
    try:
        return int(low) <= port <= int(high)
    except ValueError:
        return False

