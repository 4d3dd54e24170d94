"""Behaviour issue 9 asks of the server, found by driving it with clients nobody here wrote.

Each case is written on the raw wire (tests/helpers.py), where no real client can express it
precisely. The ones whose server fix is pending are marked xfail(strict=True): they fail today
and must pass once the fix lands (then the mark goes). The server is tests/interop/server.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import ACCEPT, DEADLINE_S, EXT, MODERN, TERMINAL, ServerProcess, parse_body, wait_until

ELICIT_FORM: dict[str, Any] = {"elicitation": {}, "extensions": {EXT: {}}}
TASKS_ONLY: dict[str, Any] = {"extensions": {EXT: {}}}
URL_ONLY: dict[str, Any] = {"elicitation": {"url": {}}, "extensions": {EXT: {}}}
_ids = itertools.count(1)


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")


def rpc(url: str, method: str, params: dict[str, Any], caps: dict[str, Any], *, name: str | None = None) -> Any:
    """One 2026-07-28 request declaring exactly `caps`; its result, or RpcFailure."""
    if name is None and method.startswith("tasks/") and isinstance(params.get("taskId"), str):
        name = params["taskId"]
    elif name is None and method == "tools/call":
        name = params["name"]
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN}
    headers["Mcp-Method"] = method
    if name is not None:
        headers["Mcp-Name"] = name
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": caps}
    rid = next(_ids)
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": meta}}
    response = httpx.post(url, content=json.dumps(body), headers=headers, timeout=DEADLINE_S)
    assert response.status_code < 500, response.text
    reply = next(m for m in parse_body(response) if m.get("id") == rid)
    if "error" in reply:
        raise RpcFailure(reply["error"])
    return reply["result"]


def start(url: str, tool: str, arguments: dict[str, Any], caps: dict[str, Any]) -> str:
    created = rpc(url, "tools/call", {"name": tool, "arguments": arguments}, caps)
    assert created.get("resultType") == "task", created
    return str(created["taskId"])


def get(url: str, task_id: str, caps: dict[str, Any] = TASKS_ONLY) -> dict[str, Any]:
    return dict(rpc(url, "tasks/get", {"taskId": task_id}, caps))


def wait_status(url: str, task_id: str, statuses: tuple[str, ...], caps: dict[str, Any]) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        task = get(url, task_id, caps)
        return task if task["status"] in statuses else None

    return dict(wait_until(check, what=f"task {task_id[:8]} to reach {statuses}"))


def parked(url: str, change: str) -> tuple[str, str]:
    """An `approve` task waiting for its answer, asked by a client that declared form elicitation."""
    task_id = start(url, "approve", {"change": change}, ELICIT_FORM)
    task = wait_status(url, task_id, ("input_required",), ELICIT_FORM)
    [key] = task["inputRequests"]
    return task_id, key


def text_of(result: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in result.get("content", []))


# -- item 2: capability-gated input --


def test_a_client_that_declared_elicitation_is_asked_through_input_requests(direct: ServerProcess) -> None:
    task_id, key = parked(direct.url, "v1")
    request = get(direct.url, task_id, ELICIT_FORM)["inputRequests"][key]
    assert request["method"] == "elicitation/create"
    assert request["params"]["requestedSchema"]["properties"]["approve"]["type"] == "boolean"
    rpc(direct.url, "tasks/cancel", {"taskId": task_id}, ELICIT_FORM)


@pytest.mark.parametrize(
    ("tool", "arguments", "caps", "method", "answer", "text"),
    [
        (
            "sample",
            {"topic": "tides"},
            {"sampling": {}, "extensions": {EXT: {}}},
            "sampling/createMessage",
            {"role": "assistant", "model": "m", "content": {"type": "text", "text": "they turn"}},
            "sampled: they turn",
        ),
        (
            "roots",
            {},
            {"roots": {}, "extensions": {EXT: {}}},
            "roots/list",
            {"roots": [{"uri": "file:///w"}]},
            "roots: file:///w",
        ),
    ],
)
def test_declared_sampling_and_roots_are_asked_and_answered_through_tasks_update(
    direct: ServerProcess,
    tool: str,
    arguments: dict[str, Any],
    caps: dict[str, Any],
    method: str,
    answer: dict[str, Any],
    text: str,
) -> None:
    task_id = start(direct.url, tool, arguments, caps)
    task = wait_status(direct.url, task_id, ("input_required",), caps)
    [(key, request)] = task["inputRequests"].items()
    assert request["method"] == method
    rpc(direct.url, "tasks/update", {"taskId": task_id, "inputResponses": {key: answer}}, caps)
    done = wait_status(direct.url, task_id, TERMINAL, caps)
    assert done["status"] == "completed" and text_of(done["result"]) == text, done


@pytest.mark.parametrize(
    ("tool", "arguments", "caps", "missing"),
    [
        ("approve", {"change": "v2"}, TASKS_ONLY, "elicitation"),
        ("approve", {"change": "v2"}, URL_ONLY, "form"),
        ("sample", {"topic": "tides"}, ELICIT_FORM, "sampling"),
        ("roots", {}, ELICIT_FORM, "roots"),
    ],
)
def test_a_question_the_client_cannot_answer_fails_the_task_at_once(
    direct: ServerProcess, tool: str, arguments: dict[str, Any], caps: dict[str, Any], missing: str
) -> None:
    """Never parked: -32021 naming what the client did not declare, on the call itself when the tool asks
    before any task exists, else as the `failed` task's error."""
    try:
        task_id = start(direct.url, tool, arguments, caps)
    except RpcFailure as exc:
        assert exc.code == -32021 and missing in exc.message.lower(), exc
        assert missing in json.dumps(exc.data).lower()
        return
    seen: list[str] = []

    def settled() -> dict[str, Any] | None:
        task = get(direct.url, task_id, caps)
        seen.append(task["status"])
        return task if task["status"] in (*TERMINAL, "input_required") else None

    task = wait_until(settled, timeout=5.0, what="the task to settle")
    if task["status"] == "input_required":
        rpc(direct.url, "tasks/cancel", {"taskId": task_id}, caps)
    assert "input_required" not in seen, f"parked for an answer the client cannot give: {task}"
    assert task["status"] == "failed", task
    said = json.dumps([task.get("statusMessage"), task.get("error")]).lower()
    assert missing in said, task


