"""The extension's one server middleware: the checks every `tasks/*` request passes, and push routing.

One layer, so each request pays for it once. For `tasks/get`, `tasks/update` and `tasks/cancel`,
in this order, each answering a clear JSON-RPC error:

1. protocol version: a 2025-11-25 request gets -32601 saying the method exists only at 2026-07-28
   with the extension (a legacy client hears about its version, not about a header it cannot know);
2. the capability gate: -32021 unless this request declares the extension, before any lookup
   (tasks.md "Error Handling": MUST for non-declaring clients);
3. params: -32602 naming the field and what was expected (the SDK's own message names neither);
4. the `Mcp-Name` routing header (tasks.md "Streamable HTTP: Routing Headers"): a header that
   differs from `params.taskId` is -32020. A missing header is accepted unless `strict_mcp_name`:
   the body is authoritative and the header exists for intermediaries to route on; clients such
   as fastmcp-tasks send none, and FastMCP's own server accepts that too.

`subscriptions/listen` requests that name `taskIds` go to the push streams (`listen.py`). A store
fault on any request becomes the one clear error of `faults.py`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import decode_header_value
from mcp_types import METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from offload.protocol import EXTENSION_ID, HEADER_MISMATCH, INVALID_PARAMS, MODERN_VERSION, TASK_METHODS
from offload.server.faults import INCIDENTS, store_error
from offload.server.gates import declares_tasks, missing_capability
from offload.server.handlers import TaskHandlers
from offload.server.listen import TaskStreams
from offload.store import StoreError

__all__ = ["TasksMiddleware", "check_task_params", "mcp_name_admits"]

MAX_TASK_ID = 256


class TasksMiddleware:
    """See the module docstring."""

    def __init__(self, handlers: TaskHandlers, server: MCPServer[Any], *, strict_mcp_name: bool = False) -> None:
        self.handlers = handlers
        self.streams = TaskStreams(handlers, server)
        self.strict_mcp_name = strict_mcp_name

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            result = await self._route(ctx, call_next)
        except StoreError as exc:
            raise store_error(exc) from None
        if INCIDENTS.since is not None:
            INCIDENTS.recovered()
        return result

    async def _route(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method in TASK_METHODS:
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                raise MCPError(
                    code=METHOD_NOT_FOUND,
                    message=f"{method} exists only at protocol {MODERN_VERSION}, for clients that declare the "
                    f"{EXTENSION_ID} extension; this request speaks {ctx.protocol_version}",
                )
            if not declares_tasks(ctx):
                raise missing_capability(method)
            check_task_params(method, ctx.params)
            self._check_mcp_name(ctx)
        elif method == "subscriptions/listen":
            return await self.streams.listen(ctx, call_next)
        return await call_next(ctx)

    def _check_mcp_name(self, ctx: ServerRequestContext[Any, Any]) -> None:
        headers = getattr(ctx.request, "headers", None) if ctx.request is not None else None
        if headers is None:
            return  # not HTTP: there are no routing headers to check
        header = headers.get("mcp-name")
        if not mcp_name_admits(header, (ctx.params or {}).get("taskId"), strict=self.strict_mcp_name):
            if header is None:
                raise MCPError(
                    code=HEADER_MISMATCH, message="Mcp-Name header is required on tasks/*: set it to params.taskId"
                )
            raise MCPError(code=HEADER_MISMATCH, message="Mcp-Name header does not match params.taskId")


def mcp_name_admits(header: str | None, task_id: object, *, strict: bool) -> bool:
    """Whether an `Mcp-Name` header value (None: absent) admits a 2026-07-28 tasks/* request for `task_id`.

    tasks.md "Streamable HTTP: Routing Headers" has the client set `Mcp-Name` to `params.taskId` so that
    intermediaries can route the request; the body stays authoritative. The 2026-07-28 transport's
    server validation rejects a header that differs from the body value (-32020), and lists `Mcp-Name`
    as required only for tools/call, resources/read and prompts/get. So a header that is present must
    match (after Base64-sentinel decoding), while an absent one is accepted unless `strict`: FastMCP's
    task client (fastmcp-tasks 4.1) sends none. `strict` is for deployments whose routing depends on it.
    """
    if header is None:
        return not strict
    return decode_header_value(header) == task_id


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _invalid(method: str, field: str, expected: str, got: Any, *, missing: bool = False) -> MCPError:
    found = "missing" if missing else f"got {_kind(got)}"
    return MCPError(
        code=INVALID_PARAMS,
        message=f"{method}: params.{field} must be {expected} ({found})",
        data={"field": field, "expected": expected},
    )


def check_task_params(method: str, params: Any) -> None:
    """Refuse malformed tasks/* params with a -32602 that names the field and what it must be."""
    if not isinstance(params, dict):
        raise _invalid(method, "taskId", "a string: the taskId of a CreateTaskResult", params, missing=params is None)
    task_id = params.get("taskId")
    if not isinstance(task_id, str) or not 0 < len(task_id) <= MAX_TASK_ID:
        expected = f"a string of 1 to {MAX_TASK_ID} characters: the taskId of a CreateTaskResult"
        raise _invalid(method, "taskId", expected, task_id, missing="taskId" not in params)
    if method == "tasks/update":
        responses = params.get("inputResponses")
        if not isinstance(responses, dict):
            expected = "an object mapping inputRequests keys to their answers"
            raise _invalid(method, "inputResponses", expected, responses, missing="inputResponses" not in params)
