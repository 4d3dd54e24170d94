"""Links to large result items stored with a task, and the ranges a read can ask for.

MCP's `resources/read` has no range parameter, so the range rides in the URI's query:

    offload://task/<taskId>/blob/<n>                 the whole item n of the task's result
    offload://task/<taskId>/blob/<n>?lines=A:B       lines A..B, 1-based and inclusive (as `sed -n A,Bp`)
    offload://task/<taskId>/blob/<n>?bytes=A:B       bytes A..B-1, 0-based, end exclusive (a Python slice)

Either bound may be left out (`lines=:20`, `lines=100:`), and negative numbers count from the end
(`lines=-50:` is the last 50 lines, `bytes=-1024:` the last KiB). `lines=N` is line N alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BLOB_META_KEY",
    "PREVIEW_META_KEY",
    "RANGE_META_KEY",
    "SCHEME",
    "BlobRef",
    "blob_uri",
    "parse_blob_uri",
    "parse_span",
    "resolve_lines",
]

SCHEME: Final = "offload"
#: On a content item a tool returns: the short text to show instead of the automatic head and tail.
PREVIEW_META_KEY: Final = "offload/preview"
#: On a resource_link offload made: {"taskId", "item", "bytes", "lines"} of the stored item.
BLOB_META_KEY: Final = "offload/blob"
#: On read contents: what part of the item they hold, and where the rest continues.
RANGE_META_KEY: Final = "offload/range"

_PATH = re.compile(r"^/([A-Za-z0-9_-]{1,256})/blob/(\d{1,6})$")
_SPAN = re.compile(r"^(-?\d*)(?::(-?\d*))?$")

Span = tuple[int | None, int | None]


@dataclass(frozen=True)
class BlobRef:
    """What an offload URI names: item `n` of a task's result, and the range asked for (if any)."""

    task_id: str
    n: int
    lines: Span | None = None
    bytes: Span | None = None

    @property
    def uri(self) -> str:
        return blob_uri(self.task_id, self.n, lines=self.lines, bytes_=self.bytes)


def _fmt(span: Span) -> str:
    first, last = span
    return f"{'' if first is None else first}:{'' if last is None else last}"


def blob_uri(task_id: str, n: int, *, lines: Span | None = None, bytes_: Span | None = None) -> str:
    uri = f"{SCHEME}://task/{task_id}/blob/{n}"
    if lines is not None:
        return f"{uri}?lines={_fmt(lines)}"
    if bytes_ is not None:
        return f"{uri}?bytes={_fmt(bytes_)}"
    return uri


def parse_span(text: str, what: str) -> Span:
    """`A:B`, `A:`, `:B` or `N` (= `N:N` for lines); ValueError naming `what` otherwise."""
    match = _SPAN.match(text.strip())
    if match is None or text.strip() in ("", ":"):
        raise ValueError(f"{what} must be A:B, A:, :B or N with integers A and B (got {text!r})")
    first = int(match.group(1)) if match.group(1) not in ("", "-") else None
    if match.group(2) is None:
        if first is None:
            raise ValueError(f"{what} must be A:B, A:, :B or N with integers A and B (got {text!r})")
        return first, first
    last = int(match.group(2)) if match.group(2) not in ("", "-") else None
    return first, last


def parse_blob_uri(uri: str) -> BlobRef | None:
    """The blob an `offload://` URI names; None for any other scheme; ValueError if malformed."""
    parts = urlsplit(uri)
    if parts.scheme != SCHEME:
        return None
    match = _PATH.match(parts.path) if parts.netloc == "task" else None
    if match is None:
        raise ValueError(f"{uri!r} is not an offload link: expected offload://task/<taskId>/blob/<n>[?lines=A:B]")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(query) - {"lines", "bytes"}
    if unknown or ("lines" in query and "bytes" in query):
        raise ValueError(f"{uri!r}: the query may hold one of lines=A:B or bytes=A:B, nothing else")
    lines = parse_span(query["lines"], "lines") if "lines" in query else None
    if lines is not None and 0 in lines:
        raise ValueError(f"{uri!r}: line numbers start at 1 (negative ones count from the end)")
    if "bytes" in query and ":" not in query["bytes"]:
        raise ValueError(f"{uri!r}: bytes must be a range A:B (0-based, end exclusive), A: or :B")
    byte_span = parse_span(query["bytes"], "bytes") if "bytes" in query else None
    return BlobRef(match.group(1), int(match.group(2)), lines, byte_span)


def resolve_lines(span: Span, total: int) -> tuple[int, int]:
    """Absolute 1-based inclusive (first, last) for a line span over `total` lines (may be empty)."""
    first, last = span

    def absolute(value: int | None, default: int) -> int:
        if value is None:
            return default
        return total + 1 + value if value < 0 else value

    return max(absolute(first, 1), 1), min(absolute(last, total), total)
