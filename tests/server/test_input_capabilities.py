"""Input only a client can give: capability-gated inputRequests, and -32021 where no channel exists."""

from __future__ import annotations

import pytest

from helpers import EXT, Client, ServerProcess, text_of

NO_INPUT: dict[str, object] = {}  # a client that declared the extension and nothing it could answer with


@pytest.fixture
def bare(e2e_server: ServerProcess) -> Client:
    c = Client(e2e_server.url, caps=NO_INPUT)
    yield c  # type: ignore[misc]
    c.close()


@pytest.mark.parametrize(
    ("tool", "capability"), [("ask_name", "elicitation"), ("ask_sampling", "sampling"), ("ask_roots", "roots")]
)
def test_a_question_the_client_cannot_answer_fails_the_task_at_once(bare: Client, tool: str, capability: str) -> None:
    task_id = bare.start_task(tool)
    done = bare.wait_for(task_id, timeout=10)  # the input deadline is 900 s: this must not be it
    assert done["status"] == "failed", done
    assert done["error"]["code"] == -32021
    assert capability in done["error"]["message"]
    assert capability in done["error"]["data"]["requiredCapabilities"]
    assert "inputRequests" not in done


def test_a_tool_can_catch_the_refusal_and_carry_on(bare: Client) -> None:
    done = bare.wait_for(bare.start_task("ask_catching"))
    assert done["status"] == "completed"
    assert text_of(done["result"]) == "carried on without asking: -32021"


def test_an_empty_elicitation_capability_answers_form_questions(e2e_server: ServerProcess) -> None:
    form_only = Client(e2e_server.url, caps={"elicitation": {}})
    try:
        # A form elicitation is answerable with an empty elicitation capability (form mode, as the spec keeps it)...
        task_id = form_only.start_task("ask_name")
        assert form_only.wait_for(task_id, ("input_required",))["status"] == "input_required"
        form_only.cancel(task_id)
    finally:
        form_only.close()


def test_without_the_extension_a_mid_call_question_is_a_32021(e2e_server: ServerProcess) -> None:
    plain = Client(e2e_server.url, ext=False)
    try:
        reply = plain.message("tools/call", {"name": "ask_inline", "arguments": {}})
        assert reply["error"]["code"] == -32021, reply
        assert reply["error"]["data"]["requiredCapabilities"]["extensions"] == {EXT: {}}
        assert "elicitation/create" in reply["error"]["message"]
    finally:
        plain.close()
    # With the extension the same call becomes a task that asks through inputRequests.
    with_ext = Client(e2e_server.url)
    try:
        task_id = with_ext.start_task("ask_inline")
        parked = with_ext.wait_for(task_id, ("input_required",))
        [(key, request)] = parked["inputRequests"].items()
        assert request["method"] == "elicitation/create"
        with_ext.update(task_id, {key: {"action": "decline"}})
        assert text_of(with_ext.wait_for(task_id)["result"]) == "inline answer: decline"
    finally:
        with_ext.close()
