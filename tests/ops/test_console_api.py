"""The console's HTTP API over real sockets: auth, Host check, the cancel guard, errors, the live stream,
and the app mounted under a prefix of another Starlette app (as `offload serve` would)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from console_helpers import ConsoleProcess
from starlette.applications import Starlette

from helpers import DEADLINE_S, free_port, wait_until
from offload.cli import main
from offload.ops.console import create_console
from offload.store import TaskRecord, now_ms, open_store

TOKEN = "s3cret-token"


def seed(url: str, *records: TaskRecord) -> None:
    async def go() -> None:
        store = open_store(url)
        await store.open()
        try:
            for r in records:
                await store.create(r)
        finally:
            await store.close()

    anyio.run(go)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    n = now_ms()
    seed(
        url,
        TaskRecord("live-1111", "deploy", status="working", created_ms=n - 1000, owner="i1"),
        TaskRecord("done-2222", "render", status="completed", created_ms=n - 2000, result={"content": []}),
    )
    return url


@pytest.fixture
def console(sqlite_url: str, tmp_path: Path) -> Iterator[ConsoleProcess]:
    proc = ConsoleProcess(sqlite_url, tmp_path / "console.log", token=TOKEN)
    yield proc
    proc.stop()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_token_host_and_cancel_guard(console: ConsoleProcess) -> None:
    with httpx.Client(base_url=console.url, timeout=DEADLINE_S) as http:
        page = http.get("/")
        assert page.status_code == 200 and '<base href="/">' in page.text  # the page itself holds no data
        assert http.get("/static/console.js").headers["content-type"].startswith("text/javascript")
        assert http.get("/static/../app.py").status_code == 404
        denied = http.get("/api/tasks")
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
        assert http.get("/api/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401
        listed = http.get("/api/tasks", headers=auth()).json()
        assert [t["taskId"] for t in listed["tasks"]] == ["live-1111", "done-2222"]
        assert http.get(f"/api/stats?token={TOKEN}").json()["total"] == 2  # EventSource cannot send headers
        rebound = http.get("/", headers={"Host": "attacker.example"})
        assert rebound.status_code == 421  # DNS rebinding: a page elsewhere cannot read this console

        # A cross-site form cannot add a custom header: without it, no cancel.
        forged = http.post("/api/tasks/live-1111/cancel", headers=auth())
        assert forged.status_code == 403 and "X-Offload-Console" in forged.json()["error"]
        done = http.post("/api/tasks/live-1111/cancel", headers={**auth(), "X-Offload-Console": "1"}).json()
        assert done["outcome"] == "cancelled" and done["task"]["status"] == "cancelled"
        again = http.post("/api/tasks/live-1111/cancel", headers={**auth(), "X-Offload-Console": "1"}).json()
        assert again["outcome"] == "terminal"
        gone = http.post("/api/tasks/none/cancel", headers={**auth(), "X-Offload-Console": "1"})
        assert gone.status_code == 404


def test_bad_filters_get_a_clear_400(console: ConsoleProcess) -> None:
    with httpx.Client(base_url=console.url, headers=auth(), timeout=DEADLINE_S) as http:
        for query, expected in [
            ("status=done", "unknown task status 'done'"),
            ("older_than=soon", "invalid duration 'soon'"),
            ("limit=many", "limit must be a whole number"),
            ("cursor=x", "invalid cursor"),
        ]:
            reply = http.get(f"/api/tasks?{query}")
            assert reply.status_code == 400 and expected in reply.json()["error"], query
        assert http.get("/api/tasks/nope").status_code == 404
        detail = http.get("/api/tasks/done-2222").json()
        assert detail["status"] == "completed" and detail["result"] == {"content": []}


def read_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, object]]]:
    kind = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield kind, json.loads(line[6:])


def test_stream_sends_the_list_again_when_it_changes(console: ConsoleProcess, sqlite_url: str) -> None:
    with (
        httpx.Client(base_url=console.url, headers=auth(), timeout=DEADLINE_S) as http,
        http.stream("GET", "/api/stream?status=live") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
        kind, first = next(events)
        assert kind == "tasks" and [t["taskId"] for t in first["tasks"]] == ["live-1111"]  # type: ignore[index]
        assert first["stats"]["total"] == 2  # type: ignore[index]
        seed(sqlite_url, TaskRecord("new-3333", "deploy", status="input_required", created_ms=now_ms()))
        kind, second = next(events)  # written by another process: seen at the next poll
        assert [t["taskId"] for t in second["tasks"]] == ["new-3333", "live-1111"]  # type: ignore[index]
    with http_stream(console, "/api/stream?task=done-2222") as events:
        kind, one = next(events)
        assert kind == "task" and one["task"]["status"] == "completed"  # type: ignore[index]


class http_stream:
    def __init__(self, console: ConsoleProcess, path: str) -> None:
        self.client = httpx.Client(base_url=console.url, headers=auth(), timeout=DEADLINE_S)
        self.cm = self.client.stream("GET", path)

    def __enter__(self) -> Iterator[tuple[str, dict[str, object]]]:
        return read_events(self.cm.__enter__())

    def __exit__(self, *exc: object) -> None:
        self.cm.__exit__(None, None, None)
        self.client.close()


def test_off_loopback_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["console", "--host", "0.0.0.0", "--store", "memory://"])
    assert code == 2 and "give --token" in capsys.readouterr().err


def test_mounted_under_a_prefix_of_another_app(sqlite_url: str) -> None:
    """How `offload serve` mounts it: the page's links and API calls stay under the prefix."""
    app = Starlette()
    app.mount("/console", create_console(sqlite_url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what="uvicorn to start")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE_S) as http:
            page = http.get("/console/")
            assert page.status_code == 200 and '<base href="/console/">' in page.text
            assert http.get("/console/static/console.css").status_code == 200
            assert [t["taskId"] for t in http.get("/console/api/tasks").json()["tasks"]] == ["live-1111", "done-2222"]
    finally:
        server.should_exit = True
        thread.join(DEADLINE_S)


def test_stream_survives_the_store_going_away(tmp_path: Path) -> None:
    """The stream says the store is unreachable, keeps going, and serves the list again once it is back."""
    from redis_server import RedisServer

    redis = RedisServer()  # a server of this test's own: it is killed and restarted
    try:
        seed(redis.url, TaskRecord("before", "deploy", status="working", created_ms=now_ms()))
        proc = ConsoleProcess(redis.url, tmp_path / "console.log", token=TOKEN)
        try:
            with http_stream(proc, "/api/stream") as events:
                kind, body = next(events)
                assert kind == "tasks" and [t["taskId"] for t in body["tasks"]] == ["before"]  # type: ignore[union-attr]
                assert redis.proc is not None
                redis.proc.kill()
                redis.proc.wait()
                kind, body = next(events)
                assert kind == "trouble" and body["error"]
                assert redis._start()  # the same port and data directory: AOF kept the task
                # the store is retried every poll (0.3 s): within 200 tries it is back
                kind, body = next(e for e in itertools.islice(events, 200) if e[0] != "trouble")
                assert kind == "tasks" and [t["taskId"] for t in body["tasks"]] == ["before"]  # type: ignore[union-attr]
        finally:
            proc.stop()
    finally:
        redis.stop()
