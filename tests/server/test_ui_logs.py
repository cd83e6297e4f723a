"""A run's logs in the web UI: colours and links in messages, filters, the download, "jump to
the first error" and the live tail over server-sent events, from a real server on 127.0.0.1;
and the same filters through the API, the client and `transom runs logs`."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run

from transom.client.http import TransomClient
from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.server.ui.logs import message_html, plain_message


def _origin(server: LiveServer) -> str:
    return server.url.removesuffix("/api")


def test_a_message_keeps_its_colours_and_links_and_nothing_else_gets_through() -> None:
    html = str(message_html("\x1b[1;31mfailed\x1b[0m see https://example.org/x?a=1&b=2. <b>"))
    assert html == ('<span class="a-b a-f1">failed</span> see <a href="https://example.org/x?a=1'
                    '&amp;b=2" rel="noopener noreferrer nofollow" target="_blank">https://example'
                    '.org/x?a=1&amp;b=2</a>. &lt;b&gt;')
    assert str(message_html("\x1b[92mok\x1b[39m plain")) == '<span class="a-f10">ok</span> plain'
    assert str(message_html("\x1b[2K\x1b]0;title\x07done")) == "done"  # other escapes dropped
    assert str(message_html('javascript:alert(1) "x" <script>')) == \
        "javascript:alert(1) &#34;x&#34; &lt;script&gt;"
    assert plain_message("\x1b[31mred\x1b[0m \x1b[2Kline") == "red line"


def _noisy_run(backend: object) -> tuple[uuid.UUID, uuid.UUID]:
    run_id, events = flow_run("etl", "noisy", created=T0, failed=True, logs=300)
    task_id = uuid.uuid4()
    at = T0 + timedelta(seconds=2)
    events[2:2] = [TaskRunCreated(task_id, run_id, "etl.load", "load-0", 0, created=at)]
    events += [LogRecorded(run_id, task_id, 40, "transom.task_runs", "load failed: Disk FULL",
                           at + timedelta(milliseconds=1)),
               LogRecorded(run_id, task_id, 30, "transom.task_runs", "\x1b[33mretrying\x1b[0m",
                           at + timedelta(milliseconds=2))]
    backend.send_events(events)  # type: ignore[attr-defined]
    return run_id, task_id


def test_the_run_page_filters_its_logs_and_downloads_them(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    run_id, task_id = _noisy_run(server.server.config.app.state.backend)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get(f"/runs/{run_id}").text
        assert "302 lines" in page and 'class="a-f3">retrying</span>' in page
        assert "data-live" not in page  # the run is over: nothing to follow
        errors = web.get(f"/runs/{run_id}", params={"log_level": "error"}).text
        assert "1 line that match" in errors and "Disk FULL" in errors and "line 0 of" not in errors
        found = web.get(f"/runs/{run_id}", params={"log_q": "disk full"}).text
        assert "1 line that match" in found and "load-0" in found.split('id="logs"')[1]
        of_task = web.get(f"/runs/{run_id}", params={"log_task": str(task_id)}).text
        assert "2 lines that match" in of_task and 'id="log-task-run">Task run load-0 only' in of_task
        # The task filter lists tasks (a mapped one once, with its count), not every task run.
        assert '<select name="log_key">' in page and '<option value="etl.load">etl.load</option>' in page
        of_key = web.get(f"/runs/{run_id}", params={"log_key": "etl.load"}).text
        assert "2 lines that match" in of_key and '<option value="etl.load" selected>' in of_key
        assert "No log line matches" in web.get(f"/runs/{run_id}", params={"log_key": "etl.nope"}).text
        keyed = web.get(f"/runs/{run_id}/logs.txt", params={"log_key": "etl.load"})
        assert len(keyed.text.splitlines()) == 2
        assert web.get(f"/runs/{run_id}", params={"log_key": "a\x00"}).status_code == 422
        assert "No log line matches" in web.get(f"/runs/{run_id}", params={"log_q": "nope"}).text
        # Paging keeps the filters.
        infos = web.get(f"/runs/{run_id}", params={"log_level": "INFO"}).text
        earlier = re.search(r'id="earlier" href="([^"]+)"', infos)
        assert earlier and "log_level=INFO" in earlier.group(1)
        # Downloads: everything, or what the filters let through, as text without escapes.
        whole = web.get(f"/runs/{run_id}/logs.txt")
        assert whole.headers["content-disposition"] == 'attachment; filename="noisy.log"'
        assert len(whole.text.splitlines()) == 302 and "WARNING  transom.task_runs [load-0]: " \
            "retrying" in whole.text and "\x1b" not in whole.text
        some = web.get(f"/runs/{run_id}/logs.txt", params={"log_level": "WARNING"})
        assert some.headers["content-disposition"].endswith('noisy-filtered.log"')
        assert len(some.text.splitlines()) == 2
        # Jump to the first error: the page of the logs holding it, at its row.
        jump = web.get(f"/runs/{run_id}/logs/first-error", follow_redirects=False)
        assert jump.status_code == 303
        target = web.get(jump.headers["location"]).text
        row = jump.headers["location"].split("#")[1]
        assert f'id="{row}"' in target and "Disk FULL" in target.split(f'id="{row}"')[1][:400]
        # Bad filters are one sentence, never a 500.
        bad = web.get(f"/runs/{run_id}", params={"log_level": "LOUD"})
        assert bad.status_code == 400 and "log_level must be DEBUG" in bad.text
        other = web.get(f"/runs/{run_id}", params={"log_task": str(uuid.uuid4())})
        assert other.status_code == 400
        assert web.get(f"/runs/{uuid.uuid4()}/logs.txt").status_code == 404
        assert web.get(f"/runs/{run_id}/logs.txt", params={"log_q": "a\x00b"}).status_code == 422


def test_the_api_and_the_client_filter_logs_alike(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    run_id, task_id = _noisy_run(server.server.config.app.state.backend)
    with TransomClient(server.url) as client:
        assert client.flow_run_logs(run_id, min_level=40).total == 1
        assert client.flow_run_logs(run_id, text="RETRY").items[0].message.endswith("retrying\x1b[0m")
        assert client.flow_run_logs(run_id, task_run_id=task_id).total == 2
        of_task = client.flow_run_logs(run_id, task_key="etl.load", min_level=40)
        assert of_task.total == 1 and of_task.items[0].message == "load failed: Disk FULL"
        assert client.flow_run_logs(run_id, task_key="etl.nope").total == 0
        assert client.flow_run_log_offset(run_id, min_level=40) == 300
        assert client.flow_run_log_offset(run_id, min_level=50) is None
        last = client.flow_run_logs(run_id, limit=1, offset=299).items[0]
        after = client.flow_run_logs(run_id, after_id=last.id)
        assert [line.level for line in after.items] == [40, 30] and after.total == 2


def test_a_running_run_s_page_follows_its_new_lines_live(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id = uuid.uuid4()
    backend.send_events([FlowRunCreated(run_id, "etl", "live", {}, created=T0, process=None),
                         StateChanged(run_id, False, st.Running(), 1),
                         LogRecorded(run_id, None, 20, "transom.flow_runs", "first", T0)])
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get(f"/runs/{run_id}").text
        source = re.search(r'data-live="([^"]+)"', page)
        assert source, "a running run's logs are followed"

        def later() -> None:
            time.sleep(0.8)
            backend.send_events([LogRecorded(run_id, None, 40, "transom.flow_runs",
                                             "\x1b[31msecond\x1b[0m <i>", T0)])
            time.sleep(0.3)
            backend.send_events([StateChanged(run_id, False, st.Completed(), 1)])

        writer = threading.Thread(target=later)
        writer.start()
        events: list[tuple[str, str]] = []
        started = time.monotonic()
        with web.stream("GET", source.group(1).replace("&amp;", "&")) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = ""
            for raw in stream.iter_lines():
                if raw.startswith("event: "):
                    event = raw[7:]
                elif raw.startswith("data: "):
                    events.append((event, raw[6:]))
                    if event == "end":
                        break
                assert time.monotonic() - started < 20, "the tail did not end"
        writer.join()
    assert [kind for kind, _ in events] == ["line", "end"]  # "first" was on the page already
    assert '<span class="a-f1">second</span> &lt;i&gt;' in events[0][1]
    assert 'class="lvl-40"' in events[0][1]
