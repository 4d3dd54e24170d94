"""One run of a tool under offload: inline at first, a durable task once promoted.

The tool sees an ordinary SDK back-channel (`TaskDispatch`). While the call is still inline,
progress and log notifications go to the original request; once it is a task, progress
becomes the task's `statusMessage`, and any server-to-client request (elicitation, sampling,
roots) becomes an entry of `inputRequests` that `tasks/update` answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

import anyio
from mcp.shared.dispatcher import CallOptions, DispatchContext
from mcp.shared.exceptions import MCPError
from mcp_types import RequestId
from pydantic import BaseModel

from offload._backoff import Backoff
from offload.observe import TaskProbe, task_created
from offload.protocol import INPUT_TIMEOUT, INTERNAL_ERROR, MISSING_REQUIRED_CLIENT_CAPABILITY, TaskStatus
from offload.protocol.capabilities import missing_for
from offload.runtime.policy import TaskPolicy
from offload.runtime.replay import Diverged, Replay, as_json, current_runner, input_key, step_key
from offload.store import Change, StoreEncodingError, StoreError, TaskRecord

logger = logging.getLogger(__name__)

ToolCall = Callable[["TaskDispatch"], Awaitable[Any]]


class ExecutionHost(Protocol):
    """What an execution needs from the runtime that runs it (`TaskRuntime` is the one host)."""

    max_result_bytes: int

    @property
    def stopping(self) -> bool:
        """The runtime is shutting down: its tasks are being handed to other instances."""

    async def create(self, record: TaskRecord) -> None:
        """Store a new task (the promotion of an inline call)."""

    async def write(self, task_id: str, change: Change) -> TaskRecord | None:
        """Apply a change to a task this instance runs, and announce it; None if it no longer holds it."""

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run a short piece of background work (a statusMessage flush) in the runtime's task group."""

    def forget(self, execution: Execution) -> None:
        """The execution ended: drop it from the runtime's table."""

    async def park(self, execution: Execution) -> bool:
        """Hand the task, waiting for input, to no instance (runtime/replay.py); False if it cannot be."""

    async def record(self, task_id: str, key: str, entry: dict[str, Any]) -> bool:
        """Journal a durable step of a task this instance holds; False if it no longer holds it."""


class TaskDispatch:
    """Structurally an SDK `DispatchContext`: the back-channel the tool talks to."""

    __slots__ = ("_cancel_requested", "_cancelled", "_ex", "_inline", "_transport")

    def __init__(self, execution: Execution, inline: DispatchContext[Any] | None, transport: Any) -> None:
        self._ex = execution
        self._inline = inline
        self._transport = transport
        self._cancel_requested: anyio.Event | None = None  # made on first use: most tools never look
        self._cancelled = False

    @property
    def transport(self) -> Any:
        return self._transport

    @property
    def can_send_request(self) -> bool:
        return True

    @property
    def request_id(self) -> RequestId | None:
        return self._ex.task_id

    @property
    def message_metadata(self) -> Any:
        return None

    @property
    def cancel_requested(self) -> anyio.Event:
        if self._cancel_requested is None:
            self._cancel_requested = anyio.Event()
            if self._cancelled:
                self._cancel_requested.set()
        return self._cancel_requested

    def mark_cancelled(self) -> None:
        self._cancelled = True
        if self._cancel_requested is not None:
            self._cancel_requested.set()

    def detach(self) -> None:
        """Forget the inline request once the call became a task, so it can be freed."""
        self._inline = None

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        return await self._ex.ask(method, dict(params or {}))

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        # tasks.md: progress and log notifications are not carried for tasks; inline they still flow.
        if self._inline is not None:
            await self._inline.notify(method, params, opts)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self._inline is not None:
            await self._inline.progress(progress, total, message)
        if message is None:
            message = f"{progress:g}/{total:g}" if total is not None else f"{progress:g}"
        self._ex.note_status(message)


def result_to_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, BaseModel):
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if result is None:
        return {}
    return dict(result)


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, MCPError):
        return exc.error.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {"code": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}"}


def _failed(message: str, code: int = INTERNAL_ERROR) -> Change:
    return {
        "status": TaskStatus.FAILED,
        "error": {"code": code, "message": message},
        "status_message": message,
        "input_requests": {},
    }


