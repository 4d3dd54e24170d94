"""The store interface every backend implements, the task record it holds, and the faults it raises.

Liveness is per instance, not per task: each instance sharing a store writes one heartbeat row
(`heartbeat`, O(1) whatever the number of tasks it runs), and a task belongs to whichever instance
its `owner` names. When an owner's heartbeat runs out (a crash) or it `release`s (a clean
shutdown), every live task it held becomes claimable at once by `claim_orphans`.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Collection
from typing import Any, Unpack

from offload._callbacks import call_each
from offload.store.query import TaskFilters, TaskQuery
from offload.store.record import Change, EventHandler, TaskEvent, TaskRecord, check_event

logger = logging.getLogger(__name__)


class TaskStore(abc.ABC):
    """Durable task state. Every method is atomic with respect to the others.

    Rules every backend enforces (the shared contract, tests/store_contract.py, checks them):
    a terminal status is final (`update` on a terminal task changes nothing and returns None, so
    the writer that finished first wins); writes that pass `owner` apply only while that instance
    still holds the task, so an instance whose tasks were taken over cannot complete them; values
    are checked before anything is written (`StoreEncodingError`), `Change` keys too (ValueError);
    driver faults surface as `StoreUnavailable` or `StoreFull`.

    The event methods default to delivery within this process; backends with a server of their
    own (Redis, PostgreSQL) reach every instance.
    """

    url: str = ""
    #: Whether `publish` reaches other processes; when not, push streams watch the store instead.
    shared_events: bool = False
    #: Tasks deleted per statement by `purge_expired`: a big purge never holds the store for long.
    purge_batch: int = 1000

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and create or upgrade the schema."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # -- tasks --

    @abc.abstractmethod
    async def create(self, record: TaskRecord) -> None:
        """Persist a new task; when this returns, `get` on any instance finds it.

        Raises ValueError if a task with this id already exists (the stored one is kept).
        """

    @abc.abstractmethod
    async def get(self, task_id: str) -> TaskRecord | None:
        """The task, or None if unknown or purged."""

    @abc.abstractmethod
    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        """Apply `change` to a non-terminal task (held by `owner`, if given); None if nothing changed."""

    @abc.abstractmethod
    async def answer(self, task_id: str, responses: dict[str, Any], *, hold: bool = True) -> dict[str, Any]:
        """Take the responses whose keys are outstanding; return those taken.

        Taken keys leave `input_requests`; when no request remains open the task goes back to
        `working`. Keys that are unknown or already answered are ignored (tasks.md "Task Update
        Requests"). Each taken key is recorded in the task's journal, in the same atomic step, as
        `{"method", "params", "answer"}` (the request as it was outstanding, and its answer), so a
        replay finds it. With `hold` (the default) the answers also wait until the owner
        `take_answers`; without, the caller hands them to the tool itself.
        """

    # -- the journal: what a tool asked and did, for replay (runtime/replay.py) --

    @abc.abstractmethod
    async def journal(self, task_id: str) -> dict[str, Any]:
        """The task's recorded interaction, `{key: entry}`: answered input requests (written by
        `answer`) and durable steps (written by `record`). Empty for an unknown task."""

    @abc.abstractmethod
    async def record(self, task_id: str, key: str, entry: dict[str, Any], *, owner: str) -> bool:
        """Put `entry` under `key` in the journal of a live task held by `owner`; False (nothing
        written) otherwise. The entry is checked before anything is written (StoreEncodingError).
        A journal entry is not a visible change: `updated_ms` stays as it is."""

    @abc.abstractmethod
    async def take_answers(self, task_id: str) -> dict[str, Any]:
        """Remove and return the answers `answer` left for the task's owner."""

    @abc.abstractmethod
    async def answered_tasks(self, owner: str) -> list[str]:
        """Ids of this owner's live tasks that have answers waiting."""

    async def changed_since(self, task_ids: Collection[str], since_ms: int) -> list[TaskRecord]:
        """Those of these tasks whose `updated_ms` is `since_ms` or later (push streams' safety net).

        `task_ids` may be any collection with fast membership (a set, a dict's keys). This default
        reads each task; a backend that can find recent changes directly overrides it so the cost
        follows the number of changes, not of watched tasks.
        """
        out: list[TaskRecord] = []
        for task_id in list(task_ids):
            record = await self.get(task_id)
            if record is not None and record.updated_ms >= since_ms:
                out.append(record)
        return out

    @abc.abstractmethod
    async def count_live(self, principal: str | None) -> int:
        """How many live (working or input_required) tasks this principal has: admission limits use it."""

    @abc.abstractmethod
    async def purge_expired(self, at_ms: int) -> int:
        """Delete tasks whose TTL has passed, `purge_batch` at a time; return how many."""

    # -- instances --

    @abc.abstractmethod
    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        """Declare `owner` alive until `until_ms`: one write, whatever the number of its tasks.

        Returns False when the owner had already been declared dead (its previous heartbeat ran
        out before `at_ms`, default now, or it released or was never seen): some of its tasks may
        have been taken over, so the caller compares `owned()` with what it runs.
        """

    @abc.abstractmethod
    async def release(self, owner: str) -> None:
        """Declare `owner` dead now (a clean shutdown): all its live tasks become claimable at once."""

    @abc.abstractmethod
    async def owned(self, owner: str) -> list[str]:
        """Ids of the live tasks `owner` holds."""

    @abc.abstractmethod
    async def claim_orphans(self, at_ms: int, owner: str, limit: int = 100) -> list[TaskRecord]:
        """Take over up to `limit` live tasks that have no owner (queued for workers) or whose
        owner's heartbeat ran out before `at_ms` (or who released).

        Each claimed task gets `owner` and `attempts + 1`, atomically, so two instances never claim
        the same task. Costs O(claimed + dead owners), never a scan of every live task. A dead
        owner left holding no live task is forgotten (its next `heartbeat` returns False).
        """

    # -- events --

    async def publish(self, event: TaskEvent) -> None:
        """Tell every instance sharing the store (here: this process). ValueError for an unknown kind."""
        check_event(event)
        self._deliver(event)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        """Call `handler` for every event; returns the function that unsubscribes."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def _deliver(self, event: TaskEvent) -> None:
        call_each(self._handlers, event, logger, "task event handler")

    # -- operations: the admin CLI and the console (offload.ops) --

    async def list_tasks(self, **filters: Unpack[TaskFilters]) -> tuple[list[TaskRecord], str | None]:
        """One page of tasks, newest first, and the cursor of the next page (None after the last).

        Filters combine: `status` (one or several), `tool`, `principal`, and `older_than_ms`, an
        absolute time in ms since the epoch (only tasks created before it). Pages are ordered by
        `(created_ms, task_id)`, fixed at creation, so paging is stable while tasks come and go
        (offload.store.query). Raises ValueError for an unknown status or a malformed cursor.
        """
        return await self.query_tasks(TaskQuery.build(**filters))

    @abc.abstractmethod
    async def query_tasks(self, query: TaskQuery) -> tuple[list[TaskRecord], str | None]:
        """`list_tasks` with its arguments checked and normalized: what each backend implements."""

    @abc.abstractmethod
    async def stats(self) -> dict[str, Any]:
        """Task counts: `{"total", "live", "by_status": {status: n}, "by_tool": {tool: {status: n}}}`."""

    @abc.abstractmethod
    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        """Delete those of the given tasks that are terminal; return the ids deleted.

        A live task is never deleted here: its owner still writes to it (cancel it first).
        """


__all__ = ["TaskStore"]
