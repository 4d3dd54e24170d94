"""Task statuses (tasks.md "Task Status")."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class TaskStatus(StrEnum):
    """The five statuses a task can have; members compare equal to their wire strings."""

    WORKING = "working"
    INPUT_REQUIRED = "input_required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Statuses a task can leave: it is still running or waiting for input.
LIVE: Final[frozenset[str]] = frozenset({TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED})
#: Final statuses: a task that reached one never changes again.
TERMINAL: Final[frozenset[str]] = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
