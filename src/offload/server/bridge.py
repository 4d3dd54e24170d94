"""Where offload reaches into `mcp` 2.3 internals. Everything version-sensitive lives here.

Running a tool as a task means giving it a request context whose back-channel is the task
(see notes: the SDK has no public hook for this). The pieces used are the constructors of
`ServerSession` and `Connection` and the session's request-scoped outbound; `mcp` is pinned to
2.3.x for that reason and the test suite exercises every path through this module.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer, authenticated_principal
from mcp.server.session import ServerSession
from mcp.shared.dispatcher import DispatchContext
from mcp_types import CallToolRequestParams

from offload.runtime import TaskDispatch
from offload.store import TaskRecord


def inline_channel(ctx: ServerRequestContext[Any, Any]) -> DispatchContext[Any]:
    """The original request's back-channel, where inline progress and logs belong."""
    return ctx.session._request_outbound


def _task_session(
    dispatch: TaskDispatch, protocol_version: str, client_info: Any, caps: Any, meta: Any
) -> ServerSession:
    conn = Connection.from_envelope(protocol_version, client_info, caps, outbound=dispatch)
    return ServerSession(dispatch, conn, request_meta=meta)


def task_context(ctx: ServerRequestContext[Any, Any], dispatch: TaskDispatch) -> ServerRequestContext[Any, Any]:
    """A copy of `ctx` whose session talks to the task instead of the HTTP exchange."""
    session = ctx.session
    caps = session.client_capabilities
    params = session.client_params
    info = params.client_info.model_dump(by_alias=True, exclude_none=True) if params is not None else None
    caps_raw = caps.model_dump(by_alias=True, exclude_none=True) if caps is not None else None
    return dataclasses.replace(
        ctx,
        session=_task_session(dispatch, ctx.protocol_version, info, caps_raw, ctx.meta),
        close_sse_stream=None,
        close_standalone_sse_stream=None,
    )


def request_snapshot(ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> dict[str, Any]:
    """What a later instance needs to run this call again: stored with the task."""
    session = ctx.session
    caps = session.client_capabilities
    client = session.client_params
    return {
        "name": params.name,
        "arguments": params.arguments or {},
        "protocolVersion": ctx.protocol_version,
        "clientCapabilities": caps.model_dump(by_alias=True, exclude_none=True) if caps is not None else None,
        "clientInfo": client.client_info.model_dump(by_alias=True, exclude_none=True) if client is not None else None,
    }


async def rerun_tool(server: MCPServer[Any], lifespan_context: Any, record: TaskRecord, dispatch: TaskDispatch) -> Any:
    """Run a stored call again with no inbound request, as the recovery of a lost task."""
    req = record.request or {}
    session = _task_session(
        dispatch, req.get("protocolVersion", "2026-07-28"), req.get("clientInfo"), req.get("clientCapabilities"), None
    )
    params = CallToolRequestParams(name=record.tool, arguments=req.get("arguments") or {})
    ctx: ServerRequestContext[Any, Any] = ServerRequestContext(
        session=session,
        lifespan_context=lifespan_context,
        protocol_version=req.get("protocolVersion", "2026-07-28"),
        method="tools/call",
        params=params.model_dump(by_alias=True, exclude_none=True),
        request_id=record.task_id,
    )
    # The SDK's own tools/call handler, below the extension interceptors: same error mapping as a live call.
    return await server._handle_call_tool(ctx, params)


async def notify_on_request(ctx: ServerRequestContext[Any, Any], method: str, params: dict[str, Any]) -> None:
    """Send a raw notification on the request's own stream (the SDK wants typed core notifications)."""
    await inline_channel(ctx).notify(method, params)


def server_info_stamp(server: MCPServer[Any]) -> dict[str, Any]:
    """The `serverInfo` a middleware that answers by itself must put in `_meta` (runner.py)."""
    return dict(server._lowlevel_server.server_info_stamp)


def subscription_bus(server: MCPServer[Any]) -> Any:
    """The server's core event bus, so a tasks listen stream can carry core events too."""
    return server._subscriptions


def current_principal() -> str | None:
    """The authenticated caller of the HTTP request being served (outside a request context)."""
    # authenticated_principal reads the request's access token; it does not use its argument in 2.3.
    return authenticated_principal(cast("ServerRequestContext[Any, Any]", None))
