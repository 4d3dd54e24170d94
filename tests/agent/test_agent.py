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
from offload.client import TaskClient, WireClient

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
        async with TaskClient(demo_url, answers_later=True) as client:
            return await TaskToolAdapter(client).tools()

    specs = _run(scenario)
    by_name = {s["name"]: s for s in specs}
    assert {"release", "reindex", "run_pipeline", "latest_version"} <= set(by_name)
    assert [s["name"] for s in specs[-len(TASK_TOOLS) :]] == list(TASK_TOOL_NAMES)
    assert TASK_TOOL_NAMES == ("task_result", "task_status", "task_answer", "task_cancel", "task_read")
    pipeline = by_name["run_pipeline"]
    assert pipeline["parameters"]["type"] == "object"
    assert "lines" in pipeline["parameters"]["properties"]
    assert "noisy" in pipeline["description"]
    assert by_name["task_result"]["parameters"]["required"] == ["task_id"]


def test_adapter_turns_a_task_into_one_line_and_fetches_its_result(demo_url: str) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with TaskClient(demo_url, answers_later=True) as client:
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
        async with TaskClient(demo_url, answers_later=True) as client:
            return await TaskToolAdapter(client).call("latest_version", {})

    assert _run(scenario) == "1.4.0"


def test_adapter_reports_cancel_errors_and_waits_in_one_line(demo_url: str) -> None:
    async def scenario() -> dict[str, str]:
        async with TaskClient(demo_url, answers_later=True) as client:
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
    section = text[text.index("4. Context accounting") : text.index("5. An agent loop")]
    assert "5,000 log lines" in section
    assert "round trips:     1 HTTP request" in section
    assert "tokens: approximate, regex word-pieces" in section
    sizes = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) bytes, ~[\d,]+ tokens", section)]
    assert len(sizes) == 2 and sizes[0] > 500_000 and sizes[1] < 2_000
    ratio = re.search(r"ratio: the task put ([\d.]+)% of the blocking case's bytes", section)
    assert ratio is not None and float(ratio.group(1)) <= 1.0
    loop = text[text.index("5. An agent loop") :]
    assert "model <- attention" in loop and "needs input" in loop
    assert "model <- tool         Released 1.4.0: 5 steps passed, approved, deployed" in loop
    attention = re.search(r"attention lines +(\d+) messages, +([\d,]+) bytes", loop)
    assert attention is not None and int(attention.group(1)) >= 1 and int(attention.group(2).replace(",", "")) > 0
    assert re.search(r"log +5000 messages", loop)
    loop_ratio = re.search(r"ratio: ([\d.]+)% of the blocking bytes", loop)
    assert loop_ratio is not None and float(loop_ratio.group(1)) <= 1.0


# -- questions: the path back for input --


async def _wire_task(url: str, task_id: str) -> dict[str, Any]:
    async with WireClient(url) as wire:
        return await wire.result("tasks/get", {"taskId": task_id})


def test_task_result_returns_the_question_at_once_and_task_answer_checks_the_answer(demo_url: str) -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with TaskClient(demo_url, answers_later=True) as client:  # no elicitation callback: the model answers
            adapter = TaskToolAdapter(client)
            task_id = (await adapter.call("release", {"version": "1.4.0"})).split()[1]
            out["id"] = task_id
            out["result"] = await adapter.call("task_result", {"task_id": task_id})
            out["status"] = await adapter.call("task_status", {"task_id": task_id})
            key = re.search(r"\[key (\S+)\]", out["result"]).group(1)  # type: ignore[union-attr]
            out["key"] = key
            out["bad"] = await adapter.call("task_answer", {"task_id": task_id, "key": key, "answer": {"approve": "y"}})
            out["after_bad"] = await _wire_task(demo_url, task_id)
            out["wrong_key"] = await adapter.call("task_answer", {"task_id": task_id, "key": "nope", "answer": {}})
            out["no_key"] = await adapter.call("task_answer", {"task_id": task_id, "answer": {}})
            out["good"] = await adapter.call(
                "task_answer", {"task_id": task_id, "key": key, "answer": '{"approve": true}'}
            )
            out["again"] = await adapter.call("task_answer", {"task_id": task_id, "key": key, "answer": {}})
            out["final"] = await adapter.call("task_result", {"task_id": task_id})
            out["late"] = await adapter.call("task_answer", {"task_id": task_id, "key": key, "answer": {}})
        return out

    out = _run(scenario)
    task_id, key = out["id"], out["key"]
    question = '"All 5 steps passed. Ship 1.4.0 to production?" fields: approve (boolean, required, Ship it?)'
    assert out["result"] == (
        f"task {task_id} (tool release) needs input: [key {key}] {question}; answer with task_answer("
        f'task_id={task_id}, key=<key>, answer: the fields as an object (means accept), or "decline" or "cancel")'
    )
    assert out["status"] == out["result"]
    # A wrong answer is not sent: the model is told what to fix, the question stays open on the server.
    assert out["bad"].startswith("error: answer not sent: content.approve: 'y' is not of type 'boolean'.")
    assert question in out["bad"]
    assert out["after_bad"]["status"] == "input_required" and key in out["after_bad"]["inputRequests"]
    assert (
        out["wrong_key"]
        == f"error: task {task_id} (tool release) has no pending question with key 'nope' (pending: {key})"
    )
    assert out["no_key"].startswith("error: task_answer needs a key")
    assert out["good"] == f"task {task_id} (tool release): answer to {key} sent; the task resumes"
    assert out["again"] == f"task {task_id} (tool release): the question {key} was already answered"
    assert out["final"] == "Released 1.4.0: 5 steps passed, approved, deployed"
    assert out["late"] == f"error: task {task_id} (tool release) is already completed; there is nothing to answer"


