"""Large result items stored beside their task, in chunks, behind one small interface.

A blob is addressed by (task id, item number). It is written in chunks of `CHUNK_BYTES`; each chunk
records its size and how many newlines it holds, so a byte or line range is served by reading only
the chunks it touches (a 100 MB log read at `lines=-50:` fetches one or two chunks).

Backends implement four primitives (`_write_chunks`, `_index`, `_read_chunks`, `delete`); the range
logic lives here once. A blob lives as long as its task: backends purge it with the task (a trigger on
SQLite and PostgreSQL, key expiry on Redis) and `expires_ms` bounds blobs whose task never took them.
An object store (S3 and the like) fits the same four primitives.
"""

from __future__ import annotations

import abc
import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

from offload.store.record import now_ms

__all__ = ["CHUNK_BYTES", "BlobIndex", "BlobStore", "MemoryBlobStore", "SidecarBlobStore", "chunk_rows", "chunked"]

#: Chunk size: small enough that a slice reads little, large enough that 256 MiB is ~1000 rows.
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class BlobIndex:
    """Per-chunk sizes and newline counts of one blob: enough to locate any byte or line."""

    sizes: tuple[int, ...]
    newlines: tuple[int, ...]

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def byte_starts(self) -> list[int]:
        """Where each chunk starts in the blob."""
        return _before_each(self.sizes)

    def newline_counts_before(self) -> list[int]:
        """How many newlines the chunks before each chunk hold."""
        return _before_each(self.newlines)


def _before_each(counts: tuple[int, ...]) -> list[int]:
    """The sum of the counts before each one: [0, c0, c0+c1, ...], as long as `counts`."""
    return list(accumulate(counts[:-1], initial=0)) if counts else []


def chunked(data: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes, int]]:
    """(chunk number, bytes, newline count) for each chunk of `data`; one empty chunk for empty data."""
    if not data:
        yield 0, b"", 0
        return
    view = memoryview(data)
    for number, start in enumerate(range(0, len(data), chunk_bytes)):
        piece = bytes(view[start : start + chunk_bytes])
        yield number, piece, piece.count(b"\n")


#: A chunk as the SQL backends store it: a row of their blob table, columns in this order.
ChunkRow = tuple[str, int, int, int, int, int | None, bytes]


def chunk_rows(task_id: str, n: int, chunks: list[tuple[int, bytes, int]], expires_ms: int | None) -> list[ChunkRow]:
    """(task_id, n, chunk, size, newlines, expires_ms, data) for each chunk of blob (task_id, n)."""
    return [(task_id, n, number, len(data), newlines, expires_ms, data) for number, data, newlines in chunks]


def count_lines(index: BlobIndex, last_byte: int | None) -> int:
    """Lines of a blob: its newlines, plus one for a last line without a newline."""
    newlines = sum(index.newlines)
    return newlines + (1 if index.size and last_byte != ord("\n") else 0)


