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
from offload.store import Change, StoreEncodingError, TaskRecord

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


def _failed(message: str) -> Change:
    return {
        "status": TaskStatus.FAILED,
        "error": {"code": INTERNAL_ERROR, "message": message},
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
        "_expiry",
        "_flushing",
        "_outstanding",
        "_promotion",
        "_seq",
        "asked_inline",
        "dispatch",
        "host",
        "outcome",
        "policy",
        "probe",
        "promoted",
        "scope",
        "settled",
        "status_message",
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
        self._seq = 0
        self._flushing = False
        self._cancel_reason: str | None = None
        self._expiry: Change | None = None  # set when the TTL stopped the tool: the outcome to store
        self.probe = TaskProbe(template)  # spans and metrics of this run (offload.observe)

    # -- the run --

    async def run(self, call: ToolCall) -> None:
        with self.probe.running():  # the attempt's span and in-flight count, around the outcome too
            await self._run(call)

    async def _run(self, call: ToolCall) -> None:
        outcome: tuple[str, Any]
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
        self._expiry = change
        self.cancel(str(change.get("status_message") or "The task's TTL ran out"))

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
        if kind == "cancelled" and self._expiry is not None:
            return self._expiry
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
        key = f"{method.split('/')[0]}-{self.template.attempts}.{self._seq}"
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

    def deliver(self, responses: dict[str, Any]) -> list[str]:
        """Hand answers to their waiting requests; unknown or answered keys are ignored."""
        taken: list[str] = []
        for key, value in responses.items():
            answer = self._answers.get(key)
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