def test_decline_shorthand_is_sent_as_an_elicit_result(demo_url: str) -> None:
    async def scenario() -> tuple[str, str]:
        async with TaskClient(demo_url, answers_later=True) as client:
            adapter = TaskToolAdapter(client)
            task_id = (await adapter.call("release", {"version": "2.0.0"})).split()[1]
            asked = await adapter.call("task_result", {"task_id": task_id})
            key = re.search(r"\[key (\S+)\]", asked).group(1)  # type: ignore[union-attr]
            await adapter.call("task_answer", {"task_id": task_id, "key": key, "answer": "decline"})
            return asked, await adapter.call("task_result", {"task_id": task_id})

    asked, final = _run(scenario)
    assert "needs input" in asked
    assert final == "Release 2.0.0 stopped: not approved"


def test_attention_line_tells_what_changed_and_nothing_otherwise(demo_url: str) -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with TaskClient(demo_url, answers_later=True) as client:
            adapter = TaskToolAdapter(client)
            release = (await adapter.call("release", {"version": "3.0.0"})).split()[1]
            pipeline = (await adapter.call("run_pipeline", {"lines": 50})).split()[1]
            out["ids"] = (release, pipeline)
            lines = [await adapter.attention()]
            with anyio.fail_after(60):
                while "needs input" not in " ".join(lines) or "completed" not in " ".join(lines):
                    await anyio.sleep(0.05)
                    lines.append(await adapter.attention())
            out["lines"] = [line for line in lines if line]
            out["quiet"] = await adapter.attention()
            key = re.search(r"\[key (\S+)\]", " ".join(lines)).group(1)  # type: ignore[union-attr]
            out["answered"] = await adapter.call(
                "task_answer", {"task_id": release, "key": key, "answer": {"approve": True}}
            )
            # With the option on, the news rides on the next tool result the model gets.
            adapter.attention_in_results = True
            text = await adapter.call("latest_version", {})
            with anyio.fail_after(60):
                while "\n" not in text:
                    await anyio.sleep(0.05)
                    text = await adapter.call("latest_version", {})
            out["inline"] = text
            out["after"] = await adapter.attention()
        return out

    out = _run(scenario)
    release, pipeline = out["ids"]
    seen = " | ".join(out["lines"])
    assert f"task {pipeline} (tool run_pipeline) completed" in seen
    assert (
        f"task {release} (tool release) needs input: [key " in seen
        and '"All 5 steps passed. Ship 3.0.0 to production?" fields: approve (boolean, required, Ship it?); '
        "answer with task_answer"
        in seen
    )
    assert seen.count("completed") == 1 and seen.count("needs input") == 1  # each told once
    assert all("\n" not in line for line in out["lines"])
    assert out["quiet"] == ""
    assert out["answered"].startswith(f"task {release} (tool release): answer to ")
    assert out["inline"] == f"1.4.0\ntask {release} (tool release) completed"
    assert out["after"] == ""


def test_attention_drops_a_task_the_server_forgot_and_keeps_one_it_cannot_reach(demo_url: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal"

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with TaskClient(demo_url, journal=journal, answers_later=True) as client:
            assert client.journal is not None
            client.journal.started(demo_url, "gone-task", "build", {}, "working")
            adapter = TaskToolAdapter(client)
            adapter.remember("gone-task", "build")
            out["first"] = await adapter.attention()
            out["second"] = await adapter.attention()
            out["journal"] = client.journal.get(demo_url, "gone-task")
        dead = f"http://127.0.0.1:{free_port()}/mcp"
        async with TaskClient(dead, retry_for_s=3.0) as client:
            adapter = TaskToolAdapter(client)
            adapter.remember("some-task", "build")
            out["unreachable"] = await adapter.attention()
            out["still_watched"] = list(adapter.watch.watched)
        return out

    out = _run(scenario)
    assert out["first"].startswith("task gone-task (tool build) is no longer known to the server: ")
    assert out["second"] == ""
    assert out["journal"] is None
    assert out["unreachable"] == "" and out["still_watched"] == ["some-task"]