class Execution:
    """The running tool behind one call, and the bookkeeping that makes it a task."""

    __slots__ = (
        "_answers",
        "_cancel_reason",
        "_capabilities",
        "_decided",
        "_flushing",
        "_forced",
        "_outstanding",
        "_promotion",
        "_replay",
        "_seq",
        "_unrecorded",
        "asked_inline",
        "dispatch",
        "host",
        "outcome",
        "parking",
        "policy",
        "probe",
        "promoted",
        "scope",
        "settled",
        "status_message",
        "task",
        "task_id",
        "template",
    )

    def __init__(
        self,
        host: ExecutionHost,
        template: TaskRecord,
        policy: TaskPolicy,
        inline: DispatchContext[Any] | None,
        transport: Any,
        capabilities: dict[str, Any] | None = None,
        replay: Replay | None = None,
    ) -> None:
        self.host = host
        self._capabilities = capabilities  # what the calling client declared; None: unknown, not gated
        self.template = template
        self.task_id = template.task_id
        self.policy = policy
        self.dispatch = TaskDispatch(self, inline, transport)
        self.status_message: str | None = template.status_message
        self.outcome: tuple[str, Any] | None = None  # ("result", obj) | ("error", dict) | ("cancelled", None)
        # Plain flags, and events only while someone can wait on them: a parked task stays small.
        self.settled = False
        self.promoted = False
        self.asked_inline = False  # the tool wanted input before it was a task
        self._decided: anyio.Event | None = anyio.Event()  # what the interceptor waits on, inline only
        self._promotion: anyio.Event | None = None  # what an inline `ask` waits on
        self.scope = anyio.CancelScope()
        self._outstanding: dict[str, dict[str, Any]] = {}
        self._answers: dict[str, asyncio.Future[Any]] = {}
        self._seq = 0  # the position of the latest input request or step (runtime/replay.py)
        self._replay = replay  # what earlier runs recorded; None on a first run
        self._unrecorded: dict[str, Any] | None = None  # steps run before the task existed
        self._flushing = False
        self._cancel_reason: str | None = None
        self._forced: Change | None = None  # the outcome to store when the TTL or a replay stopped the tool
        self.parking = False  # handed to no instance while it waits: no outcome is written from here
        self.task: asyncio.Task[None] | None = None  # the asyncio task running `run` (set by the runtime)
        self.probe = TaskProbe(template)  # spans and metrics of this run (offload.observe)

    # -- the run --

    async def run(self, call: ToolCall) -> None:
        with self.probe.running():  # the attempt's span and in-flight count, around the outcome too
            await self._run(call)

    async def _run(self, call: ToolCall) -> None:
        outcome: tuple[str, Any]
        current_runner.set(self)  # `offload.step` inside the tool finds this run
        try:
            with self.scope:
                try:
                    outcome = ("result", await call(self.dispatch))
                except MCPError as exc:
                    outcome = ("error", error_to_dict(exc))
                except Exception as exc:
                    logger.exception("task %s: tool %r raised", self.task_id[:8], self.template.tool)
                    outcome = ("error", error_to_dict(exc))
            if self.scope.cancelled_caught:
                outcome = ("cancelled", None)
            # No await before the flag: a tool that answers at once (an MRTR InputRequiredResult)
            # must read as settled within the interceptor's one scheduler turn.
            self.outcome = outcome
            self.settled = True
            self._wake()
            if self.promoted:
                await self._write_outcome()
            # else: not a task (yet); if a promotion is under way it writes the outcome itself
        finally:
            self.host.forget(self)

    def expire(self, change: Change) -> None:
        """The task's TTL ran out: stop the tool and store `change` (a terminal status) as its outcome."""
        self._forced = change
        self.cancel(str(change.get("status_message") or "The task's TTL ran out"))

    async def _diverged(self, exc: Diverged) -> None:
        """A replayed run no longer matches its journal: fail the task, saying where."""
        message = (
            f"The tool is not deterministic up to its recorded calls ({exc}), so it cannot be resumed; "
            "see README 'Durable approvals'"
        )
        self._forced = _failed(message)
        self.cancel(message)
        await anyio.lowlevel.checkpoint()  # the cancellation lands here

    def cancel(self, reason: str) -> None:
        self._cancel_reason = reason
        self.dispatch.mark_cancelled()
        self.scope.cancel()

    @property
    def decided(self) -> bool:
        return self.settled or self.asked_inline

    async def wait_decided(self) -> None:
        """Until the tool settled or asked for input (the interceptor's inline wait)."""
        if self._decided is not None and not self.decided:
            await self._decided.wait()

    def _wake(self) -> None:
        if self._decided is not None:
            self._decided.set()

    # -- promotion: inline call -> durable task --

    async def promote(self) -> TaskRecord:
        """Store the task (terminal already if the tool finished) and switch routing to it."""
        record = self.template.copy()
        record.status_message = self.status_message
        settled_before = self.settled
        if settled_before:
            self._apply_outcome(record)
        self.dispatch.detach()  # from here on nothing more goes to the HTTP exchange
        await self.host.create(record)
        task_created(record)
        self.mark_promoted()
        if self._unrecorded:  # steps run inline: journal them now the task exists
            steps, self._unrecorded = self._unrecorded, None
            for key, entry in steps.items():
                await self.host.record(self.task_id, key, entry)
        if self.settled and not settled_before:
            await self._write_outcome()  # it finished while the task was being stored
        elif not record.terminal and self.status_message != record.status_message:
            self._schedule_flush()
        return record

    def mark_promoted(self) -> None:
        """The task exists in the store; inline-phase waiting is over."""
        self.promoted = True
        self._decided = None
        if self._promotion is not None:
            self._promotion.set()
            self._promotion = None

    def _apply_outcome(self, record: TaskRecord) -> None:
        change = self._outcome_change()
        for key, value in change.items():
            setattr(record, key, value)

    def _outcome_change(self) -> Change:
        assert self.outcome is not None
        kind, value = self.outcome
        if kind == "cancelled" and self._forced is not None:
            return self._forced
        if kind == "cancelled":
            reason = self._cancel_reason or "Cancelled"
            return {"status": TaskStatus.CANCELLED, "status_message": reason, "input_requests": {}}
        if kind == "error":
            message = value.get("message")
            return {"status": TaskStatus.FAILED, "error": value, "status_message": message, "input_requests": {}}
        result = result_to_dict(value)
        if result.get("resultType") == "input_required":
            return _failed(
                "The tool returned an InputRequiredResult after it became a task: ask with ctx.elicit() "
                "inside a task, or give the tool a budget_s long enough to answer MRTR before the task exists"
            )
        limit = self.host.max_result_bytes
        size = len(json.dumps(result, separators=(",", ":")))
        if size > limit:
            return _failed(f"Tool result is {size} bytes, over the store limit of {limit}")
        change: Change = {"status": TaskStatus.COMPLETED, "result": result, "input_requests": {}}
        if self.status_message is not None:
            change["status_message"] = self.status_message
        return change

    async def _write_outcome(self) -> None:
        """Store the outcome; a finished tool's outcome is never dropped while this instance lives.

        The execution stays registered (its task owned, heartbeat and all) until the write lands: an
        unreachable or full store is waited out, however long, with one log line when the trouble
        starts and one when it ends. An outcome the store cannot hold (text that is not valid
        Unicode, say) becomes a `failed` outcome saying why. Only a shutdown gives up: the task is
        then handed to another instance like any other running task.
        """
        change = self._outcome_change()
        backoff = Backoff(initial=0.1, cap=5.0)
        failures = 0
        with anyio.CancelScope(shield=True):
            while True:
                try:
                    await self.host.write(self.task_id, change)
                    if failures:
                        logger.warning("task %s: outcome stored after %d failed tries", self.task_id[:8], failures)
                    return
                except StoreEncodingError as exc:  # no store can keep it: fail the task, saying where
                    reason = str(exc).encode("utf-8", "backslashreplace").decode()
                    change = _failed(f"The tool finished, but its outcome cannot be stored: {reason}")
                    continue
                except Exception as exc:
                    failures += 1
                    if failures == 1:
                        logger.warning("task %s: storing its outcome failed (%s); retrying", self.task_id[:8], exc)
                    if self.host.stopping:
                        logger.warning("task %s: outcome not stored before shutdown; handed over", self.task_id[:8])
                        return
                    await anyio.sleep(backoff.next())

    # -- status messages from progress reports --

    def note_status(self, message: str) -> None:
        self.status_message = message
        if self.promoted and not self.settled:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flushing:
            self._flushing = True
            self.host.spawn(self._flush)

    async def _flush(self) -> None:
        """Write the latest statusMessage; progress bursts collapse into few writes."""
        try:
            while True:
                message = self.status_message
                await self.host.write(self.task_id, {"status_message": message})
                if message == self.status_message or self.settled:
                    break
        finally:
            self._flushing = False

    # -- input requests --

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Park a server-to-client request as an inputRequest and wait for its answer.

        A request the calling client declared no capability for is refused at once with -32021: no
        one could answer it, and waiting for the input deadline would only hide that.
        """
        required = missing_for(method, params, self._capabilities)
        if required is not None:
            what = ", ".join(f"{name}{'.' + '.'.join(sub) if sub else ''}" for name, sub in required.items())
            raise MCPError(
                code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                message=f"The client did not declare the {what} capability, so it cannot answer {method}",
                data={"requiredCapabilities": required},
            )
        if not self.promoted:
            self.asked_inline = True
            self._wake()  # the interceptor turns the call into a task now
            if self._promotion is None:
                self._promotion = anyio.Event()
            await self._promotion.wait()
        self._seq += 1
        key = input_key(method, self._seq)
        if self._replay is not None:
            try:
                answered, recorded = self._replay.recall_input(self._seq, key, method, params)
            except Diverged as exc:
                await self._diverged(exc)
                raise
            if answered:  # asked and answered before: the tool gets the same answer, nobody is asked
                return recorded if isinstance(recorded, dict) else {"value": recorded}
        # A bare future: the lightest thing a parked request can wait on.
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outstanding[key] = {"method": method, "params": params}
        self._answers[key] = answer
        try:
            await self.sync_inputs()
            timeout = self.policy.input_timeout_s
            deadline = math.inf if timeout is None else anyio.current_time() + timeout
            with (
                self.probe.input_wait(key, method),
                anyio.CancelScope(deadline=deadline) as waiting,
            ):
                park_after = self._park_after()
                if park_after is not None:
                    # asyncio.wait leaves the future alone when it times out (a cancelled await would not).
                    done, _ = await asyncio.wait([answer], timeout=park_after)
                    if not done:
                        await self.park()
                value = await answer
            if waiting.cancelled_caught:
                raise MCPError(
                    code=INPUT_TIMEOUT,
                    message=f"No answer to input request {key!r} within {timeout:g} s; the task gave up waiting",
                )
            return value if isinstance(value, dict) else {"value": value}
        finally:
            self._outstanding.pop(key, None)
            self._answers.pop(key, None)

    # -- parking and durable steps (runtime/replay.py) --

    @property
    def resumable(self) -> bool:
        """Retry-safe, with the call stored: another run can take over by replay."""
        return self.policy.retry and self.template.request is not None

    def _park_after(self) -> float | None:
        """Seconds to wait for an answer in memory before parking; None: never park this task."""
        after = self.policy.park_after_s
        if not self.resumable or after is None or math.isinf(after):
            return None
        return after

    async def park(self) -> bool:
        """Drop this run while the task waits for input; the answer resumes the task by replay.

        The store hands the task to no instance first; only then does this run stop (its outcome
        is not written: the run that resumes writes it). True if parked.
        """
        if self.parking or self.settled or not self.promoted:
            return self.parking
        self.parking = True
        if not await self.host.park(self):
            self.parking = False
            return False
        if self.task is not None:
            self.task.cancel()  # not the scope: no outcome, nothing recorded as cancelled
        await anyio.lowlevel.checkpoint()
        return True

    @property
    def open_keys(self) -> set[str]:
        """Keys of the requests this run waits on."""
        return set(self._outstanding)

    async def run_step(self, name: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """`offload.step` inside this run: recorded result on replay, else run and record it."""
        self._seq += 1
        key = step_key(self._seq)
        if self._replay is not None:
            try:
                done, recorded = self._replay.recall_step(self._seq, name)
            except Diverged as exc:
                await self._diverged(exc)
                raise
            if done:
                return recorded
        result = as_json(name, await fn())
        entry = {"step": name, "result": result}
        if not self.promoted:  # no task yet: journaled when it is stored (`promote`)
            if self._unrecorded is None:
                self._unrecorded = {}
            self._unrecorded[key] = entry
            return result
        backoff = Backoff(initial=0.1, cap=5.0)
        while True:
            try:
                with anyio.CancelScope(shield=True):  # the side effect happened: its record must land
                    held = await self.host.record(self.task_id, key, entry)
                break
            except StoreEncodingError as exc:  # no store can keep it: the tool hears why
                raise TypeError(f"step {name!r} returned a value that cannot be stored: {exc}") from exc
            except StoreError as exc:  # an outage is waited out
                logger.warning("task %s: recording step %r failed (%s); retrying", self.task_id[:8], name, exc)
                await anyio.sleep(backoff.next())
        if not held:
            self.cancel("This instance lost the task (it ended elsewhere or was taken over)")
            await anyio.lowlevel.checkpoint()
        return result

    def deliver(self, responses: dict[str, Any]) -> list[str]:
        """Hand answers to their waiting requests; unknown or answered keys are ignored."""
        taken: list[str] = []
        for key, value in responses.items():
            answer = self._answers.get(key)
            if answer is None and self._replay is not None and self._replay.answer(key, value):
                taken.append(key)  # a replay not yet at this request: it finds the answer when it gets there
                continue
            if answer is None or answer.done() or key not in self._outstanding:
                continue
            del self._outstanding[key]
            answer.set_result(value)
            taken.append(key)
        return taken

    async def receive(self, responses: dict[str, Any]) -> None:
        """Answers for this task (from tasks/update here, or collected from the store): resume the tool."""
        if self.deliver(responses):
            await self.sync_inputs()

    async def sync_inputs(self) -> None:
        """Store the open requests: `input_required` while any is open, `working` again once none is."""
        waiting = len(self._outstanding)
        self.probe.inputs(waiting)
        change: Change = {
            "status": TaskStatus.INPUT_REQUIRED if waiting else TaskStatus.WORKING,
            "input_requests": dict(self._outstanding),
            # While blocked, say so; afterwards the latest progress message stands again.
            "status_message": f"Waiting for input ({waiting} open request{'s' if waiting > 1 else ''})"
            if waiting
            else self.status_message,
        }
        await self.host.write(self.task_id, change)
