"""The store failing in ways other than a clean crash: an outage, a full disk, a value it cannot hold.

Every request gets a clear JSON-RPC error while the store is down or full (the direct tasks/get path
with HTTP 503 and Retry-After), the server recovers by itself, the log says so once per incident,
and a finished task's outcome is never reported "worker lost" while its instance is alive.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import Client, ServerProcess, meta, text_of, wait_until
from redis_server import RedisServer


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    srv = RedisServer()
    yield srv
    srv.stop()


def _direct_get(url: str, task_id: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 9, "method": "tasks/get", "params": {"taskId": task_id, "_meta": meta()}}
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tasks/get",
        "Mcp-Name": task_id,
    }
    return httpx.post(url, json=body, headers=headers, timeout=20)


def test_a_redis_outage_gets_clear_errors_and_the_server_recovers_alone(redis: RedisServer, tmp_path: Path) -> None:
    srv = ServerProcess("e2e_server.py", tmp_path / "unused.db", tmp_path / "server.log", store=redis.url)
    client = Client(srv.url)
    try:
        task_id = client.start_task("always_task", {"x": 1})
        assert client.wait_for(task_id)["status"] == "completed"
        redis.kill()

        direct = _direct_get(srv.url, task_id)
        assert direct.status_code == 503, direct.text
        assert direct.headers["retry-after"] == "2"
        error = direct.json()["error"]
        assert error["code"] == -32603 and "task store is unreachable" in error["message"]
        assert error["data"]["retryAfterMs"] == 2000
        for _ in range(5):  # many requests, one incident
            reply = client.message("tools/call", {"name": "always_task", "arguments": {"x": 2}})
            assert reply["error"]["code"] == -32603, reply
            assert "task store is unreachable" in reply["error"]["message"]
        cancel = client.message("tasks/cancel", {"taskId": task_id})
        assert "task store is unreachable" in cancel["error"]["message"]

        redis.restart()  # same data directory, AOF on: the task is still there
        done = wait_until(lambda: _direct_get(srv.url, task_id).status_code == 200, what="tasks/get to work again")
        assert done
        assert client.get(task_id)["status"] == "completed"
        assert text_of(client.wait_for(client.start_task("always_task", {"x": 3}))["result"]) == "required:3"
        log = srv.log()
        assert log.count("task store unreachable") == 1, log
        assert "task store usable again" in log
        assert "Traceback" not in log
    finally:
        client.close()
        srv.stop()


def test_a_result_the_store_cannot_hold_fails_the_task_saying_why(tmp_path: Path) -> None:
    srv = ServerProcess("e2e_server.py", tmp_path / "tasks.db", tmp_path / "server.log")
    client = Client(srv.url)
    marker = str(tmp_path / "bad")
    try:
        task_id = client.start_task("bad_text", {"path": marker})
        Path(marker + ".go").write_text("go")
        done = client.wait_for(task_id)
        assert done["status"] == "failed", done
        assert "cannot be stored" in done["error"]["message"] and "surrogate" in done["error"]["message"]
        assert "lost" not in done["statusMessage"]
    finally:
        client.close()
        srv.stop()


@pytest.mark.disk_size("2m")
def test_a_full_disk_says_so_once_and_finished_work_waits_for_room(tiny_disk: Path, tmp_path: Path) -> None:
    srv = ServerProcess("e2e_server.py", tiny_disk / "tasks.db", tmp_path / "server.log")
    client = Client(srv.url)
    marker = str(tmp_path / "big")
    try:
        waiting = client.start_task("big_gated", {"path": marker})  # created while there is room
        # Empty the WAL first: SQLite reuses a WAL's old frames, so writes would not need new room.
        with sqlite3.connect(tiny_disk / "tasks.db", timeout=10) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ballast = tiny_disk / "ballast"
        free = os.statvfs(tiny_disk)
        ballast.write_bytes(b"\0" * max(free.f_bavail * free.f_frsize - 16 * 1024, 0))  # fill the disk
        Path(marker + ".go").write_text("go")  # its 20 KB result now has nowhere to go
        refused = [client.message("tools/call", {"name": "huge_result", "arguments": {}}) for _ in range(10)]
        errors = [r["error"] for r in refused if "error" in r]
        assert errors, refused
        assert all("task store is full" in e["message"] for e in errors), errors
        wait_until(lambda: "storing its outcome failed" in srv.log(), what="the tool to finish and find no room")
        assert client.get(waiting)["status"] == "working"  # finished, but not lost: waiting for room
        ballast.unlink()
        done = client.wait_for(waiting)
        assert done["status"] == "completed", (done["statusMessage"], done.get("error"))  # never "worker lost"
        assert len(text_of(done["result"])) == 20_000
        log = srv.log()
        assert log.count("task store full") <= 2, log  # one line per incident, not one per request
        assert "Traceback" not in log
    finally:
        client.close()
        srv.stop()
