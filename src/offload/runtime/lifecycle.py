"""Lifecycle facts the runtime and the server share: how ids are made, what a TTL stop stores, timings."""

from __future__ import annotations

import secrets

from offload.protocol import TTL_EXPIRED, TaskStatus
from offload.store import Change, TaskRecord

CANCELLED_BY_CLIENT = "Cancelled at the client's request"
RESUMED = "Answered; resuming"
#: Changes made by other processes are looked for from this long before the last look (clocks differ a little).
CLOCK_SLACK_MS = 2_000
#: Orphans one sweep takes over at most: a pass stays short, and the work spreads over the instances.
CLAIMS_PER_SWEEP = 100
#: How long a task stopped by its TTL stays readable, with its final status, before it is purged.
EXPIRED_GRACE_MS = 60_000


def ttl_expired(record: TaskRecord, at_ms: int, grace_ms: int = EXPIRED_GRACE_MS) -> Change:
    """The terminal state of a task whose TTL ran out while it was live.

    tasks.md "Task Polling": servers MAY mark a task as failed after the TTL elapses and delete it
    later. The TTL is stretched by `grace_ms`, so the final status can be read (and is pushed)
    before the task goes; `ttlMs` MAY change over a task's lifetime.
    """
    message = f"The task's TTL (time to live, {record.ttl_ms} ms) ran out before it finished; it was stopped"
    return {
        "status": TaskStatus.FAILED,
        "status_message": message,
        "error": {"code": TTL_EXPIRED, "message": message},
        "input_requests": {},
        "ttl_ms": max(at_ms - record.created_ms, 0) + grace_ms,
    }


def new_task_id() -> str:
    """43 URL-safe characters: 256 bits from `secrets` (tasks.md "Task ID unguessability").

    Never starting with `-`: an id pasted into a shell command must not read as an option (one draw
    in 64 is redrawn, which leaves the id unguessable all the same).
    """
    while True:
        task_id = secrets.token_urlsafe(32)
        if not task_id.startswith("-"):
            return task_id


__all__ = [
    "CANCELLED_BY_CLIENT",
    "CLAIMS_PER_SWEEP",
    "CLOCK_SLACK_MS",
    "EXPIRED_GRACE_MS",
    "RESUMED",
    "new_task_id",
    "ttl_expired",
]
