"""offload.agent over real HTTP against the demo server: context accounting and the LLM tool adapter."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from helpers import free_port, wait_until
from offload.agent import TASK_TOOL_NAMES, TASK_TOOLS, TaskToolAdapter, approx_tokens, measure_context, window_size
from offload.client import TaskClient

OFFLOAD = str(Path(sys.executable).with_name("offload"))


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`offload serve offload.demo.server:server` on a free port with a fresh SQLite store."""
    base = tmp_path_factory.mktemp("agent")
    port = free_port()
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed below
    cmd = [OFFLOAD, "serve", "offload.demo.server:server", "--port", str(port), "--store", f"sqlite:///{base}/t.db"]
    env = {**os.environ, "OFFLOAD_DEMO_STEP_S": "0.05"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def up() -> bool:
        assert proc.poll() is None, (base / "server.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    try:
        wait_until(up, what="the demo server to listen")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _run(fn: Any, *args: Any) -> Any:
    return anyio.run(fn, *args)


# -- accounting --


def test_approx_tokens_counts_word_pieces() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("check 12345: ok") == 5  # check, 123, 45, ":", ok
    assert approx_tokens('{"a":"b"}') == 5  # {"  a  ":"  b  "}
    assert window_size([{"a": 1}, "x"]) == (len('{"a":1}') + len('"x"'), 5 + 3)


def test_measure_context_on_5000_log_lines(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[str] = []
    send = httpx2.AsyncClient.send

    async def counting_send(self: httpx2.AsyncClient, request: httpx2.Request, **kw: Any) -> httpx2.Response:
        requests.append(request.headers.get("mcp-method", request.method))
        return await send(self, request, **kw)

    monkeypatch.setattr(httpx2.AsyncClient, "send", counting_send)
    report = _run(measure_context, demo_url, "run_pipeline", {"lines": 5000})

    # The blocking call really carried the exhaust: every log line and every progress update.
    assert report.blocking_log_lines >= 5000
    assert report.blocking_progress >= 20
    assert report.blocking_bytes > 500_000
    assert report.blocking_tokens > 100_000
    assert report.blocking_round_trips == 1
    # The task left a handle and the result: at most 1% of the bytes.
    assert report.task_status == "completed"
    assert report.task_id and len(report.task_id) == 43
    assert report.task_bytes < 2_000
    assert report.ratio == report.task_bytes / report.blocking_bytes
    assert report.ratio <= 0.01
    # Round trips are real HTTP requests: 1 blocking, then the tools/call and every tasks/get.
    assert report.task_round_trips == 1 + report.task_polls >= 2
    assert len(requests) == report.blocking_round_trips + report.task_round_trips, requests
    assert requests.count("tools/call") == 2
    assert requests.count("tasks/get") == report.task_polls
    assert "regex" in report.token_method


# -- the adapter an LLM loop calls --


def test_adapter_lists_server_tools_and_task_tools(demo_url: str) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with TaskClient(demo_url) as client:
            return await TaskToolAdapter(client).tools()

    specs = _run(scenario)
    by_name = {s["name"]: s for s in specs}
    assert {"release", "reindex", "run_pipeline", "latest_version"} <= set(by_name)
    assert [s["name"] for s in specs[-len(TASK_TOOLS) :]] == list(TASK_TOOL_NAMES)
    assert TASK_TOOL_NAMES == ("task_result", "task_status", "task_answer", "task_cancel")
    pipeline = by_name["run_pipeline"]
    assert pipeline["parameters"]["type"] == "object"
    assert "lines" in pipeline["parameters"]["properties"]
    assert "noisy" in pipeline["description"]
    assert by_name["task_result"]["parameters"]["required"] == ["task_id"]


def test_adapter_turns_a_task_into_one_line_and_fetches_its_result(demo_url: str) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with TaskClient(demo_url) as client:
            adapter = TaskToolAdapter(client)
            started = await adapter.call("run_pipeline", {"lines": 2000})
            task_id = started.split()[1]
            status = await adapter.call("task_status", {"task_id": task_id})
            result = await adapter.call("task_result", {"task_id": task_id})
            again = await adapter.call("task_status", {"task_id": task_id})
            return started, status, result, again

    started, status, result, again = _run(scenario)
    assert "\n" not in started
    task_id = started.split()[1]
    assert len(task_id) == 43
    assert started == (
        f"task {task_id} started (tool run_pipeline, status working); "
        f"call task_result with task_id={task_id} to get the outcome"
    )
    assert status.startswith(f"task {task_id} (tool run_pipeline): working") and "\n" not in status
    assert result == "Pipeline passed: 2000 checks, 0 failed"
    assert again.startswith(f"task {task_id} (tool run_pipeline): completed")


def test_adapter_returns_inline_text_directly(demo_url: str) -> None:
    async def scenario() -> str:
        async with TaskClient(demo_url) as client:
            return await TaskToolAdapter(client).call("latest_version", {})

    assert _run(scenario) == "1.4.0"


def test_adapter_reports_cancel_errors_and_waits_in_one_line(demo_url: str) -> None:
    async def scenario() -> dict[str, str]:
        async with TaskClient(demo_url) as client:
            adapter = TaskToolAdapter(client, result_timeout_s=0.05)
            out: dict[str, str] = {}
            started = await adapter.call("run_pipeline", {"lines": 100_000})
            task_id = started.split()[1]
            out["timeout"] = await adapter.call("task_result", {"task_id": task_id})
            out["cancel"] = await adapter.call("task_cancel", {"task_id": task_id})
            adapter.result_timeout_s = 20
            out["cancelled"] = await adapter.call("task_result", {"task_id": task_id})
            out["unknown_task"] = await adapter.call("task_result", {"task_id": "no-such-task"})
            out["unknown_tool"] = await adapter.call("no_such_tool", {})
            out["no_id"] = await adapter.call("task_result", {})
            out["id"] = task_id
            return out

    out = _run(scenario)
    task_id = out.pop("id")
    for text in out.values():
        assert "\n" not in text, out
    assert out["timeout"] == (
        f"task {task_id} (tool run_pipeline) is still working after 0.05 s; call task_result again later"
    )
    assert out["cancel"] == f"task {task_id} (tool run_pipeline): cancellation requested"
    assert out["cancelled"].startswith(f"task {task_id} (tool run_pipeline) was cancelled")
    assert out["unknown_task"].startswith("error:") and "not found" in out["unknown_task"]
    assert out["unknown_tool"].startswith("error:") and "no_such_tool" in out["unknown_tool"]
    assert out["no_id"] == "error: task_result needs a task_id (a string)"


# -- the demo prints the accounting --


def test_demo_prints_context_accounting(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(
        [OFFLOAD, "demo", "--fast", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=180, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    section = text[text.index("4. Context accounting") :]
    assert "5,000 log lines" in section
    assert "round trips:     1 HTTP request" in section
    assert "tokens: approximate, regex word-pieces" in section
    sizes = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) bytes, ~[\d,]+ tokens", section)]
    assert len(sizes) == 2 and sizes[0] > 500_000 and sizes[1] < 2_000
    ratio = re.search(r"ratio: the task put ([\d.]+)% of the blocking case's bytes", section)
    assert ratio is not None and float(ratio.group(1)) <= 1.0
