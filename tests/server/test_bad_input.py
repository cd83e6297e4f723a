"""Client mistakes are a 4xx with one sentence, never a 500 or a 503 (issue 14), on SQLite and
PostgreSQL, against a live server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.server.conftest import LiveServer


@pytest.fixture
def http(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    server = start_server(server_services=False)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/work_pools", json={"name": "main"}).raise_for_status()
        yield client


def _deployment(**extra: object) -> dict[str, object]:
    return {"flow_name": "etl", "name": "nightly", "entrypoint": "flows/etl.py:etl",
            "work_pool": "main", **extra}


def _refused(answer: httpx.Response, status: int, fragment: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert fragment in body["detail"] and "\n" not in body["detail"]


def test_a_parameter_schema_that_is_no_json_schema_is_refused(http: httpx.Client) -> None:
    answer = http.post("/deployments", json=_deployment(
        parameter_schema={"type": "object", "properties": {"n": {"type": "integer-ish"}}}))
    _refused(answer, 422, "parameter_schema: not a valid JSON Schema at properties/n/type")
    answer = http.post("/deployments", json=_deployment(parameter_schema={"required": 3}))
    _refused(answer, 422, "not a valid JSON Schema")
    good = http.post("/deployments", json=_deployment(
        parameter_schema={"type": "object", "properties": {"n": {"type": "integer"}}}))
    assert good.status_code == 201, good.text
    run = http.post("/deployments/etl/nightly/runs", json={"parameters": {"n": 1}})
    assert run.status_code == 201, run.text


@pytest.mark.parametrize("schedule,fragment", [
    ({"cron": "0 0 30 2 *"}, "never fires"),
    ({"interval": 1e300}, "longer than a century (limit: at most"),
    ({"interval": 5e-324}, "more often than once a second (limit: at least 1 s between runs)"),
    ({"rrule": "FREQ=SECONDLY;COUNT=999999999"}, "(limit: COUNT of at most 100000)"),
])
def test_schedules_that_never_fire_or_fire_too_often_are_refused(
        http: httpx.Client, schedule: dict[str, object], fragment: str) -> None:
    _refused(http.post("/deployments", json=_deployment(schedules=[schedule])), 422, fragment)


def test_patch_with_null_for_a_field_that_cannot_be_null_is_a_422(http: httpx.Client) -> None:
    assert http.post("/deployments", json=_deployment()).status_code == 201
    _refused(http.patch("/deployments/etl/nightly", json={"paused": None}), 422,
             "paused cannot be null")
    _refused(http.patch("/work_pools/main", json={"paused": None}), 422, "paused cannot be null")
    assert http.patch("/deployments/etl/nightly", json={"tags": None}).status_code == 200


def test_integers_past_their_columns_are_a_422(http: httpx.Client) -> None:
    poll = {"name": "w1", "instance": str(uuid.uuid4()), "work_pool": "main"}
    for field, value in (("pid", 2**40), ("pid", 2**70), ("run_limit", 2**31)):
        answer = http.post("/workers/poll", json={**poll, field: value})
        _refused(answer, 422, field)
    _refused(http.post("/work_pools", json={"name": "big", "concurrency_limit": 2**31}), 422,
             "concurrency_limit")
    _refused(http.get("/flow_runs", params={"offset": 2**63}), 422, "offset")
    assert http.get("/flow_runs", params={"offset": 2**31 - 1}).status_code == 200


def test_variables_refuse_bad_names_values_and_duplicates(http: httpx.Client) -> None:
    _refused(http.post("/variables", json={"name": "Has Space", "value": 1}), 422,
             "name: 'Has Space' cannot be a variable name")
    _refused(http.post("/variables", json={"name": "n" * 256, "value": 1}), 422, "name")
    _refused(http.post("/variables", json={"name": "big", "value": "x" * 5000}), 422,
             "value: a variable's value may be at most 5000 characters as JSON")
    _refused(http.post("/variables", json={"name": "t", "value": 1, "tags": [""]}), 422, "tags")
    _refused(http.post("/variables", json={"name": "x", "value": 1, "extra": 2}), 422, "extra")
    assert http.post("/variables", json={"name": "x", "value": [1]}).status_code == 201
    _refused(http.post("/variables", json={"name": "x", "value": 2}), 409, "already exists")
    answer = http.post("/variables", params={"overwrite": "true"}, json={"name": "x", "value": 2})
    assert answer.status_code == 201 and answer.json()["value"] == 2
    _refused(http.get("/variables/nope"), 404, "no variable named 'nope'")
    _refused(http.delete("/variables/nope"), 404, "no variable named 'nope'")
    _refused(http.get("/variables", params={"limit": 0}), 422, "limit")
    assert http.delete("/variables/x").status_code == 204
    spec = http.get("/openapi.json").json()
    assert {"/api/variables", "/api/variables/{name}"} <= set(spec["paths"])
    assert {"409", "422"} <= set(spec["paths"]["/api/variables"]["post"]["responses"])


def test_artifacts_refuse_bad_keys_types_sizes_and_updates(http: httpx.Client) -> None:
    _refused(http.post("/artifacts", json={"type": "markdown", "key": "Bad_Key", "data": "x"}),
             422, "key: 'Bad_Key' cannot be an artifact key")
    _refused(http.post("/artifacts", json={"type": "video", "data": "x"}), 422, "type")
    _refused(http.post("/artifacts", json={"type": "markdown", "data": "x" * 1_000_000}), 422,
             "data: an artifact's data may be at most 1000000 characters as JSON")
    table = http.post("/artifacts", json={"type": "table", "key": "t", "data": [[1]]}).json()
    _refused(http.patch(f"/artifacts/{table['id']}", json={"data": 5}), 409,
             "only progress artifacts are updated")
    _refused(http.patch(f"/artifacts/{uuid.uuid4()}", json={"data": 5}), 404, "no artifact")
    _refused(http.patch("/artifacts/not-an-id", json={"data": 5}), 422, "artifact_id")
    _refused(http.get("/artifacts/key/nope"), 404, "no artifact with key 'nope'")
    _refused(http.delete("/artifacts/key/nope"), 404, "no artifact with key 'nope'")
    assert http.delete("/artifacts/key/t").json() == {"deleted": 1}


def test_the_422_body_in_the_spec_is_the_body_sent(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    answer = http.get("/flow_runs", params={"limit": 0})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"detail", "errors"} and isinstance(body["detail"], str)
    documented = spec["paths"]["/api/flow_runs"]["get"]["responses"]["422"]
    ref = documented["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = spec["components"]["schemas"][ref]
    assert schema["properties"]["detail"]["type"] == "string"
    assert set(schema["required"]) <= set(body)
    for path in spec["paths"].values():
        for operation in path.values():
            assert {"400", "404", "409", "422", "503"} <= set(operation["responses"])


def test_an_error_of_the_wrong_shape_is_a_422_not_a_500(http: httpx.Client) -> None:
    run = http.post("/flow_runs", json={"flow_name": "f"}).json()
    for error in ({"kind": "x"}, {"message": "no type"}, {"type": 3}, "boom"):
        state = {"type": "FAILED", "error": error}
        _refused(http.post(f"/flow_runs/{run['id']}/set_state", json=state), 422, "error")
        _refused(http.post("/flow_runs", json={"flow_name": "f", "state": state}), 422, "error")
    failed = {"type": "FAILED", "error": {"type": "ValueError", "message": "bad", "traceback": ""}}
    assert http.post(f"/flow_runs/{run['id']}/set_state", json=failed).status_code == 201
    stored = http.get(f"/flow_runs/{run['id']}/states").json()[-1]
    assert stored["error"] == {"type": "ValueError", "message": "bad", "traceback": ""}


@pytest.mark.parametrize("when,fragment", [
    ("0001-01-01T00:00:00+05:00", "the year 1 is out of range (limit: years 2 to 9998)"),
    ("9999-12-31T23:00:00-05:00", "the year 9999 is out of range"),
    (0.5, "is a number, not a date-time"),
    ("1700000000", "is a number, not a date-time"),
])
def test_times_out_of_range_or_given_as_numbers_are_a_422(
        http: httpx.Client, when: object, fragment: str) -> None:
    run = http.post("/flow_runs", json={"flow_name": "f"}).json()
    state = {"type": "SCHEDULED", "scheduled_time": when}
    _refused(http.post(f"/flow_runs/{run['id']}/set_state", json=state), 422, fragment)
    _refused(http.get("/flow_runs", params={"since": str(when)}), 422, fragment)
    _refused(http.post("/deployments/etl/nightly/runs", json={"scheduled_time": when}), 422,
             fragment)
    _refused(http.post("/deployments", json=_deployment(
        schedules=[{"interval": 60, "anchor_date": when}])), 422, fragment)
    edge = {"type": "SCHEDULED", "scheduled_time": "0002-01-01T00:00:00+23:59"}
    assert http.post(f"/flow_runs/{run['id']}/set_state", json=edge).status_code == 201


def test_booleans_and_integers_are_taken_as_json_schema_reads_them(http: httpx.Client) -> None:
    _refused(http.post("/work_pools", json={"name": "p", "paused": 0}), 422, "paused")
    _refused(http.post("/work_pools", json={"name": "p", "concurrency_limit": "3"}), 422,
             "concurrency_limit: '3' is not a number")
    _refused(http.post("/work_pools", json={"name": "p", "concurrency_limit": 2.5}), 422,
             "concurrency_limit")
    _refused(http.post("/events", json={"events": [], "resent": "yes"}), 422, "resent")
    created = http.post("/work_pools", json={"name": "p", "concurrency_limit": 3.0})
    assert created.status_code == 201 and created.json()["concurrency_limit"] == 3


def test_text_no_database_stores_is_refused_in_what_configures(http: httpx.Client) -> None:
    _refused(http.post("/work_pools", json={"name": "p", "description": "a\x00b"}), 422,
             "description: text may not hold a NUL character")
    _refused(http.post("/deployments", json=_deployment(entrypoint="flows/\x00.py:f")), 422,
             "entrypoint")
    _refused(http.post("/deployments", json=_deployment(version="v" * 256)), 422, "version")
    _refused(http.post("/deployments", json=_deployment(tags=["t" * 256])), 422, "tags.0")
    pool = http.patch("/work_pools/main", json={"description": "caf\u00e9 \U0001f600"})
    assert pool.json()["description"] == "caf\u00e9 \U0001f600"


def test_what_a_run_records_is_repaired_not_refused(http: httpx.Client) -> None:
    # Infinity and NaN are not JSON, but Python's json writes them: stored as their names.
    body = b'{"flow_name": "f", "parameters": {"x": NaN, "y": [Infinity], "z": "a\\u0000b"}}'
    created = http.post("/flow_runs", content=body, headers={"Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    stored = http.get(f"/flow_runs/{created.json()['id']}").json()["parameters"]
    assert stored == {"x": "NaN", "y": ["Infinity"], "z": "a\ufffdb"}


def test_an_id_prefix_or_a_name_more_than_one_has_is_a_409(http: httpx.Client) -> None:
    ids = [http.post("/flow_runs", json={"flow_name": "f"}).json()["id"] for _ in range(17)]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    answer = http.get(f"/flow_runs/{shared}")
    _refused(answer, 409, f"more than one flow run id starts with '{shared}'")
    assert answer.json()["error"] == "Ambiguous"
    _refused(http.get("/flow_runs/not-hex"), 400, "is not a run id")
    for flow in ("a", "b"):
        assert http.post("/deployments", json=_deployment(flow_name=flow)).status_code == 201
    _refused(http.get("/deployments/nightly"), 409, "more than one flow has a deployment named")


def test_a_method_a_path_lacks_is_a_405_naming_its_methods(http: httpx.Client) -> None:
    answer = http.put("/deployments", json={})
    _refused(answer, 405, "PUT is not a method of /api/deployments: it takes GET, POST")
    assert answer.headers["allow"] == "GET, POST"
    answer = http.request("OPTIONS", "/flow_runs")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, POST"
    # Before the JSON check: a form sent with the wrong method is a wrong method.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http.put("/work_pools/main", content=b"x=1", headers=form).status_code == 405
    assert http.post("/nothing/here", content=b"x=1", headers=form).status_code == 404
    assert http.get("/work_pools/main").json()["name"] == "main"


# -- browser safety -----------------------------------------------------------------------------
def test_a_host_header_naming_another_site_is_refused(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_allowed_hosts="transom.internal")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        _refused(client.get("/health", headers={"Host": "attacker.example"}), 400,
                 "does not answer for the host 'attacker.example'")
        _refused(client.get("/health", headers={"Host": "attacker.example:4200"}), 400, "host")
        for host in ("localhost:4200", "127.0.0.1", "[::1]:80", "transom.internal", "app.localhost"):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("kind", ["application/x-www-form-urlencoded", "multipart/form-data",
                                  "text/plain", None])
def test_what_a_cross_site_form_can_send_changes_nothing(http: httpx.Client, kind: str | None) -> None:
    run = http.post("/flow_runs", json={"flow_name": "f"}).json()
    headers = {"Content-Type": kind} if kind else {}
    answer = http.post(f"/flow_runs/{run['id']}/cancel", content=b"", headers=headers)
    _refused(answer, 415, "must be JSON")
    _refused(http.post("/work_pools", content=b"name=evil", headers=headers), 415, "must be JSON")
    assert http.get(f"/flow_runs/{run['id']}").json()["state_name"] != "Cancelled"
    assert http.post(f"/flow_runs/{run['id']}/cancel", json={}).status_code == 201
    if kind is not None:
        _refused(http.request("DELETE", "/work_pools/main", headers=headers), 415, "must be JSON")
    assert http.delete("/work_pools/main").status_code == 204


def test_request_bodies_and_log_lines_are_capped(
        start_server: Callable[..., LiveServer]) -> None:
    from transom.schemas import MAX_LOG_LINE

    server = start_server(server_services=False, server_max_body_bytes=1_000_000)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        big = b'{"flow_name": "' + b"x" * 1_100_000 + b'"}'
        _refused(client.post("/flow_runs", content=big,
                             headers={"Content-Type": "application/json"}), 413,
                 "larger than 1000000 bytes")

        def chunks() -> Iterator[bytes]:
            yield big[:600_000]
            yield big[600_000:]

        _refused(client.post("/flow_runs", content=chunks(),
                             headers={"Content-Type": "application/json"}), 413, "larger than")
        run = client.post("/flow_runs", json={"flow_name": "f"}).json()
        line = {"flow_run_id": run["id"], "level": 20, "message": "y" * (MAX_LOG_LINE + 10)}
        assert client.post("/logs", json=[line]).json() == {"written": 1}
        stored = client.get(f"/flow_runs/{run['id']}/logs").json()["items"][0]["message"]
        assert stored.startswith("y" * MAX_LOG_LINE) and "10 more characters cut" in stored
        short = {"flow_run_id": run["id"], "level": 20, "message": "z"}
        _refused(client.post("/logs", json=[short] * 10_001), 422, "10000")


def test_pauses_refuse_bad_schemas_keys_and_runs_not_paused(http: httpx.Client) -> None:
    run = http.post("/flow_runs", json={"flow_name": "f", "state": {"type": "RUNNING"}}).json()
    pause = {"key": "pause-1", "timeout_seconds": 60}
    _refused(http.post(f"/flow_runs/{run['id']}/pause", json={
        **pause, "run_input_schema": {"type": "nonsense"}}), 422,
        "run_input_schema: not a valid JSON Schema at type")
    _refused(http.post(f"/flow_runs/{run['id']}/pause", json={**pause, "key": "a b"}), 422,
             "'a b' cannot be a pause key")
    _refused(http.post(f"/flow_runs/{run['id']}/pause", json={**pause, "timeout_seconds": 0}),
             422, "timeout_seconds")
    _refused(http.post(f"/flow_runs/{uuid.uuid4()}/pause", json=pause), 404, "no flow run")
    _refused(http.post(f"/flow_runs/{run['id']}/resume", json={}), 409,
             "is not paused (it is Running)")
    assert http.post(f"/flow_runs/{run['id']}/pause", json={
        **pause, "run_input_schema": {"type": "integer"}}).status_code == 201
    _refused(http.post(f"/flow_runs/{run['id']}/resume", json={"run_input": "x"}), 400,
             "is not of type 'integer'")
    _refused(http.post(f"/flow_runs/{run['id']}/resume", json={"run_input": 1, "extra": 2}),
             422, "extra")
    _refused(http.get(f"/flow_runs/{run['id']}/pauses/nope"), 404, "no pause with the key")
    assert http.post(f"/flow_runs/{run['id']}/resume", json={"run_input": 1}).status_code == 201
    assert http.get(f"/flow_runs/{run['id']}/pauses/pause-1").json()["run_input"] == 1


def _block(name: str = "db-password", **extra: object) -> dict[str, object]:
    return {"name": name, "block_type": {"slug": "secret", "name": "Secret"},
            "data": {"value": "hunter2-hunter2"}, "secret_fields": ["value"], **extra}


def test_blocks_refuse_bad_names_paths_duplicates_and_unknown_ones(http: httpx.Client) -> None:
    _refused(http.post("/blocks", json=_block("Has Space")), 422,
             "name: 'Has Space' cannot be a block name")
    _refused(http.post("/blocks", json={**_block(), "block_type": {"slug": "Sec ret",
                                                                   "name": "S"}}),
             422, "cannot be a block type slug")
    missing = http.post("/blocks", json=_block("lacks", secret_fields=["value", "password"]))
    assert missing.status_code == 201 and missing.json()["secret_fields"] == ["value"]
    _refused(http.post("/blocks", json=_block(secret_fields=["1bad"])), 422, "secret_fields")
    _refused(http.post("/blocks", json=_block(extra=1)), 422, "extra")
    assert http.post("/blocks", json=_block()).status_code == 201
    _refused(http.post("/blocks", json=_block()), 409, "a block named secret/db-password "
                                                        "already exists")
    _refused(http.get("/blocks/secret/nope"), 404, "no block named secret/nope")
    _refused(http.get("/blocks/nope/db-password"), 404, "no block named nope/db-password")
    _refused(http.delete("/blocks/secret/nope"), 404, "no block named secret/nope")
    assert http.get("/blocks", params={"block_type": "nope"}).json() == []
    _refused(http.post("/block_types", json={"slug": "Bad Slug", "name": "B"}), 422,
             "slug: 'Bad Slug' cannot be a block type slug")
    _refused(http.post("/block_types", json={"slug": "b", "name": "nul\u0000"}), 422, "NUL")
    assert http.post("/block_types", json={"slug": "b", "name": "B"}).status_code == 200


def test_a_secret_the_servers_key_did_not_encrypt_is_a_409_sentence(
        start_server: Callable[..., LiveServer]) -> None:
    from cryptography.fernet import Fernet

    first = start_server(server_services=False, secrets_key=Fernet.generate_key().decode())
    with httpx.Client(base_url=first.url, timeout=10) as client:
        assert client.post("/blocks", json=_block()).status_code == 201
    other = start_server(server_services=False, secrets_key=Fernet.generate_key().decode())
    with httpx.Client(base_url=other.url, timeout=10) as client:
        shown = client.get("/blocks/secret/db-password")  # no secrets asked for: no key needed
        assert shown.status_code == 200 and shown.json()["data"] == {"value": "**********"}
        answer = client.get("/blocks/secret/db-password", params={"include_secrets": "true"})
        _refused(answer, 409, "cannot be decrypted with the key of TRANSOM_SECRETS_KEY")
        assert answer.json()["error"] == "SecretsKeyError"
        assert "hunter2" not in answer.text
    broken = start_server(server_services=False, secrets_key="not-a-key")
    with httpx.Client(base_url=broken.url, timeout=10) as client:
        _refused(client.post("/blocks", json=_block("another")), 409, "is not a Fernet key")

def test_concurrency_limits_refuse_bad_names_counts_and_unknown_ones(http: httpx.Client) -> None:
    _refused(http.post("/concurrency_limits", json={"name": "a/b", "limit": 1}), 422,
             "name: 'a/b' cannot be a concurrency limit's name")
    _refused(http.post("/concurrency_limits", json={"name": "", "limit": 1}), 422, "name")
    _refused(http.post("/concurrency_limits", json={"name": "x", "limit": "1"}), 422, "limit")
    _refused(http.post("/concurrency_limits", json={"name": "x", "limit": 1, "active": "yes"}),
             422, "active")
    _refused(http.post("/concurrency_limits", json={"name": "x", "limit": -1}), 422, "limit")
    _refused(http.post("/concurrency_limits", json={"name": "x", "limit": 2**31}), 422, "limit")
    _refused(http.post("/concurrency_limits", json={"name": "x", "limit": 1,
                                                    "slot_decay_per_second": -1}), 422,
             "slot_decay_per_second")
    _refused(http.post("/concurrency_limits", json={"name": "x"}), 422, "limit")
    assert http.post("/concurrency_limits", json={"name": "tag:db", "limit": 1}).status_code == 201
    _refused(http.post("/concurrency_limits", json={"name": "tag:db", "limit": 2}), 409,
             "already exists")
    _refused(http.get("/concurrency_limits/name/nope"), 404, "no concurrency limit named 'nope'")
    _refused(http.patch("/concurrency_limits/name/nope", json={"limit": 2}), 404, "nope")
    _refused(http.patch("/concurrency_limits/name/tag:db", json={"limit": "many"}), 422, "limit")
    _refused(http.delete("/concurrency_limits/name/nope"), 404, "nope")
    _refused(http.post("/concurrency_limits/acquire", json={"names": []}), 422, "names")
    _refused(http.post("/concurrency_limits/acquire", json={"names": ["tag:db"], "occupy": 0}),
             422, "occupy")
    _refused(http.post("/concurrency_limits/acquire", json={"names": ["tag:db"], "occupy": 2}),
             409, "can never be taken: its limit is 1")
    _refused(http.post("/concurrency_limits/acquire", json={"names": ["tag:db"],
                                                            "lease_seconds": 0}), 422,
             "lease_seconds")
    _refused(http.post("/concurrency_limits/acquire", json={"names": ["tag:db"],
                                                            "mode": "rate_limit"}), 409,
             "rate_limit needs a limit with slot decay")
    _refused(http.post("/concurrency_limits/acquire", json={"names": ["nope"], "strict": True}),
             404, "nope")
    _refused(http.post("/concurrency_limits/renew", json={"lease_ids": ["x"],
                                                          "lease_seconds": 5}), 422, "lease_ids")
    _refused(http.delete("/concurrency_limits/leases/not-a-uuid"), 422, "lease_id")
    _refused(http.put("/concurrency_limits/name/tag:db", json={}), 405, "")
    spec = http.get("/openapi.json").json()
    create = spec["paths"]["/api/concurrency_limits"]["post"]
    assert {"201", "409", "422"} <= set(create["responses"])
    assert {"404", "409"} <= set(spec["paths"]["/api/concurrency_limits/acquire"]["post"][
        "responses"])
