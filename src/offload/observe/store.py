"""`InstrumentedStore`: any TaskStore, with the latency and the errors of every call measured.

The runtime wraps its store once (`instrument_store`); the wrapper forwards every call and records
`offload.store.duration` and `offload.store.errors` with the operation's name and the backend's kind.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from offload.observe.metrics import task_metrics
from offload.store.base import TaskStore
from offload.store.query import TaskQuery
from offload.store.record import Change, EventHandler, TaskEvent, TaskRecord

__all__ = ["InstrumentedStore", "instrument_store"]

T = TypeVar("T")


def _backend(store: TaskStore) -> str:
    name = type(store).__name__.lower()
    return name[: -len("store")] if name.endswith("store") else name


def instrument_store(store: TaskStore) -> TaskStore:
    """`store` wrapped (once: an instrumented store comes back as it is)."""
    return store if isinstance(store, InstrumentedStore) else InstrumentedStore(store)


class InstrumentedStore(TaskStore):
    def __init__(self, inner: TaskStore) -> None:
        super().__init__()
        self.inner = inner
        self.url = inner.url
        self.shared_events = inner.shared_events
        backend = _backend(inner)
        self._attrs: dict[str, dict[str, str]] = {}
        self._backend = backend
        self._m = task_metrics()

    def __getattr__(self, name: str) -> Any:
        """What only the backend has (its path, key prefix, connections) comes from it."""
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _op(self, op: str) -> dict[str, str]:
        attrs = self._attrs.get(op)
        if attrs is None:
            attrs = self._attrs[op] = {"op": op, "backend": self._backend}
        return attrs

    async def _timed(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        start = time.perf_counter()
        try:
            return await call()
        except BaseException as exc:
            if isinstance(exc, Exception) and not isinstance(exc, ValueError):  # a duplicate id is no store fault
                self._m.store_errors.add(1, self._op(op))
            raise
        finally:
            self._m.store_duration.record(time.perf_counter() - start, self._op(op))

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def create(self, record: TaskRecord) -> None:
        await self._timed("create", lambda: self.inner.create(record))

    async def get(self, task_id: str) -> TaskRecord | None:
        return await self._timed("get", lambda: self.inner.get(task_id))

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        return await self._timed("update", lambda: self.inner.update(task_id, change, owner=owner))

    async def answer(self, task_id: str, responses: dict[str, Any], *, hold: bool = True) -> dict[str, Any]:
        return await self._timed("answer", lambda: self.inner.answer(task_id, responses, hold=hold))

    async def journal(self, task_id: str) -> dict[str, Any]:
        return await self._timed("journal", lambda: self.inner.journal(task_id))

    async def record(self, task_id: str, key: str, entry: dict[str, Any], *, owner: str) -> bool:
        return await self._timed("record", lambda: self.inner.record(task_id, key, entry, owner=owner))

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        return await self._timed("take_answers", lambda: self.inner.take_answers(task_id))

    async def answered_tasks(self, owner: str) -> list[str]:
        return await self._timed("answered_tasks", lambda: self.inner.answered_tasks(owner))

    async def purge_expired(self, at_ms: int) -> int:
        return await self._timed("purge_expired", lambda: self.inner.purge_expired(at_ms))

    async def claim_orphans(self, at_ms: int, owner: str, limit: int = 100) -> list[TaskRecord]:
        return await self._timed("claim_orphans", lambda: self.inner.claim_orphans(at_ms, owner, limit))

    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        return await self._timed("heartbeat", lambda: self.inner.heartbeat(owner, until_ms, at_ms=at_ms))

    async def release(self, owner: str) -> None:
        await self._timed("release", lambda: self.inner.release(owner))

    async def owned(self, owner: str) -> list[str]:
        return await self._timed("owned", lambda: self.inner.owned(owner))

    async def count_live(self, principal: str | None) -> int:
        return await self._timed("count_live", lambda: self.inner.count_live(principal))

    async def changed_since(self, task_ids: Collection[str], since_ms: int) -> list[TaskRecord]:
        return await self._timed("changed_since", lambda: self.inner.changed_since(task_ids, since_ms))

    async def publish(self, event: TaskEvent) -> None:
        await self._timed("publish", lambda: self.inner.publish(event))

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        return self.inner.subscribe(handler)

    async def query_tasks(self, query: TaskQuery) -> tuple[list[TaskRecord], str | None]:
        return await self._timed("list_tasks", lambda: self.inner.query_tasks(query))

    async def stats(self) -> dict[str, Any]:
        return await self._timed("stats", self.inner.stats)

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        return await self._timed("purge_tasks", lambda: self.inner.purge_tasks(task_ids))
