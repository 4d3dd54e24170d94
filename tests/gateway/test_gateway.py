"""`offload gateway` end to end: real gateway processes in front of real, unchanged MCP servers.

Upstreams: tests/servers/gateway_upstream.py (an SDK server, 2025-11-25-only with `--legacy`, over
stdio or HTTP) and the official `@modelcontextprotocol/server-everything` from npm over stdio.
Downstream: the raw 2026-07-28 client of tests/helpers.py, plus the SDK client in legacy mode.
Upstream tools that must be observed wait for gate files and write marker files, so no assertion
depends on timing; the deadlines are generous.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from gateway_harness import (
    LEGACY_UPSTREAM,
    Gateway,
    read_resource,
    result_of,
    touch,
)
from mcp.client import Client as SdkClient
from mcp.client.session import ClientRequestContext

from helpers import (
    DEADLINE_S,
    Client,
    elicit_accept,
    text_of,
    wait_until,
)


@pytest.fixture(scope="module")
def legacy_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway in front of a 2025-11-25-only SDK server over stdio (the common case in the wild)."""
    gw = Gateway(tmp_path_factory.mktemp("gw-legacy"), ["--upstream", LEGACY_UPSTREAM])
    yield gw
    gw.stop()


@pytest.fixture
def gc(legacy_gateway: Gateway) -> Iterator[Client]:
    c = legacy_gateway.client()
    yield c
    c.close()


# -- passthrough --


