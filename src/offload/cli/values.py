"""Values typed on the command line, read by the schema that says what they must be.

`KEY=VALUE` arguments follow the tool's `inputSchema` (a string field keeps `1.10` as the string
"1.10"; an integer field rejects it), answers follow the input request's `requestedSchema`, and the
answer command printed for a user carries values of the right type.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from offload.cli.context import Context, task_arg
from offload.cli.exits import EXIT_USAGE, CliError

__all__ = [
    "answer_command",
    "check_answers",
    "coerce_arguments",
    "example_content",
    "input_hint",
    "parse_object",
    "parse_pairs",
    "summarize_schema",
]

_TRUE = ("true", "yes", "y", "1", "on")
_FALSE = ("false", "no", "n", "0", "off")


def parse_object(raw: str, what: str) -> dict[str, Any]:
    """A JSON object from the command line, or a usage error saying what is wrong with it."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"{what}: not valid JSON ({exc})", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CliError(f"{what}: expected a JSON object, got {type(value).__name__}", EXIT_USAGE)
    return value


def split_pair(pair: str, what: str) -> tuple[str, str]:
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise CliError(f"{what}: expected KEY=VALUE, got {pair!r}", EXIT_USAGE)
    return key, raw


def parse_pairs(pairs: list[str], *, strict: bool, what: str) -> dict[str, Any]:
    """`key=value` words, the value as JSON when it parses (`n=3` -> 3), else (unless `strict`) a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, raw = split_pair(pair, what)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            if strict:
                raise CliError(f"{what}: the value of {key!r} is not JSON: {raw!r}", EXIT_USAGE) from None
            out[key] = raw
    return out


def coerce_arguments(pairs: list[str], schema: dict[str, Any] | None, tool: str) -> dict[str, Any]:
    """`KEY=VALUE` words typed by the tool's inputSchema; without one, JSON when the value parses."""
    properties = (schema or {}).get("properties") or {}
    closed = (schema or {}).get("additionalProperties") is False
    out: dict[str, Any] = {}
    for pair in pairs:
        key, raw = split_pair(pair, "arguments")
        field = properties.get(key)
        if field is None:
            if closed:
                known = ", ".join(properties) or "none"
                raise CliError(f"{tool} has no argument {key!r} (it takes: {known})", EXIT_USAGE)
            out[key] = _loose(raw)
            continue
        try:
            out[key] = coerce(raw, field if isinstance(field, dict) else {})
        except ValueError as exc:
            raise CliError(f"argument {key!r} of {tool}: {exc}", EXIT_USAGE) from None
    return out


