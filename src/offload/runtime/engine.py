"""The task runtime: starts executions, answers for stored tasks, and keeps the store healthy.

One `TaskRuntime` per server process. Its background sweeper renews the leases of the tasks this
process runs, takes over tasks whose owner died (failing them, or running them again when the
tool is safe to retry) and purges tasks whose TTL has passed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
from mcp.shared.exceptions import MCPError

from offload.protocol import EXPIRED_MESSAGE, INTERNAL_ERROR, INVALID_PARAMS, NOT_FOUND_MESSAGE
from offload.runtime.execution import Execution, TaskDispatch, ToolCall
from offload.runtime.policy import TaskPolicy
from offload.store.base import TaskRecord, TaskStore, now_ms

logger = logging.getLogger(__name__)

Rerun = Callable[[TaskRecord, TaskDispatch], Awaitable[Any]]
Listener = Callable[[TaskRecord], None]


def new_task_id() -> str:
    """43 URL-safe characters: 256 bits from `secrets` (tasks.md "Task ID unguessability")."""
    return secrets.token_urlsafe(32)


class TaskRuntime:
    def __init__(
        self,
        store: TaskStore,
        *,
        lease_s: float = 5.0,
        sweep_interval_s: float = 1.0,
        max_result_bytes: int = 4 * 1024 * 1024,
        instance_id: str | None = None,
    ) -> None:
        self.store = store
        self.lease_ms = int(lease_s * 1000)
        self.sweep_interval_s = sweep_interval_s
        self.max_result_bytes = max_result_bytes
        self.instance_id = instance_id or secrets.token_hex(8)
        self.executions: dict[str, Execution] = {}
        self.listeners: set[Listener] = set()
        self.policy_for: Callable[[str], TaskPolicy] = lambda _tool: TaskPolicy()
        self.rerun: Rerun | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    # -- lifecycle --

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TaskRuntime]:
        await self.store.open()
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._sweeper)
                try:
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._release_leases()
                    tg.cancel_scope.cancel()
        finally:
            self._tg = None
            with anyio.CancelScope(shield=True):
                await self.store.close()

    @property
    def started(self) -> bool:
        return self._tg is not None

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        if self._tg is None:
            raise RuntimeError("the task runtime is not running (enter TaskRuntime.running())")
        self._tg.start_soon(fn)

    # -- executions --

    def start(
        self,
        call: ToolCall,
        *,
        tool: str,
        policy: TaskPolicy,
        inline: Any = None,
        transport: Any = None,
        principal: str | None = None,
        request: dict[str, Any] | None = None,
        record: TaskRecord | None = None,
    ) -> Execution:
        """Begin running `call` in the runtime's task group; it stays inline until promoted."""
        if self._tg is None:
            raise RuntimeError("the task runtime is not running (enter TaskRuntime.running())")
        if record is None:
            record = TaskRecord(
                task_id=new_task_id(),
                tool=tool,
                ttl_ms=policy.ttl_ms,
                poll_interval_ms=policy.poll_interval_ms,
                principal=principal,
                request=request,
                owner=self.instance_id,
            )
        record.lease_ms = now_ms() + self.lease_ms
        ex = Execution(self, record, policy, inline, transport)
        self.executions[ex.task_id] = ex
        self._tg.start_soon(ex.run, call)
        return ex

    def _forget(self, ex: Execution) -> None:
        if self.executions.get(ex.task_id) is ex:
            del self.executions[ex.task_id]

    def published(self, record: TaskRecord) -> None:
        """A stored task changed; tell listeners (push notifications)."""
        for listener in list(self.listeners):
            try:
                listener(record)
            except Exception:
                logger.exception("task listener failed")

    # -- the three task methods --

    async def lookup(self, task_id: str, principal: str | None) -> TaskRecord:
        """The caller's task. Unknown, purged and other callers' tasks look the same: -32602."""
        record = await self.store.get(task_id)
        if record is None or record.principal != principal:
            raise MCPError(code=INVALID_PARAMS, message=NOT_FOUND_MESSAGE)
        if record.expired(now_ms()):
            raise MCPError(code=INVALID_PARAMS, message=EXPIRED_MESSAGE)
        return record

    async def answer(self, task_id: str, principal: str | None, responses: dict[str, Any]) -> None:
        record = await self.lookup(task_id, principal)
        if record.terminal or not responses:
            return
        ex = self.executions.get(task_id)
        if ex is not None:
            if ex.deliver(responses):
                await ex._sync_inputs()
            return
        # Not running here: record the answers so whoever runs the task finds them.
        await self.store.answer(task_id, responses)

    async def cancel(self, task_id: str, principal: str | None) -> None:
        record = await self.lookup(task_id, principal)
        if record.terminal:
            return  # idempotent: a finished task keeps its status
        ex = self.executions.get(task_id)
        if ex is not None:
            ex.cancel("Cancelled at the client's request")
            return
        updated = await self.store.update(
            task_id,
            {"status": "cancelled", "status_message": "Cancelled at the client's request", "input_requests": {}},
        )
        if updated is not None:
            self.published(updated)

    # -- housekeeping --

    async def _sweeper(self) -> None:
        while True:
            await anyio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                logger.exception("task sweeper pass failed; retrying next interval")

    async def sweep(self) -> None:
        """One housekeeping pass: renew, recover orphans, expire."""
        now = now_ms()
        await self.store.renew(self.instance_id, list(self.executions), now + self.lease_ms)
        for record in await self.store.claim_orphans(now, self.instance_id, now + self.lease_ms):
            await self._recover(record)
        for ex in list(self.executions.values()):
            if ex.promoted.is_set() and ex.template.expired(now):
                ex.cancel("The task's TTL elapsed before it finished")
        await self.store.purge_expired(now)

    async def _release_leases(self) -> None:
        """On a clean shutdown, let another instance take over at once instead of after the lease."""
        running = [tid for tid, ex in self.executions.items() if ex.promoted.is_set() and not ex.settled.is_set()]
        try:
            await self.store.renew(self.instance_id, running, 0)
        except Exception:
            logger.exception("could not release task leases on shutdown")

    async def _recover(self, record: TaskRecord) -> None:
        policy = self.policy_for(record.tool)
        if policy.retry and self.rerun is not None and record.request is not None:
            if record.attempts <= policy.max_attempts:
                await self._rerun(record, policy)
                return
            reason = f"The worker running this task was lost {record.attempts - 1} times; gave up retrying"
        elif policy.retry:
            reason = "The worker running this task was lost and the task cannot be run again here"
        else:
            reason = (
                "The server running this task stopped before it finished (worker lost); the tool is not safe to retry"
            )
        updated = await self.store.update(
            record.task_id,
            {
                "status": "failed",
                "status_message": reason,
                "error": {"code": INTERNAL_ERROR, "message": reason},
                "input_requests": {},
            },
        )
        if updated is not None:
            logger.warning("task %s failed over: %s", record.task_id[:8], reason)
            self.published(updated)

    async def _rerun(self, record: TaskRecord, policy: TaskPolicy) -> None:
        message = f"Restarted after the worker was lost (attempt {record.attempts} of {policy.max_attempts})"
        updated = await self.store.update(
            record.task_id, {"status": "working", "status_message": message, "input_requests": {}}
        )
        if updated is None:
            return
        rerun = self.rerun
        assert rerun is not None

        async def call(dispatch: TaskDispatch) -> Any:
            return await rerun(updated, dispatch)

        ex = self.start(call, tool=record.tool, policy=policy, record=updated)
        ex.promoted.set()
        ex.dispatch.detach()
        self.published(updated)
        logger.warning("task %s: %s", record.task_id[:8], message)