def test_tools_resources_and_prompts_pass_through(gc: Client) -> None:
    names = {t["name"] for t in gc.request("tools/list")["tools"]}
    assert {"quick", "slow", "approve", "hang", "crash", "add_tool"} <= names
    slow = next(t for t in gc.request("tools/list")["tools"] if t["name"] == "slow")
    assert slow["inputSchema"]["required"] == ["steps", "marker"]

    assert [r["uri"] for r in gc.request("resources/list")["resources"]] == ["note://hello"]
    assert read_resource(gc, "note://hello")["contents"][0]["text"] == "hello from upstream"
    templates = gc.request("resources/templates/list")["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["note://item/{item}"]
    assert read_resource(gc, "note://item/7")["contents"][0]["text"] == "item 7"

    assert [p["name"] for p in gc.request("prompts/list")["prompts"]] == ["greet"]
    prompt = gc.request("prompts/get", {"name": "greet", "arguments": {"name": "Ada"}})
    assert prompt["messages"][0]["content"]["text"] == "Say hello to Ada."


def test_a_fast_call_is_answered_inline(gc: Client) -> None:
    result = gc.call("quick", {"x": 7})
    assert result.get("resultType") == "complete", result
    assert text_of(result) == "quick:7"
    # The upstream's own serverInfo stamp does not leak through; the gateway's is there.
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "offload-gateway"


def test_an_upstream_json_rpc_error_fails_the_task(gc: Client) -> None:
    task_id = gc.start_task("fail", {"message": "disk full"})  # mode = "required" in the config
    task = gc.wait_for(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == -32099
    assert task["error"]["message"] == "disk full"


def test_an_unknown_tool_is_an_error(gc: Client) -> None:
    reply = gc.message("tools/call", {"name": "no-such-tool", "arguments": {}})
    error = reply.get("error") or {}
    result = reply.get("result") or {}
    assert error or result.get("isError") or result.get("resultType") == "task", reply


# -- a slow call becomes a task; progress is its statusMessage --


def test_slow_upstream_call_becomes_a_task_with_progress_as_status_message(gc: Client, marker: str) -> None:
    created = gc.call("slow", {"steps": 2, "marker": marker})
    assert created["resultType"] == "task", created
    task_id = created["taskId"]
    gc.wait_until_task(task_id, lambda t: t.get("statusMessage") == "step 1/2", "statusMessage 'step 1/2'")
    touch(f"{marker}.go1")
    gc.wait_until_task(task_id, lambda t: t.get("statusMessage") == "step 2/2", "statusMessage 'step 2/2'")
    touch(f"{marker}.go2")
    done = gc.wait_for(task_id)
    assert done["status"] == "completed", done
    assert text_of(done["result"]) == "slow done after 2 steps"
    assert done["result"]["structuredContent"] == {"result": "slow done after 2 steps"}


def test_a_caller_without_the_extension_gets_the_result_inline(gc: Client, marker: str) -> None:
    def open_gates() -> None:
        wait_until(lambda: Path(f"{marker}.started").exists(), what="the upstream tool to start")
        touch(f"{marker}.go1")

    opener = threading.Thread(target=open_gates, daemon=True)
    opener.start()
    result = gc.call("slow", {"steps": 1, "marker": marker}, ext=False)
    opener.join()
    assert result.get("resultType") == "complete", result
    assert text_of(result) == "slow done after 1 steps"


# -- elicitation through tasks/update --


def test_upstream_elicitation_round_trips_through_tasks_update(gc: Client, marker: str) -> None:
    task_id = gc.start_task("approve", {"change": "v2", "marker": marker})
    touch(f"{marker}.go")
    task = gc.wait_for(task_id, ("input_required",))
    [(key, request)] = task["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Approve v2?"
    # The upstream's requestedSchema arrives unchanged (pydantic's schema of its `Approval` model).
    assert request["params"]["requestedSchema"] == {
        "properties": {
            "approve": {"title": "Approve", "type": "boolean"},
            "note": {"default": "", "title": "Note", "type": "string"},
        },
        "required": ["approve"],
        "title": "Approval",
        "type": "object",
    }
    gc.update(task_id, {key: elicit_accept(approve=True, note="lgtm")})
    done = gc.wait_for(task_id)
    assert done["status"] == "completed", done
    assert text_of(done["result"]) == "v2: approved (lgtm)"


def test_a_declined_elicitation_reaches_the_upstream(gc: Client, marker: str) -> None:
    task_id = gc.start_task("approve", {"change": "v3", "marker": marker})
    touch(f"{marker}.go")
    [key] = gc.wait_for(task_id, ("input_required",))["inputRequests"]
    gc.update(task_id, {key: {"action": "decline"}})
    assert text_of(gc.wait_for(task_id)["result"]) == "v3: decline"


def test_elicitation_with_two_calls_in_flight_is_refused_clearly(gc: Client, tmp_path: Path) -> None:
    """2025-11-25 limit: a server-to-client request does not name its call; with two in flight it is refused."""
    other = gc.start_task("hang", {"marker": str(tmp_path / "other")})
    wait_until(lambda: (tmp_path / "other.started").exists(), what="the first call to start upstream")
    asker = gc.start_task("approve", {"change": "v4", "marker": str(tmp_path / "ask")})
    touch(str(tmp_path / "ask.go"))
    task = gc.wait_for(asker)
    assert task["status"] == "failed", task
    assert "cannot route elicitation/create" in task["statusMessage"]
    assert "2 tools/call requests are in flight" in task["statusMessage"]
    gc.cancel(other)
    assert gc.wait_for(other)["status"] == "cancelled"


# -- cancellation reaches the upstream --


def test_tasks_cancel_cancels_the_upstream_request(gc: Client, marker: str) -> None:
    task_id = gc.start_task("hang", {"marker": marker})
    wait_until(lambda: Path(f"{marker}.started").exists(), what="the upstream tool to start")
    assert gc.cancel(task_id)["resultType"] == "complete"
    assert gc.wait_for(task_id)["status"] == "cancelled"
    # notifications/cancelled reached the upstream server, whose tool ran its finally: block.
    wait_until(lambda: Path(f"{marker}.cancelled").exists(), what="the upstream to record the cancellation")


# -- list changes are followed --


def test_upstream_list_changes_are_followed(gc: Client) -> None:
    name = f"extra_{uuid.uuid4().hex[:8]}"
    assert gc.request("tools/list")["tools"]  # cached now
    assert text_of(result_of(gc, "add_tool", {"name": name})) == f"added {name}"
    wait_until(
        lambda: name in {t["name"] for t in gc.request("tools/list")["tools"]},
        what=f"tools/list to show {name} after notifications/tools/list_changed",
    )
    assert text_of(result_of(gc, name)) == f"{name} is here"


def test_upstream_list_changes_reach_the_gateways_listen_streams(legacy_gateway: Gateway) -> None:
    name = f"heard_{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        with anyio.fail_after(DEADLINE_S * 2):
            async with SdkClient(legacy_gateway.url, mode="2026-07-28") as client:
                async with client.listen(tools_list_changed=True) as sub:
                    await client.call_tool("add_tool", {"name": name})
                    event = await sub.__anext__()
                    assert type(event).__name__ == "ToolsListChanged", event
                assert name in {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}

    anyio.run(run)


# -- a 2025-11-25 caller (SDK client, initialize handshake) through the gateway --


def test_a_legacy_sdk_client_gets_elicitation_and_progress_on_its_own_stream(
    legacy_gateway: Gateway, marker: str
) -> None:
    asked: list[dict[str, Any]] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_elicit(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.model_dump(by_alias=True, mode="json", exclude_none=True))
        return types.ElicitResult(action="accept", content={"approve": False, "note": "not today"})

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))
        if message == "step 1/1":
            touch(f"{marker}.go1")

    async def run() -> None:
        with anyio.fail_after(DEADLINE_S * 2):
            await exchange()

    async def exchange() -> None:
        async with SdkClient(legacy_gateway.url, mode="legacy", elicitation_callback=on_elicit) as client:
            assert client.protocol_version == "2025-11-25"
            touch(f"{marker}.go")
            answer = await client.call_tool("approve", {"change": "v5", "marker": marker})
            assert answer.content[0].text == "v5: rejected (not today)"  # type: ignore[union-attr]
            done = await client.call_tool("slow", {"steps": 1, "marker": marker}, progress_callback=on_progress)
            assert done.content[0].text == "slow done after 1 steps"  # type: ignore[union-attr]

    anyio.run(run)
    assert asked and asked[0]["message"] == "Approve v5?"
    assert (0.0, 1.0, "step 1/1") in progress
