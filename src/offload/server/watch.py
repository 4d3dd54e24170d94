"""One watcher per instance that tells every push stream about the changes of the tasks it follows.

A change made on this instance reaches the streams at once (the runtime's listeners); one made by
another instance arrives as a store event (Redis, PostgreSQL) or, for a store shared only through
its file (SQLite), is found by looking. Looking is done here, once per interval for the whole
instance: the store is asked what changed among the watched tasks since the last look, so the cost
follows the number of changes, not streams x task ids (see `TaskStore.changed_since`). Each change
goes only to the streams that follow that task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from offload.runtime import TaskRuntime
from offload.runtime.lifecycle import CLOCK_SLACK_MS
from offload.store import StoreError, TaskRecord, now_ms

__all__ = ["TaskWatcher"]

logger = logging.getLogger(__name__)

Callback = Callable[[TaskRecord], None]

#: How often to look when other processes cannot reach us with events (SQLite shared by file).
WATCH_INTERVAL_S = 0.25
#: How often to look as a safety net when they can (an event sent while reconnecting is lost).
RESYNC_INTERVAL_S = 5.0


class TaskWatcher:
    """Routes task changes to the callbacks watching each task id; see the module docstring."""

    def __init__(self, runtime: TaskRuntime) -> None:
        self.runtime = runtime
        self._by_task: dict[str, set[Callback]] = {}
        self._looking = False
        runtime.listeners.add(self._dispatch)

    @property
    def interval_s(self) -> float:
        return RESYNC_INTERVAL_S if self.runtime.store.shared_events else WATCH_INTERVAL_S

    def watch(self, task_ids: list[str], callback: Callback) -> Callable[[], None]:
        """Call `callback` with each new state of these tasks; returns the function that stops it."""
        for task_id in task_ids:
            self._by_task.setdefault(task_id, set()).add(callback)
        if not self._looking and self._by_task and self.runtime.started:
            self._looking = True
            self.runtime.spawn(self._look)

        def unwatch() -> None:
            for task_id in task_ids:
                callbacks = self._by_task.get(task_id)
                if callbacks is not None:
                    callbacks.discard(callback)
                    if not callbacks:
                        del self._by_task[task_id]

        return unwatch

    @property
    def watched(self) -> int:
        return len(self._by_task)

    def _dispatch(self, record: TaskRecord) -> None:
        for callback in list(self._by_task.get(record.task_id, ())):
            try:
                callback(record)
            except Exception:
                logger.exception("a push stream failed to take a task change")

    async def _look(self) -> None:
        """Until nothing is watched: ask the store what changed since the last look."""
        since = now_ms()
        try:
            while self._by_task:
                await anyio.sleep(self.interval_s)
                started = now_ms()
                try:
                    changed = await self.runtime.store.changed_since(list(self._by_task), since - CLOCK_SLACK_MS)
                except StoreError as exc:
                    logger.debug("push watch skipped a look: %s", exc)
                    continue
                since = started
                for record in changed:
                    self._dispatch(record)
        finally:
            self._looking = False
