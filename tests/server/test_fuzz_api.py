"""Schemathesis against a live server, on SQLite and on PostgreSQL (issue 14): every operation of
the OpenAPI, every check (no 5xx, every status and body as documented, schema-valid requests
taken, schema-violating ones refused, 405 with `Allow` for other methods), a bounded number of
examples per operation. A failure prints schemathesis' own report: the request, the answer and
a curl line to replay it.

TRANSOM_FUZZ_EXAMPLES (examples per operation) and TRANSOM_FUZZ_SEED vary the run; the seed is
fixed by default so that CI runs the same requests each time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.server.conftest import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# What JSON Schema cannot say about a deployment: that a cron line or an RRULE parses and fires,
# that a time zone exists, that `parameter_schema` is itself a valid JSON Schema. Schemathesis
# generates such values as "schema-valid", and the server rightly refuses them with a 422 (each
# refusal is tested in test_bad_input.py); for this one operation a 422 is an expected answer
# to schema-valid data. Everything the schema can say is said there instead (name patterns,
# interval bounds, lengths, years), so that other operations take every schema-valid request.
CONFIG = """
[[operations]]
include-path = "/api/deployments"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# Nor can it say that a window ends after it starts, that `since` and `span` are not both
# given, or that a history has at most 1000 buckets: those schema-valid requests are a 400 of
# one sentence (tested in test_api_overview.py).
# (By name: an operation's filters are or-ed, include-path with include-method would be every
# GET.)
[[operations]]
include-name = ["GET /api/flow_runs/counts", "GET /api/flow_runs/history"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]
# DELETE /api/flow_runs/counts is DELETE /api/flow_runs/{run_id} of the run `counts` (a 400:
# not a run id), not a method the overview lacks.
phases.coverage.unexpected-methods = ["put", "post", "patch", "options", "trace", "query"]

# Nor that the artifacts' cursors page the newest version of each key only (with `key` or
# `flow_run_id` they are a 400 of one sentence, tested in test_ui_objects.py).
[[operations]]
include-name = "GET /api/artifacts"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]

# A deployment is named in paths by `flow/name`, so `{ref}` holds a slash: PATCH or DELETE of
# /api/deployments/etl/runs is the deployment `runs` of the flow `etl`, not a method the
# `.../runs` operation lacks.
[[operations]]
include-path = "/api/deployments/{ref}/runs"
phases.coverage.unexpected-methods = ["put", "options", "trace", "query"]
"""


def test_the_api_answers_as_its_openapi_says(start_server: Callable[..., LiveServer],
                                             tmp_path: Path, database_url: str) -> None:
    # Without the background services: a fuzzed deployment that runs every second would have
    # the scheduler write thousands of runs meanwhile, and the run last several times longer.
    server = start_server(server_services=False)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    reports = tmp_path / "reports"
    examples = os.environ.get("TRANSOM_FUZZ_EXAMPLES", "10")
    seed = os.environ.get("TRANSOM_FUZZ_SEED", "14")
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
               f"{server.url}/openapi.json", "--url", server.url.removesuffix("/api"),
               "--checks", "all", "--max-examples", examples, "--seed", seed, "--workers", "1",
               "--generation-database", "none", "--no-color", "--request-timeout", "30",
               "--report", "ndjson", "--report-dir", str(reports)]
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=800, cwd=tmp_path)
    operations, requests, failures = _count(next(reports.glob("*.ndjson")))
    print(f"\nschemathesis on {database_url.split(':', 1)[0]}: {operations} operations, "
          f"{requests} requests, {failures} failures")
    assert operations >= 29  # every operation was loaded: a spec that fails to load tests nothing
    assert requests > operations * 10
    assert done.returncode == 0 and failures == 0, done.stdout[-20_000:] + done.stderr[-5_000:]


def _count(report: Path) -> tuple[int, int, int]:
    """Operations selected, requests answered and distinct failures (operation, check, first
    line of its message), from schemathesis' NDJSON."""
    operations = requests = 0
    failures: set[tuple[str, str, str]] = set()
    with report.open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if "LoadingFinished" in event:
                operations = event["LoadingFinished"]["statistic"]["operations"]["selected"]
            finished = event.get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished["recorder"]
            requests += sum(1 for i in recorder.get("interactions", {}).values()
                            if i.get("response") is not None)
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    if check.get("status") == "failure":
                        failures.add((failure.get("operation", ""), failure.get("code", ""),
                                      failure.get("message", "").split("\n", 1)[0]))
    return operations, requests, len(failures)
