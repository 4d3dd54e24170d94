"""The client backs off when the server says "not now" (429/503) and carries on when it answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from helpers import asgi_server
from offload.client import TaskClient

TASK = {
    "taskId": "t-backoff",
    "status": "completed",
    "createdAt": "2026-11-24T00:00:00.000Z",
    "lastUpdatedAt": "2026-11-24T00:00:01.000Z",
    "ttlMs": None,
    "pollIntervalMs": 100,
    "result": {"content": [{"type": "text", "text": "finally"}], "isError": False},
    "resultType": "complete",
}


class Reluctant:
    """An endpoint that answers tasks/get with 503 (Retry-After 0.3 s), then 429, then the task."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body)
        status, headers, payload = 200, [(b"content-type", b"application/json")], b""
        n = len(self.seen)
        if n == 0:
            status, headers = 503, [*headers, (b"retry-after", b"0.3")]
        elif n == 1:
            status = 429
        else:
            payload = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": TASK}).encode()
        self.seen.append((time.monotonic(), status))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def reluctant() -> Iterator[tuple[str, Reluctant]]:
    app = Reluctant()
    with asgi_server(app) as port:
        yield f"http://127.0.0.1:{port}/mcp", app


def test_429_and_503_are_waited_out(reluctant: tuple[str, Reluctant]) -> None:
    url, app = reluctant

    async def run() -> str:
        async with TaskClient(url, push=False, default_poll_ms=100) as client:
            result = await client.handle("t-backoff").result(timeout=30)
            return str(result.content[0].text)  # type: ignore[union-attr]

    assert anyio.run(run) == "finally"
    assert [status for _t, status in app.seen] == [503, 429, 200]
    first, second, third = (t for t, _s in app.seen)
    assert second - first >= 0.3  # Retry-After was honoured
    assert third - second >= 0.1  # and the 429 was backed off, not retried at once
