"""The blob store and duration log that go with a task store: same backend, same data, same lifetime."""

from __future__ import annotations

import importlib
from typing import Any
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


#: Backend class name -> the sidecar module and its blob store and duration log classes.
_SIDECARS = {
    "SQLiteStore": ("offload.store.sqlite_sidecar", "SQLiteBlobStore", "SQLiteDurationLog"),
    "RedisStore": ("offload.store.redis_sidecar", "RedisBlobStore", "RedisDurationLog"),
    "PostgresStore": ("offload.store.postgres_sidecar", "PostgresBlobStore", "PostgresDurationLog"),
}


def _sidecar(store: TaskStore, which: int) -> Any:
    """The backend's own sidecar (imported on first use: each needs its driver), or None."""
    entry = _SIDECARS.get(type(store).__name__)
    if entry is None:
        return None
    return getattr(importlib.import_module(entry[0]), entry[which])(store)


def blob_store_for(store: TaskStore) -> BlobStore:
    """Blobs kept beside `store`'s tasks (the backend's own tables or keys; in memory otherwise)."""
    store = _backend(store)
    found: BlobStore | None = _sidecar(store, 1)
    return found if found is not None else _memory_blobs.setdefault(store, MemoryBlobStore())


def duration_log_for(store: TaskStore) -> DurationLog:
    """Recent tool durations kept beside `store`'s tasks, shared by the instances that share it."""
    store = _backend(store)
    found: DurationLog | None = _sidecar(store, 2)
    return found if found is not None else _memory_durations.setdefault(store, MemoryDurationLog())
