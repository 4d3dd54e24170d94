"""The extension's server middleware: routing-header check, and `notifications/tasks` on `subscriptions/listen`.

Push (tasks.md "Task Status Notifications"):

The SDK's listen handler drops unknown filter keys, so a listen request that carries `taskIds`
is served here in full: the acknowledgement (with the task ids honored), the core events the
client asked for from the server's bus, and one `notifications/tasks` frame per task change,
each the complete task exactly as `tasks/get` would return it. Requests without `taskIds` go
to the SDK untouched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer, authenticated_principal
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import decode_header_value
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY, event_matches, event_to_notification
from mcp_types import SubscriptionFilter
from pydantic import ValidationError

from offload.protocol import HEADER_MISMATCH, INVALID_PARAMS, MODERN_VERSION, TASK_METHODS, detailed_task
from offload.server import bridge
from offload.server.gates import declares_tasks, missing_capability
from offload.store import TaskRecord, now_ms

if TYPE_CHECKING:
    from offload.server.extension import Tasks

logger = logging.getLogger(__name__)

MAX_TASK_IDS = 1000
MAX_BACKLOG = 1024
WATCH_INTERVAL_S = 0.25
RESYNC_INTERVAL_S = 5.0


class TasksMiddleware:
    """The extension's one server middleware (one layer, so each request pays for it once).

    - Over HTTP, `Mcp-Name`, when present, must equal `params.taskId` on tasks/* (tasks.md "Routing
      Headers"; see `mcp_name_admits`); the SDK checks it only for the methods it knows.
    - `subscriptions/listen` requests that name `taskIds` are served here (see the module docstring).
    """

    def __init__(self, tasks: Tasks, server: MCPServer[Any]) -> None:
        self.tasks = tasks
        self.server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method in TASK_METHODS:
            _check_mcp_name(ctx, strict=strict_mcp_name(self.tasks))
        elif method == "subscriptions/listen":
            return await self._listen(ctx, call_next)
        return await call_next(ctx)

    async def _listen(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        wanted = (ctx.params or {}).get("notifications")
        if not isinstance(wanted, dict) or "taskIds" not in wanted:
            return await call_next(ctx)
        if not declares_tasks(ctx):
            raise missing_capability("Task status notifications")
        task_ids = wanted["taskIds"]
        if not isinstance(task_ids, list) or not all(isinstance(t, str) for t in task_ids):
            raise MCPError(code=INVALID_PARAMS, message="notifications.taskIds must be a list of task id strings")
        if len(task_ids) > MAX_TASK_IDS:
            raise MCPError(code=INVALID_PARAMS, message=f"at most {MAX_TASK_IDS} taskIds per listen request")
        try:
            core = SubscriptionFilter.model_validate({k: v for k, v in wanted.items() if k != "taskIds"})
        except ValidationError:
            raise MCPError(code=INVALID_PARAMS, message="invalid notifications filter") from None
        return await self._serve(ctx, task_ids, core)

    async def _serve(
        self, ctx: ServerRequestContext[Any, Any], task_ids: list[str], requested: SubscriptionFilter
    ) -> dict[str, Any]:
        principal = authenticated_principal(ctx)
        now = now_ms()
        current: dict[str, TaskRecord] = {}
        for task_id in dict.fromkeys(task_ids):
            record = await self.tasks.store.get(task_id)
            # Only the caller's own live tasks are honored; others are left out of the ack silently.
            if record is not None and record.principal == principal and not record.expired(now):
                current[task_id] = record
        honored = SubscriptionFilter(
            tools_list_changed=True if requested.tools_list_changed else None,
            prompts_list_changed=True if requested.prompts_list_changed else None,
            resources_list_changed=True if requested.resources_list_changed else None,
            resource_subscriptions=list(requested.resource_subscriptions) if requested.resource_subscriptions else None,
        )
        uris = frozenset(honored.resource_subscriptions or ())
        meta = {SUBSCRIPTION_ID_META_KEY: ctx.request_id}
        send, recv = anyio.create_memory_object_stream[tuple[str, dict[str, Any]]](MAX_BACKLOG)

        def push(item: tuple[str, dict[str, Any]]) -> None:
            try:
                send.send_nowait(item)
            except (anyio.WouldBlock, anyio.ClosedResourceError):
                logger.warning("listen stream %r is not being read; ending it", ctx.request_id)
                send.close()

        sent: dict[str, tuple[Any, ...]] = {}

        def on_task(record: TaskRecord) -> None:
            # Each distinct state once, whichever path (local change, relay, watch) saw it first.
            if record.task_id in current and sent.get(record.task_id) != (mark := _state_mark(record)):
                sent[record.task_id] = mark
                push(("notifications/tasks", {**detailed_task(record), "_meta": meta}))

        def on_event(event: Any) -> None:
            if event_matches(honored, uris, event):
                note = event_to_notification(event, meta).model_dump(by_alias=True, mode="json", exclude_none=True)
                push((note["method"], note.get("params") or {}))

        # Subscribe before acknowledging so no change between the two is lost.
        self.tasks.runtime.listeners.add(on_task)
        unsubscribe = bridge.subscription_bus(self.server).subscribe(on_event)
        try:
            ack = {"notifications": {**honored.model_dump(by_alias=True, exclude_none=True), "taskIds": list(current)}}
            await bridge.notify_on_request(ctx, "notifications/subscriptions/acknowledged", {**ack, "_meta": meta})
            # Then each task's state as of now, so a change made before the subscription is not missed.
            for task_id in current:
                fresh = await self.tasks.store.get(task_id)
                if fresh is not None:
                    on_task(fresh)
            async with anyio.create_task_group() as tg:
                # Watch the store too: closely when other processes cannot reach us with events, and
                # as a slow safety net when they can (an event sent while a listener reconnects is lost).
                interval = RESYNC_INTERVAL_S if self.tasks.store.shared_events else WATCH_INTERVAL_S
                tg.start_soon(self._watch, list(current), on_task, interval)
                async for method, params in recv:
                    await bridge.notify_on_request(ctx, method, params)
                tg.cancel_scope.cancel()
        finally:
            self.tasks.runtime.listeners.discard(on_task)
            try:
                unsubscribe()
            except Exception:
                logger.exception("unsubscribing a listen stream failed")
            send.close()
            recv.close()
        return {"resultType": "complete", "_meta": {**meta, **_server_info(self.server)}}

    async def _watch(self, task_ids: list[str], on_task: Any, interval: float) -> None:
        live = set(task_ids)
        while live:
            await anyio.sleep(interval)
            for task_id in list(live):
                record = await self.tasks.store.get(task_id)
                if record is None or record.terminal:
                    live.discard(task_id)
                if record is not None:
                    on_task(record)


#: Whether a tasks/* request over HTTP that carries no `Mcp-Name` header is rejected (-32020).
#: The default for every `Tasks` that does not say otherwise (see `strict_mcp_name`).
STRICT_MCP_NAME = False


def strict_mcp_name(tasks: object) -> bool:
    """The routing-header policy of `tasks`: its own `strict_mcp_name`, else the module default."""
    return bool(getattr(tasks, "strict_mcp_name", STRICT_MCP_NAME))


def mcp_name_admits(header: str | None, task_id: object, *, strict: bool, protocol_version: str | None) -> bool:
    """Whether an `Mcp-Name` header value (None: absent) admits a tasks/* request for `task_id`.

    tasks.md "Streamable HTTP: Routing Headers" has the client set `Mcp-Name` to `params.taskId` so
    that intermediaries can route the request; the body stays authoritative. The 2026-07-28
    transport's Server Validation rejects a header that differs from the body value (-32020), and
    lists `Mcp-Name` as required only for tools/call, resources/read and prompts/get. So a header
    that is present must match (after Base64-sentinel decoding), while an absent one is accepted by
    default: FastMCP's task client (fastmcp-tasks 4.1) sends none, and the server behind such a
    route has the body. `strict` rejects an absent header too, for deployments whose routing
    depends on it; only from 2026-07-28 on, as earlier revisions had no routing headers.
    """
    if header is None:
        return not (strict and protocol_version == MODERN_VERSION)
    return decode_header_value(header) == task_id


def _check_mcp_name(ctx: ServerRequestContext[Any, Any], *, strict: bool) -> None:
    headers = getattr(ctx.request, "headers", None) if ctx.request is not None else None
    if headers is None:
        return  # not HTTP: there are no routing headers to check
    task_id = (ctx.params or {}).get("taskId")
    if not mcp_name_admits(
        headers.get("mcp-name"), task_id, strict=strict, protocol_version=headers.get("mcp-protocol-version")
    ):
        if headers.get("mcp-name") is None:
            raise MCPError(
                code=HEADER_MISMATCH, message="Mcp-Name header is required on tasks/* (set it to params.taskId)"
            )
        raise MCPError(code=HEADER_MISMATCH, message="Mcp-Name header does not match params.taskId")


def _state_mark(record: TaskRecord) -> tuple[Any, ...]:
    return (record.status, record.status_message, tuple(record.input_requests), record.updated_ms)


def _server_info(server: MCPServer[Any]) -> dict[str, Any]:
    return {"io.modelcontextprotocol/serverInfo": bridge.server_info_stamp(server)}
