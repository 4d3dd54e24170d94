"""Reading the large items a task's result links to, whole or a slice at a time, just in time.

A server running offload stores a large result item with its task and puts a preview and a
`resource_link` (`offload://task/<id>/blob/<n>`) in the result instead (see docs/payload.md). These
functions read such links with `resources/read`, asking for a range through the URI
(`protocol/links.py`: `?lines=A:B`, 1-based inclusive, negatives from the end; `?bytes=A:B`, 0-based,
end exclusive):

    async with TaskClient(url) as client:
        handle = await client.start_tool("build", {})
        result = await handle.result()
        for link in offload_links(result):
            tail = await client.read(link["uri"], lines="-50:")    # the last 50 lines
            print(tail.text)

A read returns at most the server's `max_read_bytes`; `Slice.next` is then the URI of the rest, and
`read_all` follows it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from mcp_types import CallToolResult

from offload.client.wire import WireClient
from offload.protocol.links import RANGE_META_KEY, BlobRef, Span, parse_blob_uri, parse_span

__all__ = ["Range", "Slice", "offload_links", "range_uri", "read_all", "read_link"]

#: A line or byte range: "A:B" (either side may be empty, negatives count from the end) or (A, B).
Range = str | tuple[int | None, int | None] | None


@dataclass(frozen=True)
class Slice:
    """One read of a link: the bytes (and text, for text items) and where they sit in the item."""

    uri: str
    mime_type: str
    data: bytes
    text: str | None
    size: int  # of the whole item
    lines: int  # of the whole item (0 when not text)
    range: dict[str, Any] = field(default_factory=dict)  # {"lines": [A, B]} or {"bytes": [A, B]}

    @property
    def next(self) -> str | None:
        """The URI of the rest of the asked range, when the server stopped short of it."""
        nxt = self.range.get("next")
        return nxt if isinstance(nxt, str) else None


def offload_links(result: CallToolResult | dict[str, Any]) -> list[dict[str, Any]]:
    """The `resource_link` items of a result that point to offloaded items, as JSON objects."""
    if isinstance(result, CallToolResult):
        data = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    else:
        data = result
    links = []
    for item in data.get("content") or ():
        if isinstance(item, dict) and item.get("type") == "resource_link":
            try:
                if parse_blob_uri(str(item.get("uri", ""))) is not None:
                    links.append(item)
            except ValueError:
                continue
    return links


def _span(value: Range, what: str) -> Span | None:
    if value is None or isinstance(value, tuple):
        return value
    return parse_span(value, what)


def range_uri(uri: str, *, lines: Range = None, bytes_: Range = None) -> str:
    """`uri` (an offload link) narrowed to a line or byte range; ValueError when it is not one."""
    ref = parse_blob_uri(uri)
    if ref is None:
        raise ValueError(f"{uri!r} is not an offload:// link")
    if lines is not None and bytes_ is not None:
        raise ValueError("give lines or bytes, not both")
    line_span = _span(lines, "lines")
    if line_span is not None and 0 in line_span:
        raise ValueError("line numbers start at 1 (negative ones count from the end)")
    return BlobRef(ref.task_id, ref.n, lines=line_span, bytes=_span(bytes_, "bytes")).uri


def _slice(contents: dict[str, Any], uri: str) -> Slice:
    meta = (contents.get("_meta") or {}).get(RANGE_META_KEY) or {}
    if isinstance(contents.get("text"), str):
        text: str | None = contents["text"]
        data = contents["text"].encode()
    else:
        text, data = None, base64.b64decode(contents.get("blob") or "")
    return Slice(
        uri=uri,
        mime_type=str(contents.get("mimeType") or ""),
        data=data,
        text=text,
        size=int(meta.get("size") or 0),
        lines=int(meta.get("totalLines") or 0),
        range={k: v for k, v in meta.items() if k in ("lines", "bytes", "next")},
    )


async def read_link(wire: WireClient, uri: str, *, lines: Range = None, bytes_: Range = None) -> Slice:
    """One `resources/read` of an offload link, for the whole item or a range of it."""
    if lines is not None or bytes_ is not None:
        uri = range_uri(uri, lines=lines, bytes_=bytes_)
    result = await wire.result("resources/read", {"uri": uri})
    contents = result.get("contents") or []
    if not contents or not isinstance(contents[0], dict):
        raise ValueError(f"resources/read {uri}: the answer holds no contents")
    return _slice(contents[0], uri)


async def read_all(wire: WireClient, uri: str, *, lines: Range = None, bytes_: Range = None) -> AsyncIterator[Slice]:
    """Every read it takes to get the whole range (or item), following `Slice.next`."""
    piece = await read_link(wire, uri, lines=lines, bytes_=bytes_)
    yield piece
    while piece.next is not None:
        piece = await read_link(wire, piece.next)
        yield piece
