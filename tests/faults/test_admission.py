"""Floods past each admission limit: refused with a clear error, nothing half-created, others unaffected."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import Client, ServerProcess, free_port, meta, parse_body


@pytest.fixture
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A fresh server per test: the limits count what earlier tests left running."""
    base: Path = tmp_path_factory.mktemp("limits")
    port = free_port()
    env = {"OFFLOAD_TEST_PORT": str(port), "OFFLOAD_TEST_PER_CALLER": "5", "OFFLOAD_TEST_MAX_RUNNING": "8"}
    srv = ServerProcess("auth_server.py", base / "tasks.db", base / "server.log", port=port, env=env)
    yield srv
    srv.stop()


def test_a_caller_over_its_limit_is_refused_and_others_are_not(limited: ServerProcess) -> None:
    alice, bob = Client(limited.url, token="alice-token"), Client(limited.url, token="bob-token")
    try:
        mine = [alice.start_task("parked") for _ in range(5)]
        refused = [alice.message("tools/call", {"name": "parked", "arguments": {}}) for _ in range(20)]
        for reply in refused:
            assert reply["error"]["code"] == -32054, reply
            assert "5 unfinished tasks" in reply["error"]["message"]
            assert reply["error"]["data"] == {"limit": 5}
        bobs = bob.start_task("parked")  # another caller is not affected
        for task_id in mine:
            alice.cancel(task_id)
        for task_id in mine:
            alice.wait_for(task_id)
        assert alice.start_task("parked")  # room again once tasks finished
        bob.cancel(bobs)
    finally:
        alice.close()
        bob.close()


def test_the_instance_cap_refuses_new_tasks_while_it_runs_its_limit(limited: ServerProcess) -> None:
    callers = [Client(limited.url, token=t) for t in ("alice-token", "bob-token")]
    started: list[tuple[Client, str]] = []
    try:
        # 4 + 4 parked tasks: the instance's limit of 8 is reached (each caller stays under its 5)
        for client in callers:
            started += [(client, client.start_task("parked")) for _ in range(4)]
        reply = callers[0].message("tools/call", {"name": "quick", "arguments": {}})
        assert reply["error"]["code"] == -32054 and "limit of 8 tasks" in reply["error"]["message"]
        assert reply["error"]["data"]["retryAfterMs"] > 0
    finally:
        for client, task_id in started:
            client.cancel(task_id)
        for client in callers:
            client.close()


_CLIENTS: list[Any] = []  # clients and line iterators kept referenced: a collected one closes its stream


def _open_stream(url: str, token: str, task_ids: list[str]) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": "l",
        "method": "subscriptions/listen",
        "params": {"notifications": {"taskIds": task_ids}, "_meta": meta()},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "subscriptions/listen",
        "Authorization": f"Bearer {token}",
    }
    client = httpx.Client(timeout=30)
    _CLIENTS.append(client)
    return client.send(httpx.Request("POST", url, content=json.dumps(body), headers=headers), stream=True)


def test_a_listen_flood_is_capped_per_caller(limited: ServerProcess) -> None:
    alice = Client(limited.url, token="alice-token")
    task_id = alice.start_task("parked")
    streams: list[httpx.Response] = []
    try:
        for _ in range(16):
            response = _open_stream(limited.url, "alice-token", [task_id])
            streams.append(response)
            lines = response.iter_lines()
            _CLIENTS.append(lines)
            first = next(lines)  # the acknowledgement arrives: the stream is open
            assert first.startswith(("event:", "data:", "id:")), first
        extra = _open_stream(limited.url, "alice-token", [task_id])
        extra.read()
        frames = parse_body(extra)
        errors = [f["error"] for f in frames if "error" in f]
        assert len(errors) == 1, frames
        [error] = errors
        assert error["code"] == -32054 and "16 task notification streams" in error["message"]
        bob = _open_stream(limited.url, "bob-token", [])  # another caller still gets one
        assert bob.status_code == 200
        bob.close()
    finally:
        for response in streams:
            response.close()
        for held in _CLIENTS:
            if isinstance(held, httpx.Client):
                held.close()
        _CLIENTS.clear()
        alice.cancel(task_id)
        alice.close()


def test_nothing_is_half_created_under_a_concurrent_flood(limited: ServerProcess) -> None:
    """20 callers' worth of concurrent calls from one caller: what was acknowledged exists, nothing else."""
    created: list[str] = []
    refusals = 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal refusals
        client = Client(limited.url, token="alice-token")
        try:
            reply = client.message("tools/call", {"name": "parked", "arguments": {}})
            with lock:
                if "error" in reply:
                    refusals += 1
                else:
                    created.append(reply["result"]["taskId"])
        finally:
            client.close()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    alice = Client(limited.url, token="alice-token")
    try:
        assert refusals + len(created) == 20
        assert refusals > 0
        for task_id in created:
            assert alice.get(task_id)["taskId"] == task_id  # every acknowledged task exists
            alice.cancel(task_id)
    finally:
        alice.close()
