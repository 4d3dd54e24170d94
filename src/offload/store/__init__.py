"""Durable task state behind one small interface, chosen by URL."""

from __future__ import annotations

from urllib.parse import parse_qsl

from offload.store.base import TaskStore
from offload.store.errors import StoreEncodingError, StoreError, StoreFull, StoreUnavailable
from offload.store.memory import MemoryStore
from offload.store.record import Change, EventHandler, TaskEvent, TaskRecord, now_ms
from offload.store.sqlite import SQLiteStore

DEFAULT_STORE_URL = "sqlite:///offload-tasks.db"


def open_store(url: str) -> TaskStore:
    """Build (not yet open) the store a URL names: `sqlite:///PATH` (`?synchronous=full` to survive a
    power loss too), `sqlite:///:memory:`, `memory://`,
    `redis://HOST:PORT/DB` or `rediss://...` (optionally `?prefix=KEYPREFIX`; needs `offload[redis]`),
    `postgresql://USER:PASSWORD@HOST:PORT/DB` or `postgres://...` (needs `offload[postgres]`)."""
    if url.startswith(("redis://", "rediss://")):
        try:
            from offload.store.redis import RedisStore
        except ImportError as exc:  # the message names the extra to install
            raise ImportError(f"store URL {url.split('@')[-1]!r}: {exc}") from exc
        return RedisStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from offload.store.postgres import PostgresStore
        except ImportError as exc:  # the message names the extra to install
            raise ImportError(f"store URL {url.split('@')[-1]!r}: {exc}") from exc
        return PostgresStore(url)
    if url.startswith("sqlite://"):
        path, _, query = url[len("sqlite://") :].partition("?")
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel/path is relative, sqlite:////abs/path absolute
        if not path:
            raise ValueError(f"store URL {url!r} names no file: use sqlite:///PATH")
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ValueError(f"store URL {url!r}: unknown option {sorted(unknown)[0]!r} (known: synchronous)")
        return SQLiteStore(path, synchronous=options.get("synchronous", "NORMAL"))
    if url in ("memory://", "memory:"):
        return MemoryStore()
    raise ValueError(
        f"unsupported store URL {url!r}: expected sqlite:///PATH, memory://, redis://HOST:PORT/DB or postgresql://HOST/DB"
    )


__all__ = [
    "DEFAULT_STORE_URL",
    "Change",
    "EventHandler",
    "MemoryStore",
    "SQLiteStore",
    "StoreEncodingError",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "TaskEvent",
    "TaskRecord",
    "TaskStore",
    "now_ms",
    "open_store",
]
