"""The direct tasks/get path answers byte for byte like the SDK path, and steps aside otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import ACCEPT, MODERN, Client, ServerProcess, meta, wait_until


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two instances on one store: the first with the direct path, the second without."""
    db = tmp_path / "tasks.db"
    fast = ServerProcess("client_server.py", db, tmp_path / "fast.log")
    slow = ServerProcess("client_server.py", db, tmp_path / "sdk.log", env={"OFFLOAD_FAST_GET": "0"})
    yield fast, slow
    fast.stop()
    slow.stop()


def raw_get(
    url: str, task_id: str, *, name: str | None = None, ext: bool = True, host: str | None = None
) -> httpx.Response:
    headers = {
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tasks/get",
        "Mcp-Name": task_id if name is None else name,
    }
    if host is not None:
        headers["Host"] = host
    body = {"jsonrpc": "2.0", "id": 41, "method": "tasks/get", "params": {"taskId": task_id, "_meta": meta(ext)}}
    return httpx.post(url, content=json.dumps(body), headers=headers)


def sdk_saw(srv: ServerProcess) -> int:
    return int(httpx.get(srv.url.replace("/mcp", "/stats")).json().get("tasks/get", 0))


def test_same_bytes_as_the_sdk_in_every_status(pair: tuple[ServerProcess, ServerProcess]) -> None:
    fast, sdk = pair
    client = Client(fast.url)
    try:
        waiting = client.start_task("ask_twice")
        done = client.start_task("sleepy", {"seconds": 0.05})
        failed = client.start_task("explode")
        running = client.start_task("sleepy", {"seconds": 30})
        wait_until(lambda: client.request("tasks/get", {"taskId": waiting})["status"] == "input_required")
        wait_until(lambda: client.request("tasks/get", {"taskId": done})["status"] == "completed")
        wait_until(lambda: client.request("tasks/get", {"taskId": failed})["status"] == "failed")
        before = sdk_saw(fast)
        for task_id in (waiting, done, failed, running):
            a, b = raw_get(fast.url, task_id), raw_get(sdk.url, task_id)
            assert (a.status_code, a.headers["content-type"], a.content) == (
                b.status_code,
                b.headers["content-type"],
                b.content,
            )
            assert a.json()["result"]["taskId"] == task_id
        # the direct path really answered: the SDK's middleware on the fast instance saw none of them
        assert sdk_saw(fast) == before
        assert sdk_saw(sdk) >= 4
        client.request("tasks/cancel", {"taskId": running})
    finally:
        client.close()


def test_anything_unusual_goes_to_the_sdk(pair: tuple[ServerProcess, ServerProcess]) -> None:
    fast, _ = pair
    client = Client(fast.url)
    try:
        task_id = client.start_task("sleepy", {"seconds": 0.05})
        before = sdk_saw(fast)
        cases = {
            "wrong Mcp-Name": (raw_get(fast.url, task_id, name="other"), 400, -32020),
            "no extension": (raw_get(fast.url, task_id, ext=False), 400, -32021),
            "unknown id": (raw_get(fast.url, "no-such-task"), 400, -32602),
        }
        for what, (response, status, code) in cases.items():
            assert response.status_code == status, what
            assert response.json()["error"]["code"] == code, what
        assert sdk_saw(fast) == before + 3  # each of them was answered by the SDK
        foreign = raw_get(fast.url, task_id, host="evil.example.com")
        assert 400 <= foreign.status_code < 500  # DNS-rebinding protection holds on the direct path too
    finally:
        client.close()
