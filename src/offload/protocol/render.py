"""The JSON of a task: `DetailedTask` (tasks/get, notifications/tasks) and `CreateTaskResult`.

Rendering takes any object with the task's fields (`TaskState`), so this layer needs nothing
from the store that holds tasks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from offload.protocol.codes import INTERNAL_ERROR
from offload.protocol.status import TaskStatus


class TaskState(Protocol):
    """What rendering reads of a task."""

    @property
    def task_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def status_message(self) -> str | None: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def updated_ms(self) -> int: ...
    @property
    def ttl_ms(self) -> int | None: ...
    @property
    def poll_interval_ms(self) -> int | None: ...
    @property
    def input_requests(self) -> dict[str, Any]: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> dict[str, Any] | None: ...


_second: tuple[int, str] = (-1, "")


def iso_ms(epoch_ms: int) -> str:
    """ISO 8601 UTC timestamp with millisecond precision, as `createdAt`/`lastUpdatedAt` use."""
    global _second
    seconds, millis = divmod(epoch_ms, 1000)
    cached_seconds, prefix = _second
    if seconds != cached_seconds:  # formatting is the costly part, and a poll storm stays in one second
        prefix = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (seconds, prefix)
    return f"{prefix}.{millis:03d}Z"


def _task(state: TaskState) -> dict[str, Any]:
    out: dict[str, Any] = {
        "taskId": state.task_id,
        "status": state.status,
        "createdAt": iso_ms(state.created_ms),
        "lastUpdatedAt": iso_ms(state.updated_ms),
        "ttlMs": state.ttl_ms,
    }
    if state.poll_interval_ms is not None:
        out["pollIntervalMs"] = state.poll_interval_ms
    if state.status_message is not None:
        out["statusMessage"] = state.status_message
    return out


def detailed_task(state: TaskState) -> dict[str, Any]:
    """The `DetailedTask` for this state: what tasks/get and notifications/tasks carry."""
    out = _task(state)
    status = state.status
    if status == TaskStatus.INPUT_REQUIRED:
        out["inputRequests"] = dict(state.input_requests)
    elif status == TaskStatus.COMPLETED:
        out["result"] = state.result if state.result is not None else {}
    elif status == TaskStatus.FAILED:
        out["error"] = state.error if state.error is not None else {"code": INTERNAL_ERROR, "message": "failed"}
    return out


def create_task_result(state: TaskState) -> dict[str, Any]:
    """`CreateTaskResult` = Result & Task: the task's seed state, without status payloads."""
    out = _task(state)
    out["resultType"] = "task"
    return out
