"""In-process store: for tests and for servers that accept losing tasks on restart."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace
from typing import Any

import anyio

from offload.store._rules import check_change, check_record, check_value, dump_json, journal_entry, load_json
from offload.store.base import TaskStore
from offload.store.query import TaskQuery, count_stats
from offload.store.record import Change, TaskRecord, now_ms


def _copy_json(name: str, value: Any) -> Any:
    """What a backend with a file or a server gives back: the value after one trip through JSON."""
    return load_json(dump_json(name, value))


class MemoryStore(TaskStore):
    """Holds its own copies (JSON round trips, as the other backends do): what callers pass in or
    get back never aliases the stored task. Live tasks are indexed by owner, as elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.url = "memory://"
        self._tasks: dict[str, TaskRecord] = {}
        self._answers: dict[str, dict[str, Any]] = {}
        self._journals: dict[str, dict[str, Any]] = {}
        self._instances: dict[str, int] = {}  # owner -> alive until (ms)
        self._by_owner: dict[str | None, dict[str, None]] = {}  # live tasks, in creation order

    def _index(self, rec: TaskRecord, old_owner: str | None, was_live: bool) -> None:
        if was_live:
            held = self._by_owner.get(old_owner)
            if held is not None:
                held.pop(rec.task_id, None)
                if not held:
                    del self._by_owner[old_owner]
        if not rec.terminal:
            self._by_owner.setdefault(rec.owner, {})[rec.task_id] = None
            if rec.owner is not None:
                self._instances.setdefault(rec.owner, 0)

    async def create(self, record: TaskRecord) -> None:
        docs = check_record(record)
        if record.task_id in self._tasks:
            raise ValueError(f"task {record.task_id!r} already exists")
        rec = replace(record, **{name: load_json(text) for name, text in docs.items()})
        rec.input_requests = rec.input_requests or {}
        self._tasks[rec.task_id] = rec
        self._index(rec, None, False)

    async def get(self, task_id: str) -> TaskRecord | None:
        rec = self._tasks.get(task_id)
        return None if rec is None else deepcopy(rec)

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        check_change(change)
        values = {k: _copy_json(k, v) if k in ("result", "error", "input_requests") else v for k, v in change.items()}
        rec = self._tasks.get(task_id)
        if rec is None or rec.terminal or (owner is not None and rec.owner != owner):
            return None
        old_owner = rec.owner
        for key, value in values.items():
            setattr(rec, key, value)
        rec.updated_ms = max(now_ms(), rec.updated_ms)
        self._index(rec, old_owner, True)
        if rec.terminal:
            self._answers.pop(task_id, None)
        return deepcopy(rec)

    async def answer(self, task_id: str, responses: dict[str, Any], *, hold: bool = True) -> dict[str, Any]:
        rec = self._tasks.get(task_id)
        if rec is None or rec.terminal:
            return {}
        taken = {k: _copy_json("answer", v) for k, v in responses.items() if k in rec.input_requests}
        if taken:
            journal = self._journals.setdefault(task_id, {})
            for key, value in taken.items():  # a copy: take_answers hands `value` itself out
                journal[key] = journal_entry(rec.input_requests.pop(key), deepcopy(value))
            if hold:
                self._answers.setdefault(task_id, {}).update(taken)
            if not rec.input_requests and rec.status == "input_required":
                rec.status = "working"
            rec.updated_ms = max(now_ms(), rec.updated_ms)
        return deepcopy(taken)

    async def journal(self, task_id: str) -> dict[str, Any]:
        return deepcopy(self._journals.get(task_id, {}))

    async def record(self, task_id: str, key: str, entry: dict[str, Any], *, owner: str) -> bool:
        check_value("journal key", key)
        copied = _copy_json("journal entry", entry)
        rec = self._tasks.get(task_id)
        if rec is None or rec.terminal or rec.owner != owner:
            return False
        self._journals.setdefault(task_id, {})[key] = copied
        return True

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        return self._answers.pop(task_id, {})

    async def answered_tasks(self, owner: str) -> list[str]:
        held = self._by_owner.get(owner, {})
        return [tid for tid in self._answers if tid in held]

    async def count_live(self, principal: str | None) -> int:
        return sum(1 for rec in self._tasks.values() if rec.principal == principal and not rec.terminal)

    async def purge_expired(self, at_ms: int) -> int:
        gone = [tid for tid, rec in self._tasks.items() if rec.expired(at_ms)]
        deleted = 0
        for i, tid in enumerate(gone):
            if i and i % self.purge_batch == 0:
                await anyio.sleep(0)  # let the event loop breathe between batches
            rec = self._tasks.get(tid)
            if rec is None or not rec.expired(at_ms):  # purged (or replaced) meanwhile
                continue
            del self._tasks[tid]
            deleted += 1
            self._answers.pop(tid, None)
            self._journals.pop(tid, None)
            if not rec.terminal:
                held = self._by_owner.get(rec.owner, {})
                held.pop(tid, None)
                if not held:
                    self._by_owner.pop(rec.owner, None)
        return deleted

    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        at = now_ms() if at_ms is None else at_ms
        prev = self._instances.get(owner)
        self._instances[owner] = until_ms
        return prev is not None and prev >= at

    async def release(self, owner: str) -> None:
        self._instances[owner] = 0

    async def owned(self, owner: str) -> list[str]:
        return list(self._by_owner.get(owner, {}))

    async def claim_orphans(self, at_ms: int, owner: str, limit: int = 100) -> list[TaskRecord]:
        dead = sorted((until, who) for who, until in self._instances.items() if until < at_ms and who != owner)
        claimed: list[TaskRecord] = []
        for gone in [None, *(who for _, who in dead)]:
            held = sorted(self._by_owner.get(gone, {}), key=lambda tid: self._tasks[tid].created_ms)
            for tid in held[: max(0, limit - len(claimed))]:
                rec = self._tasks[tid]
                rec.owner, rec.attempts = owner, rec.attempts + 1
                self._index(rec, gone, True)
                claimed.append(deepcopy(rec))
            if gone is not None and gone not in self._by_owner:
                del self._instances[gone]
        return claimed

    # -- operations: the admin CLI and the console (offload.ops) --

    async def query_tasks(self, q: TaskQuery) -> tuple[list[TaskRecord], str | None]:
        found = sorted(
            (rec for rec in self._tasks.values() if q.matches(rec)),
            key=lambda rec: (rec.created_ms, rec.task_id),
            reverse=True,
        )
        return q.page([deepcopy(rec) for rec in found[: q.limit + 1]])

    async def stats(self) -> dict[str, Any]:
        from collections import Counter

        counts = Counter((rec.tool, rec.status) for rec in self._tasks.values())
        return count_stats((tool, st, n) for (tool, st), n in counts.items())

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        gone = [tid for tid in dict.fromkeys(task_ids) if (rec := self._tasks.get(tid)) is not None and rec.terminal]
        for tid in gone:
            del self._tasks[tid]
            self._answers.pop(tid, None)
            self._journals.pop(tid, None)
        return gone


__all__ = ["MemoryStore"]
