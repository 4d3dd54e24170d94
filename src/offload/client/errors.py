"""What a task-aware call can raise."""

from __future__ import annotations

from typing import Any


class TaskError(Exception):
    """Base class for task outcomes that are not a result."""

    def __init__(self, message: str, task_id: str | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


class TaskFailed(TaskError):
    """The task ended `failed`: it carries the JSON-RPC error the server recorded."""

    def __init__(self, task_id: str, error: dict[str, Any], status_message: str | None = None) -> None:
        self.error = error
        self.code: int = int(error.get("code", -32603))
        self.error_message: str = str(error.get("message", ""))
        self.data: Any = error.get("data")
        self.status_message = status_message
        super().__init__(f"task {task_id} failed: {self.error_message} (JSON-RPC error {self.code})", task_id)


class TaskCancelled(TaskError):
    """The task ended `cancelled`."""

    def __init__(self, task_id: str, status_message: str | None = None) -> None:
        self.status_message = status_message
        super().__init__(f"task {task_id} was cancelled" + (f": {status_message}" if status_message else ""), task_id)


class InputUnhandled(TaskError):
    """The task asked for input this client has no handler for; nothing will answer it by waiting."""


class TaskTimeout(TaskError):
    """`wait(timeout=...)` ran out before the task reached a terminal status."""
