"""Is this `inputResponses` value a valid answer to the request it names?

tasks.md "Task Update Requests": each value answers one entry of `inputRequests` and has the
result shape of the standalone request (MRTR): an `ElicitResult` for `elicitation/create`, a
`CreateMessageResult` for `sampling/createMessage`, a `ListRootsResult` for `roots/list`. An
accepted form elicitation's `content` must also fit the `requestedSchema`, which the elicitation
spec restricts to a flat object of primitive fields (string, number, integer, boolean, single and
multiple choice). The checks return the problems as short phrases; an empty list means valid.
The server refuses an invalid answer before the tool sees it, and the client checks it before
sending.
"""

from __future__ import annotations

import re
from typing import Any

from mcp_types import CreateMessageResult, CreateMessageResultWithTools, ListRootsResult
from pydantic import BaseModel, ValidationError

__all__ = ["answer_problems", "elicit_problems"]

_ACTIONS = ("accept", "decline", "cancel")
_FORMATS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$"),
    "uri": re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"),
}
_JSON_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else type(value).__name__


def _choices(schema: dict[str, Any]) -> list[Any] | None:
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    options = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(options, list):
        consts = [o["const"] for o in options if isinstance(o, dict) and "const" in o]
        return consts or None
    return None


def _field_problems(name: str, schema: Any, value: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    kind = schema.get("type")
    choices = _choices(schema)
    if kind == "array":
        if not isinstance(value, list):
            return [f"field {name!r} must be an array, got {_kind(value)}"]
        items = schema.get("items")
        allowed = _choices(items) if isinstance(items, dict) else None
        out = [
            f"field {name!r}: {v!r} is not one of {allowed}" for v in value if allowed is not None and v not in allowed
        ]
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            out.append(f"field {name!r} needs at least {schema['minItems']} items")
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            out.append(f"field {name!r} takes at most {schema['maxItems']} items")
        return out
    if choices is not None:
        return [] if value in choices else [f"field {name!r}: {value!r} is not one of {choices}"]
    if kind in ("number", "integer"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "integer":
            ok = ok and float(value).is_integer()
        if not ok:
            return [f"field {name!r} must be {'an integer' if kind == 'integer' else 'a number'}, got {_kind(value)}"]
        out = []
        if isinstance(schema.get("minimum"), int | float) and value < schema["minimum"]:
            out.append(f"field {name!r} must be >= {schema['minimum']}")
        if isinstance(schema.get("maximum"), int | float) and value > schema["maximum"]:
            out.append(f"field {name!r} must be <= {schema['maximum']}")
        return out
    expected = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if expected is None:
        return []  # no type, or one the restricted schema does not define: nothing to hold the value to
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        return [f"field {name!r} must be a {kind}, got {_kind(value)}"]
    if isinstance(value, str):
        out = []
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            out.append(f"field {name!r} needs at least {schema['minLength']} characters")
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            out.append(f"field {name!r} takes at most {schema['maxLength']} characters")
        pattern = _FORMATS.get(str(schema.get("format")))
        if pattern is not None and not pattern.match(value):
            out.append(f"field {name!r} must be a {schema['format']}")
        return out
    return []


def elicit_problems(params: dict[str, Any], answer: Any) -> list[str]:
    """Problems of `answer` as the result of an `elicitation/create` with these params."""
    if not isinstance(answer, dict):
        return [f"an elicitation answer must be an object with an action, got {_kind(answer)}"]
    action = answer.get("action")
    if action not in _ACTIONS:
        return [f"action must be one of {', '.join(_ACTIONS)}, got {action!r}"]
    content = answer.get("content")
    if action != "accept" or params.get("mode") == "url":
        return (
            [] if content is None or isinstance(content, dict) else [f"content must be an object, got {_kind(content)}"]
        )
    schema = params.get("requestedSchema")
    if not isinstance(schema, dict):
        return []
    if content is None:
        content = {}
    if not isinstance(content, dict):
        return [f"content must be an object of the requested fields, got {_kind(content)}"]
    raw_properties = schema.get("properties")
    properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
    problems = [f"field {name!r} is required" for name in schema.get("required") or [] if name not in content]
    for name, value in content.items():
        if name in properties:
            problems += _field_problems(name, properties[name], value)
        elif schema.get("additionalProperties") is False:
            problems.append(f"field {name!r} is not in the requested schema")
    return problems


def _model_problems(model: type[BaseModel] | tuple[type[BaseModel], ...], answer: Any, what: str) -> list[str]:
    if not isinstance(answer, dict):
        return [f"a {what} answer must be an object, got {_kind(answer)}"]
    first: ValidationError | None = None
    for candidate in model if isinstance(model, tuple) else (model,):
        try:
            candidate.model_validate(answer)
            return []
        except ValidationError as exc:
            first = first or exc
    assert first is not None
    return [
        f"{'.'.join(str(p) for p in err['loc']) or what}: {err['msg']}" for err in first.errors(include_url=False)[:3]
    ]


def answer_problems(request: dict[str, Any], answer: Any) -> list[str]:
    """Problems of `answer` as the response to `request` (an `inputRequests` entry); [] if valid.

    Requests of methods this module does not know are not checked: the tool that asked decides.
    """
    method = request.get("method")
    raw = request.get("params")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if method == "elicitation/create":
        return elicit_problems(params, answer)
    if method == "sampling/createMessage":
        return _model_problems((CreateMessageResult, CreateMessageResultWithTools), answer, "sampling")
    if method == "roots/list":
        return _model_problems(ListRootsResult, answer, "roots")
    return []
