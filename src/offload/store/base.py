"""The store interface every backend implements, the task record it holds, and the faults it raises.

Liveness is per instance, not per task: each instance sharing a store writes one heartbeat row
(`heartbeat`, O(1) whatever the number of tasks it runs), and a task belongs to whichever instance
its `owner` names. When an owner's heartbeat runs out (a crash) or it `release`s (a clean
shutdown), every live task it held becomes claimable at once by `claim_orphans`.
"""

from __future__ import annotations

import abc
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict, get_args

from offload.protocol import TERMINAL
from offload.store.errors import StoreEncodingError, StoreError, StoreFull, StoreUnavailable

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

#: Every kind a backend sends or accepts; anything else is refused on publish and dropped on receipt.
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))


def check_event(event: TaskEvent) -> None:
    """ValueError unless `event` is one a receiver accepts (`decode_event` would give it back)."""
    if event.kind not in EVENT_KINDS:
        raise ValueError(f"unknown task event kind {event.kind!r}; expected one of {', '.join(sorted(EVENT_KINDS))}")
    if not isinstance(event.task_id, str) or not isinstance(event.origin, str):
        raise ValueError("a task event's task_id and origin must be strings")


def encode_event(event: TaskEvent) -> str:
    """The JSON a backend with a server sends to the other instances."""
    check_event(event)
    return json.dumps({"kind": event.kind, "task_id": event.task_id, "origin": event.origin}, separators=(",", ":"))


def decode_event(payload: object, source: str) -> TaskEvent | None:
    """The event in a received payload, or None (logged) when it is malformed: a wrong kind, a
    missing id, not JSON. Whoever else writes to the channel cannot break the receiver."""
    try:
        data = json.loads(payload if isinstance(payload, str | bytes) else str(payload))
        kind, task_id, origin = data["kind"], data["task_id"], data.get("origin", "")
        if kind not in EVENT_KINDS or not isinstance(task_id, str) or not isinstance(origin, str):
            raise ValueError(kind)
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("ignoring a malformed task event on %s: %.200r", source, payload)
        return None
    return TaskEvent(kind, task_id, origin)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class TaskRecord:
    """Everything durable about one task.

    `input_requests` holds only the outstanding server-to-client requests, keyed by ids that are
    unique over the task's lifetime (tasks.md "Task Update Requests"). `request` keeps what is
    needed to run the tool again after a crash (name, arguments, the caller's `_meta`). `owner` is
    the instance running the task (None: queued for a worker); `attempts` counts the instances
    that took it.
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
    """Fields an `update` may set; absent keys stay as they are. Any other key is a ValueError."""

    status: str
    status_message: str | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    input_requests: dict[str, Any]
    poll_interval_ms: int | None
    ttl_ms: int | None
    owner: str | None


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

    async def changed_since(self, task_ids: list[str], since_ms: int) -> list[TaskRecord]:
        """Those of these tasks whose `updated_ms` is `since_ms` or later (push streams' safety net).

        This default reads each task; a backend that can find recent changes directly overrides it
        so the cost follows the number of changes, not of watched tasks.
        """
        out: list[TaskRecord] = []
        for task_id in task_ids:
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


__all__ = [
    "EVENT_KINDS",
    "Change",
    "EventHandler",
    "EventKind",
    "StoreEncodingError",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "TaskEvent",
    "TaskRecord",
    "TaskStore",
    "check_event",
    "decode_event",
    "encode_event",
    "now_ms",
]
