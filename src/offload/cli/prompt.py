"""Answering a task's questions at the terminal: `elicitation/create`, one prompt per field.

Enter takes the default shown in brackets; Ctrl-D cancels the question (the tool sees `cancel`);
Ctrl-C ends the command without answering (the task keeps waiting for an answer).
"""

from __future__ import annotations

import json
from typing import IO, Any

from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from offload.cli.ui import StatusLine

__all__ = ["Prompter"]


class _Cancelled(Exception):
    pass


class Prompter:
    """Answers `elicitation/create` at the terminal: the message, then one prompt per field."""

    def __init__(self, line: StatusLine, stdin: IO[str], out: IO[str]) -> None:
        self.line = line
        self.stdin = stdin
        self.out = out

    async def elicit(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        # Blocking reads on purpose: the loop (and the status line) pause while the user types;
        # Ctrl-C ends the command at once (interrupt.py), so no half-given answer is ever sent.
        self.line.stop()
        self.line.paused = True
        try:
            return self._ask(params)
        except _Cancelled:
            return ElicitResult(action="cancel")
        finally:
            self.line.paused = False

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _read(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        if not line:
            self._say("")
            raise _Cancelled
        return line.strip()

    def _ask(self, params: ElicitRequestParams) -> ElicitResult:
        self._say(f"\n? {params.message}")
        if not isinstance(params, ElicitRequestFormParams):
            self._say(f"  open: {params.url}")
            choice = self._read("  Done? [Y]es (accept) / [n]o (decline) / [c]ancel: ").lower()
        else:
            choice = self._read("  Answer? [Y]es / [n]o (decline) / [c]ancel: ").lower()
        if choice in ("n", "no", "d", "decline"):
            return ElicitResult(action="decline")
        if choice in ("c", "cancel"):
            return ElicitResult(action="cancel")
        if not isinstance(params, ElicitRequestFormParams):
            return ElicitResult(action="accept")
        schema = params.requested_schema or {}
        required = set(schema.get("required") or [])
        content: dict[str, Any] = {}
        for name, field in (schema.get("properties") or {}).items():
            value = self._field(name, field if isinstance(field, dict) else {}, name in required)
            if value is not _OMIT:
                content[name] = value
        return ElicitResult(action="accept", content=content)

    def _field(self, name: str, schema: dict[str, Any], required: bool) -> Any:
        choices, labels = _choices(schema)
        kind = schema.get("type")
        hint = []
        if choices:
            hint.append(" / ".join(f"{i}) {label}" for i, label in enumerate(labels, 1)))
        elif kind in ("boolean", "integer", "number"):
            hint.append("yes/no" if kind == "boolean" else kind)
        if "default" in schema:
            hint.append(f"default {json.dumps(schema['default'])}")
        if not required:
            hint.append("optional")
        title = schema.get("title") or name
        if schema.get("description"):
            self._say(f"  {schema['description']}")
        prompt = f"  {title}" + (f" ({'; '.join(hint)})" if hint else "") + ": "
        while True:
            raw = self._read(prompt)
            if raw == "":
                if "default" in schema:
                    return schema["default"]
                if not required:
                    return _OMIT
                self._say("  an answer is required (Ctrl-D cancels)")
                continue
            try:
                return _convert(raw, schema, choices)
            except ValueError as exc:
                self._say(f"  {exc}")


_OMIT: Any = object()


def _choices(schema: dict[str, Any]) -> tuple[list[Any], list[str]]:
    items = schema.get("items") if schema.get("type") == "array" else None
    source = items if isinstance(items, dict) else schema
    if "enum" in source:
        values = list(source["enum"])
        names = source.get("enumNames") or values
        return values, [str(n) for n in names]
    options = [o for o in (source.get("oneOf") or source.get("anyOf") or []) if isinstance(o, dict) and "const" in o]
    return [o["const"] for o in options], [str(o.get("title") or o["const"]) for o in options]


def _convert(raw: str, schema: dict[str, Any], choices: list[Any]) -> Any:
    kind = schema.get("type")
    if kind == "array":
        return [_pick(part.strip(), choices) if choices else part.strip() for part in raw.split(",") if part.strip()]
    if choices:
        return _pick(raw, choices)
    if kind == "boolean":
        if raw.lower() in ("y", "yes", "true", "1"):
            return True
        if raw.lower() in ("n", "no", "false", "0"):
            return False
        raise ValueError("answer yes or no")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if kind == "number":
        try:
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
    return raw


def _pick(raw: str, choices: list[Any]) -> Any:
    for value in choices:
        if str(value) == raw:
            return value
    if raw.isdigit() and 1 <= int(raw) <= len(choices):
        return choices[int(raw) - 1]
    raise ValueError(f"pick one of: {', '.join(str(c) for c in choices)}")
