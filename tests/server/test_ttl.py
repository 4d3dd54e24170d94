"""A task whose TTL runs out while it is live: stopped, told, pushed, readable for a grace period."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from helpers import DEADLINE_S, Client, ServerProcess, meta


def _listen(url: str, task_id: str, seen: list[dict[str, Any]], done: threading.Event) -> None:
    """A real subscriptions/listen stream, read until the task's terminal notification arrives."""
    body = {
        "jsonrpc": "2.0",
        "id": "listen-ttl",
        "method": "subscriptions/listen",
        "params": {"notifications": {"taskIds": [task_id]}, "_meta": meta()},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "subscriptions/listen",
    }
    with (
        httpx.Client(timeout=DEADLINE_S) as http,
        http.stream("POST", url, content=json.dumps(body), headers=headers) as response,
    ):
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            frame = json.loads(line[5:])
            if frame.get("method") == "notifications/tasks":
                seen.append(frame["params"])
                if frame["params"]["status"] in ("completed", "failed", "cancelled"):
                    break
    done.set()


def test_a_running_task_past_its_ttl_is_stopped_and_its_end_pushed(e2e_server: ServerProcess, client: Client) -> None:
    task_id = client.start_task("outlives_ttl")
    seen: list[dict[str, Any]] = []
    done = threading.Event()
    threading.Thread(target=_listen, args=(e2e_server.url, task_id, seen, done), daemon=True).start()
    final = client.wait_for(task_id)
    assert final["status"] == "failed", final
    assert final["error"]["code"] == -32053
    assert "TTL (time to live, 700 ms) ran out" in final["statusMessage"]
    assert final["ttlMs"] > 700  # stretched, so the final status stays readable for a while
    # Still readable a moment later (the grace period), not "expired" or purged at once.
    assert client.get(task_id)["status"] == "failed"
    assert done.wait(DEADLINE_S), "the listen stream never carried the final status"
    assert seen[-1]["status"] == "failed" and seen[-1]["taskId"] == task_id
