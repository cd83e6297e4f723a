"""The web UI's blocks and concurrency limits pages over HTTP, from a real server on 127.0.0.1
on both databases: what they list and filter, a block's fields with its secrets never in any
page, a limit's holders, and the forms (delete a block; create, change and delete a limit) that
work, refuse bad input with one sentence, and refuse a post without this browser's token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer

from transom.schemas import (
    OBFUSCATED,
    BlockDocumentCreate,
    BlockTypeIn,
    ConcurrencyLimitCreate,
    SlotsAcquire,
)
from transom.server.ui.blocks import SECRET_SHOWN

PASSWORD = "correct-horse-battery-staple"
TOKEN = "tok-8f1c3b2a9d"
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _web(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url.removesuffix("/api"), timeout=10)


def _token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match, "no CSRF field in the page's forms"
    return match[1]


def _block(slug: str, name: str, data: dict[str, Any], secret: list[str],
           type_name: str | None = None) -> BlockDocumentCreate:
    schema = {"type": "object", "properties": {key: {"title": key.title()} for key in data}}
    return BlockDocumentCreate(name=name, data=data, secret_fields=secret, block_type=BlockTypeIn(
        slug=slug, name=type_name or slug.title(), block_schema=schema))


def _blocks(server: LiveServer) -> Any:
    backend = server.server.config.app.state.backend
    backend.save_block(_block("warehouse", "prod", {
        "host": "db.internal", "port": 5432, "password": PASSWORD, "note": XSS,
        "auth": {"user": "etl", "token": TOKEN}}, ["password", "auth.token"]))
    backend.save_block(_block("warehouse", "staging", {"host": "db.staging", "password": PASSWORD},
                              ["password"]))
    backend.save_block(_block("secret", "db-password", {"value": PASSWORD}, ["value"]))
    backend.save_block(_block("json", "settings", {"value": {"retries": 3}}, [], "JSON"))
    return backend


def _names(page: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/blocks/[a-z0-9-]+/([a-z0-9-]+)">', page)


def test_the_blocks_list_filters_by_type_and_lists_the_types_without_a_secret(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    _blocks(server)
    with _web(server) as web:
        page = web.get("/blocks")
        assert page.status_code == 200
        assert _names(page.text) == ["settings", "db-password", "prod", "staging"]  # type, name
        types = page.text.split('id="block-types"')[1]
        assert re.findall(r'href="/blocks\?type=([a-z-]+)">', types) == [
            "json", "secret", "warehouse"]
        warehouse = types.split('type=warehouse">warehouse</a>')[1].split("</tr>")[0]
        assert "Warehouse" in warehouse and ">host<" in warehouse and ">password<" in warehouse
        assert '<a href="/blocks"' in page.text and 'aria-current="page">Blocks<' in page.text
        only = web.get("/blocks", params={"type": "warehouse"})
        assert _names(only.text) == ["prod", "staging"]
        assert '<option value="warehouse" selected>' in only.text
        none = web.get("/blocks", params={"type": "nothing-here"})
        assert none.status_code == 200 and _names(none.text) == []
        assert "No blocks of the type “nothing-here”" in none.text
        for text in (page.text, only.text):
            assert PASSWORD not in text and TOKEN not in text
        for bad in ({"type": XSS}, {"type": "Warehouse"}, {"offset": "-1"}, {"offset": "x"}):
            answer = web.get("/blocks", params=bad)
            assert answer.status_code == 400, bad
            assert "<h1>Bad page link</h1>" in answer.text and XSS not in answer.text


def test_a_block_page_shows_its_fields_but_never_a_secret_value(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = _blocks(server)
    with _web(server) as web:
        page = web.get("/blocks/warehouse/prod")
        assert page.status_code == 200
        text = page.text
        assert "<h1>warehouse/prod</h1>" in text
        assert PASSWORD not in text and TOKEN not in text and OBFUSCATED not in text
        rows = {m[0]: m[1] for m in re.findall(
            r'<tr(?: class="secret")?>\s*<td><span class="mono">([a-z._]+)</span>.*?</td>\s*'
            r'<td class="value">(.*?)</td>', text, re.S)}
        assert set(rows) == {"host", "port", "password", "note", "auth.user", "auth.token"}
        assert rows["host"] == "<pre>db.internal</pre>" and rows["port"] == "<pre>5432</pre>"
        assert rows["auth.user"] == "<pre>etl</pre>"
        assert rows["note"] == f"<pre>{ESCAPED}</pre>"
        for secret in ("password", "auth.token"):
            assert SECRET_SHOWN in rows[secret] and ">secret<" in rows[secret]
        assert str(backend.read_block("warehouse", "prod").id) in text
        # A secret block whose whole value is secret; a nested field shown by its path.
        secret_page = web.get("/blocks/secret/db-password").text
        assert PASSWORD not in secret_page and SECRET_SHOWN in secret_page
        nested = web.get("/blocks/json/settings").text
        assert re.search(r'"mono">value.retries</span>.*?<pre>3</pre>', nested, re.S)
        for missing in ("/blocks/warehouse/nope", "/blocks/Warehouse/prod", "/blocks/x/%00"):
            answer = web.get(missing)
            assert answer.status_code == 404, missing
            assert "<h1>No such block</h1>" in answer.text


def test_deleting_a_block_needs_the_token_and_the_confirmation(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = _blocks(server)
    with _web(server) as web:
        page = web.get("/blocks/warehouse/prod")
        token = _token(page)
        assert 'action="/blocks/warehouse/prod/delete"' in page.text
        action = "/blocks/warehouse/prod/delete"
        refused = [
            (httpx.post(web.base_url.join(action), data={"csrf": token, "confirm": "yes"}), 403),
            (web.post(action, data={"confirm": "yes"}), 403),
            (web.post(action, data={"csrf": "0" * 48, "confirm": "yes"}), 403),
            (web.post(action, data={"csrf": token, "confirm": "yes"},
                      headers={"Origin": "http://attacker.example"}), 403),
            (web.post(action, json={"csrf": token, "confirm": "yes"}), 400),
        ]
        for answer, status in refused:
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"].startswith("text/html")
        unconfirmed = web.post(action, data={"csrf": token})
        assert unconfirmed.status_code == 422
        assert "Tick the box to confirm" in unconfirmed.text and PASSWORD not in unconfirmed.text
        assert [b.name for b in backend.list_blocks(block_type="warehouse")] == ["prod", "staging"]
        done = web.post(action, data={"csrf": token, "confirm": "yes"})
        assert done.status_code == 303
        assert done.headers["location"] == "/blocks?deleted=warehouse%2Fprod"
        listed = web.get(done.headers["location"])
        assert "Block warehouse/prod deleted." in listed.text
        assert _names(listed.text) == ["settings", "db-password", "staging"]
        assert [b.name for b in backend.list_blocks(block_type="warehouse")] == ["staging"]
        again = web.post(action, data={"csrf": token, "confirm": "yes"})
        assert again.status_code == 404 and "No such block" in again.text
        # The notice names only a block (a link cannot make the page say something else).
        spoofed = web.get("/blocks", params={"deleted": "Your server is hacked, see x.example"})
        assert "deleted." not in spoofed.text


def _limits(server: LiveServer) -> Any:
    backend = server.server.config.app.state.backend
    backend.create_concurrency_limit(ConcurrencyLimitCreate(name="tag:db", limit=3))
    backend.create_concurrency_limit(ConcurrencyLimitCreate(name="api calls", limit=10,
                                                            slot_decay_per_second=0.5))
    backend.create_concurrency_limit(ConcurrencyLimitCreate(name="paused", limit=0,
                                                            active=False))
    first = backend.acquire_concurrency_slots(SlotsAcquire(
        names=["tag:db"], occupy=2, holder="worker-a pid 41", lease_seconds=600.0))
    backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"], holder="worker-b pid 7"))
    backend.acquire_concurrency_slots(SlotsAcquire(names=["api calls"], occupy=4,
                                                   mode="rate_limit"))
    assert first.granted and first.lease_id is not None
    return backend, first.lease_id


def _limit_rows(page: str) -> dict[str, list[str]]:
    body = page.split('<table id="limits">')[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]:
        cells = [re.sub(r"<[^>]+>", "", cell).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_limits_list_and_a_limits_page_show_how_full_it_is_and_who_holds_it(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend, lease_id = _limits(server)
    with _web(server) as web:
        page = web.get("/concurrency-limits")
        assert page.status_code == 200
        rows = _limit_rows(page.text)
        assert list(rows) == ["api calls", "paused", "tag:db"]
        assert rows["tag:db"][:5] == ["3", "3", "2", "none", "yes"]
        limit, used, holders, decay, active = rows["api calls"][:5]
        assert (limit, holders, decay, active) == ("10", "0", "0.5 a second", "yes")
        assert 3.0 <= float(used) <= 4.0  # four slots taken, decaying at half a slot a second
        assert rows["paused"][:5] == ["0", "0", "0", "none", "no (limits nothing)"]
        assert 'href="/concurrency-limits/tag%3Adb"' in page.text
        assert 'href="/concurrency-limits/api%20calls"' in page.text

        one = web.get("/concurrency-limits/tag:db")
        assert one.status_code == 200
        assert "<h1>tag:db</h1>" in one.text and ">3 of 3<" in one.text
        holders_table = one.text.split('<table id="holders">')[1].split("</table>")[0]
        assert "worker-a pid 41" in holders_table and "worker-b pid 7" in holders_table
        lease = next(x for x in backend.read_concurrency_limit("tag:db").leases
                     if x.id == lease_id)
        row = holders_table.split("worker-a pid 41")[1].split("</tr>")[0]
        assert f'<time datetime="{lease.expires.isoformat()}">' in row and str(lease_id) in row
        assert ">2<" in row
        decaying = web.get("/concurrency-limits/api%20calls").text
        assert 'id="no-holders"' in decaying and 'id="decaying"' in decaying
        for missing in ("/concurrency-limits/nope", "/concurrency-limits/a%3Cb",
                        "/concurrency-limits/x%00"):
            answer = web.get(missing)
            assert answer.status_code == 404, missing
            assert "<h1>No such concurrency limit</h1>" in answer.text


def test_the_limit_forms_create_change_and_delete_and_refuse_bad_input(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend, _ = _limits(server)
    with _web(server) as web:
        token = _token(web.get("/concurrency-limits"))

        def post(path: str, **fields: str) -> httpx.Response:
            return web.post(path, data={"csrf": token, **fields})

        made = post("/concurrency-limits", name="tag:big data", limit="5", decay="",
                    active="yes")
        assert made.status_code == 303
        assert made.headers["location"] == "/concurrency-limits/tag%3Abig%20data?done=created"
        shown = web.get(made.headers["location"])
        assert "Concurrency limit created." in shown.text and "<h1>tag:big data</h1>" in shown.text
        created = backend.read_concurrency_limit("tag:big data")
        assert (created.limit, created.slot_decay_per_second, created.active) == (5, 0.0, True)

        bad: list[tuple[dict[str, str], int, str]] = [
            ({"name": "tag:db", "limit": "4"}, 409, "There is a concurrency limit named "
                                                  "&#39;tag:db&#39; already"),
            ({"name": "x", "limit": "-1"}, 422, "The limit must be a whole number from 0 to"),
            ({"name": "x", "limit": "1.5"}, 422, "The limit must be a whole number"),
            ({"name": "x", "limit": "many"}, 422, "The limit must be a whole number"),
            ({"name": "x", "limit": ""}, 422, "The limit must be a whole number"),
            ({"name": "x", "limit": "99999999999"}, 422, "The limit must be a whole number"),
            ({"name": "x", "limit": "\u00b2"}, 422, "The limit must be a whole number"),
            ({"name": "x", "limit": "2", "decay": "-1"}, 422, "The slot decay must be a number"),
            ({"name": "x", "limit": "2", "decay": "nan"}, 422, "The slot decay must be a number"),
            ({"name": "a/b", "limit": "2"}, 422, "cannot be a concurrency limit&#39;s name"),
            ({"name": "", "limit": "2"}, 422, "at least 1 character"),
        ]
        for fields, status, sentence in bad:
            answer = post("/concurrency-limits", **fields)
            assert answer.status_code == status, (fields, answer.text[-500:])
            problem = re.search(r'<p class="problem" id="problem" role="alert">(.*?)</p>',
                                answer.text)
            assert problem and sentence in problem[1], (fields, problem)
            assert problem[1].endswith(".") and problem[1].count(". ") == 0, problem[1]
            assert f'value="{fields["limit"]}"' in answer.text  # what was typed is kept
        assert len(backend.list_concurrency_limits()) == 4

        # Change: limit, decay and active; a bad value is refused and changes nothing.
        path = "/concurrency-limits/tag%3Adb"
        changed = post(f"{path}/update", limit="7", decay="0.25")
        assert changed.status_code == 303 and changed.headers["location"] == f"{path}?done=updated"
        assert "Concurrency limit changed." in web.get(changed.headers["location"]).text
        after = backend.read_concurrency_limit("tag:db")
        assert (after.limit, after.slot_decay_per_second, after.active) == (7, 0.25, False)
        for fields, sentence in (({"limit": "0.5"}, "The limit must be a whole number"),
                                 ({"limit": "3", "decay": "fast"}, "The slot decay must be")):
            answer = post(f"{path}/update", **fields, active="yes")
            assert answer.status_code == 422 and sentence in answer.text
        assert backend.read_concurrency_limit("tag:db").limit == 7
        missing = post("/concurrency-limits/nope/update", limit="3")
        assert missing.status_code == 404

        # Delete: the box must be ticked.
        unconfirmed = post(f"{path}/delete")
        assert unconfirmed.status_code == 422 and "Tick the box to confirm" in unconfirmed.text
        gone = post(f"{path}/delete", confirm="yes")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/concurrency-limits?deleted=tag%3Adb"
        assert "Concurrency limit “tag:db” deleted." in web.get(gone.headers["location"]).text
        assert [x.name for x in backend.list_concurrency_limits()] == [
            "api calls", "paused", "tag:big data"]
        assert post(f"{path}/delete", confirm="yes").status_code == 404
        for word in ("paused", "a<b"):  # there, or no limit's name: no notice
            shown = web.get("/concurrency-limits", params={"deleted": word}).text
            assert 'id="notice"' not in shown, word

        # Without this browser's token, or from another site, nothing is done.
        for answer in (web.post("/concurrency-limits", data={"name": "y", "limit": "1"}),
                       httpx.post(web.base_url.join("/concurrency-limits"),
                                  data={"csrf": token, "name": "y", "limit": "1"}),
                       web.post("/concurrency-limits", data={"csrf": token, "name": "y",
                                                             "limit": "1"},
                                headers={"Origin": "http://attacker.example"}),
                       web.post("/concurrency-limits/paused/update",
                                data={"csrf": "f" * 48, "limit": "9"}),
                       web.post("/concurrency-limits/paused/delete",
                                data={"confirm": "yes"})):
            assert answer.status_code == 403, answer.text
            assert "security token" in answer.text or "may not change" in answer.text
        assert [x.name for x in backend.list_concurrency_limits()] == [
            "api calls", "paused", "tag:big data"]
        assert backend.read_concurrency_limit("paused").limit == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_pages_need_the_servers_credentials(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_api_key="k-123")
    origin = server.url.removesuffix("/api")
    for path in ("/blocks", "/blocks/secret/x", "/concurrency-limits", "/concurrency-limits/x"):
        answer = httpx.get(origin + path, follow_redirects=False)
        assert answer.status_code in (303, 401), path
    posted = httpx.post(origin + "/concurrency-limits", data={"name": "y", "limit": "1"},
                        follow_redirects=False)
    assert posted.status_code in (303, 401)
    backend = server.server.config.app.state.backend
    assert backend.list_concurrency_limits() == []
    with _web(server) as web:
        web.post("/login", data={"api_key": "k-123"}, headers={"Origin": origin})
        assert web.get("/blocks").status_code == 200
        assert "<h1>Concurrency limits</h1>" in web.get("/concurrency-limits").text
