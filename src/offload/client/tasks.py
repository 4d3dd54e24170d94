"""The task-aware client: transparent calls, task handles, polling that respects the server, input.

    async with TaskClient("http://127.0.0.1:8000/mcp", journal="tasks.journal") as client:
        result = await client.call_tool("build", {"ref": "main"})      # drives any task to its end
        handle = await client.start_tool("build", {"ref": "main"})     # or keep the handle
        print(handle.task_id); await handle.wait(timeout=60)

`tools/call` goes through the official SDK's `Client` (a `ResultClaim` for `resultType: "task"`), so
MRTR rounds and the SDK's callbacks work as usual. The `tasks/*` traffic goes through a small wire
client that backs off on errors and on 429/503 and reconnects transparently: the protocol is
stateless, so any new connection, to any instance, will do.
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import anyio
import anyio.abc
import httpx2
from mcp.client import ClaimContext, Client, ClientExtension, ResultClaim
from mcp.client.session import ClientRequestContext, ElicitationFnT, ListRootsFnT, SamplingFnT
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ErrorData, InputRequest, Result
from pydantic import ConfigDict, TypeAdapter, ValidationError

from offload._backoff import Backoff, retry
from offload.client.errors import (
    InputUnhandled,
    RpcError,
    TaskCancelled,
    TaskError,
    TaskFailed,
    TaskTimeout,
    Unavailable,
    Unreachable,
)
from offload.client.journal import Journal
from offload.client.reads import Range, Slice, offload_links, read_link
from offload.client.wire import WireClient
from offload.protocol import EXTENSION_ID, INVALID_PARAMS, TERMINAL

__all__ = ["PUSH_SAFETY_POLL_S", "CreateTaskResult", "TaskClient", "TaskHandle", "TasksClientExtension"]

logger = logging.getLogger(__name__)

_INPUT_REQUEST: TypeAdapter[InputRequest] = TypeAdapter(InputRequest)
_detach: contextvars.ContextVar[bool] = contextvars.ContextVar("offload_detach", default=False)

#: When push works, polls become a slow safety net at this interval.
PUSH_SAFETY_POLL_S = 30.0


class CreateTaskResult(Result):
    """The `resultType: "task"` answer to `tools/call` (Result & Task)."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str | None = None
    last_updated_at: str | None = None
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class _Detached(Exception):
    def __init__(self, created: CreateTaskResult) -> None:
        super().__init__(created.task_id)
        self.created = created