class BlobStore(abc.ABC):
    """Chunked blobs keyed by (task id, item number); see the module docstring."""

    chunk_bytes: int = CHUNK_BYTES

    # -- what a backend provides --

    @abc.abstractmethod
    async def _write_chunks(
        self, task_id: str, n: int, chunks: list[tuple[int, bytes, int]], expires_ms: int | None
    ) -> None:
        """Store these chunks (number, data, newlines) of blob (task_id, n), replacing any with the same numbers."""

    @abc.abstractmethod
    async def _index(self, task_id: str, n: int) -> BlobIndex | None:
        """Sizes and newline counts of the blob's chunks in order, or None if it is not stored."""

    @abc.abstractmethod
    async def _read_chunks(self, task_id: str, n: int, first: int, last: int) -> list[bytes]:
        """Chunks `first`..`last` (inclusive) of the blob, in order."""

    @abc.abstractmethod
    async def delete(self, task_id: str) -> None:
        """Remove every blob of the task (an outcome that was not stored, for instance)."""

    # -- the interface --

    async def put(self, task_id: str, n: int, data: bytes, expires_ms: int | None) -> BlobIndex:
        """Store `data` as blob n of the task, in chunks written a few at a time."""
        batch: list[tuple[int, bytes, int]] = []
        sizes: list[int] = []
        newlines: list[int] = []
        pending = 0
        for chunk in chunked(data, self.chunk_bytes):
            batch.append(chunk)
            sizes.append(len(chunk[1]))
            newlines.append(chunk[2])
            pending += len(chunk[1])
            if pending >= 16 * self.chunk_bytes:  # keep single writes bounded: other writers interleave
                await self._write_chunks(task_id, n, batch, expires_ms)
                batch, pending = [], 0
        if batch:
            await self._write_chunks(task_id, n, batch, expires_ms)
        return BlobIndex(tuple(sizes), tuple(newlines))

    async def index(self, task_id: str, n: int) -> BlobIndex | None:
        return await self._index(task_id, n)

    async def read_bytes(self, task_id: str, n: int, start: int, end: int, index: BlobIndex | None = None) -> bytes:
        """Bytes [start, end) of the blob, clipped to its size (b"" when it is not stored)."""
        index = index or await self._index(task_id, n)
        if index is None:
            return b""
        size = index.size
        start, end = max(0, min(start, size)), max(0, min(end, size))
        if end <= start:
            return b""
        starts = index.byte_starts()
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        data = b"".join(await self._read_chunks(task_id, n, first, last))
        offset = starts[first]
        return data[start - offset : end - offset]

    async def read_lines(
        self, task_id: str, n: int, first_line: int, last_line: int | None, index: BlobIndex | None = None
    ) -> bytes:
        """Lines `first_line`..`last_line` (1-based, inclusive; None: to the end), with their newlines."""
        index = index or await self._index(task_id, n)
        if index is None or first_line < 1 or (last_line is not None and last_line < first_line):
            return b""
        before = index.newline_counts_before()
        # Line k starts after newline k-1: in the chunk holding that newline (chunk 0 for line 1).
        first = 0 if first_line == 1 else max(bisect.bisect_left(before, first_line - 1) - 1, 0)
        if last_line is None:
            last = len(index.sizes) - 1
        else:  # line `last_line` ends at newline number `last_line` (or at the end of the blob)
            last = min(max(bisect.bisect_left(before, last_line) - 1, 0), len(index.sizes) - 1)
        data = b"".join(await self._read_chunks(task_id, n, first, last))
        skip = first_line - 1 - before[first]
        pos = 0
        for _ in range(skip):
            pos = data.find(b"\n", pos)
            if pos < 0:
                return b""
            pos += 1
        if last_line is None:
            return data[pos:]
        end = pos
        for _ in range(last_line - first_line + 1):
            nxt = data.find(b"\n", end)
            if nxt < 0:
                return data[pos:]
            end = nxt + 1
        return data[pos:end]


_Store = TypeVar("_Store")


class SidecarBlobStore(BlobStore, Generic[_Store]):
    """Blobs in a task store's own database or server, reached through that store's connections."""

    def __init__(self, store: _Store) -> None:
        self.store = store


class MemoryBlobStore(BlobStore):
    """For `MemoryStore`: this process only; blobs whose expiry passed are dropped as new ones arrive."""

    def __init__(self) -> None:
        self._blobs: dict[tuple[str, int], dict[int, tuple[bytes, int]]] = {}
        self._expires: dict[tuple[str, int], int | None] = {}

    async def _write_chunks(
        self, task_id: str, n: int, chunks: list[tuple[int, bytes, int]], expires_ms: int | None
    ) -> None:
        at = now_ms()
        for key in [k for k, exp in self._expires.items() if exp is not None and exp <= at]:
            self._blobs.pop(key, None)
            self._expires.pop(key, None)
        stored = self._blobs.setdefault((task_id, n), {})
        for number, data, newlines in chunks:
            stored[number] = (data, newlines)
        self._expires[(task_id, n)] = expires_ms

    async def _index(self, task_id: str, n: int) -> BlobIndex | None:
        stored = self._blobs.get((task_id, n))
        if stored is None:
            return None
        ordered = [stored[i] for i in sorted(stored)]
        return BlobIndex(tuple(len(d) for d, _ in ordered), tuple(c for _, c in ordered))

    async def _read_chunks(self, task_id: str, n: int, first: int, last: int) -> list[bytes]:
        stored = self._blobs.get((task_id, n), {})
        return [stored[i][0] for i in range(first, last + 1) if i in stored]

    async def delete(self, task_id: str) -> None:
        for key in [k for k in self._blobs if k[0] == task_id]:
            self._blobs.pop(key, None)
            self._expires.pop(key, None)
