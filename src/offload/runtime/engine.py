"""The task runtime: starts executions, answers for stored tasks, and keeps the store healthy.

One `TaskRuntime` per process. Several processes may share one store; each task is run by the
instance that owns it, and each instance keeps one heartbeat in the store (one write per sweep,
whatever the number of tasks). The background sweeper heartbeats, stops tools whose task was
taken over while this instance was thought dead, hands over answers given on other instances,
takes over tasks whose owner died (failing them, or running them again when the tool is safe to
retry), and purges tasks whose TTL passed.
Store events (answer, cancel, changed, new) make the same things happen at once where the store
can deliver them to every instance; the sweeper is the safety net that makes a lost event only
a delay.

Roles: `all` (the default) runs the tasks it creates and recovers orphans; `front` only creates
tasks, for `worker` processes to claim and run.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import anyio.abc

from offload._callbacks import call_each
from offload.observe import lease_takeover, remember_trace, task_created, task_finished
from offload.protocol import WORKER_LOST, TaskStatus
from offload.runtime.execution import Execution, TaskDispatch, ToolCall
from offload.runtime.lifecycle import (
    CANCELLED_BY_CLIENT,
    CLAIMS_PER_SWEEP,
    CLOCK_SLACK_MS,
    EXPIRED_GRACE_MS,
    RESUMED,
    new_task_id,
    ttl_expired,
)
from offload.runtime.offload_result import (
    DEFAULT_MAX_OFFLOADED_BYTES,
    DEFAULT_OFFLOAD_BYTES,
    ResultOffloader,
)
from offload.runtime.policy import TaskPolicy
from offload.runtime.polling import PollAdvisor, PollBounds
from offload.runtime.replay import FOREVER_MS, PARKED_OWNER, Replay
from offload.store import Change, StoreError, TaskEvent, TaskRecord, TaskStore, now_ms

logger = logging.getLogger(__name__)

#: Runs a stored call again with no inbound request (the server's SDK bridge provides it).
Rerun = Callable[[TaskRecord, TaskDispatch], Awaitable[Any]]
Listener = Callable[[TaskRecord], None]
Role = Literal["all", "front", "worker"]


class TaskRuntime:
    """Runs executions and keeps the store healthy; the `ExecutionHost` of every execution it starts.

    `policy_for(tool)` gives a tool's effective policy (used when taking a task over); `rerun` runs
    a stored call again (recovery and worker roles). Both are given at construction.
    """

    def __init__(
        self,
        store: TaskStore,
        *,
        policy_for: Callable[[str], TaskPolicy] = lambda _tool: TaskPolicy(),
        rerun: Rerun | None = None,
        lease_s: float = 5.0,
        sweep_interval_s: float = 1.0,
        max_result_bytes: int = 4 * 1024 * 1024,
        max_offloaded_bytes: int = DEFAULT_MAX_OFFLOADED_BYTES,
        max_running: int = 1000,
        instance_id: str | None = None,
        role: Role = "all",
        expired_grace_s: float = EXPIRED_GRACE_MS / 1000,
    ) -> None:
        self.store = store
        self.lease_ms = int(lease_s * 1000)
        self.sweep_interval_s = sweep_interval_s
        # Results up to `max_result_bytes` are stored inline; larger ones, up to `max_offloaded_bytes`,
        # with their large items offloaded (runtime/offload_result.py). Executions check the larger.
        self.max_inline_bytes = max_result_bytes
        self.max_offloaded_bytes = max_offloaded_bytes
        self.max_result_bytes = max(max_result_bytes, max_offloaded_bytes)
        self.max_running = max_running
        self.instance_id = instance_id or secrets.token_hex(8)
        self.role: Role = role
        self.executions: dict[str, Execution] = {}
        self.listeners: set[Listener] = set()
        self.expired_grace_ms = int(expired_grace_s * 1000)
        self.policy_for = policy_for
        self.rerun = rerun
        self._tg: anyio.abc.TaskGroup | None = None
        # Executions run as bare asyncio tasks (anyio's task handles cost ~1.5 KB each, and a parked
        # task should stay small); the runtime still owns them and cancels them on shutdown.
        self._running: set[asyncio.Task[None]] = set()
        self._wake = anyio.Event()
        self._stopping = False
        self._expiries: list[tuple[int, str]] = []  # (TTL deadline, task id) of executions run here
        self._looked_at = now_ms()  # the last pass that looked for changes made by other processes
        # Adaptive pollIntervalMs (runtime/polling.py): learns from tasks completed here.
        self.polling = PollAdvisor(
            lambda: self.store, lambda tool: PollBounds.of(self.policy_for(tool)), self._spawn_if_running
        )
        # Large results as blobs and resource links (runtime/offload_result.py).
        self.offloader = ResultOffloader(lambda: self.store, self._offload_settings)

    def _spawn_if_running(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        if self._tg is not None:
            self._tg.start_soon(fn)

    def _offload_settings(self, tool: str) -> tuple[int, int, int]:
        threshold = self.policy_for(tool).offload_bytes
        threshold = DEFAULT_OFFLOAD_BYTES if threshold is None else threshold
        return threshold, self.max_inline_bytes, self.max_offloaded_bytes

    def advise(self, record: TaskRecord) -> TaskRecord:
        """The record as it should be rendered now: with the poll interval suggested for its age."""
        return self.polling.advise(record, now_ms())

    # -- lifecycle --

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TaskRuntime]:
        await self.store.open()
        # Alive before anything else: a task stored from now on belongs to a live owner. Whatever
        # an earlier process with this id left behind is handed back (nothing runs it here).
        await self.store.heartbeat(self.instance_id, now_ms() + self.lease_ms)
        await self.store.heartbeat(PARKED_OWNER, FOREVER_MS)  # parked tasks are never orphans
        await self._reconcile()
        unsubscribe = self.store.subscribe(self._on_event)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._sweeper)
                tg.start_soon(self._heart)
                try:
                    yield self
                finally:
                    self._stopping = True
                    with anyio.CancelScope(shield=True):
                        await self._park_waiting()
                        await self._release_leases()
                        await self._stop_executions()
                    tg.cancel_scope.cancel()
        finally:
            self._tg = None
            unsubscribe()
            with anyio.CancelScope(shield=True):
                await self.store.close()

    @property
    def started(self) -> bool:
        return self._tg is not None

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def executes(self) -> bool:
        return self.role != "front"

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        if self._tg is None:
            raise RuntimeError("the task runtime is not running (enter TaskRuntime.running())")
        self._tg.start_soon(fn, *args)

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
        capabilities: dict[str, Any] | None = None,
        replay: Replay | None = None,
    ) -> Execution:
        """Begin running `call` in the runtime's task group; it stays inline until promoted.

        `replay` is what earlier runs of the task recorded (a retry-safe task run again).
        """
        if self._tg is None:
            raise RuntimeError("the task runtime is not running (enter TaskRuntime.running())")
        if record is None:
            record = self.new_record(tool, policy, principal, request)
        record.owner = self.instance_id
        if capabilities is None and record.request is not None:
            capabilities = record.request.get("clientCapabilities")
        ex = Execution(self, record, policy, inline, transport, capabilities, replay)
        self.executions[ex.task_id] = ex
        expires = record.expires_ms
        if expires is not None:
            heapq.heappush(self._expiries, (expires, ex.task_id))
        task = ex.task = asyncio.get_running_loop().create_task(ex.run(call))
        self._running.add(task)
        task.add_done_callback(self._reap)
        return ex

    def _reap(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("an execution failed outside its tool", exc_info=exc)

    async def _stop_executions(self) -> None:
        """Shutdown: cancel what still runs here (its lease is released: another instance takes over)."""
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def new_record(
        self, tool: str, policy: TaskPolicy, principal: str | None, request: dict[str, Any] | None
    ) -> TaskRecord:
        remember_trace(request)
        return TaskRecord(
            task_id=new_task_id(),
            tool=tool,
            ttl_ms=policy.ttl_ms,
            poll_interval_ms=policy.poll_interval_ms,
            principal=principal,
            request=request,
            owner=self.instance_id,
        )

    async def enqueue(self, record: TaskRecord) -> TaskRecord:
        """Store a task for a worker to run (front role): no owner, so `claim_orphans` hands it out."""
        record.owner = None
        record.attempts = 0
        await self.store.create(record)
        task_created(record)
        await self.store.publish(TaskEvent("new", record.task_id, self.instance_id))
        return record

    async def create(self, record: TaskRecord) -> None:
        if record.status == TaskStatus.COMPLETED and record.result is not None:  # settled before it was stored
            shaped = await self.offloader.shape_outcome(record, {"status": record.status, "result": record.result})
            for key, value in shaped.items():
                setattr(record, key, value)
        await self.store.create(record)

    def forget(self, ex: Execution) -> None:
        if self.executions.get(ex.task_id) is ex:
            del self.executions[ex.task_id]

    async def record(self, task_id: str, key: str, entry: dict[str, Any]) -> bool:
        return await self.store.record(task_id, key, entry, owner=self.instance_id)

    async def write(self, task_id: str, change: Change) -> TaskRecord | None:
        """Update a task this instance runs; announce the new state."""
        if "result" in change:
            ex = self.executions.get(task_id)
            template = ex.template if ex is not None else await self.store.get(task_id)
            if template is not None:
                change = await self.offloader.shape_outcome(template, change)
        record = await self.store.update(task_id, change, owner=self.instance_id)
        if record is not None:
            if record.terminal:
                self.polling.observe(record)
            await self.announce(record)
        return record

    async def announce(self, record: TaskRecord) -> None:
        """A stored task changed: tell local push streams, and the other instances' ones."""
        if record.terminal:
            task_finished(record)
        self._notify_listeners(record)
        await self.store.publish(TaskEvent("changed", record.task_id, self.instance_id))

    def _notify_listeners(self, record: TaskRecord) -> None:
        call_each(self.listeners, record, logger, "task listener")

    # -- answers and cancellation (the caller checked the task is the caller's and live) --

    async def answer(self, record: TaskRecord, responses: dict[str, Any]) -> None:
        """Record answers in the store, then hand them to the tool: here, on the instance running
        it, or (the task parked) by resuming it here.

        The store takes each answer first, so an answer the client was told was taken survives
        whatever happens next to the instance running the tool (runtime/replay.py).
        """
        if record.terminal or not responses:
            return
        task_id = record.task_id
        ex = self.executions.get(task_id)
        if ex is None and record.owner == PARKED_OWNER and self.executes and not self.stopping:
            # Parked: claim it first, so the answer is taken only by an instance that will run it
            # (a crash in between leaves an owned task for takeover and an unacknowledged answer).
            claimed = await self._claim_parked(task_id)
            if claimed is not None:
                await self.store.answer(task_id, responses, hold=False)
                await self._replay_claimed(claimed)
                return
        local = ex is not None and not ex.parking
        taken = await self.store.answer(task_id, responses, hold=not local)
        if not taken:
            return
        if ex is not None and not ex.parking:
            await ex.receive(taken)
            return
        if ex is not None or record.owner == PARKED_OWNER:
            # Parked (or being parked while the answer landed): whoever wins the claim resumes it.
            await self.resume(task_id)
            return
        # Running elsewhere: the answers wait in the store; the owner is told to collect them.
        await self.store.publish(TaskEvent("answer", task_id, self.instance_id))

    async def cancel(self, record: TaskRecord) -> None:
        """Stop the task's tool and settle it `cancelled`; a finished task keeps its status (idempotent)."""
        if record.terminal:
            return
        task_id = record.task_id
        ex = self.executions.get(task_id)
        if ex is not None:
            ex.cancel(CANCELLED_BY_CLIENT)
            return
        # Running elsewhere (or nowhere): settle it here; the owner is told to stop the tool.
        updated = await self.store.update(
            task_id, {"status": TaskStatus.CANCELLED, "status_message": CANCELLED_BY_CLIENT, "input_requests": {}}
        )
        if updated is not None:
            await self.announce(updated)
            await self.store.publish(TaskEvent("cancel", task_id, self.instance_id))

    # -- events from other instances --

    def _on_event(self, event: TaskEvent) -> None:
        if event.origin == self.instance_id or self._tg is None:
            return
        if event.kind == "new":
            if self.role == "worker" or (self.role == "all" and event.task_id not in self.executions):
                self._wake.set()
            return
        if event.kind == "changed":
            if self.listeners:
                self.spawn(self._relay, event.task_id)
            return
        ex = self.executions.get(event.task_id)
        if ex is None:
            if event.kind == "answer" and self.executes:  # perhaps parked: answered by a front instance
                self.spawn(self._resume_if_parked, event.task_id)
            return
        if event.kind == "cancel":
            ex.cancel(CANCELLED_BY_CLIENT)
        elif event.kind == "answer":
            self.spawn(self._collect_answers, ex)

    async def _relay(self, task_id: str) -> None:
        record = await self.store.get(task_id)
        if record is not None:
            self._notify_listeners(record)

    async def _collect_answers(self, ex: Execution) -> None:
        if ex.parking:  # the run is going away: whoever resumes the task takes the answers
            await self.resume(ex.task_id)
            return
        answers = await self.store.take_answers(ex.task_id)
        if answers:
            await ex.receive(answers)

    # -- housekeeping --

    async def _sweeper(self) -> None:
        failing = False
        while True:
            with anyio.move_on_after(self.sweep_interval_s):
                await self._wake.wait()
            self._wake = anyio.Event()
            try:
                await self._housekeep(now_ms())  # the heartbeat has its own loop (`_heart`)
            except StoreError as exc:
                # The store is down or full: one line when it starts, one when a pass works again.
                if not failing:
                    logger.warning("task sweeper paused: %s; retrying every %gs", exc, self.sweep_interval_s)
                failing = True
                continue
            except Exception:
                logger.exception("task sweeper pass failed; retrying next interval")
            if failing:
                failing = False
                logger.warning("task sweeper running again")

    async def _heart(self) -> None:
        """Heartbeats on a loop of their own: however long a housekeeping pass takes (a takeover of
        many tasks, resumptions, a slow store), it never makes this live instance look dead."""
        while True:
            await anyio.sleep(self.sweep_interval_s)
            try:
                await self.beat()
            except Exception:  # the sweeper reports store trouble; the next beat tries again
                logger.debug("heartbeat failed", exc_info=True)

    async def beat(self) -> None:
        """Declare this instance alive for `lease_s`; if it had been taken for dead, reconcile.

        Not once shutting down: the release that handed every task over must stay in force while
        the executions are being cancelled (which takes seconds with many tasks)."""
        if self._stopping:
            return
        now = now_ms()
        if not await self.store.heartbeat(self.instance_id, now + self.lease_ms, at_ms=now):
            await self._reconcile()  # thought dead for a while: some tasks may have been taken over

    async def sweep(self) -> None:
        """One housekeeping pass: heartbeat, hand over answers, recover orphans or claim work, expire."""
        await self.beat()
        await self._housekeep(now_ms())

    async def _housekeep(self, now: int) -> None:
        if self._stopping:  # nothing is claimed or resumed by an instance on its way out
            return
        for task_id in await self.store.answered_tasks(self.instance_id):
            ex = self.executions.get(task_id)
            if ex is not None:
                await self._collect_answers(ex)
        if self.executes:  # parked tasks answered while no instance heard of it (the safety net)
            for task_id in await self.store.answered_tasks(PARKED_OWNER):
                await self.resume(task_id)
        if not self.store.shared_events:
            await self._notice_changes_elsewhere(now)
        if self.executes:
            room = min(self.max_running - len(self.executions), CLAIMS_PER_SWEEP)
            if room > 0:
                for record in await self.store.claim_orphans(now, self.instance_id, room):
                    await self._take_over(record)
        self._expire_due(now)
        # Purged a grace period after expiry: a task the TTL stopped just now is still to be read.
        await self.store.purge_expired(now - self.expired_grace_ms)

    def _expire_due(self, now: int) -> None:
        """Stop the tasks run here whose TTL has run out: only those due, whatever the number running.

        Deadlines wait in a heap, so an idle sweep with many tasks parked costs nothing here. Entries
        of executions that ended are dropped when they come due, or all at once when they outnumber
        the live ones (a long TTL would keep them a day).
        """
        due = self._expiries
        while due and due[0][0] <= now:
            _, task_id = heapq.heappop(due)
            ex = self.executions.get(task_id)
            if ex is not None and ex.promoted and not ex.settled and ex.template.expired(now):
                ex.expire(ttl_expired(ex.template, now, self.expired_grace_ms))
        if len(due) > 2 * len(self.executions) + 1024:
            self._expiries = [(e, t) for e, t in due if t in self.executions]
            heapq.heapify(self._expiries)

    async def _notice_changes_elsewhere(self, now: int) -> None:
        """Without store events (SQLite shared by file), find what other processes did to the tasks run here.

        A task cancelled (by `tasks/cancel` on another process, or an operator) or taken over is stopped
        here. `changed_since` looks only at what changed since the last pass, so the cost follows the
        changes, not the number of tasks running.
        """
        since, self._looked_at = self._looked_at, now
        if not self.executions:
            return
        # The executions table itself is the set to look in: nothing is built per sweep.
        for record in await self.store.changed_since(self.executions, since - CLOCK_SLACK_MS):
            ex = self.executions.get(record.task_id)
            if ex is None or ex.settled:
                continue
            if record.status == TaskStatus.CANCELLED:
                ex.cancel(record.status_message or CANCELLED_BY_CLIENT)
            elif record.terminal or record.owner != self.instance_id:
                ex.cancel("This instance lost the task (it ended elsewhere or was taken over)")

    async def _reconcile(self) -> None:
        """Make what runs here match what the store says this instance owns.

        A local execution whose task is no longer owned was taken over (or ended elsewhere): stop
        it. A task owned but not running here (left by an earlier process with this id) goes back
        to the queue, so another instance (or this one) claims it.
        """
        await self.store.heartbeat(PARKED_OWNER, FOREVER_MS)
        owned = set(await self.store.owned(self.instance_id))
        for task_id, ex in list(self.executions.items()):
            if ex.promoted and not ex.settled and task_id not in owned:
                ex.cancel("This instance lost the task (it ended elsewhere or was taken over)")
        for task_id in owned - self.executions.keys():
            await self.store.update(task_id, {"owner": None}, owner=self.instance_id)

    async def _release_leases(self) -> None:
        """On a clean shutdown, let another instance take over at once instead of after the lease."""
        try:
            await self.store.release(self.instance_id)
        except StoreError as exc:
            logger.warning("could not release this instance's tasks on shutdown (%s): they are taken over later", exc)
        except Exception:
            logger.exception("could not release this instance's tasks on shutdown")

    async def _take_over(self, record: TaskRecord) -> None:
        """Run a claimed task: a queued one for the first time, an orphan per its tool's policy."""
        now = now_ms()
        if record.expired(now):
            await self.write(record.task_id, ttl_expired(record, now, self.expired_grace_ms))
            return
        policy = self.policy_for(record.tool)
        if record.attempts > 1:
            lease_takeover(record)
        runnable = self.rerun is not None and record.request is not None
        if record.attempts <= 1 and runnable:
            await self._run_claimed(record, policy, None)
            return
        if policy.retry and runnable and record.attempts <= policy.max_attempts:
            message = f"Restarted after the worker was lost (attempt {record.attempts} of {policy.max_attempts})"
            await self._run_claimed(record, policy, message)
            return
        if policy.retry and runnable:
            reason = f"The worker running this task was lost {record.attempts - 1} times; gave up retrying"
        elif policy.retry or record.attempts <= 1:
            reason = "The worker running this task was lost and the task cannot be run again here"
        else:
            reason = (
                "The server running this task stopped before it finished (worker lost); the tool is not safe to retry"
            )
        updated = await self.write(
            record.task_id,
            {
                "status": TaskStatus.FAILED,
                "status_message": reason,
                "error": {"code": WORKER_LOST, "message": reason},
                "input_requests": {},
            },
        )
        if updated is not None:
            logger.warning("task %s failed over: %s", record.task_id[:8], reason)

    async def _run_claimed(
        self, record: TaskRecord, policy: TaskPolicy, message: str | None, *, resumed: bool = False
    ) -> None:
        """Run a claimed task. A retry-safe one runs by replay: its open requests keep their keys."""
        replay: Replay | None = None
        if policy.retry:
            replay = Replay(await self.store.journal(record.task_id), record.input_requests)
        change: Change = {} if replay is not None else {"status": TaskStatus.WORKING, "input_requests": {}}
        if message is not None:
            change["status_message"] = message
        # A resumed task was claimed by an update that said so: nothing more to write first.
        updated = record if resumed else await self.write(record.task_id, change)
        if updated is None:
            return
        rerun = self.rerun
        assert rerun is not None

        async def call(dispatch: TaskDispatch) -> Any:
            return await rerun(updated, dispatch)

        ex = self.start(call, tool=record.tool, policy=policy, record=updated, replay=replay)
        ex.dispatch.detach()
        ex.mark_promoted()
        if message is not None and not resumed:
            logger.warning("task %s: %s", record.task_id[:8], message)

    # -- parking (runtime/replay.py) --

    async def park(self, ex: Execution) -> bool:
        """Hand a task waiting for input to no instance; True if this instance still held it."""
        record = await self.store.update(ex.task_id, {"owner": PARKED_OWNER}, owner=self.instance_id)
        if record is None:
            return False
        if ex.open_keys - record.input_requests.keys():  # answered while it was being parked
            self.spawn(self.resume, ex.task_id)
        return True

    async def resume(self, task_id: str) -> None:
        """A parked task has answers: claim it from no one and run it again here, by replay.

        Every instance an answer reaches may try; the owner-bound update lets exactly one win. A
        `front` instance runs nothing: it tells the workers instead.
        """
        if not self.executes or self.stopping:
            await self.store.publish(TaskEvent("answer", task_id, self.instance_id))
            return
        record = await self._claim_parked(task_id)
        if record is not None:  # else resumed elsewhere, or it ended
            await self._replay_claimed(record)

    async def _claim_parked(self, task_id: str) -> TaskRecord | None:
        claim: Change = {"owner": self.instance_id, "status_message": RESUMED}
        return await self.store.update(task_id, claim, owner=PARKED_OWNER)

    async def _replay_claimed(self, record: TaskRecord) -> None:
        now = now_ms()
        if record.expired(now):
            await self.write(record.task_id, ttl_expired(record, now, self.expired_grace_ms))
            return
        await self._run_claimed(record, self.policy_for(record.tool), None, resumed=True)
        # The answers are in the journal the replay read; the copies held for an owner can go.
        await self.store.take_answers(record.task_id)

    async def _resume_if_parked(self, task_id: str) -> None:
        record = await self.store.get(task_id)
        if record is not None and record.owner == PARKED_OWNER:
            await self.resume(task_id)

    async def _park_waiting(self) -> None:
        """Clean shutdown: park the retry-safe tasks that wait for input, so no attempt is spent on
        them and any instance resumes them when their answer comes (the others are released)."""
        if self.rerun is None:
            return
        for ex in list(self.executions.values()):
            if ex.resumable and ex.promoted and not ex.settled and ex.open_keys:
                try:
                    await ex.park()
                except StoreError as exc:
                    logger.warning("could not park waiting tasks on shutdown (%s): they are taken over later", exc)
                    return
