"""Security over real HTTP: unguessable ids, auth binding, size limits, malformed input, Host/Origin checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import Client, ServerProcess, elicit_accept, free_port, meta, parse_body, text_of

URL_SAFE_256_BITS = re.compile(r"^[A-Za-z0-9_-]{43,}$")


def test_task_ids_are_unguessable(client: Client) -> None:
    ids = {client.start_task("always_task", {"x": i}) for i in range(5)}
    assert len(ids) == 5
    for task_id in ids:
        assert URL_SAFE_256_BITS.match(task_id), task_id


# -- auth binding --


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("auth-server")
    port = free_port()
    srv = ServerProcess(
        "auth_server.py", base / "tasks.db", base / "server.log", port=port, env={"OFFLOAD_TEST_PORT": str(port)}
    )
    yield srv
    srv.stop()


def _error(reply: dict[str, Any]) -> dict[str, Any]:
    assert "result" not in reply, reply
    return reply["error"]


def test_another_callers_task_looks_exactly_like_an_unknown_one(auth_server: ServerProcess) -> None:
    alice = Client(auth_server.url, token="alice-token")
    bob = Client(auth_server.url, token="bob-token")
    try:
        task_id = alice.start_task("ask_name")
        [key] = alice.wait_for(task_id, ("input_required",))["inputRequests"]
        unknown = "u" * len(task_id)
        for method, params in (
            ("tasks/get", {}),
            ("tasks/update", {"inputResponses": {key: elicit_accept(name="Bob")}}),
            ("tasks/cancel", {}),
        ):
            bobs = _error(bob.message(method, {"taskId": task_id, **params}))
            not_found = _error(bob.message(method, {"taskId": unknown, **params}))
            assert bobs == not_found
            assert bobs["code"] == -32602
        # Bob's update and cancel did nothing; alice still owns a waiting task.
        task = alice.get(task_id)
        assert task["status"] == "input_required"
        assert list(task["inputRequests"]) == [key]
        alice.update(task_id, {key: elicit_accept(name="Alice")})
        assert text_of(alice.wait_for(task_id)["result"]) == "Hello, Alice!"
        assert alice.cancel(task_id)["resultType"] == "complete"
    finally:
        alice.close()
        bob.close()


def test_unauthenticated_requests_are_rejected(auth_server: ServerProcess) -> None:
    anonymous = Client(auth_server.url)
    try:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "quick", "arguments": {}}}
        body["params"]["_meta"] = meta()
        r = anonymous.post(body, anonymous.headers("tools/call", "quick"))
        assert r.status_code == 401
        bad = Client(auth_server.url, token="mallory-token")
        r = bad.post(body, bad.headers("tools/call", "quick"))
        assert r.status_code == 401
        bad.close()
    finally:
        anonymous.close()


# -- size limits --


def test_oversized_input_responses_are_refused_and_leave_the_task_alone(client: Client) -> None:
    task_id = client.start_task("ask_name")  # the server allows 4096 bytes of inputResponses
    waiting = client.wait_for(task_id, ("input_required",))
    [key] = waiting["inputRequests"]
    reply = client.message(
        "tasks/update", {"taskId": task_id, "inputResponses": {key: elicit_accept(name="x" * 10_000)}}
    )
    error = _error(reply)
    assert error["code"] == -32602
    assert "inputResponses" in error["message"] and "4096" in error["message"]
    after = client.get(task_id)
    assert after["status"] == "input_required"
    assert after["inputRequests"] == waiting["inputRequests"]
    client.update(task_id, {key: elicit_accept(name="Small")})
    assert text_of(client.wait_for(task_id)["result"]) == "Hello, Small!"


def test_a_result_over_the_limit_fails_the_task_clearly(client: Client) -> None:
    failed = client.wait_for(client.start_task("huge_result"))  # returns ~200 KB; the limit is 64 KiB
    assert failed["status"] == "failed"
    assert "result" not in failed
    assert failed["error"]["code"] == -32603
    assert "over the store limit of 65536" in failed["error"]["message"]
    assert "bytes" in failed["statusMessage"]


# -- malformed requests --


def _malformed_cases(task_id: str) -> dict[str, tuple[str, Any, str | None]]:
    """name -> (method header, raw body, Mcp-Name header)."""

    def req(method: str, params: Any) -> str:
        return json.dumps({"jsonrpc": "2.0", "id": 77, "method": method, "params": params})

    m = meta()
    return {
        "invalid JSON": ("tasks/get", '{"jsonrpc": "2.0", "id": 77, "method": "tasks/get", ', task_id),
        "body not an object": ("tasks/get", "[1, 2]", task_id),
        "params not an object": ("tasks/get", req("tasks/get", [task_id]), None),
        "params a string": ("tasks/get", req("tasks/get", task_id), None),
        "taskId missing": ("tasks/get", req("tasks/get", {"_meta": m}), None),
        "taskId a number": ("tasks/get", req("tasks/get", {"taskId": 123, "_meta": m}), "123"),
        "taskId null": ("tasks/cancel", req("tasks/cancel", {"taskId": None, "_meta": m}), None),
        "taskId huge": ("tasks/get", req("tasks/get", {"taskId": "a" * 5000, "_meta": m}), "a" * 5000),
        "_meta not an object": ("tasks/get", req("tasks/get", {"taskId": task_id, "_meta": [1]}), task_id),
        "inputResponses a list": (
            "tasks/update",
            req("tasks/update", {"taskId": task_id, "inputResponses": [1], "_meta": m}),
            task_id,
        ),
        "inputResponses a string": (
            "tasks/update",
            req("tasks/update", {"taskId": task_id, "inputResponses": "yes", "_meta": m}),
            task_id,
        ),
        "inputResponses missing": ("tasks/update", req("tasks/update", {"taskId": task_id, "_meta": m}), task_id),
        "arguments not an object": (
            "tools/call",
            req("tools/call", {"name": "always_task", "arguments": [1], "_meta": m}),
            "always_task",
        ),
    }


def test_malformed_requests_get_json_rpc_errors_not_500s(client: Client) -> None:
    task_id = client.start_task("ask_name")
    waiting = client.wait_for(task_id, ("input_required",))
    for name, (method, body, mcp_name) in _malformed_cases(task_id).items():
        response = client.post(body, client.headers(method, mcp_name))
        assert response.status_code < 500, f"{name}: HTTP {response.status_code}"
        assert "Traceback" not in response.text and 'File "' not in response.text, f"{name}: {response.text}"
        [message] = [m for m in parse_body(response) if "error" in m]
        assert isinstance(message["error"]["code"], int), name
        assert message["error"]["code"] in (-32700, -32600, -32602, -32020), f"{name}: {message}"
        assert "result" not in message, name
    # The task and the server are unharmed.
    assert client.get(task_id)["inputRequests"] == waiting["inputRequests"]
    client.cancel(task_id)
    assert text_of(client.call("never_task", {"x": 1})) == "forbidden:1"


def test_a_malformed_answer_does_not_wedge_the_task(client: Client) -> None:
    task_id = client.start_task("ask_name")
    [key] = client.wait_for(task_id, ("input_required",))["inputRequests"]
    reply = client.message("tasks/update", {"taskId": task_id, "inputResponses": {key: "not an ElicitResult"}})
    # Refused before the tool sees it, and the question stays open: never consumed, never a hang.
    assert reply["error"]["code"] == -32602 and key in reply["error"]["message"]
    assert list(client.get(task_id)["inputRequests"]) == [key]
    client.update(task_id, {key: {"action": "decline"}})
    assert text_of(client.wait_for(task_id)["result"]) == "no name (decline)"


# -- DNS rebinding protection --


@pytest.mark.parametrize(
    "evil", [{"Host": "evil.example.com"}, {"Origin": "http://evil.example.com"}], ids=["host", "origin"]
)
def test_foreign_host_or_origin_is_refused(client: Client, evil: dict[str, str]) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "never_task", "arguments": {"x": 1}, "_meta": meta()},
    }
    response = client.post(body, {**client.headers("tools/call", "never_task"), **evil})
    assert 400 <= response.status_code < 500
    # The same request from a local origin works.
    assert client.post(body, client.headers("tools/call", "never_task")).status_code == 200
