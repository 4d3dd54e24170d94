"""One live connection to an upstream server: its transport, how its end is noticed, error wording.

A `Link` is made per connection (per process, for stdio). Its `lost` event is set when the server's
output ends (the process exited, the HTTP stream closed) or when a 2025-11-25 HTTP server answers
404 to a request carrying the session id (it forgot the session: the request was not processed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from offload.gateway.config import UpstreamConfig

__all__ = ["CURRENT_CALL", "Call", "Link", "Signals", "describe", "strip_reserved_meta", "transport"]

_RESERVED_META = "io.modelcontextprotocol/"


@dataclass(eq=False)
class Call:
    """A downstream `tools/call` in flight on an upstream connection."""

    tool: str
    context: Context[Any, Any]
    #: The method of a question the downstream request had no channel for (it did not declare tasks).
    unanswerable: str | None = None


#: The call being sent from this asyncio task (see offload.gateway.routing for who reads it).
CURRENT_CALL: ContextVar[Call | None] = ContextVar("offload_gateway_call", default=None)


class Signals:
    """How a connection ends: `lost` (any reason), `session_gone` (HTTP 404 on its session id)."""

    def __init__(self) -> None:
        self.lost = anyio.Event()
        self.session_gone = anyio.Event()


class Link:
    """One live connection to the upstream (one process, for stdio) and the calls running on it."""

    def __init__(self, client: Client, generation: int, signals: Signals) -> None:
        self.client = client
        self.generation = generation
        self.lost = signals.lost
        self.session_gone = signals.session_gone
        self.calls: set[Call] = set()

    @property
    def protocol_version(self) -> str:
        return self.client.protocol_version


def describe(exc: BaseException) -> str:
    """One line for an exception, unwrapping the task-group groups anyio raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return exc.error.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def strip_reserved_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The upstream's `_meta` without protocol-reserved keys (its serverInfo stamp, etc.)."""
    if not meta:
        return meta
    kept = {k: v for k, v in meta.items() if not k.startswith(_RESERVED_META)}
    return kept or None


def transport(cfg: UpstreamConfig, signals: Signals) -> Any:
    """The SDK client transport for `cfg`, watched so the end of the server's output sets `signals.lost`."""
    if cfg.url is not None:

        async def on_response(response: httpx2.Response) -> None:
            # 2025-11-25 Streamable HTTP: 404 on a request with a session id means the server forgot
            # the session (it restarted); the request was not processed and a new session is needed.
            if response.status_code == 404 and "mcp-session-id" in response.request.headers:
                signals.session_gone.set()
                signals.lost.set()

        # No read timeout: an upstream tool may legitimately run for hours on one response stream.
        http = httpx2.AsyncClient(
            headers=dict(cfg.headers),
            timeout=httpx2.Timeout(30.0, read=None),
            event_hooks={"response": [on_response]},
        )
        return _watched(_http_transport(cfg.url, http), signals.lost)
    command, *args = cfg.command
    params = StdioServerParameters(command=command, args=args, env=dict(cfg.env) or None, cwd=cfg.cwd)
    return _watched(stdio_client(params), signals.lost)


@asynccontextmanager
async def _watched(inner: Any, lost: anyio.Event) -> AsyncIterator[tuple[Any, Any]]:
    """Wrap a client transport so the end of its read stream (the server exited) sets `lost`."""
    async with inner as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            try:
                async with send:
                    async for item in read_stream:
                        await send.send(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                pass
            finally:
                lost.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield receive, write_stream
            finally:
                tg.cancel_scope.cancel()


@asynccontextmanager
async def _http_transport(url: str, http: httpx2.AsyncClient) -> AsyncIterator[Any]:
    async with http, streamable_http_client(url, http_client=http) as streams:
        yield streams
