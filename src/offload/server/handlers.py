"""The one place that answers `tasks/get`, `tasks/update` and `tasks/cancel`.

Every path uses it: the SDK method bindings of the extension, the direct HTTP path for `tasks/get`
(`fastpath.py`) and the push streams (`listen.py`). So the rules live once:

- a task is visible only to the principal that created it; unknown, purged and other callers'
  tasks get the same -32602 (tasks.md "Security Considerations", "Auth binding");
- a finished task past its TTL answers -32602 "Task has expired" until the sweeper purges it; a live
  one stays visible until the runtime stops it (within a sweep) and records why;
- a task renders as `detailed_task` with `resultType: "complete"` (tasks.md "Task Polling").
"""

from __future__ import annotations

import json
from typing import Any

from mcp.shared.exceptions import MCPError

from offload.protocol import EXPIRED_MESSAGE, INVALID_PARAMS, NOT_FOUND_MESSAGE, detailed_task
from offload.protocol.answers import check_answer
from offload.runtime import TaskRuntime
from offload.store import TaskRecord, TaskStore, now_ms

__all__ = ["TaskHandlers", "visible"]

COMPLETE = {"resultType": "complete"}


def _expired(record: TaskRecord, at_ms: int) -> bool:
    return record.terminal and record.expired(at_ms)


def visible(record: TaskRecord | None, principal: str | None, at_ms: int) -> bool:
    """Whether `principal` may see this task now: it exists, is theirs, and has not expired."""
    return record is not None and record.principal == principal and not _expired(record, at_ms)


class TaskHandlers:
    """tasks/get, tasks/update and tasks/cancel for one runtime, whatever path the request came by."""

    def __init__(self, runtime: TaskRuntime, *, max_update_bytes: int = 1024 * 1024) -> None:
        self.runtime = runtime
        self.max_update_bytes = max_update_bytes

    @property
    def store(self) -> TaskStore:
        return self.runtime.store

    async def find(self, task_id: str, principal: str | None) -> TaskRecord:
        """The caller's task, or the -32602 the spec names for an unknown or expired one."""
        record = await self.store.get(task_id)
        if record is None or record.principal != principal:
            raise MCPError(code=INVALID_PARAMS, message=NOT_FOUND_MESSAGE)
        if _expired(record, now_ms()):
            raise MCPError(code=INVALID_PARAMS, message=EXPIRED_MESSAGE)
        return record

    async def get(self, task_id: str, principal: str | None) -> dict[str, Any]:
        return {**detailed_task(self.runtime.advise(await self.find(task_id, principal))), **COMPLETE}

    async def peek(self, task_id: str, principal: str | None) -> dict[str, Any] | None:
        """`get` when it succeeds, else None (the caller falls back to a path that words the error)."""
        record = await self.store.get(task_id)
        if not visible(record, principal, now_ms()):
            return None
        assert record is not None
        return {**detailed_task(self.runtime.advise(record)), **COMPLETE}

    async def update(self, task_id: str, principal: str | None, responses: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(responses, separators=(",", ":")))
        if size > self.max_update_bytes:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"inputResponses is {size} bytes, over this server's limit of {self.max_update_bytes}",
            )
        record = await self.find(task_id, principal)
        # Answers to outstanding requests must fit them; otherwise the whole update is refused and
        # nothing is taken, so the caller can correct it and send it again (the keys stay open).
        # Keys that are not outstanding are ignored, as tasks.md "Task Update Requests" says.
        problems = {
            key: found
            for key, value in responses.items()
            if key in record.input_requests and (found := check_answer(record.input_requests[key], value))
        }
        if problems:
            detail = "; ".join(f"{key}: {', '.join(found)}" for key, found in problems.items())
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"inputResponses not taken, nothing was answered: {detail}",
                data={"invalidResponses": problems},
            )
        await self.runtime.answer(record, responses)
        return dict(COMPLETE)

    async def cancel(self, task_id: str, principal: str | None) -> dict[str, Any]:
        await self.runtime.cancel(await self.find(task_id, principal))
        return dict(COMPLETE)
