"""offload.agent.questions: a pending question in one line, and a model's shorthand answer expanded."""

from __future__ import annotations

from typing import Any

from offload.agent.questions import answer_hint, describe_question, expand_answer, pending_questions
from offload.protocol.answers import check_answer

FORM: dict[str, Any] = {
    "method": "elicitation/create",
    "params": {
        "message": "Deploy   where?\n(pick one)",
        "requestedSchema": {
            "type": "object",
            "properties": {
                "env": {"type": "string", "enum": ["prod", "staging"], "description": "target"},
                "region": {"type": "string", "oneOf": [{"const": "eu", "title": "EU"}, {"const": "us", "title": "US"}]},
                "checks": {"type": "array", "items": {"type": "string", "enum": ["lint", "tests"]}},
                "replicas": {"type": "integer"},
            },
            "required": ["env"],
        },
    },
}


def test_a_form_question_lists_its_fields_with_types_and_choices() -> None:
    assert describe_question("k1", FORM) == (
        '[key k1] "Deploy where? (pick one)" fields: env (one of prod|staging, required, target), '
        "region (one of eu|us), checks (list of lint|tests), replicas (integer)"
    )


def test_other_kinds_of_questions() -> None:
    url = {"method": "elicitation/create", "params": {"mode": "url", "message": "Sign in", "url": "https://x/y"}}
    assert describe_question("k", url) == '[key k] "Sign in" open https://x/y then answer accept, decline or cancel'
    sampling = {
        "method": "sampling/createMessage",
        "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "Summarise " + "x" * 300}}]},
    }
    described = describe_question("s", sampling)
    assert described.startswith('[key s] wants a model reply (sampling) to "Summarise xxx') and len(described) < 220
    assert describe_question("r", {"method": "roots/list"}) == "[key r] wants the list of roots (file:// URIs)"
    assert "reply text" in answer_hint(sampling) and "roots" in answer_hint({"method": "roots/list"})


def test_pending_questions_leave_out_answered_keys() -> None:
    task = {"status": "input_required", "inputRequests": {"a": FORM, "b": FORM}}
    assert list(pending_questions(task, {"a"})) == ["b"]
    assert pending_questions({"status": "working"}) == {}


def test_shorthand_answers_expand_to_valid_results() -> None:
    fields = {"env": "prod", "checks": ["lint"]}
    assert expand_answer(FORM, fields) == {"action": "accept", "content": fields}
    assert expand_answer(FORM, '{"env": "prod"}') == {"action": "accept", "content": {"env": "prod"}}
    assert expand_answer(FORM, " Decline ") == {"action": "decline"}
    full = {"action": "accept", "content": {"env": "prod"}}
    assert expand_answer(FORM, full) == full
    assert expand_answer(FORM, "{not json") == "{not json"  # left as given: the check then says what is wrong
    assert check_answer(FORM, expand_answer(FORM, "{not json")) == [
        "the answer must be an object {action, content}, not a string"
    ]
    sampling = {"method": "sampling/createMessage", "params": {"messages": []}}
    reply = expand_answer(sampling, "42", model="gpt-x")
    assert reply == {"role": "assistant", "content": {"type": "text", "text": "42"}, "model": "gpt-x"}
    assert check_answer(sampling, reply) == []
    roots = expand_answer({"method": "roots/list"}, [{"uri": "file:///srv"}])
    assert roots == {"roots": [{"uri": "file:///srv"}]} and check_answer({"method": "roots/list"}, roots) == []
