"""What a store holds: the task record, the changes `update` applies, and the events instances share."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict, get_args

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


__all__ = [
    "EVENT_KINDS",
    "Change",
    "EventHandler",
    "EventKind",
    "TaskEvent",
    "TaskRecord",
    "check_event",
    "decode_event",
    "encode_event",
    "now_ms",
]
