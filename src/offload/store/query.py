"""Listing tasks for operators: the filters, the page order and the cursor every backend shares.

Pages run newest first, ordered by `(created_ms, task_id)` descending: both are fixed when the
task is created, so a task never moves between pages while an operator pages through, and the
id breaks ties between tasks created in the same millisecond. The cursor is the sort key of the
last task handed out; the next page starts strictly after it, so a task created meanwhile (newer
than every page already read) is never handed out twice and none is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from offload.protocol import TERMINAL, TaskStatus
from offload.store.record import TaskRecord

__all__ = ["MAX_LIMIT", "TaskFilters", "TaskQuery", "count_stats", "decode_cursor", "encode_cursor"]

#: The most tasks one page holds, whatever a caller asks for.
MAX_LIMIT = 1000
_STATUSES = frozenset(s.value for s in TaskStatus)


def encode_cursor(record: TaskRecord) -> str:
    return f"{record.created_ms}:{record.task_id}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The `(created_ms, task_id)` a cursor names; ValueError saying what was expected otherwise."""
    created, sep, task_id = cursor.partition(":")
    if not sep or not created.isdigit() or not task_id:
        raise ValueError(f"invalid cursor {cursor!r}: expected one returned by list_tasks")
    return int(created), task_id


class TaskFilters(TypedDict, total=False):
    """The filters `TaskStore.list_tasks` takes (offload.store.base documents them)."""

    status: str | list[str] | tuple[str, ...] | None
    tool: str | None
    principal: str | None
    older_than_ms: int | None
    limit: int
    cursor: str | None


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """The normalized arguments of `TaskStore.list_tasks`.

    `statuses` is empty for "any status"; `older_than_ms` is an absolute time (ms since the
    epoch): only tasks created before it match. Stores keep no clock of their own.
    """

    statuses: tuple[str, ...] = ()
    tool: str | None = None
    principal: str | None = None
    older_than_ms: int | None = None
    limit: int = 100
    after: tuple[int, str] | None = None

    @classmethod
    def build(cls, **filters: Unpack[TaskFilters]) -> TaskQuery:
        """Check and normalize `list_tasks`' arguments (ValueError names what is wrong)."""
        status = filters.get("status")
        tool, principal = filters.get("tool"), filters.get("principal")
        older_than_ms, limit, cursor = filters.get("older_than_ms"), filters.get("limit", 100), filters.get("cursor")
        statuses: tuple[str, ...] = () if status is None else (status,) if isinstance(status, str) else tuple(status)
        unknown = [s for s in statuses if s not in _STATUSES]
        if unknown:
            raise ValueError(f"unknown task status {unknown[0]!r}: expected one of {', '.join(sorted(_STATUSES))}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        return cls(
            statuses=tuple(dict.fromkeys(statuses)),
            tool=tool,
            principal=principal,
            older_than_ms=older_than_ms,
            limit=min(limit, MAX_LIMIT),
            after=None if cursor is None else decode_cursor(cursor),
        )

    def matches(self, record: TaskRecord) -> bool:
        """Whether a task passes every filter and lies after the cursor (for backends that filter in Python)."""
        return self.matches_fields(record.status, record.tool, record.principal, record.created_ms, record.task_id)

    def matches_fields(self, status: str, tool: str, principal: str | None, created_ms: int, task_id: str) -> bool:
        if self.statuses and status not in self.statuses:
            return False
        if self.tool is not None and tool != self.tool:
            return False
        if self.principal is not None and principal != self.principal:
            return False
        if self.older_than_ms is not None and created_ms >= self.older_than_ms:
            return False
        return self.after is None or (created_ms, task_id) < self.after

    def page(self, newest_first: list[TaskRecord]) -> tuple[list[TaskRecord], str | None]:
        """Cut up to `limit + 1` matching tasks, newest first, into a page and the next cursor."""
        if len(newest_first) > self.limit:
            page = newest_first[: self.limit]
            return page, encode_cursor(page[-1])
        return newest_first, None


def count_stats(rows: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """`TaskStore.stats` from `(tool, status, count)` rows: totals per status and per tool."""
    by_status: dict[str, int] = {}
    by_tool: dict[str, dict[str, int]] = {}
    total = 0
    for tool, status, n in rows:
        if not n:
            continue
        total += n
        by_status[status] = by_status.get(status, 0) + n
        per_tool = by_tool.setdefault(tool, {})
        per_tool[status] = per_tool.get(status, 0) + n
    live = total - sum(by_status.get(s, 0) for s in TERMINAL)
    return {
        "total": total,
        "live": live,
        "by_status": dict(sorted(by_status.items())),
        "by_tool": {tool: dict(sorted(counts.items())) for tool, counts in sorted(by_tool.items())},
    }
