"""What a running client command knows about its task: for error lines and the Ctrl-C hint."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Context", "task_arg"]


@dataclass
class Context:
    """How far a command got, for the error line and the Ctrl-C hint."""

    url: str = ""
    tool: str | None = None
    task_id: str | None = None
    interactive: bool = False
    finished: bool = False
    retry_for_s: float | None = None
    #: The last task the command saw (for an input hint), and the keys it already answered.
    last_task: dict[str, Any] | None = None
    answered: set[str] = field(default_factory=set)

    def resume_hint(self) -> str:
        """`the task keeps running: offload task wait URL ID`, or "" when no task is running."""
        if not self.task_id or self.finished:
            return ""
        return f"the task keeps running: offload task wait {shlex.quote(self.url)} {task_arg(self.task_id)}"


def task_arg(task_id: str) -> str:
    """A task id as a shell word; one that starts with `-` goes after `--` (argparse would take it for an option)."""
    return f"-- {task_id}" if task_id.startswith("-") else shlex.quote(task_id)
