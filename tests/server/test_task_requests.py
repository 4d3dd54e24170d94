"""What every tasks/* request is checked for, over real HTTP: params, answers, routing header, version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import LEGACY, Client, RpcError, ServerProcess, elicit_accept, meta, parse_body, text_of


def rpc_error(fn, *args, **kw) -> RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(RpcError) as info:
        fn(*args, **kw)
    return info.value


def test_malformed_params_name_the_field_and_what_was_expected(client: Client) -> None:
    cases = {
        "tasks/get": ({}, "params.taskId must be a string", "missing"),
        "tasks/cancel": ({"taskId": 12}, "params.taskId must be a string", "got number"),
        "tasks/update": ({"taskId": "x"}, "params.inputResponses must be an object", "missing"),
    }
    for method, (params, wording, found) in cases.items():
        err = rpc_error(client.request, method, params, name=None)
        assert err.code == -32602, (method, err.error)
        assert wording in err.message and found in err.message, err.message
        assert err.data and err.data["field"] in ("taskId", "inputResponses")
    err = rpc_error(client.request, "tasks/update", {"taskId": "x", "inputResponses": [1]})
    assert "params.inputResponses must be an object mapping inputRequests keys" in err.message
    assert "got array" in err.message


def test_an_invalid_answer_is_refused_and_its_key_stays_open(client: Client) -> None:
    task_id = client.start_task("ask_name")
    waiting = client.wait_for(task_id, ("input_required",))
    [key] = waiting["inputRequests"]
    for bad, wording in (
        ({"action": "not-an-action", "content": 42}, "action must be one of accept, decline, cancel"),
        ({"action": "accept", "content": {"name": True}}, "content.name: True is not of type 'string'"),
        ({"action": "accept", "content": {}}, "content: 'name' is a required property"),
    ):
        err = rpc_error(client.update, task_id, {key: bad})
        assert err.code == -32602
        assert key in err.message and wording in err.message, err.message
        assert any(wording in problem for problem in err.data["invalidResponses"][key])
        assert client.get(task_id)["inputRequests"] == waiting["inputRequests"]  # nothing was taken
    client.update(task_id, {key: elicit_accept(name="Ada")})
    assert text_of(client.wait_for(task_id)["result"]) == "Hello, Ada!"


def test_an_update_with_one_invalid_answer_takes_none(client: Client) -> None:
    task_id = client.start_task("ask_two")
    two = client.wait_until_task(task_id, lambda t: len(t.get("inputRequests") or {}) == 2, "two open requests")
    first, second = two["inputRequests"]
    err = rpc_error(client.update, task_id, {first: elicit_accept(name="Ada"), second: {"action": "maybe"}})
    assert second in err.message and first not in err.data["invalidResponses"]
    assert client.get(task_id)["inputRequests"] == two["inputRequests"]
    client.cancel(task_id)


def test_a_legacy_request_hears_about_its_version_before_any_header(client: Client) -> None:
    legacy = {**meta(), "io.modelcontextprotocol/protocolVersion": LEGACY}
    body = {"jsonrpc": "2.0", "id": 5, "method": "tasks/get", "params": {"taskId": "t1", "_meta": legacy}}
    headers = {**client.headers("tasks/get", "not-t1"), "MCP-Protocol-Version": LEGACY}
    response = client.post(body, headers)
    assert response.status_code < 500
    messages = parse_body(response) if response.content else []
    codes = [m["error"]["code"] for m in messages if "error" in m]
    assert -32020 not in codes, messages


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("strict")
    srv = ServerProcess("e2e_server.py", base / "tasks.db", base / "server.log", args=["--strict-mcp-name"])
    yield srv
    srv.stop()


def test_strict_mode_refuses_a_missing_mcp_name(strict_server: ServerProcess) -> None:
    client = Client(strict_server.url)
    try:
        task_id = client.start_task("always_task", {"x": 1})
        err = rpc_error(client.get, task_id, name=None)
        assert err.code == -32020 and "required" in err.message
        assert client.get(task_id)["taskId"] == task_id  # with the header it is served
    finally:
        client.close()
