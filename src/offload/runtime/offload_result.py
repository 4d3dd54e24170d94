"""Large results leave the task record: big content items become blobs plus a preview and a link.

A completed result over the tool's `offload_bytes` (default 64 KiB) has its largest content items
stored with the task (`store/blobs.py`, chunked, in the same store), largest first, until the rest
fits. Each offloaded item is replaced by two items:

- a `text` preview: what the tool put in the item's `_meta["offload/preview"]`, or else the first
  and last lines with the line and byte counts (images and audio: their type and size);
- a `resource_link` (uri `offload://task/<id>/blob/<n>`, name, mimeType, size, description) that
  `resources/read` serves on any instance, to the task's principal only, in ranges
  (`protocol/links.py`), until the task is purged.

`structuredContent` keeps its shape: a client checks it against the tool's `outputSchema`, so no link
can stand in it. Its large strings (the SDK puts a `-> str` tool's whole return value there as
`{"result": ...}`, mirroring the text item) are replaced by their preview, which is still a string
and ends with the link: the same blob as the mirrored text item, or a blob of their own with its link
appended to `content`. Large non-string parts stay; if they alone exceed the inline limit
(`max_result_bytes`), the task fails, saying so.

Results up to `max_offloaded_bytes` (default 256 MiB) are accepted this way; larger ones fail.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offload.protocol import INTERNAL_ERROR, TaskStatus
from offload.protocol.links import BLOB_META_KEY, PREVIEW_META_KEY, blob_uri
from offload.store import Change, TaskRecord, TaskStore
from offload.store.blobs import BlobStore
from offload.store.sidecars import blob_store_for

__all__ = ["DEFAULT_MAX_OFFLOADED_BYTES", "DEFAULT_OFFLOAD_BYTES", "ResultOffloader", "ResultTooLarge", "preview_text"]

DEFAULT_OFFLOAD_BYTES = 64 * 1024
DEFAULT_MAX_OFFLOADED_BYTES = 256 * 1024 * 1024
#: Lines of head and of tail in an automatic preview, and the most bytes each may take.
PREVIEW_LINES = 10
PREVIEW_BYTES = 1024
#: Items smaller than this stay inline: a link and a preview would not be smaller.
MIN_ITEM_BYTES = 2048
_EXTENSIONS = {"text/plain": "txt", "application/json": "json", "image/png": "png", "image/jpeg": "jpg"}


class ResultTooLarge(Exception):
    """The result cannot be stored even with its large items offloaded; the message says why."""


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _clip(line: str) -> str:
    raw = line.encode()
    return line if len(raw) <= PREVIEW_BYTES else raw[:PREVIEW_BYTES].decode(errors="ignore") + " [...]"


def preview_text(text: str, *, lines: int = PREVIEW_LINES) -> str:
    """The first and last `lines` lines of `text` with what lies between counted, each line clipped."""
    all_lines = text.splitlines()
    total, size = len(all_lines), len(text.encode())
    head = f"[{size:,} bytes, {total:,} lines; first {min(lines, total)} and last {min(lines, total)} shown]"
    if total <= 2 * lines:
        return "\n".join([head, *(_clip(line) for line in all_lines)])
    omitted = f"[... {total - 2 * lines:,} lines not shown ...]"
    return "\n".join([head, *map(_clip, all_lines[:lines]), omitted, *map(_clip, all_lines[-lines:])])


def _count_lines(text: str) -> int:
    """Lines as an editor counts them: a last line without a newline counts too."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


@dataclass
class _Item:
    index: int
    data: bytes
    mime: str
    text: str | None  # the item's text, for a preview, when it is text
    preview: str | None  # the tool's own preview
    size: int  # its JSON size in the result


