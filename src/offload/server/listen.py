"""Push: `notifications/tasks` on `subscriptions/listen` (tasks.md "Task Status Notifications").

The SDK's listen handler drops unknown filter keys, so a listen request that carries `taskIds`
is served here in full: the acknowledgement (with the task ids honored), the core events the
client asked for from the server's bus, and one `notifications/tasks` frame per task change,
each the complete task exactly as `tasks/get` would return it. Requests without `taskIds` go
to the SDK untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer, authenticated_principal
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY, event_matches, event_to_notification
from mcp_types import SubscriptionFilter
from pydantic import ValidationError

from offload.observe import admission_refused
from offload.protocol import INVALID_PARAMS, LISTEN_OVERFLOW, TOO_MANY_TASKS, detailed_task
from offload.server import bridge
from offload.server.gates import declares_tasks, missing_capability
from offload.server.handlers import TaskHandlers, visible
from offload.server.watch import TaskWatcher
from offload.store import TaskRecord, now_ms

__all__ = ["TaskStreams"]

logger = logging.getLogger(__name__)

MAX_TASK_IDS = 1000
MAX_BACKLOG = 1024


class TaskStreams:
    """`subscriptions/listen` with `taskIds`: the stream of `notifications/tasks` for the caller's tasks."""

    def __init__(self, handlers: TaskHandlers, server: MCPServer[Any], *, max_streams_per_caller: int = 16) -> None:
        self.runtime = handlers.runtime
        self.store = handlers.store
        self.server = server
        self.watcher = TaskWatcher(handlers.runtime)
        self.max_streams_per_caller = max_streams_per_caller
        self._open: dict[str | None, int] = {}  # streams open on this instance, per principal

    async def listen(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Serve the request when it names `taskIds`; anything else goes to the SDK untouched."""
        return await self._listen(ctx, call_next)

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
        if self._open.get(principal, 0) >= self.max_streams_per_caller:
            admission_refused("streams")
            raise MCPError(
                code=TOO_MANY_TASKS,
                message=f"At most {self.max_streams_per_caller} task notification streams per caller on this "
                "server; close one (or name more taskIds in one stream) first",
                data={"limit": self.max_streams_per_caller},
            )
        now = now_ms()
        current: dict[str, TaskRecord] = {}
        for task_id in dict.fromkeys(task_ids):
            record = await self.store.get(task_id)
            # Only the caller's own live tasks are honored; others are left out of the ack silently.
            if visible(record, principal, now):
                assert record is not None
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
        overflowed = False

        def push(item: tuple[str, dict[str, Any]]) -> None:
            nonlocal overflowed
            try:
                send.send_nowait(item)
            except anyio.WouldBlock:
                logger.warning("listen stream %r is not being read; ending it", ctx.request_id)
                overflowed = True
                send.close()
            except anyio.ClosedResourceError:
                pass

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
        self._open[principal] = self._open.get(principal, 0) + 1
        unwatch = self.watcher.watch(list(current), on_task)
        unsubscribe = bridge.subscription_bus(self.server).subscribe(on_event)
        try:
            ack = {"notifications": {**honored.model_dump(by_alias=True, exclude_none=True), "taskIds": list(current)}}
            await bridge.notify_on_request(ctx, "notifications/subscriptions/acknowledged", {**ack, "_meta": meta})
            # Then each task's state as of now, so a change made before the subscription is not missed.
            for task_id in current:
                fresh = await self.store.get(task_id)
                if fresh is not None:
                    on_task(fresh)
            async for method, params in recv:
                await bridge.notify_on_request(ctx, method, params)
        finally:
            unwatch()
            self._open[principal] -= 1
            if not self._open[principal]:
                del self._open[principal]
            try:
                unsubscribe()
            except Exception:
                logger.exception("unsubscribing a listen stream failed")
            send.close()
            recv.close()
        if overflowed:
            # subscriptions.mdx "Graceful Closure": a result says the stream ended with nothing missed.
            # Notifications were dropped here, so the stream ends with an error the client can tell apart.
            raise MCPError(
                code=LISTEN_OVERFLOW,
                message=f"Notifications were dropped: more than {MAX_BACKLOG} waited unread on this stream. "
                "Listen again, and tasks/get the tasks to catch up.",
                data={SUBSCRIPTION_ID_META_KEY: ctx.request_id},
            )
        return {"resultType": "complete", "_meta": {**meta, **_server_info(self.server)}}


def _state_mark(record: TaskRecord) -> tuple[Any, ...]:
    return (record.status, record.status_message, tuple(record.input_requests), record.updated_ms)


def _server_info(server: MCPServer[Any]) -> dict[str, Any]:
    return {"io.modelcontextprotocol/serverInfo": bridge.server_info_stamp(server)}
