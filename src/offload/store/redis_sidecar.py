"""Blobs and tool durations on the Redis store's server (same key prefix, see `redis.py`).

Layout under the prefix:

- `blobidx:<task>:<n>`: hash, chunk number -> "size,newlines";
- `blobdata:<task>:<n>`: hash, chunk number -> the chunk's bytes;
- `durations:<tool>`: list of recent durations in ms, newest last, trimmed to `keep` (RPUSH + LTRIM
  in one transaction).

Both blob keys expire (PEXPIREAT) a grace period after their task does, so a blob goes with its task
with no sweep. The store's own client decodes replies as text, so chunk bytes go over a client of
their own, opened per operation: blob reads and writes are rare and large, so a connect is noise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from offload.store.blobs import BlobIndex, SidecarBlobStore
from offload.store.durations import SidecarDurationLog
from offload.store.redis import RedisStore

__all__ = ["BLOB_GRACE_MS", "RedisBlobStore", "RedisDurationLog"]

#: Blobs outlive their task's expiry by this much: the runtime purges expired tasks a minute late too.
BLOB_GRACE_MS = 120_000


class RedisBlobStore(SidecarBlobStore[RedisStore]):
    def _keys(self, task_id: str, n: int) -> tuple[str, str]:
        prefix = self.store.prefix
        return f"{prefix}blobidx:{task_id}:{n}", f"{prefix}blobdata:{task_id}:{n}"

    @asynccontextmanager
    async def _binary(self) -> AsyncIterator[Any]:
        client: Any = aioredis.Redis.from_url(self.store._conn_url, decode_responses=False)
        try:
            yield client
        finally:
            await client.aclose()

    async def _write_chunks(
        self, task_id: str, n: int, chunks: list[tuple[int, bytes, int]], expires_ms: int | None
    ) -> None:
        idx, data = self._keys(task_id, n)
        async with self._binary() as client:
            pipe = client.pipeline(transaction=True)
            pipe.hset(idx, mapping={str(num): f"{len(blob)},{lines}" for num, blob, lines in chunks})
            pipe.hset(data, mapping={str(num): blob for num, blob, _ in chunks})
            if expires_ms is not None:
                pipe.pexpireat(idx, expires_ms + BLOB_GRACE_MS)
                pipe.pexpireat(data, expires_ms + BLOB_GRACE_MS)
            await pipe.execute()

    async def _index(self, task_id: str, n: int) -> BlobIndex | None:
        idx, _ = self._keys(task_id, n)
        fields: dict[str, str] = await self.store._redis().hgetall(idx)
        if not fields:
            return None
        ordered = [fields[k].split(",") for k in sorted(fields, key=int)]
        return BlobIndex(tuple(int(s) for s, _ in ordered), tuple(int(c) for _, c in ordered))

    async def _read_chunks(self, task_id: str, n: int, first: int, last: int) -> list[bytes]:
        _, data = self._keys(task_id, n)
        async with self._binary() as client:
            values = await client.hmget(data, [str(i) for i in range(first, last + 1)])
        return [bytes(v) for v in values if v is not None]

    async def delete(self, task_id: str) -> None:
        client = self.store._redis()
        prefix = self.store.prefix
        keys = [k async for k in client.scan_iter(match=f"{prefix}blob*:{task_id}:*", count=500)]
        if keys:
            await client.delete(*keys)


class RedisDurationLog(SidecarDurationLog[RedisStore]):
    def _key(self, tool: str) -> str:
        return f"{self.store.prefix}durations:{tool}"

    async def add(self, tool: str, duration_ms: int) -> None:
        pipe = self.store._redis().pipeline(transaction=True)
        pipe.rpush(self._key(tool), int(duration_ms))
        pipe.ltrim(self._key(tool), -self.keep, -1)
        await pipe.execute()

    async def recent(self, tool: str) -> list[int]:
        values = await self.store._redis().lrange(self._key(tool), 0, -1)
        return [int(v) for v in values]