class TasksClientExtension(ClientExtension):
    """Declares io.modelcontextprotocol/tasks and finishes `resultType: "task"` results."""

    identifier = EXTENSION_ID

    def __init__(self, client: TaskClient) -> None:
        self._client = client

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve)]

    async def _resolve(self, created: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        if _detach.get():
            raise _Detached(created)
        handle = self._client._adopt(created, ctx.tool_name, None)
        return await handle.result()


class TaskHandle:
    """One task on one server: all a program needs to follow it, from any process."""

    def __init__(self, client: TaskClient, task_id: str, task: dict[str, Any] | None = None) -> None:
        self.client = client
        self.task_id = task_id
        self.last: dict[str, Any] | None = task
        self._on_update: Callable[[dict[str, Any]], None] | None = None
        entry = client.journal.get(client.url, task_id) if client.journal else None
        self.answered: set[str] = set(entry.answered) if entry else set()

    def __repr__(self) -> str:
        status = self.last["status"] if self.last else "?"
        return f"<TaskHandle {self.task_id[:10]}… {status}>"

    @property
    def status_value(self) -> str | None:
        return None if self.last is None else str(self.last["status"])

    # -- one-shot operations --

    async def status(self) -> dict[str, Any]:
        """`tasks/get` now (with retries on transient errors); the task as the server sees it."""
        task = await self.client._request("tasks/get", {"taskId": self.task_id})
        self._observe(task)
        return task

    async def cancel(self) -> None:
        """`tasks/cancel`. The ack is immediate; the task settles (usually `cancelled`) shortly after."""
        await self.client._request("tasks/cancel", {"taskId": self.task_id})

    async def answer(self, responses: dict[str, Any]) -> None:
        """`tasks/update` with answers to `inputRequests` keys; keys already answered are not resent."""
        fresh = {k: v for k, v in responses.items() if k not in self.answered}
        if not fresh:
            return
        await self.client._request("tasks/update", {"taskId": self.task_id, "inputResponses": fresh})
        self.answered.update(fresh)
        if self.client.journal is not None:
            self.client.journal.answered(self.client.url, self.task_id, list(fresh))

    # -- driving to the end --

    async def wait(
        self, timeout: float | None = None, on_update: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Follow the task to a terminal status, answering input with the client's handlers.

        `on_update` is called with the task each time its status or statusMessage changes.
        """
        self._on_update = on_update
        if on_update is not None and self.last is not None:
            on_update(self.last)  # where the task stands as the wait begins
        try:
            with anyio.fail_after(timeout):
                return await self._follow()
        except TimeoutError:
            raise TaskTimeout(
                f"task {self.task_id} still {self.status_value} after {timeout:g} s", self.task_id
            ) from None

    async def read(self, item: int | None = None, *, lines: Range = None, bytes_: Range = None) -> Slice:
        """Read an offloaded item of this task's result (the first when `item` is None), or a range of it."""
        task = self.last if self.last is not None and "result" in self.last else await self.status()
        links = offload_links(task.get("result") or {})
        chosen = [link for link in links if item is None or str(link["uri"]).endswith(f"/blob/{item}")]
        if not chosen:
            which = "" if item is None else f" {item}"
            raise TaskError(f"task {self.task_id} has no offloaded item{which}", self.task_id)
        return await read_link(self.client.wire, str(chosen[0]["uri"]), lines=lines, bytes_=bytes_)

    async def result(self, timeout: float | None = None) -> CallToolResult:
        """The tool's result; `TaskFailed` or `TaskCancelled` when it ended otherwise."""
        task = await self.wait(timeout)
        status = task["status"]
        if status == "completed":
            return CallToolResult.model_validate(task.get("result") or {"content": []})
        if status == "failed":
            raise TaskFailed(self.task_id, task.get("error") or {}, task.get("statusMessage"))
        raise TaskCancelled(self.task_id, task.get("statusMessage"))

    async def _follow(self) -> dict[str, Any]:
        task = self.last if self.last is not None else await self.status()
        if task["status"] in TERMINAL and ("result" in task or "error" in task or task["status"] == "cancelled"):
            return task
        if task["status"] in TERMINAL:  # a CreateTaskResult of a task that finished at once: no payload yet
            return await self.status()
        push = _PushState()
        outcome: dict[str, Any] | None = None
        error: Exception | None = None
        async with anyio.create_task_group() as tg:
            if self.client.push:
                tg.start_soon(self._listen, push)
            try:
                outcome = await self._poll(task, push)
            except Exception as exc:  # re-raised below, outside the task group, unwrapped
                error = exc
            finally:
                tg.cancel_scope.cancel()
        if error is not None:
            raise error
        assert outcome is not None
        return outcome

    async def _poll(self, task: dict[str, Any], push: _PushState) -> dict[str, Any]:
        """Poll at the server's pace; a pushed task change wakes the loop early and replaces a poll."""
        while True:
            task = self.last or task
            if task["status"] in TERMINAL:
                return task
            if task["status"] == "input_required":
                await self._handle_input(task)
            interval = self.client.poll_delay(task)
            if push.active:
                interval = max(interval, PUSH_SAFETY_POLL_S)
            with anyio.move_on_after(interval):
                await push.changed.wait()
            if push.changed.is_set():
                push.changed = anyio.Event()
                if push.active and push.fresh:
                    push.fresh = False
                    continue  # the pushed task is as good as a poll
            task = await self.status()

    async def _listen(self, push: _PushState) -> None:
        """Keep a `notifications/tasks` stream open; on any failure fall back to polling."""
        try:
            async for frame in self.client.wire.listen([self.task_id]):
                params = frame.get("params") or {}
                if frame["method"] == "notifications/subscriptions/acknowledged":
                    push.active = self.task_id in (params.get("notifications") or {}).get("taskIds", [])
                    if not push.active:
                        return  # not offered for this task: keep polling
                elif frame["method"] == "notifications/tasks" and params.get("taskId") == self.task_id:
                    task = {k: v for k, v in params.items() if k != "_meta"}
                    self._observe(task)
                    push.fresh = True
                    push.frames += 1
                    push.changed.set()
        except Exception as exc:
            logger.debug("push stream for %s ended: %r", self.task_id[:10], exc)
        finally:
            if push.active:
                push.active = False
                push.changed.set()

    async def _handle_input(self, task: dict[str, Any]) -> None:
        pending = {k: v for k, v in (task.get("inputRequests") or {}).items() if k not in self.answered}
        if not pending:
            return
        responses = {key: await self.client._dispatch_input(self.task_id, key, req) for key, req in pending.items()}
        await self.answer(responses)

    def _observe(self, task: dict[str, Any]) -> None:
        previous = self.last
        self.last = task
        if (
            previous is not None
            and previous.get("status") == task.get("status")
            and previous.get("statusMessage") == task.get("statusMessage")
        ):
            return
        if self.client.journal is not None:
            self.client.journal.observed(self.client.url, self.task_id, task["status"], task.get("statusMessage"))
        if self._on_update is not None:
            self._on_update(task)


#: Answers no retry changes: unknown/expired task, missing capability, routing mismatch, no such method.
_FINAL_CODES = frozenset({INVALID_PARAMS, -32021, -32020, -32601})
_TRANSIENT: tuple[type[BaseException], ...] = (
    RpcError,
    Unavailable,
    httpx2.TransportError,
    ValidationError,
    ValueError,
)


class _PushState:
    __slots__ = ("active", "changed", "frames", "fresh")

    def __init__(self) -> None:
        self.changed = anyio.Event()
        self.active = False
        self.fresh = False
        self.frames = 0


class TaskClient:
    """A client of one MCP server (Streamable HTTP, 2026-07-28) that understands tasks."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        journal: str | Path | Journal | None = None,
        elicitation_callback: ElicitationFnT | None = None,
        sampling_callback: SamplingFnT | None = None,
        list_roots_callback: ListRootsFnT | None = None,
        push: bool = True,
        default_poll_ms: int = 1000,
        min_poll_ms: int = 50,
        jitter: float = 0.1,
        max_backoff_s: float = 30.0,
        retry_for_s: float = 120.0,
        timeout_s: float = 30.0,
        answers_later: bool = False,
    ) -> None:
        """`retry_for_s`: how long tasks/* requests are retried through connection errors, 5xx and
        429/503 before `Unreachable` is raised (the task keeps running on the server).
        `timeout_s`: one HTTP request's timeout.
        `answers_later`: declare elicitation even without a callback, because the program answers a
        task's questions another way (with `TaskHandle.answer`, or `offload task answer` later). A server
        asks only for input the client declared it can give; `wait()` still stops with `InputUnhandled`
        when a question arrives, so the caller can answer it."""
        self.url = url
        self.token = token
        self.journal = Journal(journal) if isinstance(journal, str | Path) else journal
        self.elicitation_callback = elicitation_callback
        self.sampling_callback = sampling_callback
        self.list_roots_callback = list_roots_callback
        self.push = push
        self.default_poll_ms = default_poll_ms
        self.min_poll_ms = min_poll_ms
        self.jitter = jitter
        self.max_backoff_s = max_backoff_s
        self.retry_for_s = retry_for_s
        self.timeout_s = timeout_s
        #: Wall-clock time of the first failure in the current run of failed requests, else None:
        #: a status display can say "reconnecting since ...".
        self.unreachable_since: float | None = None
        #: The last error of that run.
        self.last_error: BaseException | None = None
        caps: dict[str, Any] = {}
        if elicitation_callback is None and answers_later:
            elicitation_callback = _answered_later
        self._answers_later = answers_later
        if elicitation_callback is not None:
            caps["elicitation"] = {}
        if sampling_callback is not None:
            caps["sampling"] = {}
        if list_roots_callback is not None:
            caps["roots"] = {}
        self.wire = WireClient(url, capabilities=caps, token=token, timeout=timeout_s)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._sdk = Client(
            streamable_http_client(
                url, http_client=httpx2.AsyncClient(headers=headers, timeout=timeout_s, follow_redirects=True)
            ),
            mode="2026-07-28",
            extensions=[TasksClientExtension(self)],
            elicitation_callback=elicitation_callback,
            sampling_callback=sampling_callback,
            list_roots_callback=list_roots_callback,
            cache=None,
        )
        self.requests_sent = 0

    async def __aenter__(self) -> TaskClient:
        await self._sdk.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._sdk.__aexit__(None, None, None)
        finally:
            await self.wire.aclose()
            if self.journal is not None:
                self.journal.close()

    @property
    def sdk(self) -> Client:
        """The underlying official SDK client, for everything that is not about tasks."""
        return self._sdk

    # -- calling tools --

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, *, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        """Transparent mode: the ordinary result, whether or not the server made a task of it.

        Raises `TaskFailed` (carrying the JSON-RPC error) or `TaskCancelled` when a task ends so.
        """
        token = _detach.set(False)
        try:
            return await self._sdk.call_tool(name, arguments, meta=cast(Any, meta))
        finally:
            _detach.reset(token)

    async def start_tool(
        self, name: str, arguments: dict[str, Any] | None = None, *, meta: dict[str, Any] | None = None
    ) -> TaskHandle | CallToolResult:
        """Handle mode: a `TaskHandle` at once if the server made a task, else the inline result."""
        token = _detach.set(True)
        try:
            return await self._sdk.call_tool(name, arguments, meta=cast(Any, meta))
        except _Detached as detached:
            return self._adopt(detached.created, name, arguments)
        finally:
            _detach.reset(token)

    def handle(self, task_id: str) -> TaskHandle:
        """A handle for a task started earlier, by this process or another one."""
        return TaskHandle(self, task_id)

    async def resume(self) -> list[TaskHandle]:
        """Handles for this server's unfinished tasks in the journal (empty without a journal)."""
        if self.journal is None:
            return []
        return [TaskHandle(self, e.task_id) for e in self.journal.entries(self.url, unfinished=True)]

    def _adopt(self, created: CreateTaskResult, tool: str | None, arguments: dict[str, Any] | None) -> TaskHandle:
        task = created.model_dump(by_alias=True, mode="json", exclude_none=True)
        task.pop("resultType", None)
        task.pop("_meta", None)
        task.setdefault("ttlMs", created.ttl_ms)
        if self.journal is not None:
            self.journal.started(self.url, created.task_id, tool, arguments, created.status)
        return TaskHandle(self, created.task_id, task)

    async def read(self, uri: str, *, lines: Range = None, bytes_: Range = None) -> Slice:
        """Read an offload link (`offload://task/<id>/blob/<n>`) of a result, whole or a range (client/reads.py)."""
        return await read_link(self.wire, uri, lines=lines, bytes_=bytes_)

    # -- plumbing --

    def poll_delay(self, task: dict[str, Any]) -> float:
        """Never faster than the server's `pollIntervalMs`; a little jitter spreads many clients out."""
        base = max(int(task.get("pollIntervalMs") or self.default_poll_ms), self.min_poll_ms) / 1000
        return base * (1 + random.uniform(0, self.jitter))

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One tasks/* request, retried with backoff through transient failures for `retry_for_s`.

        Unknown, expired or foreign tasks (-32602), capability and routing errors are final
        (`TaskError`), and so is an answer that is not JSON-RPC (`BadResponse`). A 429/503 waits at
        least its Retry-After. Giving up raises `Unreachable`.
        """
        task_id = params.get("taskId")
        extra_wait = 0.0  # what a Retry-After asks for beyond the backoff's own delay

        async def attempt() -> dict[str, Any]:
            nonlocal extra_wait
            if extra_wait:
                await anyio.sleep(extra_wait)
                extra_wait = 0.0
            self.requests_sent += 1
            try:
                return await self.wire.result(method, params)
            except RpcError as exc:
                if exc.code in _FINAL_CODES:
                    raise TaskError(f"{method} {task_id or ''}: {exc.message}", task_id) from exc
                raise

        def on_retry(exc: BaseException, delay: float) -> None:
            nonlocal extra_wait
            logger.debug("%s failed (%r); retrying in %.2f s", method, exc, delay)
            if self.unreachable_since is None:
                self.unreachable_since = time.time()
            self.last_error = exc
            if isinstance(exc, Unavailable) and exc.retry_after_s is not None:
                extra_wait = max(0.0, min(exc.retry_after_s, self.max_backoff_s) - delay)

        backoff = Backoff(initial=max(self.default_poll_ms / 1000, 0.1), cap=self.max_backoff_s, jitter=self.jitter)
        try:
            reply = await retry(
                attempt, backoff=backoff, deadline_s=self.retry_for_s, retry_on=_TRANSIENT, on_retry=on_retry
            )
        except _TRANSIENT as exc:
            since = self.unreachable_since or time.time()
            raise Unreachable(method, self.url, since, exc, task_id) from exc
        self.unreachable_since = None
        self.last_error = None
        return reply

    async def _dispatch_input(self, task_id: str, key: str, raw: dict[str, Any]) -> Any:
        """Answer one inputRequest with the handler the SDK would use for the same standalone request."""
        try:
            request = _INPUT_REQUEST.validate_python(raw)
        except ValidationError as exc:
            raise TaskError(f"task {task_id}: input request {key!r} is malformed: {exc}", task_id) from None
        method = raw.get("method")
        handler = {
            "elicitation/create": self.elicitation_callback,
            "sampling/createMessage": self.sampling_callback,
            "roots/list": self.list_roots_callback,
        }.get(str(method))
        if handler is None:
            raise InputUnhandled(
                f"task {task_id} needs input ({method}, key {key!r}) and this client has no handler for it; "
                f"answer it with `offload task answer` or pass a callback",
                task_id,
            )
        ctx = ClientRequestContext(session=self._sdk.session, request_id=key)
        answer = await self._sdk.session.dispatch_input_request(ctx, request)
        if isinstance(answer, ErrorData):
            raise TaskError(f"task {task_id}: the {method} handler declined: {answer.message}", task_id)
        return answer.model_dump(by_alias=True, mode="json", exclude_none=True)


async def _answered_later(context: ClientRequestContext, params: Any) -> ErrorData:
    """Stands in for an elicitation handler when the program answers out of band (`answers_later`).

    Only a question asked inline, before any task exists (MRTR), reaches it: that one cannot wait.
    """
    return ErrorData(
        code=-32603,
        message="elicitation is not supported inline by this client: it answers questions only on tasks (tasks/update)",
    )
