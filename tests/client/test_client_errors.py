"""When the answer is not an answer: redirects followed, HTML refused at once, retries bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from helpers import asgi_server, free_port
from offload.client import (
    BadResponse,
    OffloadClientError,
    TaskClient,
    TransportProblem,
    Unreachable,
    WireClient,
)

TASK = {
    "taskId": "t-1",
    "status": "working",
    "createdAt": "2026-11-24T00:00:00.000Z",
    "lastUpdatedAt": "2026-11-24T00:00:00.000Z",
    "ttlMs": None,
    "pollIntervalMs": 100,
}


class Endpoint:
    """`/mcp/` redirects (307) to `/mcp`, which answers JSON-RPC; anything else is an HTML 404 page."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any] | None]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body) if body else None
        self.seen.append((scope["method"], scope["path"], request))
        if scope["path"] == "/mcp/":
            status, headers, payload = 307, [(b"location", b"/mcp")], b""
        elif scope["path"] == "/mcp" and request is not None:
            answer = {"jsonrpc": "2.0", "id": request["id"], "result": {**TASK, "resultType": "complete"}}
            status, headers, payload = 200, [(b"content-type", b"application/json")], json.dumps(answer).encode()
        else:
            status, headers, payload = 404, [(b"content-type", b"text/html")], b"<html><h1>Not Found</h1></html>"
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Endpoint]]:
    app = Endpoint()
    with asgi_server(app) as port:
        yield f"http://127.0.0.1:{port}", app


def test_a_307_is_followed_with_the_same_method_and_body(endpoint: tuple[str, Endpoint]) -> None:
    base, app = endpoint

    async def run() -> dict[str, Any]:
        async with WireClient(base + "/mcp/") as wire:
            return await wire.result("tasks/get", {"taskId": "t-1"})

    assert anyio.run(run)["taskId"] == "t-1"
    (m1, p1, first), (m2, p2, second) = app.seen
    assert (m1, p1, m2, p2) == ("POST", "/mcp/", "POST", "/mcp")
    assert first == second and first is not None and first["method"] == "tasks/get"


def test_an_answer_that_is_not_json_rpc_is_final_and_names_status_and_url(endpoint: tuple[str, Endpoint]) -> None:
    base, app = endpoint

    async def run() -> None:
        async with TaskClient(base + "/elsewhere", push=False, retry_for_s=60) as client:
            await client.handle("t-1").status()

    started = time.monotonic()
    with pytest.raises(BadResponse) as caught:
        anyio.run(run)
    assert time.monotonic() - started < 30  # not retried for retry_for_s
    assert len(app.seen) == 1
    assert caught.value.http_status == 404
    assert str(caught.value).startswith(f"HTTP 404 from {base}/elsewhere with no JSON-RPC answer")
    assert isinstance(caught.value, TransportProblem) and isinstance(caught.value, OffloadClientError)


def test_retries_stop_after_retry_for_with_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    seen: list[float | None] = []

    async def run() -> None:
        async with TaskClient(url, push=False, retry_for_s=1.0, default_poll_ms=100) as client:
            try:
                await client.handle("t-1").status()
            finally:
                seen.append(client.unreachable_since)

    before = time.time()
    with pytest.raises(Unreachable) as caught:
        anyio.run(run)
    error = caught.value
    assert error.task_id == "t-1" and error.url == url and error.method == "tasks/get"
    assert before <= error.since <= time.time()
    assert seen == [error.since]  # what a status line shows while it retries
    assert "no answer from" in str(error)
