"""offload.protocol.answers: an answer to an input request is checked against what was asked."""

from __future__ import annotations

from typing import Any

from offload.protocol.answers import check_answer, check_elicit_answer, check_roots_answer, check_sampling_answer

FORM: dict[str, Any] = {
    "message": "Ship 1.4.0?",
    "requestedSchema": {
        "type": "object",
        "properties": {
            "approve": {"type": "boolean", "description": "Ship it?"},
            "env": {"type": "string", "enum": ["prod", "staging"]},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 9},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        },
        "required": ["approve"],
    },
}


def test_a_valid_form_answer_has_no_problems() -> None:
    assert check_elicit_answer(FORM, {"action": "accept", "content": {"approve": True}}) == []
    full = {"approve": False, "env": "prod", "replicas": 3, "tags": ["a"]}
    assert check_elicit_answer(FORM, {"action": "accept", "content": full}) == []
    assert check_elicit_answer(FORM, {"action": "decline"}) == []
    assert check_elicit_answer(FORM, {"action": "cancel", "_meta": {"x": 1}}) == []


def test_form_answers_are_checked_field_by_field() -> None:
    problems = check_elicit_answer(
        FORM, {"action": "accept", "content": {"approve": "yes", "env": "dev", "replicas": 0, "aprove": True}}
    )
    assert problems == [
        "content.aprove: not a requested field (requested: approve, env, replicas, tags)",
        "content.approve: 'yes' is not of type 'boolean'",
        "content.env: 'dev' is not one of ['prod', 'staging']",
        "content.replicas: 0 is less than the minimum of 1",
    ]
    assert check_elicit_answer(FORM, {"action": "accept", "content": {}}) == [
        "content: 'approve' is a required property"
    ]
    assert check_elicit_answer(FORM, {"action": "accept", "content": {"approve": True, "tags": ["c"]}}) == [
        "content.tags.0: 'c' is not one of ['a', 'b']"
    ]
    nested = check_elicit_answer(FORM, {"action": "accept", "content": {"approve": True, "env": {"x": 1}}})
    assert nested[0] == "content.env: must be a string, number, boolean or list of strings, not an object"


def test_the_result_shape_is_checked() -> None:
    assert check_elicit_answer(FORM, True) == ["the answer must be an object {action, content}, not a boolean"]
    assert check_elicit_answer(FORM, {"action": "yes"}) == ["action must be one of accept, decline, cancel, not 'yes'"]
    assert check_elicit_answer(FORM, {"action": "accept"}) == [
        "action accept needs content: an object with the requested fields, not null"
    ]
    assert check_elicit_answer(FORM, {"action": "decline", "content": {"approve": False}}) == [
        "no content expected: content goes with accept"
    ]
    assert check_elicit_answer(FORM, {"action": "accept", "content": {"approve": True}, "approve": True}) == [
        "unexpected key(s) approve: an elicitation answer has action and content"
    ]


def test_url_mode_is_accepted_without_content() -> None:
    url = {"mode": "url", "message": "Sign in", "url": "https://example.com/login", "elicitationId": "e1"}
    assert check_elicit_answer(url, {"action": "accept"}) == []
    assert check_elicit_answer(url, {"action": "accept", "content": {"x": 1}}) == [
        "no content expected: a URL elicitation is accepted without content"
    ]


def test_a_schema_that_is_not_json_schema_does_not_block_the_answer() -> None:
    broken = {"message": "?", "requestedSchema": {"type": "object", "properties": {"a": {"type": 5}}}}
    assert check_elicit_answer(broken, {"action": "accept", "content": {"a": "x"}}) == []


def test_sampling_answers() -> None:
    good = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}
    assert check_sampling_answer({"messages": []}, good) == []
    problems = check_sampling_answer({"messages": []}, {"role": "bot", "content": {"type": "text", "text": "x"}})
    assert "role: Input should be 'user' or 'assistant'" in problems
    assert "model: Field required" in problems
    assert check_sampling_answer({}, "hi") == [
        "the answer must be a CreateMessageResult object {role, content, model}, not a string"
    ]
    # With tools in the request, a list of blocks is a valid content.
    with_tools = {"messages": [], "tools": [{"name": "t", "inputSchema": {"type": "object"}}]}
    assert check_sampling_answer(with_tools, {**good, "content": [{"type": "text", "text": "a"}]}) == []


def test_roots_answers() -> None:
    assert check_roots_answer({}, {"roots": [{"uri": "file:///srv", "name": "srv"}]}) == []
    assert check_roots_answer({}, {"roots": []}) == []
    assert any("roots.0.uri" in p for p in check_roots_answer({}, {"roots": [{"uri": "https://x"}]}))
    assert check_roots_answer({}, {}) == ["roots: Field required"]


def test_check_answer_dispatches_on_the_method() -> None:
    request = {"method": "elicitation/create", "params": FORM}
    assert check_answer(request, {"action": "accept", "content": {"approve": True}}) == []
    assert check_answer(request, {"action": "accept", "content": {}}) != []
    assert check_answer({"method": "roots/list"}, {"roots": []}) == []
    assert check_answer({"method": "tools/call"}, {}) == [
        "cannot answer a 'tools/call' request (known: elicitation/create, sampling/createMessage, roots/list)"
    ]
