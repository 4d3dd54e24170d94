"""`offload bridge` when things go wrong: the server is down at start, bad calls, a bad command line.

The host here is the SDK's own client in 2025-11-25 mode over stdio (the bridge as a host starts it).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from helpers import OFFLOAD, free_port, wait_listening


@asynccontextmanager
async def bridge_host(url: str, journal: Path) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=OFFLOAD, args=["bridge", url, "--journal", str(journal), "--wait", "20"])
    async with Client(stdio_client(params), mode="legacy") as client:
        yield client


def _text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


class DemoServer:
    """`offload serve offload.demo.server:server` on a fixed port and store, restartable."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir, self.port = workdir, port
        self.store = f"sqlite:///{workdir}/t.db"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log_path = self.workdir / "server.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [OFFLOAD, "serve", "offload.demo.server:server", "--port", str(self.port), "--store", self.store],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OFFLOAD_DEMO_STEP_S": "0.05"},
            )
        wait_listening(self.proc, self.port, log_path.read_text, what="the demo server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def test_a_bridge_outlives_its_server_being_down_at_start_and_restarted(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    server = DemoServer(tmp_path, port)
    out: dict[str, Any] = {}

    async def until_inline_works(host: Client) -> str:
        with anyio.fail_after(60):
            while True:
                try:
                    result = await host.call_tool("latest_version", {})
                    if not result.is_error:
                        return _text(result)
                except MCPError as exc:
                    out.setdefault("while_down", []).append(exc.error.message)
                await anyio.sleep(0.2)

    async def scenario() -> None:
        async with bridge_host(url, tmp_path / "journal") as host:
            with pytest.raises(MCPError) as down:
                await host.list_tools()
            out["down"] = down.value.error.message
            server.start()
            tools = await host.list_tools()
            out["tools"] = [t.name for t in tools.tools]
            out["inline"] = _text(await host.call_tool("latest_version", {}))
            out["unknown_tool"] = await host.call_tool("no_such_tool", {})
            out["unknown_task"] = await host.call_tool("task_status", {"task_id": "no-such-task"})
            out["no_task_id"] = await host.call_tool("task_result", {"task_id": 7})
            started = _text(await host.call_tool("reindex", {"shards": 40}))
            out["task_id"] = task_id = started.split()[1]
            server.stop()  # the task server goes away under the bridge
            out["status_down"] = await host.call_tool("task_status", {"task_id": task_id})
            server.start()
            out["after_restart"] = await until_inline_works(host)
            out["status_up"] = _text(await host.call_tool("task_status", {"task_id": task_id}))

    try:
        anyio.run(scenario)
    finally:
        server.stop()
    assert out["down"].startswith(f"offload bridge: the task server at {url} is unreachable: ")
    assert "latest_version" in out["tools"] and out["tools"][-5:] == [
        "task_result",
        "task_status",
        "task_answer",
        "task_cancel",
        "task_read",
    ]
    assert out["inline"] == "1.4.0"
    # The server's own error result passes through; the bridge's task tools answer in `error:` lines.
    assert out["unknown_tool"].is_error is True and "no_such_tool" in _text(out["unknown_tool"])
    assert out["unknown_tool"].meta is None  # the server's serverInfo stamp is not passed on as the bridge's
    for key in ("unknown_task", "no_task_id", "status_down"):
        result = out[key]
        assert result.is_error is True, key
        assert _text(result).startswith("error: "), key
    assert "not found" in _text(out["unknown_task"])
    assert _text(out["no_task_id"]) == "error: task_result needs a task_id (a string)"
    assert "no answer from" in _text(out["status_down"])
    # The bridge reconnected by itself, and still knows the task it started before the restart
    # (reindex is retry-safe, so the new server process takes it over).
    assert out["after_restart"] == "1.4.0"
    assert out["status_up"].startswith(f"task {out['task_id']} (tool reindex): ")


def test_the_bridge_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    done = subprocess.run([OFFLOAD, "bridge", "node server.js"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "the bridge fronts a Streamable HTTP server: give its URL, not 'node server.js'" in done.stderr
