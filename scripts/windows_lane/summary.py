"""The lane's verdict from the plugin's JSON report: counts, skip reasons, pass or fail.

A skipped test is never evidence of Windows support, so skips are counted apart from the tests
that ran, and the ones skipped because Wine lacks something are listed with what it lacks.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Summary", "read_summary"]

WINE_CANNOT = "Wine cannot: "  # the prefix tests/wine/plugin.py gives Wine-gap skip reasons


@dataclass
class Summary:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    xfailed: int = 0
    xpassed: int = 0
    collection_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wine_cannot: Counter[str] = field(default_factory=Counter)
    other_skips: Counter[str] = field(default_factory=Counter)
    exitstatus: int = 0
    wine: str = ""

    @property
    def ran(self) -> int:
        """Tests that were executed (skipped ones were not)."""
        return self.passed + self.failed + self.xfailed + self.xpassed

    @property
    def ok(self) -> bool:
        """Green only if something ran, nothing failed and pytest itself ended cleanly."""
        return (self.ran > 0 and self.failed == 0 and not self.collection_errors
                and self.exitstatus == 0)

    def lines(self) -> list[str]:
        """The report, ending with a plain 'N passed, N failed, N skipped' line."""
        out: list[str] = []
        for nodeid in self.failures:
            out.append(f"windows-lane: FAILED {nodeid}")
        for error in self.collection_errors:
            out.append(f"windows-lane: ERROR collecting {error}")
        for reason, count in sorted(self.wine_cannot.items()):
            out.append(f"windows-lane: skipped {count}: {WINE_CANNOT}{reason}")
        for reason, count in sorted(self.other_skips.items()):
            out.append(f"windows-lane: skipped {count}: {reason}")
        # The short name of each gap: "PowerShell (why...)" -> "PowerShell".
        short: Counter[str] = Counter()
        for reason, count in self.wine_cannot.items():
            short[reason.split(" (")[0]] += count
        cannot = ", ".join(f"{name} x{count}" for name, count in sorted(short.items())) or "nothing"
        failed = self.failed + len(self.collection_errors)
        extra = "".join(f", {n} {word}" for n, word in ((self.xfailed, "xfailed"),
                                                        (self.xpassed, "xpassed")) if n)
        out.append(f"windows-lane: {self.ran} ran, {self.passed} passed, {failed} failed, "
                   f"{self.skipped} skipped (Wine cannot: {cannot}; other skips: "
                   f"{sum(self.other_skips.values())}){extra} [{self.wine}]")
        if self.ran == 0:
            out.append("windows-lane: no test ran: that is a failure, not a pass")
        elif self.exitstatus not in (0, 1):
            out.append(f"windows-lane: pytest ended with exit status {self.exitstatus}")
        out.append(f"windows-lane: {self.passed} passed, {failed} failed, {self.skipped} skipped")
        return out


def read_summary(report: Path) -> Summary:
    """The Summary of the JSON report written by tests/wine/plugin.py."""
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    summary = Summary(exitstatus=int(data["exitstatus"]), wine=f"Wine {data.get('wine')}, "
                      f"Python {str(data.get('python', '?')).split()[0]}, {data.get('platform')}")
    for nodeid, test in data["tests"].items():
        outcome, reason = test["outcome"], test.get("reason", "")
        if outcome == "passed":
            summary.passed += 1
        elif outcome == "failed":
            summary.failed += 1
            summary.failures.append(f"{nodeid} ({reason})" if reason else nodeid)
        elif outcome == "skipped":
            summary.skipped += 1
            if reason.startswith(WINE_CANNOT):
                summary.wine_cannot[reason[len(WINE_CANNOT):]] += 1
            else:
                summary.other_skips[reason] += 1
        elif outcome == "xfailed":
            summary.xfailed += 1
        elif outcome == "xpassed":
            summary.xpassed += 1
    summary.collection_errors = [f"{e['nodeid']}: {e['error']}" for e in data["collection_errors"]]
    return summary
