"""`answer_problems`: an inputResponses value must be the result shape of the request it answers."""

from __future__ import annotations

from typing import Any

import pytest

from offload.protocol.answers import answer_problems

SCHEMA = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "name": {"type": "string", "minLength": 2, "maxLength": 5},
        "count": {"type": "integer", "minimum": 1, "maximum": 3},
        "ratio": {"type": "number"},
        "color": {"type": "string", "enum": ["red", "blue"]},
        "size": {"type": "string", "oneOf": [{"const": "s", "title": "Small"}, {"const": "l", "title": "Large"}]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
        "mail": {"type": "string", "format": "email"},
    },
    "required": ["ok"],
}
ELICIT = {"method": "elicitation/create", "params": {"mode": "form", "message": "?", "requestedSchema": SCHEMA}}


def problems(answer: Any) -> list[str]:
    return answer_problems(ELICIT, answer)


def test_a_valid_accept_decline_and_cancel() -> None:
    assert problems({"action": "accept", "content": {"ok": True, "name": "Ada", "count": 2, "ratio": 0.5}}) == []
    assert problems({"action": "accept", "content": {"ok": False, "color": "red", "size": "l", "tags": ["a"]}}) == []
    assert problems({"action": "decline"}) == []
    assert problems({"action": "cancel"}) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (42, "must be an object with an action"),
        ({"action": "not-an-action", "content": 42}, "action must be one of accept, decline, cancel"),
        ({"action": "accept", "content": {"ok": "yes"}}, "field 'ok' must be a boolean, got string"),
        ({"action": "accept", "content": {}}, "field 'ok' is required"),
        ({"action": "accept", "content": {"ok": True, "count": 1.5}}, "field 'count' must be an integer"),
        ({"action": "accept", "content": {"ok": True, "count": 9}}, "field 'count' must be <= 3"),
        ({"action": "accept", "content": {"ok": True, "name": "A"}}, "at least 2 characters"),
        ({"action": "accept", "content": {"ok": True, "color": "green"}}, "'green' is not one of ['red', 'blue']"),
        ({"action": "accept", "content": {"ok": True, "size": "m"}}, "'m' is not one of ['s', 'l']"),
        ({"action": "accept", "content": {"ok": True, "tags": ["a", "z"]}}, "'z' is not one of ['a', 'b']"),
        ({"action": "accept", "content": {"ok": True, "mail": "nope"}}, "field 'mail' must be a email"),
        ({"action": "accept", "content": {"ok": True, "ratio": True}}, "field 'ratio' must be a number, got boolean"),
        ({"action": "accept", "content": "yes"}, "content must be an object"),
    ],
)
def test_invalid_elicitation_answers_say_what_is_wrong(answer: Any, expected: str) -> None:
    found = problems(answer)
    assert found, answer
    assert any(expected in p for p in found), found


def test_sampling_and_roots_answers_are_checked_by_their_result_shapes() -> None:
    sampling = {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}}
    good = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}
    assert answer_problems(sampling, good) == []
    assert answer_problems(sampling, {"role": "assistant"})
    roots = {"method": "roots/list", "params": {}}
    assert answer_problems(roots, {"roots": [{"uri": "file:///tmp"}]}) == []
    assert answer_problems(roots, {"roots": "all of them"})
    assert answer_problems(roots, [1])


def test_requests_of_other_methods_are_left_to_the_tool() -> None:
    assert answer_problems({"method": "x/custom", "params": {}}, "anything") == []