def test_the_tool_can_catch_the_unanswerable_question(direct: ServerProcess) -> None:
    created = rpc(direct.url, "tools/call", {"name": "approve_or_default", "arguments": {"change": "v3"}}, TASKS_ONLY)
    if created.get("resultType") == "task":  # it may also finish inline, within its budget
        task = wait_status(direct.url, created["taskId"], (*TERMINAL, "input_required"), TASKS_ONLY)
        if task["status"] == "input_required":
            rpc(direct.url, "tasks/cancel", {"taskId": created["taskId"]}, TASKS_ONLY)
        assert task["status"] == "completed", task
        result = task["result"]
    else:
        result = created
    text = text_of(result)
    assert text.startswith("v3: not asked") and "elicitation" in text.lower(), text


# -- item 4: answers are validated before the tool sees them --


def test_invalid_answers_are_refused_and_the_question_stays_open(direct: ServerProcess) -> None:
    task_id, key = parked(direct.url, "v4")
    try:
        for answer, words in (
            ({"action": "not-an-action", "content": 42}, ("action",)),
            ({"action": "accept", "content": {"approve": "yes"}}, ("approve", "boolean")),
        ):
            with pytest.raises(RpcFailure) as caught:
                rpc(direct.url, "tasks/update", {"taskId": task_id, "inputResponses": {key: answer}}, ELICIT_FORM)
            assert caught.value.code == -32602, caught.value
            said = f"{caught.value.message} {json.dumps(caught.value.data)}"
            assert key in said and all(w in said for w in words), said
            task = get(direct.url, task_id, ELICIT_FORM)
            assert task["status"] == "input_required" and key in task["inputRequests"], task
        good = {key: {"action": "accept", "content": {"approve": True}}}
        rpc(direct.url, "tasks/update", {"taskId": task_id, "inputResponses": good}, ELICIT_FORM)
        done = wait_status(direct.url, task_id, TERMINAL, ELICIT_FORM)
        assert done["status"] == "completed" and text_of(done["result"]) == "v4: approved", done
    finally:
        with contextlib.suppress(RpcFailure):
            rpc(direct.url, "tasks/cancel", {"taskId": task_id}, ELICIT_FORM)


# -- item 5: -32602 says which field and what was expected --


@pytest.mark.parametrize(
    ("method", "params", "words"),
    [
        ("tasks/get", {}, ("taskId",)),
        ("tasks/cancel", {}, ("taskId",)),
        ("tasks/update", {"inputResponses": {}}, ("taskId",)),
        ("tasks/update", {"taskId": "t-1"}, ("inputResponses",)),
        ("tasks/update", {"taskId": "t-1", "inputResponses": []}, ("inputResponses", "object")),
    ],
)
def test_params_errors_name_the_field(
    direct: ServerProcess, method: str, params: dict[str, Any], words: tuple[str, ...]
) -> None:
    with pytest.raises(RpcFailure) as caught:
        rpc(direct.url, method, params, TASKS_ONLY, name="t-1" if "taskId" in params else None)
    assert caught.value.code == -32602
    said = f"{caught.value.message} {json.dumps(caught.value.data)}"
    assert all(w in said for w in words), said


