"""`task_read`: the tool an LLM loop calls to read a slice of a large result, only when it needs it.

A server running offload returns a large result item as a preview plus a link (docs/payload.md).
`TaskToolAdapter` (agent.py) shows the model the preview; with `TASK_READ_TOOL` in its tool list and
`TaskReader.task_read` behind it, the model asks for the lines or bytes it wants instead of receiving
the whole item:

    reader = TaskReader(client)                     # the adapter's TaskClient
    specs = await adapter.tools() + [TASK_READ_TOOL]
    ...
    if name == "task_read":
        text = await reader.call(arguments)         # a slice, never more than max_chars

Wiring into `TaskToolAdapter`: append `TASK_READ_TOOL` to `TASK_TOOLS`, and in `call()` route
`task_read` to `TaskReader(self.client).call(args)`.
"""

from __future__ import annotations

from typing import Any

from offload.client import RpcError, TaskClient, TaskError
from offload.client.reads import offload_links

__all__ = ["TASK_READ_TOOL", "TaskReader", "link_line", "preview_and_links"]

TASK_READ_TOOL: dict[str, Any] = {
    "name": "task_read",
    "description": (
        "Read part of a large item of a task's result that was shown only as a preview with a link "
        "(offload://task/<id>/blob/<n>). Ask for lines (e.g. '1:40', '-50:' for the last 50) or bytes "
        "('0:4096'); read only what you need."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "task_id": {"type": "string", "description": "the task whose result holds the link"},
            "item": {"type": "integer", "description": "the N of .../blob/N (default: the first link)"},
            "lines": {"type": "string", "description": "A:B, 1-based and inclusive; negative counts from the end"},
            "bytes": {"type": "string", "description": "A:B, 0-based, B exclusive"},
        },
        "required": ["task_id"],
    },
}


def link_line(item: dict[str, Any]) -> str:
    """A resource_link as one line for a model: what it is and how to read it."""
    size = item.get("size")
    sized = f", {size:,} bytes" if isinstance(size, int) else ""
    return f"[{item.get('name', 'item')} ({item.get('mimeType', '?')}{sized}): {item.get('uri')}; use task_read]"


class TaskReader:
    """Serves `task_read` calls from a model; answers are capped at `max_chars` so a slice stays a slice."""

    def __init__(self, client: TaskClient, *, max_chars: int = 16_000) -> None:
        self.client = client
        self.max_chars = max_chars

    async def call(self, arguments: dict[str, Any]) -> str:
        task_id = arguments.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            return "error: task_read needs a task_id (a string)"
        item = arguments.get("item")
        if item is not None and not isinstance(item, int):
            return "error: task_read item must be an integer (the N of .../blob/N)"
        lines, byte_range = arguments.get("lines"), arguments.get("bytes")
        if lines is None and byte_range is None:
            lines = "1:200"  # never the whole item by default: a model asks for more if it wants it
        return await self.task_read(task_id, item=item, lines=lines, bytes_=byte_range)

    async def task_read(
        self, task_id: str, *, item: int | None = None, lines: str | None = None, bytes_: str | None = None
    ) -> str:
        try:
            piece = await self.client.handle(task_id).read(item, lines=lines, bytes_=bytes_)
        except (TaskError, ValueError) as exc:
            return f"error: {' '.join(str(exc).split())}"
        except RpcError as exc:
            return f"error: {exc.message} (JSON-RPC error {exc.code})"
        if piece.text is None:
            return f"[{piece.mime_type}, {len(piece.data):,} bytes of {piece.size:,}: binary, not shown]"
        shown = piece.range.get("lines") or piece.range.get("bytes")
        unit = "lines" if "lines" in piece.range else "bytes"
        text = piece.text
        note = ""
        if len(text) > self.max_chars:
            text, note = text[: self.max_chars], f" (cut at {self.max_chars:,} characters; ask for fewer lines)"
        elif piece.next:
            note = f" (more: {piece.next})"
        head = f"[{unit} {shown[0]}-{shown[1]} of {piece.lines:,} lines, {piece.size:,} bytes{note}]" if shown else ""
        return f"{head}\n{text}" if head else text


def preview_and_links(result: dict[str, Any]) -> list[str]:
    """The lines a model sees for a result whose items were offloaded: previews as they are, links as one line."""
    shown = []
    for block in result.get("content") or ():
        if block.get("type") == "text":
            shown.append(str(block.get("text", "")))
        elif block in offload_links(result):
            shown.append(link_line(block))
    return shown
