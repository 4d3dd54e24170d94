"""The blob store and duration log that go with a task store: same backend, same data, same lifetime."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from offload.store.base import TaskStore
from offload.store.blobs import BlobStore, MemoryBlobStore
from offload.store.durations import DurationLog, MemoryDurationLog

__all__ = ["blob_store_for", "duration_log_for"]

# A store without tables of its own (memory) keeps one blob store and one log per store object, so
# everything in the process that uses that store sees the same ones.
_memory_blobs: WeakKeyDictionary[TaskStore, MemoryBlobStore] = WeakKeyDictionary()
_memory_durations: WeakKeyDictionary[TaskStore, MemoryDurationLog] = WeakKeyDictionary()


def _backend(store: TaskStore) -> TaskStore:
    """The backend under any wrapper (offload.observe wraps stores to measure them; it keeps `inner`)."""
    while isinstance(inner := getattr(store, "inner", None), TaskStore):
        store = inner
    return store


def blob_store_for(store: TaskStore) -> BlobStore:
    """Blobs kept beside `store`'s tasks (the backend's own tables or keys; in memory otherwise)."""
    store = _backend(store)
    kind = type(store).__name__
    if kind == "SQLiteStore":
        from offload.store.sqlite_sidecar import SQLiteBlobStore

        return SQLiteBlobStore(store)  # type: ignore[arg-type]
    if kind == "RedisStore":
        from offload.store.redis_sidecar import RedisBlobStore

        return RedisBlobStore(store)  # type: ignore[arg-type]
    if kind == "PostgresStore":
        from offload.store.postgres_sidecar import PostgresBlobStore

        return PostgresBlobStore(store)  # type: ignore[arg-type]
    return _memory_blobs.setdefault(store, MemoryBlobStore())


def duration_log_for(store: TaskStore) -> DurationLog:
    """Recent tool durations kept beside `store`'s tasks, shared by the instances that share it."""
    store = _backend(store)
    kind = type(store).__name__
    if kind == "SQLiteStore":
        from offload.store.sqlite_sidecar import SQLiteDurationLog

        return SQLiteDurationLog(store)  # type: ignore[arg-type]
    if kind == "RedisStore":
        from offload.store.redis_sidecar import RedisDurationLog

        return RedisDurationLog(store)  # type: ignore[arg-type]
    if kind == "PostgresStore":
        from offload.store.postgres_sidecar import PostgresDurationLog

        return PostgresDurationLog(store)  # type: ignore[arg-type]
    return _memory_durations.setdefault(store, MemoryDurationLog())
