"""One MCP server behind the gateway, reached with the official SDK client.

`Upstream.run()` supervises the connection: it starts the stdio server (or opens the Streamable
HTTP session), reconnects with backoff when it is lost, and restarts a stdio server that exited.
Calls made while the server is down wait (bounded by `connect_timeout_s`) for the restart, or fail
at once with the last connection error when the previous attempt failed.

What a call needs from the downstream side travels back through the downstream `Context`:
progress becomes `ctx.report_progress` (the task's statusMessage), and a server-to-client request
(elicitation, sampling) made during the call is sent on the downstream request's own channel
(`ctx.session.send_request`), which for a task parks it as an `inputRequest` until `tasks/update`.

Which call a server-to-client request belongs to:
- 2026-07-28 upstream: the SDK client resolves an MRTR `InputRequiredResult` inside the
  `call_tool` await of the call itself, so a context variable names the call exactly.
- 2025-11-25 upstream: the request arrives on the connection with nothing in it that names the
  `tools/call` it serves (no related request id, no progress token in `_meta`). It is routed to the
  only call in flight on that upstream; with several in flight it is refused with an error that says
  so. (See README "Gateway" limits.)
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp_types import CONNECTION_CLOSED, INTERNAL_ERROR, INVALID_REQUEST
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from offload.gateway.config import UpstreamConfig

logger = logging.getLogger(__name__)

ListKind = str  # "tools" | "prompts" | "resources" | "templates"
KINDS: tuple[ListKind, ...] = ("tools", "prompts", "resources", "templates")
_RESERVED_META = "io.modelcontextprotocol/"
_PAGE_CAP = 100
STABLE_S = 30.0  # a connection up this long resets the restart backoff
ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")


@dataclass(eq=False)
class _Call:
    """A downstream `tools/call` in flight on an upstream connection."""

    tool: str
    context: Context[Any, Any]


_CURRENT_CALL: ContextVar[_Call | None] = ContextVar("offload_gateway_call", default=None)


class _Signals:
    """How a connection ends: `lost` (any reason), `session_gone` (HTTP 404 on its session id)."""

    def __init__(self) -> None:
        self.lost = anyio.Event()
        self.session_gone = anyio.Event()


class _Link:
    """One live connection to the upstream (one process, for stdio) and the calls running on it."""

    def __init__(self, client: Client, generation: int, signals: _Signals) -> None:
        self.client = client
        self.generation = generation
        self.lost = signals.lost
        self.session_gone = signals.session_gone
        self.calls: set[_Call] = set()

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


class Upstream:
    """A supervised connection to one upstream server, with cached listings."""

    def __init__(
        self,
        config: UpstreamConfig,
        *,
        on_change: Callable[[Upstream, ListKind], Awaitable[None]] | None = None,
        on_resource_updated: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.prefix = config.prefix
        self.on_change = on_change
        self.on_resource_updated = on_resource_updated
        self.connects = 0  # successful connections so far; > 1 means it was restarted
        self.last_error: str | None = None
        self._link: _Link | None = None
        self._attempting = False
        self._stopping = False
        self._up_since: float | None = None  # when the current connection came up
        self._kick = anyio.Event()  # set by a call to end the backoff and try to connect now
        self._state = anyio.Event()  # set (and replaced) whenever the connection state changes
        self._lists: dict[ListKind, list[Any] | None] = dict.fromkeys(KINDS)
        self._list_gen: dict[ListKind, int] = dict.fromkeys(KINDS, 0)
        self._list_locks: dict[ListKind, anyio.Lock] = {k: anyio.Lock() for k in KINDS}

    # -- supervision --

    def _changed(self) -> None:
        self._state.set()
        self._state = anyio.Event()

    @property
    def connected(self) -> bool:
        return self._link is not None and not self._link.lost.is_set()

    @property
    def protocol_version(self) -> str | None:
        return self._link.protocol_version if self._link is not None else None

    async def run(self) -> None:
        """Keep a connection up until `stop()`; run inside the gateway's lifespan task group."""
        delay = self.config.restart_delay_s
        while not self._stopping:
            self._up_since = None
            try:
                await self._connect_once()
            except Exception as exc:
                if self._up_since is None:  # could not connect: calls fail fast with this until the next try
                    self.last_error = describe(exc)
                    logger.warning("upstream %s (%s): %s", self.name, self.config.target, self.last_error)
                else:  # it was up; closing the lost connection raised
                    logger.info("upstream %s: closing the lost connection: %s", self.name, describe(exc))
            finally:
                self._attempting = False
                self._changed()
            if self._stopping:
                break
            if self._up_since is not None:
                logger.warning("upstream %s: connection lost; restarting", self.name)
                if anyio.current_time() - self._up_since > STABLE_S:
                    delay = self.config.restart_delay_s  # it ran for a while: not a crash loop
            self._kick = anyio.Event()
            with anyio.move_on_after(delay):
                await self._kick.wait()  # a call that needs the upstream cuts the backoff short
            delay = min(delay * 2, self.config.max_restart_delay_s)

    def stop(self) -> None:
        self._stopping = True
        if self._link is not None:
            self._link.lost.set()
        self._changed()

    def _transport(self, signals: _Signals) -> Any:
        cfg = self.config
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

    async def _connect_once(self) -> None:
        """Connect, then serve until the connection is lost; `_up_since` tells whether it was up."""
        cfg = self.config
        signals = _Signals()
        lost = signals.lost
        client = Client(
            self._transport(signals),
            mode=cfg.protocol,
            cache=None,
            client_info=types.Implementation(name="offload-gateway", version="1"),
            elicitation_callback=self._on_elicit if cfg.elicitation else None,
            sampling_callback=self._on_sample if cfg.sampling else None,
            message_handler=self._on_message,
        )
        self._attempting = True
        self._changed()
        with anyio.CancelScope() as scope:
            scope.deadline = anyio.current_time() + cfg.connect_timeout_s
            async with client:
                scope.deadline = math.inf
                self._up_since = anyio.current_time()
                self.connects += 1
                link = _Link(client, self.connects, signals)
                self._link = link
                self.last_error = None
                self._attempting = False
                self._invalidate_all()
                self._changed()
                logger.info("upstream %s: connected (%s)", self.name, link.protocol_version)
                try:
                    if self.connects > 1:
                        await self._announce_all()
                    async with anyio.create_task_group() as tg:
                        if link.protocol_version in MODERN_PROTOCOL_VERSIONS:
                            tg.start_soon(self._listen, client)
                        await lost.wait()
                        tg.cancel_scope.cancel()
                finally:
                    self._link = None
                    self._changed()
        if self._up_since is None and scope.cancelled_caught:
            raise TimeoutError(f"no answer within {cfg.connect_timeout_s:g} s")

    async def link(self) -> _Link:
        """The live connection: waits for one being made or restarted, up to `connect_timeout_s`.

        If the last attempt failed, the call asks for one more attempt at once and fails with its
        error when that one fails too: a clear error while the upstream is down, no waiting out the
        backoff once it is back.
        """
        deadline = anyio.current_time() + self.config.connect_timeout_s
        kicked = False
        while True:
            link = self._link
            if link is not None and not link.lost.is_set():
                return link
            if self._stopping:
                raise self._unavailable("the gateway is shutting down")
            if not self._attempting and self.last_error is not None:
                if kicked:
                    raise self._unavailable(self.last_error)
                kicked = True
                self._kick.set()
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise self._unavailable(self.last_error or f"not connected after {self.config.connect_timeout_s:g} s")
            state = self._state
            with anyio.move_on_after(remaining):
                await state.wait()

    def _unavailable(self, why: str) -> MCPError:
        message = f"Upstream {self.name!r} ({self.config.target}) is unavailable: {why}"
        return MCPError(code=INTERNAL_ERROR, message=message)

    def _lost(self, link: _Link, what: str) -> MCPError:
        if self.config.url is None:
            why = f"Upstream {self.name!r} exited while running {what}; the gateway is restarting it"
        else:
            why = f"Lost the connection to upstream {self.name!r} while running {what}; reconnecting"
        return MCPError(code=INTERNAL_ERROR, message=f"{why}. Whether the call took effect is unknown.")

    # -- calls --

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any]) -> types.CallToolResult:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            try:
                await context.report_progress(progress, total, message)
            except Exception:
                logger.debug("could not pass progress of %s downstream", name, exc_info=True)

        async def send(link: _Link) -> types.CallToolResult:
            call = _Call(name, context)
            link.calls.add(call)
            token = _CURRENT_CALL.set(call)
            try:
                return await link.client.call_tool(name, arguments, progress_callback=on_progress)
            finally:
                _CURRENT_CALL.reset(token)
                link.calls.discard(call)

        result = await self._on_link(f"tool {name!r}", send, timeout=None)
        meta = strip_reserved_meta(result.meta)
        return result if meta == result.meta else result.model_copy(update={"meta": meta})

    async def _request(self, what: str, send: Callable[[Client], Awaitable[T]]) -> T:
        """A short request (listing, read, prompt): bounded by `list_timeout_s`."""
        return await self._on_link(what, lambda link: send(link.client), timeout=self.config.list_timeout_s)

    async def _on_link(self, what: str, send: Callable[[_Link], Awaitable[T]], *, timeout: float | None) -> T:
        """Send on the live connection; make its failures clear MCP errors.

        A request refused because the HTTP session was gone was not processed (spec), so it is sent
        once more on the new session.
        """
        for attempt in (1, 2):
            link = await self.link()
            try:
                with anyio.fail_after(timeout):
                    return await send(link)
            except MCPError as exc:
                if link.session_gone.is_set() and attempt == 1:
                    logger.info("upstream %s: session expired; sending %s again on a new one", self.name, what)
                    continue
                if link.lost.is_set() or exc.code == CONNECTION_CLOSED:
                    link.lost.set()
                    raise self._lost(link, what) from None
                raise
            except TimeoutError as exc:
                if timeout is None:
                    message = f"Upstream {self.name!r} failed on {what}: {describe(exc)}"
                    raise MCPError(code=INTERNAL_ERROR, message=message) from exc
                message = f"Upstream {self.name!r} did not answer {what} within {timeout:g} s"
                raise MCPError(code=INTERNAL_ERROR, message=message) from None
            except Exception as exc:
                if link.lost.is_set():
                    raise self._lost(link, what) from None
                message = f"Upstream {self.name!r} failed on {what}: {describe(exc)}"
                raise MCPError(code=INTERNAL_ERROR, message=message) from exc
        raise AssertionError("unreachable")

    async def read_resource(self, uri: str) -> list[ReadResourceContents]:
        result = await self._request(f"resources/read {uri!r}", lambda c: c.read_resource(uri, cache_mode="bypass"))
        out: list[ReadResourceContents] = []
        for item in result.contents:
            meta = strip_reserved_meta(item.meta)
            if isinstance(item, types.BlobResourceContents):
                out.append(ReadResourceContents(base64.b64decode(item.blob), item.mime_type, meta))
            else:
                out.append(ReadResourceContents(item.text, item.mime_type, meta))
        return out

    async def get_prompt(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        result = await self._request(f"prompts/get {name!r}", lambda c: c.get_prompt(name, arguments))
        return result.model_copy(update={"meta": strip_reserved_meta(result.meta)})

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: types.CompletionArgument,
        context: types.CompletionContext | None,
    ) -> types.Completion:
        if self._link is not None and self._link.client.server_capabilities.completions is None:
            return types.Completion(values=[])
        result = await self._request(
            "completion/complete",
            lambda c: c.complete(ref, argument.model_dump(), context.arguments if context else None),
        )
        return result.completion

    # -- listings (cached; list-changed notifications and reconnects invalidate them) --

    def _invalidate_all(self) -> None:
        for kind in KINDS:
            self._invalidate(kind)

    def _invalidate(self, kind: ListKind) -> None:
        self._lists[kind] = None
        self._list_gen[kind] += 1

    async def _changed_list(self, *kinds: ListKind) -> None:
        for kind in kinds:
            self._invalidate(kind)
            if self.on_change is not None:
                await self.on_change(self, kind)

    async def _announce_all(self) -> None:
        """After a restart the server may list other things: tell downstream listeners."""
        if self.on_change is not None:
            for kind in ("tools", "prompts", "resources"):
                await self.on_change(self, kind)

    async def listing(self, kind: ListKind) -> list[Any]:
        cached = self._lists[kind]
        if cached is not None:
            return cached
        async with self._list_locks[kind]:
            cached = self._lists[kind]
            if cached is not None:
                return cached
            link = await self.link()
            gen = self._list_gen[kind]
            items = await self._request(f"{kind}/list", lambda c: _Pages(c, kind).fetch())
            if gen == self._list_gen[kind] and link is self._link:
                self._lists[kind] = items.items
            return items.items

    async def _listen(self, client: Client) -> None:
        """2026-07-28 upstreams announce list changes only on a subscriptions/listen stream."""
        caps = client.server_capabilities
        try:
            async with client.listen(
                tools_list_changed=caps.tools is not None,
                prompts_list_changed=caps.prompts is not None,
                resources_list_changed=caps.resources is not None,
            ) as sub:
                async for event in sub:
                    await self._on_event(event)
        except Exception as exc:
            logger.info("upstream %s: no list-change stream (%s)", self.name, describe(exc))

    async def _on_event(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "ToolsListChanged":
            await self._changed_list("tools")
        elif kind == "PromptsListChanged":
            await self._changed_list("prompts")
        elif kind == "ResourcesListChanged":
            await self._changed_list("resources", "templates")
        elif kind == "ResourceUpdated" and self.on_resource_updated is not None:
            await self.on_resource_updated(event.uri)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            logger.debug("upstream %s: transport reported %s", self.name, describe(message))
        elif isinstance(message, types.ToolListChangedNotification):
            await self._changed_list("tools")
        elif isinstance(message, types.PromptListChangedNotification):
            await self._changed_list("prompts")
        elif isinstance(message, types.ResourceListChangedNotification):
            await self._changed_list("resources", "templates")
        elif isinstance(message, types.ResourceUpdatedNotification) and self.on_resource_updated is not None:
            await self.on_resource_updated(str(message.params.uri))

    # -- server-to-client requests made during a call --

    def _owner(self, method: str) -> _Call | types.ErrorData:
        call = _CURRENT_CALL.get()
        if call is not None:
            return call
        link = self._link
        calls = list(link.calls) if link is not None else []
        if len(calls) == 1:
            return calls[0]
        if not calls:
            why = f"no tools/call is in flight on upstream {self.name!r}, so there is no caller to ask"
        else:
            why = (
                f"{len(calls)} tools/call requests are in flight on upstream {self.name!r} and a "
                f"{self.protocol_version} server-to-client request does not say which one it belongs to"
            )
        logger.warning("upstream %s: refused %s: %s", self.name, method, why)
        return types.ErrorData(code=INVALID_REQUEST, message=f"offload gateway cannot route {method}: {why}")

    async def _ask(
        self, request: types.ElicitRequest | types.CreateMessageRequest, result_type: type[ModelT]
    ) -> ModelT | types.ErrorData:
        owner = self._owner(request.method)
        if isinstance(owner, types.ErrorData):
            return owner
        ctx = owner.context.request_context
        try:
            # Request-scoped: on a task this parks the request as an inputRequest until tasks/update answers
            # it; inline it rides the caller's own stream (2025-11-25 callers) or fails (no back-channel).
            return await ctx.session.send_request(
                request, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
        except MCPError as exc:
            return exc.error
        except ValidationError as exc:
            message = f"the answer to {request.method} is not a valid result: {exc.errors()[:3]}"
            return types.ErrorData(code=INVALID_REQUEST, message=message)

    async def _on_elicit(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return await self._ask(types.ElicitRequest(params=params), types.ElicitResult)

    async def _on_sample(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        result_type: type[types.CreateMessageResult] | type[types.CreateMessageResultWithTools]
        result_type = types.CreateMessageResultWithTools if params.tools else types.CreateMessageResult
        return await self._ask(types.CreateMessageRequest(params=params), result_type)


class _Pages:
    """Every page of one listing, as one list."""

    def __init__(self, client: Client, kind: ListKind) -> None:
        self.client = client
        self.kind = kind
        self.items: list[Any] = []

    async def fetch(self) -> _Pages:
        caps = self.client.server_capabilities
        capability = {"tools": caps.tools, "prompts": caps.prompts}.get(self.kind, caps.resources)
        if capability is None:
            return self
        cursor: str | None = None
        for _ in range(_PAGE_CAP):
            page: Any
            if self.kind == "tools":
                page = await self.client.list_tools(cursor=cursor, cache_mode="bypass")
                self.items.extend(page.tools)
            elif self.kind == "prompts":
                page = await self.client.list_prompts(cursor=cursor, cache_mode="bypass")
                self.items.extend(page.prompts)
            elif self.kind == "resources":
                page = await self.client.list_resources(cursor=cursor, cache_mode="bypass")
                self.items.extend(page.resources)
            else:
                page = await self.client.list_resource_templates(cursor=cursor, cache_mode="bypass")
                self.items.extend(page.resource_templates)
            cursor = page.next_cursor
            if not cursor:
                break
        return self


@asynccontextmanager
async def _http_transport(url: str, http: httpx2.AsyncClient) -> AsyncIterator[Any]:
    async with http, streamable_http_client(url, http_client=http) as streams:
        yield streams
