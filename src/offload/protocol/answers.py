"""Is this a valid answer to that input request? Checked before `tasks/update` sends it.

A task that needs input lists `inputRequests`: server-to-client requests (`elicitation/create`,
`sampling/createMessage`, `roots/list`) waiting for answers (tasks.md, "Input Requests"). An answer
the server cannot use costs a round trip at best and, at worst, a task that resumes with garbage, so
the agent adapter, the bridge, the CLI and the server all check answers here first. Each check is
a pure function returning the problems found, as sentences that say which field and what was
expected, so a model (or a person) can fix the answer and try again; an empty list means "send it".

    problems = check_answer(task["inputRequests"][key], answer)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from mcp_types import CreateMessageResult, CreateMessageResultWithTools, ListRootsResult
from pydantic import BaseModel, ValidationError

__all__ = [
    "ELICIT_ACTIONS",
    "check_answer",
    "check_elicit_answer",
    "check_roots_answer",
    "check_sampling_answer",
]

#: ElicitResult.action (2025-11-25 and later): the user accepted (with content), declined, or dismissed.
ELICIT_ACTIONS = ("accept", "decline", "cancel")
_PRIMITIVE = (str, int, float, bool)


def check_elicit_answer(params: Mapping[str, Any], answer: Any) -> list[str]:
    """Problems with `answer` as an `ElicitResult` for an `elicitation/create` with these `params`.

    Form mode: an accepted answer carries `content` valid against `requestedSchema` (types,
    required fields, enums, bounds) with no field the schema does not request (a misspelled optional
    field would otherwise be dropped without a word). URL mode: `accept` carries no content. Decline
    and cancel carry no content.
    """
    if not isinstance(answer, Mapping):
        return [f"the answer must be an object {{action, content}}, not {_kind(answer)}"]
    problems: list[str] = []
    action = answer.get("action")
    if action not in ELICIT_ACTIONS:
        problems.append(f"action must be one of accept, decline, cancel, not {action!r}")
    extra = sorted(set(answer) - {"action", "content", "_meta"})
    if extra:
        problems.append(f"unexpected key(s) {', '.join(extra)}: an elicitation answer has action and content")
    content = answer.get("content")
    if action != "accept" or params.get("mode") == "url":
        if content is not None:
            why = "a URL elicitation is accepted without content" if action == "accept" else "content goes with accept"
            problems.append(f"no content expected: {why}")
        return problems
    if not isinstance(content, Mapping):
        problems.append(f"action accept needs content: an object with the requested fields, not {_kind(content)}")
        return problems
    schema = params.get("requestedSchema")
    schema = schema if isinstance(schema, Mapping) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    assert isinstance(properties, Mapping)
    for name, value in content.items():
        if name not in properties:
            asked = ", ".join(properties) or "none"
            problems.append(f"content.{name}: not a requested field (requested: {asked})")
        elif not (
            isinstance(value, _PRIMITIVE) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            problems.append(f"content.{name}: must be a string, number, boolean or list of strings, not {_kind(value)}")
    problems.extend(_schema_problems(schema, content))
    return problems


def _is_value(value: Any) -> bool:
    """Elicitation content values are primitives or lists of strings (multi-select)."""
    return isinstance(value, _PRIMITIVE) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _schema_problems(schema: Mapping[str, Any], content: Mapping[str, Any]) -> list[str]:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return []  # a schema we cannot read is the server's problem; the answer is not blocked by it
    out: list[str] = []
    for error in sorted(Draft202012Validator(schema).iter_errors(content), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path)
        if error.validator == "additionalProperties":
            continue  # reported above, with the list of requested fields
        out.append(f"content.{where}: {error.message}" if where else f"content: {error.message}")
    return out


def check_sampling_answer(params: Mapping[str, Any], answer: Any) -> list[str]:
    """Problems with `answer` as the `CreateMessageResult` of a `sampling/createMessage`.

    It needs `role`, `model` and `content` (a text, image or audio block; with `tools` in the request,
    also tool-use blocks or a list of blocks).
    """
    if not isinstance(answer, Mapping):
        return [f"the answer must be a CreateMessageResult object {{role, content, model}}, not {_kind(answer)}"]
    model: type[BaseModel] = CreateMessageResultWithTools if params.get("tools") else CreateMessageResult
    return _model_problems(model, answer)


def check_roots_answer(params: Mapping[str, Any], answer: Any) -> list[str]:
    """Problems with `answer` as the `ListRootsResult` of a `roots/list`: `{"roots": [{"uri": "file://…"}]}`."""
    if not isinstance(answer, Mapping):
        return [f'the answer must be an object {{"roots": [...]}}, not {_kind(answer)}']
    problems = _model_problems(ListRootsResult, answer)
    roots = answer.get("roots")
    if not problems and isinstance(roots, list):
        for i, root in enumerate(roots):
            uri = str(root.get("uri", "")) if isinstance(root, Mapping) else ""
            if not uri.startswith("file://"):  # client/roots: "uri ... MUST be a file:// URI"
                problems.append(f"roots.{i}.uri: must start with file://, not {uri!r}")
    return problems


_CHECKS = {
    "elicitation/create": check_elicit_answer,
    "sampling/createMessage": check_sampling_answer,
    "roots/list": check_roots_answer,
}


def check_answer(request: Mapping[str, Any], answer: Any) -> list[str]:
    """Problems with `answer` to one `inputRequests` entry (`{"method", "params"}`), by its method."""
    method = request.get("method")
    check = _CHECKS.get(str(method))
    if check is None:
        return [f"cannot answer a {method!r} request (known: {', '.join(_CHECKS)})"]
    params = request.get("params")
    return check(params if isinstance(params, Mapping) else {}, answer)


def _model_problems(model: type[BaseModel], data: Mapping[str, Any]) -> list[str]:
    try:
        model.model_validate(dict(data))
    except ValidationError as exc:
        out = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"])
            out.append(f"{where}: {err['msg']}" if where else err["msg"])
        return out
    return []


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )
