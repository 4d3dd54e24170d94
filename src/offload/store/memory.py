"""In-process store: for tests and for servers that accept losing tasks on restart."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from offload.store.base import Change, TaskRecord, TaskStore, now_ms


class MemoryStore(TaskStore):
    """Holds deep copies: what callers pass in or get back never aliases the stored task."""

    def __init__(self) -> None:
        super().__init__()
        self.url = "memory://"
        self._tasks: dict[str, TaskRecord] = {}
        self._answers: dict[str, dict[str, Any]] = {}

    async def create(self, record: TaskRecord) -> None:
        if record.task_id in self._tasks:
            raise ValueError(f"task {record.task_id!r} already exists")
        self._tasks[record.task_id] = deepcopy(record)

    async def get(self, task_id: str) -> TaskRecord | None:
        rec = self._tasks.get(task_id)
        return None if rec is None else deepcopy(rec)

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        rec = self._tasks.get(task_id)
        if rec is None or rec.terminal or (owner is not None and rec.owner != owner):
            return None
        for key, value in change.items():
            setattr(rec, key, deepcopy(value))
        rec.updated_ms = max(now_ms(), rec.updated_ms)
        return deepcopy(rec)

    async def answer(self, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
        rec = self._tasks.get(task_id)
        if rec is None or rec.terminal:
            return {}
        taken = {k: v for k, v in responses.items() if k in rec.input_requests}
        if taken:
            for key in taken:
                del rec.input_requests[key]
            self._answers.setdefault(task_id, {}).update(deepcopy(taken))
            if not rec.input_requests and rec.status == "input_required":
                rec.status = "working"
            rec.updated_ms = max(now_ms(), rec.updated_ms)
        return taken

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        return self._answers.pop(task_id, {})

    async def answered_tasks(self, owner: str) -> list[str]:
        return [
            tid
            for tid in self._answers
            if (rec := self._tasks.get(tid)) is not None and rec.owner == owner and not rec.terminal
        ]

    async def purge_expired(self, at_ms: int) -> int:
        gone = [tid for tid, rec in self._tasks.items() if rec.expired(at_ms)]
        for tid in gone:
            del self._tasks[tid]
            self._answers.pop(tid, None)
        return len(gone)

    async def claim_orphans(self, at_ms: int, owner: str, lease_ms: int, limit: int = 100) -> list[TaskRecord]:
        claimed: list[TaskRecord] = []
        for rec in self._tasks.values():
            if len(claimed) >= limit:
                break
            if not rec.terminal and rec.lease_ms is not None and rec.lease_ms < at_ms:
                rec.owner, rec.lease_ms, rec.attempts = owner, lease_ms, rec.attempts + 1
                claimed.append(deepcopy(rec))
        return claimed

    async def renew(self, owner: str, task_ids: list[str], lease_ms: int) -> list[str]:
        lost: list[str] = []
        for tid in task_ids:
            rec = self._tasks.get(tid)
            if rec is not None and rec.owner == owner and not rec.terminal:
                rec.lease_ms = lease_ms
            else:
                lost.append(tid)
        return lost

    # -- operations: the admin CLI and the console (offload.ops) --

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
        from offload.store.query import TaskQuery

        q = TaskQuery.build(
            status=status, tool=tool, principal=principal, older_than_ms=older_than_ms, limit=limit, cursor=cursor
        )
        found = sorted(
            (rec for rec in self._tasks.values() if q.matches(rec)),
            key=lambda rec: (rec.created_ms, rec.task_id),
            reverse=True,
        )
        return q.page([deepcopy(rec) for rec in found[: q.limit + 1]])

    async def stats(self) -> dict[str, Any]:
        from collections import Counter

        from offload.store.query import count_stats

        counts = Counter((rec.tool, rec.status) for rec in self._tasks.values())
        return count_stats((tool, st, n) for (tool, st), n in counts.items())

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        gone = [tid for tid in dict.fromkeys(task_ids) if (rec := self._tasks.get(tid)) is not None and rec.terminal]
        for tid in gone:
            del self._tasks[tid]
            self._answers.pop(tid, None)
        return gone
