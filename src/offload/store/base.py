"""The store interface every backend implements, and the task record it holds."""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict

from offload.protocol import TERMINAL

logger = logging.getLogger(__name__)

EventKind = Literal["answer", "cancel", "changed", "new"]


@dataclass(frozen=True)
class TaskEvent:
    """A hint that something happened to a task, for the instances sharing a store.

    `answer`: answers wait in the store for the task's owner; `cancel`: the owner should stop the
    tool; `changed`: push streams elsewhere should re-read the task; `new`: a task waits for a
    worker. Events carry no state: receivers read the store, so a lost event only delays.
    """

    kind: EventKind
    task_id: str
    origin: str = ""


EventHandler = Callable[[TaskEvent], None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class TaskRecord:
    """Everything durable about one task.

    `input_requests` holds only the outstanding server-to-client requests, keyed by ids that are
    unique over the task's lifetime (tasks.md "Task Update Requests"). `request` keeps what is
    needed to run the tool again after a crash (name, arguments, the caller's `_meta`).
    """

    task_id: str
    tool: str
    status: str = "working"
    status_message: str | None = None
    created_ms: int = field(default_factory=now_ms)
    updated_ms: int = 0
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    principal: str | None = None
    owner: str | None = None
    lease_ms: int | None = None
    attempts: int = 1
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.updated_ms:
            self.updated_ms = self.created_ms

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def expires_ms(self) -> int | None:
        return None if self.ttl_ms is None else self.created_ms + self.ttl_ms

    def expired(self, at_ms: int) -> bool:
        exp = self.expires_ms
        return exp is not None and at_ms >= exp

    def copy(self) -> TaskRecord:
        return replace(
            self,
            input_requests=dict(self.input_requests),
            result=None if self.result is None else dict(self.result),
            error=None if self.error is None else dict(self.error),
        )


class Change(TypedDict, total=False):
    """Fields an `update` may set; absent keys stay as they are."""

    status: str
    status_message: str | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    input_requests: dict[str, Any]
    poll_interval_ms: int | None
    ttl_ms: int | None
    owner: str | None
    lease_ms: int | None


class TaskStore(abc.ABC):
    """Durable task state. Every method is atomic with respect to the others.

    The one rule every backend enforces: a terminal status is final. `update` on a terminal
    task changes nothing and returns None, which is how "a task that finished first keeps its
    terminal status" holds across racing writers. Writes that pass `owner` apply only while
    that instance still holds the task, so an instance that lost its lease cannot complete it.

    The event methods default to delivery within this process; backends with a server of their
    own (Redis, PostgreSQL) reach every instance.
    """

    url: str = ""
    #: Whether `publish` reaches other processes; when not, push streams watch the store instead.
    shared_events: bool = False

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and create or upgrade the schema."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

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
    async def answer(self, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
        """Take the responses whose keys are outstanding; return those taken.

        Taken keys leave `input_requests` and wait in the store until the owner `take_answers`;
        when no request remains open the task goes back to `working`. Keys that are unknown or
        already answered are ignored (tasks.md "Task Update Requests").
        """

    @abc.abstractmethod
    async def take_answers(self, task_id: str) -> dict[str, Any]:
        """Remove and return the answers `answer` left for the task's owner."""

    @abc.abstractmethod
    async def answered_tasks(self, owner: str) -> list[str]:
        """Ids of this owner's live tasks that have answers waiting."""

    @abc.abstractmethod
    async def purge_expired(self, at_ms: int) -> int:
        """Delete tasks whose TTL has passed; return how many."""

    @abc.abstractmethod
    async def claim_orphans(self, at_ms: int, owner: str, lease_ms: int, limit: int = 100) -> list[TaskRecord]:
        """Take over non-terminal tasks whose lease ran out before `at_ms`.

        Each claimed task gets `owner`, a lease until `lease_ms` and `attempts + 1`, atomically,
        so two instances never claim the same orphan. New tasks meant for workers are stored with
        an expired lease and `attempts=0`, so the same call hands them out.
        """

    @abc.abstractmethod
    async def renew(self, owner: str, task_ids: list[str], lease_ms: int) -> list[str]:
        """Extend the leases this owner holds; return the ids it no longer holds.

        An id comes back when the task is gone, terminal, or taken over by another instance: the
        caller should stop running it.
        """

    # -- events --

    async def publish(self, event: TaskEvent) -> None:
        """Tell every instance sharing the store (here: this process)."""
        self._deliver(event)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        """Call `handler` for every event; returns the function that unsubscribes."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def _deliver(self, event: TaskEvent) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                logger.exception("task event handler failed")

    # -- operations: the admin CLI and the console (offload.ops) --

    @abc.abstractmethod
    async def list_tasks(
        self,
        *,
        status: str | list[str] | tuple[str, ...] | None = None,
        tool: str | None = None,
        principal: str | None = None,
        older_than_ms: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[TaskRecord], str | None]:
        """One page of tasks, newest first, and the cursor of the next page (None after the last).

        Filters combine: `status` (one or several), `tool`, `principal`, and `older_than_ms`, an
        absolute time in ms since the epoch (only tasks created before it). Pages are ordered by
        `(created_ms, task_id)`, fixed at creation, so paging is stable while tasks come and go
        (offload.store.query). Raises ValueError for an unknown status or a malformed cursor.
        """

    @abc.abstractmethod
    async def stats(self) -> dict[str, Any]:
        """Task counts: `{"total", "live", "by_status": {status: n}, "by_tool": {tool: {status: n}}}`."""

    @abc.abstractmethod
    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        """Delete those of the given tasks that are terminal; return the ids deleted.

        A live task is never deleted here: its owner still writes to it (cancel it first).
        """
