"""Where offload reaches into `mcp` 2.3 internals. Everything version-sensitive lives here.

Running a tool as a task means giving it a request context whose back-channel is the task
(see notes: the SDK has no public hook for this). The pieces used are the constructors of
`ServerSession` and `Connection` and the session's request-scoped outbound; `mcp` is pinned to
2.3.x for that reason and the test suite exercises every path through this module.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer, authenticated_principal
from mcp.server.session import ServerSession
from mcp.shared.dispatcher import CallOptions, DispatchContext
from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, CallToolRequestParams

from offload.runtime import TaskDispatch
from offload.store import TaskRecord


def inline_channel(ctx: ServerRequestContext[Any, Any]) -> DispatchContext[Any]:
    """The original request's back-channel, where inline progress and logs belong."""
    return ctx.session._request_outbound


_current_task: contextvars.ContextVar[TaskDispatch | None] = contextvars.ContextVar("offload_task", default=None)


class _CurrentTask:
    """Outbound of a `Connection` shared by many tasks: a send goes to the task that makes it.

    Each task's coroutine runs in its own asyncio task, whose context names its dispatch.
    """

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        return await self._dispatch().send_raw_request(method, params, opts)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        await self._dispatch().notify(method, params, opts)

    @staticmethod
    def _dispatch() -> TaskDispatch:
        dispatch = _current_task.get()
        if dispatch is None:
            raise RuntimeError("a task's connection was used outside of its task")
        return dispatch


_ROUTER = _CurrentTask()
_CONNECTIONS: dict[str, Connection] = {}
_MAX_CONNECTIONS = 256


def _shared_connection(protocol_version: str, client_info: Any, caps: Any) -> Connection:
    """One Connection per distinct client envelope, not per task: a parked task stays small."""
    key = json.dumps([protocol_version, client_info, caps], default=str)
    conn = _CONNECTIONS.get(key)
    if conn is None:
        if len(_CONNECTIONS) >= _MAX_CONNECTIONS:
            _CONNECTIONS.pop(next(iter(_CONNECTIONS)))
        conn = _CONNECTIONS[key] = Connection.from_envelope(protocol_version, client_info, caps, outbound=_ROUTER)
    return conn


def _task_session(
    dispatch: TaskDispatch, protocol_version: str, client_info: Any, caps: Any, meta: Any
) -> ServerSession:
    _current_task.set(dispatch)  # called inside the task's own asyncio task
    return ServerSession(dispatch, _shared_connection(protocol_version, client_info, caps), request_meta=meta)


class _Headers:
    """What a tool can read of its HTTP request once the exchange is over: the headers."""

    __slots__ = ("headers",)

    def __init__(self, headers: Any) -> None:
        self.headers = headers


def task_context_factory(
    ctx: ServerRequestContext[Any, Any],
) -> Callable[[TaskDispatch], ServerRequestContext[Any, Any]]:
    """Build, per dispatch, a copy of `ctx` whose session talks to the task, not the HTTP exchange.

    The factory keeps only what the tool can observe (params, `_meta`, headers, capabilities), so a
    task parked for hours does not pin the finished HTTP exchange in memory.
    """
    raw_meta = (ctx.params or {}).get("_meta")
    if isinstance(raw_meta, dict) and CLIENT_CAPABILITIES_META_KEY in raw_meta:
        # the envelope as the client sent it: what the SDK built the request's connection from
        info, caps_raw = raw_meta.get(CLIENT_INFO_META_KEY), raw_meta[CLIENT_CAPABILITIES_META_KEY]
    else:
        info, caps_raw = _envelope(ctx.session)
    connection = _shared_connection(ctx.protocol_version, info, caps_raw)
    headers = getattr(ctx.request, "headers", None)
    light = dataclasses.replace(
        ctx,
        session=cast(ServerSession, None),  # set per dispatch below; the request's own is let go
        # starlette's Headers hold only the header list, not the ASGI scope: safe to keep.
        request=None if headers is None else _Headers(headers),
        params=None,  # the raw JSON; the tool is called with the validated params, kept by the SDK
        close_sse_stream=None,
        close_standalone_sse_stream=None,
    )

    def build(dispatch: TaskDispatch) -> ServerRequestContext[Any, Any]:
        _current_task.set(dispatch)  # called inside the task's own asyncio task
        return dataclasses.replace(light, session=ServerSession(dispatch, connection, request_meta=light.meta))

    return build


def _envelope(session: ServerSession) -> tuple[Any, Any]:
    caps = session.client_capabilities
    params = session.client_params
    info = params.client_info.model_dump(by_alias=True, exclude_none=True) if params is not None else None
    return info, caps.model_dump(by_alias=True, exclude_none=True) if caps is not None else None


def client_capabilities(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any] | None:
    """The capabilities the request's client declared, as JSON (None when the SDK knows none)."""
    caps = ctx.session.client_capabilities
    return None if caps is None else caps.model_dump(by_alias=True, exclude_none=True)


def request_snapshot(ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> dict[str, Any]:
    """What a later instance needs to run this call again: stored with the task."""
    client = ctx.session.client_params
    return {
        "name": params.name,
        "arguments": params.arguments or {},
        "protocolVersion": ctx.protocol_version,
        "clientCapabilities": client_capabilities(ctx),
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