def _payload(index: int, item: Any) -> _Item | None:
    """The bytes an offloadable content item carries, or None if it stays inline."""
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    raw_meta = item.get("_meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    preview = meta.get(PREVIEW_META_KEY) if isinstance(meta.get(PREVIEW_META_KEY), str) else None
    size = _size(item)
    try:
        if kind == "text" and isinstance(item.get("text"), str):
            return _Item(index, item["text"].encode(), "text/plain", item["text"], preview, size)
        if kind in ("image", "audio") and isinstance(item.get("data"), str):
            mime = str(item.get("mimeType") or "application/octet-stream")
            return _Item(index, base64.b64decode(item["data"], validate=True), mime, None, preview, size)
        if kind == "resource" and isinstance(resource := item.get("resource"), dict):
            mime = str(resource.get("mimeType") or "application/octet-stream")
            if isinstance(resource.get("text"), str):
                text = resource["text"]
                return _Item(index, text.encode(), mime or "text/plain", text, preview, size)
            if isinstance(resource.get("blob"), str):
                return _Item(index, base64.b64decode(resource["blob"], validate=True), mime, None, preview, size)
    except (binascii.Error, ValueError):
        return None  # not valid base64: leave it as the tool gave it
    return None


Path = tuple[str | int, ...]


def _string_leaves(value: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _string_leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _string_leaves(item, (*path, i))]
    return []


def _replace(value: Any, path: Path, new: str) -> Any:
    """A copy of `value` with the leaf at `path` replaced (containers along the path copied)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)  # type: ignore[index]
    return copy


class ResultOffloader:
    """Applies the rules of the module docstring to one completed result.

    `store()` gives the task store (it may be swapped before start); `settings_for(tool)` gives
    (offload_bytes, max_inline_bytes, max_offloaded_bytes) for a tool, offload_bytes 0 meaning off.
    """

    def __init__(self, store: Callable[[], TaskStore], settings_for: Callable[[str], tuple[int, int, int]]) -> None:
        self._store = store
        self.settings_for = settings_for
        self._blobs: tuple[TaskStore, BlobStore] | None = None

    def blobs(self) -> BlobStore:
        store = self._store()
        if self._blobs is None or self._blobs[0] is not store:
            self._blobs = (store, blob_store_for(store))
        return self._blobs[1]

    async def shape_outcome(self, record: TaskRecord, change: Change) -> Change:
        """A completed result as it is stored: large items offloaded, or the task failed saying why."""
        result = change.get("result")
        if change.get("status") != TaskStatus.COMPLETED or result is None:
            return change
        try:
            shaped = await self.shape(record.task_id, record.tool, record.expires_ms, result)
        except ResultTooLarge as exc:
            message = str(exc)
            return {
                "status": TaskStatus.FAILED,
                "error": {"code": INTERNAL_ERROR, "message": message},
                "status_message": message,
                "input_requests": {},
            }
        return change if shaped is result else {**change, "result": shaped}

    async def shape(self, task_id: str, tool: str, expires_ms: int | None, result: dict[str, Any]) -> dict[str, Any]:
        """The result to store: unchanged when small, else with large items offloaded; or ResultTooLarge."""
        threshold, max_inline, max_offloaded = self.settings_for(tool)
        size = _size(result)
        if size <= min(threshold, max_inline) or (threshold <= 0 and size <= max_inline):
            return result
        if threshold <= 0:
            raise ResultTooLarge(
                f"Tool result is {size} bytes, over the store limit of {max_inline} (offloading is off for {tool!r})"
            )
        if size > max_offloaded:
            raise ResultTooLarge(
                f"Tool result is {size} bytes, over the store limit of {max_offloaded} (for results with their "
                "large items offloaded)"
            )
        content = result.get("content")
        content = list(content) if isinstance(content, list) else []
        items = [p for i, c in enumerate(content) if (p := _payload(i, c))]
        items.sort(key=lambda item: item.size, reverse=True)
        replaced: dict[int, list[dict[str, Any]]] = {}
        previews: dict[str, str] = {}  # an offloaded text -> the preview that now stands for it
        remaining = size
        for item in items:
            if remaining <= threshold or item.size < MIN_ITEM_BYTES:
                break
            new = await self._offload(task_id, tool, expires_ms, item)
            replaced[item.index] = new
            if item.text is not None:
                previews[item.text] = new[0]["text"]
            remaining += _size(new) - item.size
        shaped = dict(result)
        shaped["content"] = [part for i, c in enumerate(content) for part in replaced.get(i, [c])]
        structured = result.get("structuredContent")
        if remaining > threshold and isinstance(structured, dict | list):
            # Large strings inside structuredContent become their preview: still strings, so the value
            # still fits a typical outputSchema. The SDK's mirror of a `-> str` tool's return value is the
            # same text as a content item: it points to that item's blob; any other gets one of its own.
            leaves = sorted(_string_leaves(structured, ()), key=lambda leaf: len(leaf[1]), reverse=True)
            extra = len(content)
            for path, text in leaves:
                if remaining <= threshold or len(text.encode()) < MIN_ITEM_BYTES:
                    break
                if text not in previews:
                    item = _Item(extra, text.encode(), "text/plain", text, None, _size(text))
                    new = await self._offload(task_id, tool, expires_ms, item)
                    shaped["content"].extend(new)
                    previews[text] = new[0]["text"]
                    remaining += _size(new)
                    extra += 1
                structured = _replace(structured, path, previews[text])
                remaining -= _size(text) - _size(previews[text])
            shaped["structuredContent"] = structured
        if _size(shaped) > max_inline:
            structured_size = _size(shaped.get("structuredContent")) if "structuredContent" in shaped else 0
            raise ResultTooLarge(
                f"Tool result is {size} bytes and still {_size(shaped)} after offloading its content, over the "
                f"store limit of {max_inline}"
                + (
                    f" (structuredContent is still {structured_size} bytes: only its large strings are offloaded)"
                    if structured_size
                    else ""
                )
            )
        return shaped

    async def _offload(self, task_id: str, tool: str, expires_ms: int | None, item: _Item) -> list[dict[str, Any]]:
        index = await self.blobs().put(task_id, item.index, item.data, expires_ms)
        lines = _count_lines(item.text) if item.text is not None else 0
        return self._replacement(task_id, tool, item, index.size, lines)

    def _replacement(self, task_id: str, tool: str, item: _Item, size: int, lines: int) -> list[dict[str, Any]]:
        uri = blob_uri(task_id, item.index)
        if item.preview is not None:
            preview = item.preview
        elif item.text is not None:
            preview = preview_text(item.text)
        else:
            preview = f"[{item.mime}, {size:,} bytes]"
        counted = f"{size:,} bytes" + (f", {lines:,} lines" if item.text is not None else "")
        link: dict[str, Any] = {
            "type": "resource_link",
            "uri": uri,
            "name": f"{tool}-item-{item.index}.{_EXTENSIONS.get(item.mime, 'bin')}",
            "mimeType": item.mime,
            "size": size,
            "description": f"Item {item.index} of the result of {tool} ({counted}), stored with the task: "
            f"read it with resources/read, or a slice with {uri}?lines=A:B (1-based, inclusive) or ?bytes=A:B",
            "_meta": {BLOB_META_KEY: {"taskId": task_id, "item": item.index, "bytes": size, "lines": lines}},
        }
        return [{"type": "text", "text": f"{preview}\n[full item: {uri}]"}, link]
