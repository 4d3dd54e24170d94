"""The attention line: what changed in an agent's tasks since it was last told, in one line.

An agent that started tasks should not have to poll them turn after turn (each `task_status` answer
costs window bytes), nor be told nothing until it happens to ask. Between turns the harness looks at
the tasks (outside the window) and hands the model one short line, only when something it can act
on happened: a task ended, or a task asks a question. Progress of a working task is not news.

    task 3f2a… (tool build) completed; task 9c1d… (tool release) needs input: [key k1] "Ship?" fields: …
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offload.agent.questions import describe_questions, pending_questions
from offload.protocol import TERMINAL

__all__ = ["Attention"]

Signature = tuple[str, ...]


def signature(task: Mapping[str, Any], answered: set[str] | frozenset[str] = frozenset()) -> Signature:
    """What about a task is news: its terminal status, or which questions are pending."""
    status = str(task.get("status"))
    if status == "input_required":
        return (status, *sorted(pending_questions(task, answered)))
    return (status,)


class Attention:
    """Remembers what the model was told about each task it started, and words what is new."""

    def __init__(self) -> None:
        self.watched: dict[str, str | None] = {}  # task id -> tool name; dropped once its end is told
        self._told: dict[str, Signature] = {}

    def watch(self, task_id: str, tool: str | None) -> None:
        self.watched.setdefault(task_id, tool)

    def told(self, task_id: str, task: Mapping[str, Any], answered: set[str] | frozenset[str] = frozenset()) -> None:
        """The model saw this state (a task_status or task_result answer): do not repeat it."""
        self._told[task_id] = signature(task, answered)
        if str(task.get("status")) in TERMINAL:
            self.watched.pop(task_id, None)

    def news(self, task_id: str, task: Mapping[str, Any], answered: set[str] | frozenset[str] = frozenset()) -> str:
        """The words for this task if its state is news, else ""; either way the state counts as told."""
        sig = signature(task, answered)
        if self._told.get(task_id) == sig:
            return ""
        label = f"task {task_id}" + (f" (tool {tool})" if (tool := self.watched.get(task_id)) else "")
        self.told(task_id, task, answered)
        status = sig[0]
        if status == "completed":
            return f"{label} completed"
        if status == "failed":
            error = task.get("error") if isinstance(task.get("error"), Mapping) else {}
            assert isinstance(error, Mapping)
            why = task.get("statusMessage") or error.get("message") or "no reason given"
            return f"{label} failed: {' '.join(str(why).split())[:160]}"
        if status == "cancelled":
            return f"{label} was cancelled"
        if status == "input_required" and len(sig) > 1:
            return (
                f"{label} needs input: {describe_questions(pending_questions(task, answered))}; answer with task_answer"
            )
        return ""

    @staticmethod
    def line(parts: list[str]) -> str:
        return "; ".join(p for p in parts if p)
