"""The backends the store contract runs on, and the sample tasks its tests (and the
backend-specific suites) build.

To test a new backend, add one entry to `BACKENDS`: an async factory that takes pytest's
`tmp_path` and returns a fresh, empty, *not yet opened* store.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from offload.store import MemoryStore, SQLiteStore, TaskRecord, TaskStore

StoreFactory = Callable[[Path], Awaitable[TaskStore]]


async def _memory(tmp_path: Path) -> TaskStore:
    return MemoryStore()


async def _sqlite(tmp_path: Path) -> TaskStore:
    return SQLiteStore(tmp_path / "tasks.db")


async def _redis(tmp_path: Path) -> TaskStore:
    from redis_server import redis_url, unique_prefix

    url = redis_url()  # the session's redis-server; skips the test when the test extra is missing
    from offload.store.redis import RedisStore

    return RedisStore(url, prefix=unique_prefix())


async def _postgres(tmp_path: Path) -> TaskStore:
    from offload.store.postgres import PostgresStore
    from postgres_server import shared_server

    return PostgresStore(await shared_server().fresh_schema())  # the session's server, a new schema


BACKENDS: dict[str, StoreFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "redis": _redis,
    "postgres": _postgres,
}

T0 = 1_700_000_000_000  # a fixed "now" for tests that pass the clock explicitly


def sample_record(task_id: str, **fields: Any) -> TaskRecord:
    """A parked task with every field set (nested JSON, non-ASCII), for backend-specific tests."""
    base: dict[str, Any] = {
        "tool": "slow_tool",
        "status": "input_required",
        "status_message": "waiting",
        "created_ms": T0,
        "ttl_ms": 3_600_000,
        "poll_interval_ms": 500,
        "principal": "user:alice",
        "owner": "instance-a",
        "attempts": 2,
        "input_requests": {"elicitation-1.1": {"method": "elicitation/create", "params": {"message": "name?"}}},
        "request": {"name": "slow_tool", "arguments": {"n": [1, 2, {"x": None}]}, "_meta": {"k": "ü"}},
    }
    base.update(fields)
    return TaskRecord(task_id=task_id, **base)


def new_id() -> str:
    return uuid.uuid4().hex


def make(task_id: str | None = None, **fields: Any) -> TaskRecord:
    """A minimal record; `fields` override any TaskRecord field."""
    fields.setdefault("tool", "slow_tool")
    return TaskRecord(task_id=task_id or new_id(), **fields)


def full_record(task_id: str | None = None) -> TaskRecord:
    """A record with every field set to something other than its default, JSON fields nested."""
    return TaskRecord(
        task_id=task_id or new_id(),
        tool="résumé-tool",
        status="input_required",
        status_message="Waiting for you ✓",
        created_ms=T0,
        updated_ms=T0 + 1234,
        ttl_ms=86_400_000,
        poll_interval_ms=750,
        principal="user:alice",
        owner="instance-a",
        attempts=3,
        result={"content": [{"type": "text", "text": "partial"}], "isError": False, "n": 1.5},
        error={"code": -32603, "message": "earlier failure", "data": {"retry": True, "why": None}},
        input_requests={
            "elicitation-1.1": {"method": "elicitation/create", "params": {"message": "Name?", "schema": {}}},
            "sampling-1.2": {"method": "sampling/createMessage", "params": {"messages": [1, "two", None]}},
        },
        request={"name": "slow_tool", "arguments": {"n": 3, "tags": ["a", "b"], "deep": {"x": [{}]}}, "_meta": {}},
    )


def asking(**fields: Any) -> TaskRecord:
    """A task waiting for three answers."""
    fields.setdefault("status", "input_required")
    fields.setdefault(
        "input_requests",
        {
            "elicitation-1.1": {"method": "elicitation/create", "params": {"message": "a"}},
            "elicitation-1.2": {"method": "elicitation/create", "params": {"message": "b"}},
            "sampling-1.3": {"method": "sampling/createMessage", "params": {"messages": []}},
        },
    )
    return make(**fields)


async def raw_publish(store: TaskStore, payload: str) -> None:
    """Put `payload` on the store's event channel as some other writer could (Redis, PostgreSQL);
    backends whose events never leave the process have no channel: the test is skipped."""
    if type(store).__name__ == "RedisStore":
        import redis.asyncio as aioredis

        from redis_server import redis_url

        client = aioredis.from_url(redis_url())
        try:
            await client.publish(store.channel, payload)  # type: ignore[attr-defined]
        finally:
            await client.aclose()
    elif type(store).__name__ == "PostgresStore":
        import asyncpg

        from offload.store.postgres import CHANNEL

        conn = await asyncpg.connect(store._dsn)  # type: ignore[attr-defined]
        try:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        finally:
            await conn.close()
    else:
        pytest.skip(f"{type(store).__name__} events never leave the process: nothing can be malformed")