def _loose(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _types(schema: dict[str, Any]) -> list[str]:
    """The JSON types a schema allows, from `type` or the branches of `anyOf`/`oneOf`."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    found: list[str] = []
    for branch in schema.get("anyOf") or schema.get("oneOf") or []:
        if isinstance(branch, dict):
            found += [t for t in _types(branch) if t not in found]
    return found


def coerce(raw: str, schema: dict[str, Any]) -> Any:
    """One value by its schema; `ValueError` says what was expected."""
    kinds = _types(schema)
    if "enum" in schema:
        for value in schema["enum"]:
            if raw == (value if isinstance(value, str) else json.dumps(value)):
                return value
        raise ValueError(f"expected one of {', '.join(json.dumps(v) for v in schema['enum'])}, got {raw!r}")
    if not kinds:
        return _loose(raw)
    # Try the stricter types first, a string last: `n=null` for an optional int is null, not "null".
    rank = {"null": 0, "boolean": 1, "integer": 2, "number": 3, "array": 4, "object": 5, "string": 6}
    for kind in sorted(kinds, key=lambda k: rank.get(k, 7)):
        try:
            return _as(kind, raw)
        except ValueError:
            continue
    expected = " or ".join(_NAMES.get(k, k) for k in kinds)
    raise ValueError(f"expected {expected}, got {raw!r}")


_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a JSON array",
    "object": "a JSON object",
    "string": "a string",
    "null": "null",
}


def _as(kind: str, raw: str) -> Any:
    if kind == "string":
        return raw
    if kind == "boolean":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(raw)
    if kind == "integer":
        return int(raw)
    if kind == "number":
        value = float(raw)
        return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() else value
    if kind == "null":
        if raw == "null":
            return None
        raise ValueError(raw)
    value = json.loads(raw)
    if kind == "array" and not isinstance(value, list):
        raise ValueError(raw)
    if kind == "object" and not isinstance(value, dict):
        raise ValueError(raw)
    return value


def summarize_schema(schema: dict[str, Any] | None) -> str:
    """`n: integer (required), word: string` for a tool listing."""
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    parts = []
    for name, field in properties.items():
        field = field if isinstance(field, dict) else {}
        kinds = _types(field) or ["any"]
        text = f"{name}: {' | '.join(kinds)}"
        if "enum" in field:
            text += f" ({'/'.join(str(v) for v in field['enum'])})"
        if name in required:
            text += " (required)"
        elif "default" in field:
            text += f" = {json.dumps(field['default'])}"
        parts.append(text)
    return ", ".join(parts) if parts else "no arguments"


# -- answers to input requests --


def example_content(schema: dict[str, Any] | None) -> dict[str, Any]:
    """An elicitation `content` of the right shape: each field's default, first choice, or a typed example."""
    out: dict[str, Any] = {}
    for name, field in ((schema or {}).get("properties") or {}).items():
        field = field if isinstance(field, dict) else {}
        kinds = _types(field)
        if "default" in field:
            out[name] = field["default"]
        elif field.get("enum"):
            out[name] = field["enum"][0]
        elif "boolean" in kinds:
            out[name] = True
        elif "integer" in kinds or "number" in kinds:
            out[name] = 0
        elif "array" in kinds:
            items = field.get("items") if isinstance(field.get("items"), dict) else {}
            out[name] = list((items or {}).get("enum") or [])[:1]
        else:
            out[name] = "..."
    return out


def example_answer(request: dict[str, Any]) -> str:
    """A JSON answer for one input request, as compact JSON a user can edit."""
    if request.get("method") == "elicitation/create":
        params = request.get("params") or {}
        if "requestedSchema" not in params:  # URL mode: only an action
            return json.dumps({"action": "accept"}, separators=(",", ":"))
        content = example_content(params.get("requestedSchema"))
        return json.dumps({"action": "accept", "content": content}, separators=(",", ":"))
    return "JSON"


def answer_command(url: str, task_id: str, key: str, request: dict[str, Any]) -> str:
    pair = f"{key}={example_answer(request)}"
    return f"offload task answer {shlex.quote(url)} {task_arg(task_id)} {shlex.quote(pair)}"


def input_hint(ctx: Context, exc: Exception) -> str:
    """One line: what the task asks, and the `offload task answer` command that answers it."""
    task_id = getattr(exc, "task_id", None) or ctx.task_id or "?"
    requests = (ctx.last_task or {}).get("inputRequests") or {}
    pending = {k: v for k, v in requests.items() if k not in ctx.answered}
    if not pending:
        return f"task {task_id} needs input: {exc}"
    key, request = next(iter(pending.items()))
    method = request.get("method", "?")
    params = request.get("params") or {}
    asks = f'{key}: "{params["message"]}"' if params.get("message") else f"{key}: {method}"
    more = f" and {len(pending) - 1} more" if len(pending) > 1 else ""
    why = "stdin is not a terminal" if not ctx.interactive else f"offload cannot answer {method} itself"
    command = answer_command(ctx.url, task_id, key, request)
    return f"task {task_id} needs input ({asks}{more}); {why}, so answer it with: {command}"


def check_answers(task: dict[str, Any], responses: dict[str, Any], url: str) -> None:
    """Refuse (exit 2) answers the task did not ask for or that do not fit its requestedSchema.

    Checked before anything is sent: a wrong answer accepted by the server reaches the tool and
    fails there (a string where it expects a boolean), far from the typo that caused it.
    """
    task_id = str(task.get("taskId", "?"))
    requests = task.get("inputRequests") or {}
    if not requests:
        raise CliError(
            f"task {task_id} is not waiting for input (status {task.get('status')}); "
            f"`offload task get {shlex.quote(url)} {task_arg(task_id)}` shows where it stands"
        )
    for key, answer in responses.items():
        request = requests.get(key)
        if request is None:
            raise CliError(f"task {task_id} asks for no {key!r}; it asks for: {', '.join(requests)}", EXIT_USAGE)
        if request.get("method") != "elicitation/create":
            if not isinstance(answer, dict):
                raise CliError(f"answer {key}: expected a JSON object (a {request.get('method')} result)", EXIT_USAGE)
            continue
        _check_elicitation(key, answer, request.get("params") or {}, answer_command(url, task_id, key, request))


def _check_elicitation(key: str, answer: Any, params: dict[str, Any], example: str) -> None:
    def refuse(why: str) -> CliError:
        return CliError(f"answer {key}: {why}; for example: {example}", EXIT_USAGE)

    if not isinstance(answer, dict):
        raise refuse(f"expected a JSON object with an action, got {json.dumps(answer)}")
    action = answer.get("action")
    if action not in ("accept", "decline", "cancel"):
        raise refuse(f"action must be accept, decline or cancel, got {json.dumps(action)}")
    schema = params.get("requestedSchema")
    if action != "accept" or not isinstance(schema, dict):
        return
    content = answer.get("content", {})
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(content), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    field = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "type":
        expected = error.validator_value
        kinds = expected if isinstance(expected, list) else [expected]
        want = " or ".join(_NAMES.get(str(k), str(k)) for k in kinds)
        raise refuse(f"field {field!r} must be {want}, got {json.dumps(error.instance)}")
    if error.validator == "required":
        raise refuse(f"content: {error.message}")
    where = f"field {field!r}" if field else "content"
    raise refuse(f"{where}: {error.message}")
