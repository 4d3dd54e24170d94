"""`resources/read` for `offload://` links: the large result items a task's result points to.

A server middleware: requests for other URIs go on to the SDK untouched. For an offload link the
answer is built here, on whichever instance gets the request (the blobs are in the shared store):

- the task must be visible to the caller (`handlers.visible`: theirs, not expired). Otherwise, and
  for an item the result does not link, the request goes on to the SDK, whose answer for an unknown
  resource it is: a stranger learns nothing, not even that the task exists (tasks.md "Security
  Considerations");
- a malformed offload URI is -32602 naming what was expected;
- the range in the URI (`protocol/links.py`) selects lines or bytes; a read returns at most
  `max_read_bytes`, and when it stops short its `_meta["offload/range"]["next"]` is the URI of the rest.

Text items come back as `text` (a byte range that splits a character shows U+FFFD there), others as
base64 `blob`.
"""

from __future__ import annotations

import base64
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer, authenticated_principal
from mcp.shared.exceptions import MCPError

from offload.protocol import INVALID_PARAMS, TaskStatus
from offload.protocol.links import RANGE_META_KEY, BlobRef, blob_uri, parse_blob_uri, resolve_lines
from offload.runtime import TaskRuntime
from offload.server import bridge
from offload.server.handlers import visible
from offload.store import TaskRecord, now_ms
from offload.store.blobs import BlobIndex

__all__ = ["DEFAULT_MAX_READ_BYTES", "BlobReads"]

DEFAULT_MAX_READ_BYTES = 8 * 1024 * 1024


def linked_item(record: TaskRecord, uri_base: str) -> dict[str, Any] | None:
    """The resource_link of the task's result that points to this item, if any."""
    if record.status != TaskStatus.COMPLETED or not isinstance(record.result, dict):
        return None
    for item in record.result.get("content") or ():
        if isinstance(item, dict) and item.get("type") == "resource_link" and item.get("uri") == uri_base:
            return item
    return None


class BlobReads:
    """The middleware; see the module docstring."""

    def __init__(
        self, runtime: TaskRuntime, server: MCPServer[Any], *, max_read_bytes: int = DEFAULT_MAX_READ_BYTES
    ) -> None:
        self.runtime = runtime
        self.server = server
        self.max_read_bytes = max_read_bytes

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "resources/read":
            return await call_next(ctx)
        uri = (ctx.params or {}).get("uri") if isinstance(ctx.params, dict) else None
        try:
            ref = parse_blob_uri(uri) if isinstance(uri, str) else None
        except ValueError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc), data={"uri": uri}) from None
        if ref is None:
            return await call_next(ctx)
        contents = await self.read(ref, authenticated_principal(ctx))
        if contents is None:
            return await call_next(ctx)  # the SDK's own "Unknown resource" answer
        return {
            "contents": [contents],
            "resultType": "complete",
            "_meta": {"io.modelcontextprotocol/serverInfo": bridge.server_info_stamp(self.server)},
        }

    async def read(self, ref: BlobRef, principal: str | None) -> dict[str, Any] | None:
        """The `contents` entry for this link and range, or None when the caller may not see it."""
        record = await self.runtime.store.get(ref.task_id)
        if not visible(record, principal, now_ms()):
            return None
        assert record is not None
        link = linked_item(record, blob_uri(ref.task_id, ref.n))
        blobs = self.runtime.offloader.blobs()
        index = await blobs.index(ref.task_id, ref.n) if link is not None else None
        if link is None or index is None:
            return None
        mime = str(link.get("mimeType") or "application/octet-stream")
        data, span = await self._slice(ref, index)
        total_lines = int(((link.get("_meta") or {}).get("offload/blob") or {}).get("lines") or 0)
        meta: dict[str, Any] = {"size": index.size, "totalLines": total_lines, **span}
        if span.get("next"):
            meta["truncated"] = True
        contents: dict[str, Any] = {"uri": ref.uri, "mimeType": mime, "_meta": {RANGE_META_KEY: meta}}
        if mime.startswith("text/") or mime in ("application/json", "application/xml"):
            contents["text"] = data.decode(errors="replace")
        else:
            contents["blob"] = base64.b64encode(data).decode()
        return contents

    async def _slice(self, ref: BlobRef, index: BlobIndex) -> tuple[bytes, dict[str, Any]]:
        blobs = self.runtime.offloader.blobs()
        limit = self.max_read_bytes
        if ref.lines is not None:
            newlines = sum(index.newlines)
            last_byte = await blobs.read_bytes(ref.task_id, ref.n, index.size - 1, index.size, index)
            total = newlines + (1 if index.size and last_byte != b"\n" else 0)
            first, last = resolve_lines(ref.lines, total)
            if first > last:
                return b"", {"lines": [first, last]}
            data = await blobs.read_lines(ref.task_id, ref.n, first, last, index)
            if len(data) <= limit:
                return data, {"lines": [first, last]}
            cut = data.rfind(b"\n", 0, limit)
            data = data[: cut + 1] if cut >= 0 else data[:limit]
            shown = data.count(b"\n") if cut >= 0 else 0
            if shown == 0:  # one line longer than a read: give its first bytes, continue by line
                return data, {"lines": [first, first], "next": blob_uri(ref.task_id, ref.n, lines=(first + 1, last))}
            end = first + shown - 1
            return data, {"lines": [first, end], "next": blob_uri(ref.task_id, ref.n, lines=(end + 1, last))}
        start, stop = (0, index.size) if ref.bytes is None else _absolute_bytes(ref.bytes, index.size)
        end = min(stop, start + limit)
        data = await blobs.read_bytes(ref.task_id, ref.n, start, end, index)
        span: dict[str, Any] = {"bytes": [start, end]}
        if end < stop:
            span["next"] = blob_uri(ref.task_id, ref.n, bytes_=(end, stop))
        return data, span


def _absolute_bytes(span: tuple[int | None, int | None], size: int) -> tuple[int, int]:
    start, stop, _ = slice(*span).indices(size)
    return start, max(start, stop)
