"""`offload gateway` in front of the official `@modelcontextprotocol/server-everything` from npm."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gateway_harness import (
    Gateway,
    read_resource,
    result_of,
)

from helpers import (
    TERMINAL,
    elicit_accept,
    text_of,
    wait_until,
)
from npm_upstreams import everything

# -- the official server-everything from npm --


@pytest.fixture(scope="module")
def everything_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    command, reason = everything()
    if command is None:
        pytest.skip(f"@modelcontextprotocol/server-everything cannot run here: {reason}")
    gw = Gateway(tmp_path_factory.mktemp("gw-everything"), ["--upstream", " ".join(command)])
    yield gw
    gw.stop()


def test_server_everything_long_running_operation_becomes_a_task(everything_gateway: Gateway) -> None:
    c = everything_gateway.client()
    try:
        assert text_of(result_of(c, "echo", {"message": "hi"})) == "Echo: hi"
        task_id = c.start_task("trigger-long-running-operation", {"duration": 2, "steps": 4})
        seen: set[str] = set()

        def finished() -> dict[str, Any] | None:
            task = c.get(task_id)
            if task.get("statusMessage"):
                seen.add(task["statusMessage"])
            return task if task["status"] in TERMINAL else None

        task = wait_until(finished, what="the long-running operation to finish")
        assert task["status"] == "completed", task
        assert "Long running operation completed" in text_of(task["result"])
        assert seen & {"1/4", "2/4", "3/4", "4/4"}, seen  # its progress notifications, as statusMessage
    finally:
        c.close()


def test_server_everything_elicitation_and_sampling_through_tasks_update(everything_gateway: Gateway) -> None:
    c = everything_gateway.client()
    try:
        names = {t["name"] for t in c.request("tools/list")["tools"]}
        assert {"trigger-elicitation-request", "trigger-sampling-request"} <= names  # it saw our capabilities

        task_id = c.start_task("trigger-elicitation-request")
        [(key, request)] = c.wait_for(task_id, ("input_required",))["inputRequests"].items()
        assert request["method"] == "elicitation/create"
        schema = request["params"]["requestedSchema"]
        assert schema["required"] == ["name"] and "enumNames" in schema["properties"]["legacyTitledEnum"]
        c.update(task_id, {key: elicit_accept(name="Ada Lovelace", check=True)})
        assert "Ada Lovelace" in text_of(c.wait_for(task_id)["result"])

        task_id = c.start_task("trigger-sampling-request", {"prompt": "2+2?", "maxTokens": 5})
        [(key, request)] = c.wait_for(task_id, ("input_required",))["inputRequests"].items()
        assert request["method"] == "sampling/createMessage"
        answer = {"role": "assistant", "content": {"type": "text", "text": "four"}, "model": "test-model"}
        c.update(task_id, {key: answer})
        assert '"text": "four"' in text_of(c.wait_for(task_id)["result"])
    finally:
        c.close()


def test_server_everything_resources_and_prompts(everything_gateway: Gateway) -> None:
    c = everything_gateway.client()
    try:
        resources = c.request("resources/list")["resources"]
        uri = resources[0]["uri"]
        assert read_resource(c, uri)["contents"][0]["uri"] == uri
        assert "simple-prompt" in {p["name"] for p in c.request("prompts/list")["prompts"]}
        assert c.request("prompts/get", {"name": "simple-prompt"})["messages"]
        ref = {"type": "ref/prompt", "name": "completable-prompt"}
        completion = c.request("completion/complete", {"ref": ref, "argument": {"name": "department", "value": "E"}})
        assert completion["completion"]["values"] == ["Engineering"]
    finally:
        c.close()
