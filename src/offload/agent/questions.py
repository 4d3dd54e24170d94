"""A task's pending questions in a few words for a model, and a model's answer in the shape the server wants.

A task in `input_required` lists `inputRequests`, each a whole server-to-client request. A model needs
far less to answer one: the question, the fields with their types, and the key to answer under. A
model's answer, in turn, is often shorthand (the fields alone, a bare "decline", a JSON string); it is
expanded here into a proper `ElicitResult`, `CreateMessageResult` or `ListRootsResult` before the
schema check in `offload.protocol.answers`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from offload.protocol.answers import ELICIT_ACTIONS

__all__ = ["answer_hint", "describe_question", "describe_questions", "expand_answer", "pending_questions"]

_MESSAGE_CHARS = 160


def _clip(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(name: str, schema: Mapping[str, Any], required: bool) -> str:
    kind = str(schema.get("type", "any"))
    choices = schema.get("enum")
    if choices is None and isinstance(schema.get("oneOf"), list):
        choices = [c.get("const") for c in schema["oneOf"] if isinstance(c, Mapping) and "const" in c]
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        items = schema["items"]
        inner = items.get("enum") or [c.get("const") for c in items.get("anyOf", []) if isinstance(c, Mapping)]
        kind = "list of " + ("|".join(map(str, inner)) if inner else str(items.get("type", "any")))
    elif choices:
        kind = "one of " + "|".join(map(str, choices))
    bits = [kind] + (["required"] if required else [])
    description = schema.get("description") or schema.get("title")
    if description:
        bits.append(_clip(str(description), 60))
    return f"{name} ({', '.join(bits)})"


def describe_question(key: str, request: Mapping[str, Any]) -> str:
    """One input request in one line: `[key K] "message" fields: a (boolean, required), b (string)`."""
    method = request.get("method")
    params = request.get("params") if isinstance(request.get("params"), Mapping) else {}
    assert isinstance(params, Mapping)
    if method == "elicitation/create":
        message = f'"{_clip(params.get("message", ""))}"'
        if params.get("mode") == "url":
            return f"[key {key}] {message} open {params.get('url')} then answer accept, decline or cancel"
        schema = params.get("requestedSchema") if isinstance(params.get("requestedSchema"), Mapping) else {}
        assert isinstance(schema, Mapping)
        props = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
        assert isinstance(props, Mapping)
        required = set(schema.get("required") or ())
        fields = ", ".join(_field(n, s if isinstance(s, Mapping) else {}, n in required) for n, s in props.items())
        return f"[key {key}] {message}" + (f" fields: {fields}" if fields else "")
    if method == "sampling/createMessage":
        last = ""
        for message in params.get("messages") or ():
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, Mapping) and content.get("type") == "text":
                last = str(content.get("text", ""))
        return f'[key {key}] wants a model reply (sampling) to "{_clip(last)}"'
    if method == "roots/list":
        return f"[key {key}] wants the list of roots (file:// URIs)"
    return f"[key {key}] {method} request"


def pending_questions(task: Mapping[str, Any], answered: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The task's `inputRequests` not answered yet."""
    requests = task.get("inputRequests") or {}
    return {k: v for k, v in requests.items() if k not in answered} if isinstance(requests, Mapping) else {}


def describe_questions(pending: Mapping[str, Any]) -> str:
    return "; ".join(describe_question(k, r if isinstance(r, Mapping) else {}) for k, r in pending.items())


def answer_hint(request: Mapping[str, Any]) -> str:
    """How to write the `answer` argument of task_answer for this kind of request."""
    method = request.get("method")
    if method == "sampling/createMessage":
        return 'answer: the reply text, or {"role":"assistant","content":{"type":"text","text":"..."},"model":"..."}'
    if method == "roots/list":
        return 'answer: {"roots":[{"uri":"file:///path"}]}'
    return 'answer: the fields as an object (means accept), or "decline" or "cancel"'


def expand_answer(request: Mapping[str, Any], answer: Any, *, model: str = "agent") -> Any:
    """The full result a model's shorthand `answer` stands for; anything unrecognised is returned as given.

    - a JSON string holding an object or list is parsed first (models often stringify nested arguments);
    - elicitation: "accept"/"decline"/"cancel" alone is that action; an object without `action` is the
      content of an accept;
    - sampling: a string is the text of an assistant reply from `model`;
    - roots: a list is the `roots` list.
    """
    if isinstance(answer, str) and answer.strip()[:1] in ("{", "["):
        with contextlib.suppress(json.JSONDecodeError):
            answer = json.loads(answer)
    method = request.get("method")
    if method == "elicitation/create":
        if isinstance(answer, str) and answer.strip().lower() in ELICIT_ACTIONS:
            return {"action": answer.strip().lower()}
        if isinstance(answer, Mapping) and "action" not in answer:
            return {"action": "accept", "content": dict(answer)}
    elif method == "sampling/createMessage" and isinstance(answer, str):
        return {"role": "assistant", "content": {"type": "text", "text": answer}, "model": model}
    elif method == "roots/list" and isinstance(answer, list):
        return {"roots": answer}
    return answer
