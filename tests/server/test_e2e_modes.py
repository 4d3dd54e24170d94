"""Per-tool task modes over real HTTP: forbidden, optional, required, auto; legacy clients; MRTR first."""

from __future__ import annotations

from pathlib import Path

import httpx

from helpers import EXT, LEGACY, Client, ServerProcess, elicit_accept, parse_body, text_of


def test_forbidden_tool_is_inline_even_when_the_extension_is_declared(client: Client) -> None:
    result = client.call("never_task", {"x": 7})
    assert result["resultType"] == "complete"
    assert "taskId" not in result
    assert text_of(result) == "forbidden:7"


def test_optional_tool_is_a_task_with_the_extension(client: Client) -> None:
    created = client.call("maybe_task", {"x": 1})
    assert created["resultType"] == "task"
    assert created["status"] in ("working", "completed")
    done = client.wait_for(created["taskId"])
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "optional:1"


def test_optional_tool_is_inline_without_the_extension(client: Client) -> None:
    result = client.call("maybe_task", {"x": 2}, ext=False)
    assert result["resultType"] == "complete"
    assert "taskId" not in result
    assert text_of(result) == "optional:2"


def test_required_tool_is_a_task_with_the_extension(client: Client) -> None:
    task_id = client.start_task("always_task", {"x": 3})
    done = client.wait_for(task_id)
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "required:3"


def test_required_tool_without_the_extension_is_refused_with_32021(client: Client) -> None:
    reply = client.message("tools/call", {"name": "always_task", "arguments": {"x": 4}}, ext=False)
    assert "result" not in reply
    error = reply["error"]
    assert error["code"] == -32021
    assert EXT in error["data"]["requiredCapabilities"]["extensions"]


def test_auto_tool_answers_a_fast_call_inline(client: Client, marker: str) -> None:
    result = client.call("auto_tool", {"path": marker, "gated": False})
    assert result["resultType"] == "complete"
    assert "taskId" not in result
    assert text_of(result) == "auto done after 1 start(s)"


def test_auto_tool_becomes_a_task_after_its_budget_and_the_same_run_finishes(client: Client, marker: str) -> None:
    created = client.call("auto_tool", {"path": marker, "gated": True})
    assert created["resultType"] == "task"
    assert created["status"] == "working"
    Path(marker + ".go").write_text("go")
    done = client.wait_for(created["taskId"])
    assert done["status"] == "completed"
    # One execution only: promotion did not restart the tool.
    assert text_of(done["result"]) == "auto done after 1 start(s)"
    assert Path(marker + ".starts").read_text() == "1"


def test_legacy_task_param_is_tolerated(client: Client) -> None:
    params = {"name": "maybe_task", "arguments": {"x": 5}, "task": {"ttl": 1000, "pollInterval": 100}}
    created = client.request("tools/call", params)
    assert created["resultType"] == "task"
    assert text_of(client.wait_for(created["taskId"])["result"]) == "optional:5"
    inline = client.request("tools/call", params, ext=False)
    assert inline["resultType"] == "complete"
    assert text_of(inline) == "optional:5"


def test_a_2025_11_25_session_never_gets_a_task(e2e_server: ServerProcess) -> None:
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    caps = {"extensions": {EXT: {}}}  # even a legacy client that (wrongly) declares the extension
    with httpx.Client(timeout=20) as http:
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": caps, "clientInfo": {"name": "old", "version": "0"}},
        }
        r = http.post(e2e_server.url, headers=accept, json=init)
        assert r.status_code == 200, r.text
        assert parse_body(r)[-1]["result"]["protocolVersion"] == LEGACY
        session = r.headers["mcp-session-id"]
        headers = {**accept, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        r = http.post(e2e_server.url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert r.status_code < 300
        for rid, tool in ((2, "maybe_task"), (3, "always_task")):
            call = {
                "jsonrpc": "2.0",
                "id": rid,
                "method": "tools/call",
                "params": {"name": tool, "arguments": {"x": 9}},
            }
            reply = next(
                m for m in parse_body(http.post(e2e_server.url, headers=headers, json=call)) if m.get("id") == rid
            )
            if tool == "maybe_task":
                result = reply["result"]
                assert "taskId" not in result
                assert result.get("resultType", "complete") != "task"
                assert text_of(result) == "optional:9"
            else:
                # A required tool cannot run for a client that can never hold a task; the message says
                # what would work, since this protocol cannot declare the extension.
                assert reply["error"]["code"] == -32021
                message = reply["error"]["message"]
                assert "runs only as a task" in message and "2026-07-28 client" in message, message
                assert reply["error"]["data"]["requiredCapabilities"]["extensions"] == {EXT: {}}
        http.delete(e2e_server.url, headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})


def test_mrtr_before_the_task_then_a_task_on_the_retry(client: Client) -> None:
    first = client.call("confirm_first")
    assert first["resultType"] == "input_required"
    assert "taskId" not in first
    request = first["inputRequests"]["confirm"]
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Really do it?"

    retry = client.request(
        "tools/call", {"name": "confirm_first", "arguments": {}, "inputResponses": {"confirm": elicit_accept(ok=True)}}
    )
    assert retry["resultType"] == "task"
    done = client.wait_for(retry["taskId"])
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "confirmed ok=True"


def test_mrtr_from_a_sync_tool_is_answered_before_any_task(client: Client) -> None:
    """A `def` tool runs in a worker thread; its declared budget_s covers the MRTR round."""
    first = client.call("confirm_first_sync")
    assert first["resultType"] == "input_required"
    assert "taskId" not in first
    retry = client.request(
        "tools/call",
        {"name": "confirm_first_sync", "arguments": {}, "inputResponses": {"confirm": elicit_accept(ok=True)}},
    )
    # required: even a call that finished within its budget is answered with a (completed) task
    assert retry["resultType"] == "task"
    done = client.wait_for(retry["taskId"])
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "confirmed"