# -- item 7: a TTL that runs out while the task runs --


class Listener:
    """A `subscriptions/listen` stream for some task ids, read on a thread; frames kept in order."""

    def __init__(self, url: str, task_ids: list[str]) -> None:
        self.frames: list[dict[str, Any]] = []
        self.ended = threading.Event()
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": TASKS_ONLY,
        }
        body = {
            "jsonrpc": "2.0",
            "id": "listen-1",
            "method": "subscriptions/listen",
            "params": {"notifications": {"taskIds": task_ids}, "_meta": meta},
        }
        headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN}
        headers["Mcp-Method"] = "subscriptions/listen"
        self._client = httpx.Client(timeout=httpx.Timeout(DEADLINE_S, read=None))
        self._args = (url, json.dumps(body), headers)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        url, body, headers = self._args
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        self.frames.append(json.loads(line[5:]))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def task_frames(self, task_id: str) -> list[dict[str, Any]]:
        return [
            f["params"]
            for f in self.frames
            if f.get("method") == "notifications/tasks" and f.get("params", {}).get("taskId") == task_id
        ]

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def listener_factory() -> Iterator[Any]:
    made: list[Listener] = []

    def make(url: str, task_ids: list[str]) -> Listener:
        made.append(Listener(url, task_ids))
        return made[-1]

    yield make
    for listener in made:
        listener.close()


def test_a_running_task_whose_ttl_runs_out_ends_and_says_so(
    direct: ServerProcess, markers: Path, listener_factory: Any
) -> None:
    """`outlive` has a 1.5 s TTL and runs 30 s: at the TTL it ends, visibly, and its work stops."""
    marker = str(markers / "ttl")
    task_id = start(direct.url, "outlive", {"seconds": 30, "marker": marker}, TASKS_ONLY)
    listener = listener_factory(direct.url, [task_id])
    wait_until(lambda: listener.task_frames(task_id), what="the task's first notifications/tasks frame")

    def ended() -> dict[str, Any] | None:
        try:
            task = get(direct.url, task_id)
        except RpcFailure as exc:
            raise AssertionError(f"tasks/get stopped answering at the TTL instead of reporting it: {exc}") from exc
        return task if task["status"] in TERMINAL else None

    task = wait_until(ended, what="the task to end at its TTL")
    assert "ttl" in str(task.get("statusMessage", "")).lower(), task
    assert get(direct.url, task_id)["status"] == task["status"]  # still answered: the grace period
    wait_until(lambda: any(f["status"] in TERMINAL for f in listener.task_frames(task_id)), what="a terminal frame")
    wait_until(lambda: Path(f"{marker}.stopped").exists(), what="the tool to be stopped")


def test_a_task_ended_by_its_ttl_is_purged_after_the_grace_period(direct: ServerProcess, markers: Path) -> None:
    task_id = start(direct.url, "outlive", {"seconds": 30, "marker": str(markers / "ttl-purge")}, TASKS_ONLY)
    statuses: list[str] = []

    def purged() -> bool:
        try:
            statuses.append(get(direct.url, task_id)["status"])
        except RpcFailure as exc:
            assert exc.code == -32602, exc
            return True
        return False

    wait_until(purged, timeout=DEADLINE_S, what="the expired task to be purged")
    assert any(s in TERMINAL for s in statuses), f"never seen ended before it vanished: {statuses}"


def test_a_listen_stream_that_overflows_ends_with_an_error(direct: ServerProcess, markers: Path) -> None:
    """A subscriber that stops reading falls behind by more than the backlog: the server ends its
    stream, and says so with a JSON-RPC error rather than an ordinary result."""
    marker = str(markers / "chatter")
    task_id = start(direct.url, "chatter", {"marker": marker}, TASKS_ONLY)
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": TASKS_ONLY}
    body = {
        "jsonrpc": "2.0",
        "id": "listen-overflow",
        "method": "subscriptions/listen",
        "params": {"notifications": {"taskIds": [task_id]}, "_meta": meta},
    }
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN}
    headers["Mcp-Method"] = "subscriptions/listen"
    count = Path(f"{marker}.count")
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(DEADLINE_S)) as http,
            http.stream("POST", direct.url, content=json.dumps(body), headers=headers) as response,
        ):
            # Not reading: ~64 MB of changes cannot all sit in socket buffers and a 1024-frame backlog.
            wait_until(lambda: count.exists() and int(count.read_text() or 0) >= 4000, what="4000 status changes")
            messages = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]
    finally:
        Path(f"{marker}.stop").write_text("stop")
    final = [m for m in messages if m.get("id") == "listen-overflow"]
    assert final, f"the stream ended without a final message after {len(messages)} frames"
    assert "error" in final[-1], final[-1]
    assert "result" not in final[-1]
