"""One MCP server behind the gateway, reached with the official SDK client, kept connected.

`Upstream.run()` supervises the connection: it starts the stdio server (or opens the Streamable
HTTP session), reconnects with backoff (`offload._backoff.Backoff`) when it is lost, and restarts a
stdio server that exited. Calls made while the server is down wait (bounded by `connect_timeout_s`)
for the restart, or fail at once with the last connection error when the previous attempt failed.

What a call needs from the downstream side travels back through the downstream `Context`: progress
becomes `ctx.report_progress` (the task's statusMessage); elicitation and sampling go through
`offload.gateway.routing`. Listings are cached in `offload.gateway.listings`.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.client import Client
from mcp.client.session import IncomingMessage
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INTERNAL_ERROR
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from offload._backoff import Backoff
from offload.gateway.config import UpstreamConfig
from offload.gateway.link import CURRENT_CALL, Call, Link, Signals, describe, strip_reserved_meta, transport
from offload.gateway.listings import Listings, ListKind, changed_kinds, fetch_all, updated_uri
from offload.gateway.routing import InputRouter
from offload.protocol import EXTENSION_ID, MISSING_REQUIRED_CLIENT_CAPABILITY, required_capabilities_data

__all__ = ["STABLE_S", "CompletionRef", "ListKind", "Upstream", "describe", "strip_reserved_meta"]

logger = logging.getLogger(__name__)

STABLE_S = 30.0  # a connection up this long resets the restart backoff
T = TypeVar("T")
#: What completion/complete completes: a prompt's argument, or a resource template's.
CompletionRef = types.PromptReference | types.ResourceTemplateReference


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
        self.listings = Listings()
        self.router = InputRouter(config.name)
        self._link: Link | None = None
        self._attempting = False
        self._stopping = False
        self._up_since: float | None = None  # when the current connection came up
        self._kick = anyio.Event()  # set by a call to end the backoff and try to connect now
        self._state = anyio.Event()  # set (and replaced) whenever the connection state changes

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
        backoff = Backoff(initial=self.config.restart_delay_s, cap=self.config.max_restart_delay_s)
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
                    backoff.reset()  # it ran for a while: not a crash loop
            self._kick = anyio.Event()
            with anyio.move_on_after(backoff.next()):
                await self._kick.wait()  # a call that needs the upstream cuts the backoff short

    def stop(self) -> None:
        self._stopping = True
        if self._link is not None:
            self._link.lost.set()
        self._changed()

    async def _connect_once(self) -> None:
        """Connect, then serve until the connection is lost; `_up_since` tells whether it was up."""
        cfg = self.config
        signals = Signals()
        client = Client(
            transport(cfg, signals),
            mode=cfg.protocol,
            cache=None,
            client_info=types.Implementation(name="offload-gateway", version="1"),
            elicitation_callback=self.router.on_elicit if cfg.elicitation else None,
            sampling_callback=self.router.on_sample if cfg.sampling else None,
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
                link = Link(client, self.connects, signals)
                self._link = self.router.link = link
                self.last_error = None
                self._attempting = False
                self.listings.invalidate()
                self._changed()
                logger.info("upstream %s: connected (%s)", self.name, link.protocol_version)
                try:
                    if self.connects > 1:
                        await self._announce_all()
                    async with anyio.create_task_group() as tg:
                        if link.protocol_version in MODERN_PROTOCOL_VERSIONS:
                            tg.start_soon(self._listen, client)
                        await signals.lost.wait()
                        tg.cancel_scope.cancel()
                finally:
                    self._link = self.router.link = None
                    self._changed()
        if self._up_since is None and scope.cancelled_caught:
            raise TimeoutError(f"no answer within {cfg.connect_timeout_s:g} s")

    async def link(self) -> Link:
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

    def _lost(self, what: str) -> MCPError:
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

        async def send(link: Link) -> types.CallToolResult:
            call = Call(name, context)
            link.calls.add(call)
            token = CURRENT_CALL.set(call)
            try:
                result = await link.client.call_tool(name, arguments, progress_callback=on_progress)
            except MCPError:
                if call.unanswerable is None:
                    raise
                result = None
            finally:
                CURRENT_CALL.reset(token)
                link.calls.discard(call)
            if call.unanswerable is not None:
                # The upstream asked the caller something mid-call and this request had no channel for it:
                # the caller needs the tasks extension, as for a tool served here (tasks.md "Capability
                # Negotiation"), whatever the upstream made of the refusal.
                raise MCPError(
                    code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                    message=f"Tool {name!r} asked the client for input ({call.unanswerable}) in the middle of "
                    f"the call. A 2026-07-28 request has no channel for that unless it declares the {EXTENSION_ID} "
                    "extension, so the call can become a task whose inputRequests the client answers.",
                    data=required_capabilities_data(),
                )
            assert result is not None
            return result

        result = await self._on_link(f"tool {name!r}", send, timeout=None)
        meta = strip_reserved_meta(result.meta)
        return result if meta == result.meta else result.model_copy(update={"meta": meta})

    async def _request(self, what: str, send: Callable[[Client], Awaitable[T]]) -> T:
        """A short request (listing, read, prompt): bounded by `list_timeout_s`."""
        return await self._on_link(what, lambda link: send(link.client), timeout=self.config.list_timeout_s)

    async def _on_link(self, what: str, send: Callable[[Link], Awaitable[T]], *, timeout: float | None) -> T:
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
                    raise self._lost(what) from None
                raise
            except TimeoutError as exc:
                if timeout is None:
                    message = f"Upstream {self.name!r} failed on {what}: {describe(exc)}"
                    raise MCPError(code=INTERNAL_ERROR, message=message) from exc
                message = f"Upstream {self.name!r} did not answer {what} within {timeout:g} s"
                raise MCPError(code=INTERNAL_ERROR, message=message) from None
            except Exception as exc:
                if link.lost.is_set():
                    raise self._lost(what) from None
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
        self, ref: CompletionRef, argument: types.CompletionArgument, context: types.CompletionContext | None
    ) -> types.Completion:
        if self._link is not None and self._link.client.server_capabilities.completions is None:
            return types.Completion(values=[])
        result = await self._request(
            "completion/complete",
            lambda c: c.complete(ref, argument.model_dump(), context.arguments if context else None),
        )
        return result.completion

    # -- listings (cached; list-changed signals and reconnects invalidate them) --

    async def listing(self, kind: ListKind) -> list[Any]:
        link = await self.link()

        async def fetch() -> list[Any]:
            items = await self._request(f"{kind}/list", lambda c: fetch_all(c, kind))
            if link is not self._link:  # fetched from a connection that has since been replaced
                self.listings.invalidate(kind)
            return items

        return await self.listings.get(kind, fetch)

    async def _announce_all(self) -> None:
        """After a restart the server may list other things: tell downstream listeners."""
        if self.on_change is not None:
            for kind in ("tools", "prompts", "resources"):
                await self.on_change(self, kind)

    async def _on_signal(self, signal: object) -> None:
        """A list-changed or resource-updated event (2026-07-28) or notification (2025-11-25)."""
        kinds = changed_kinds(signal)
        if kinds:
            self.listings.invalidate(*kinds)
            if self.on_change is not None:
                for kind in kinds:
                    await self.on_change(self, kind)
            return
        uri = updated_uri(signal)
        if uri is not None and self.on_resource_updated is not None:
            await self.on_resource_updated(uri)

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
                    await self._on_signal(event)
        except Exception as exc:
            logger.info("upstream %s: no list-change stream (%s)", self.name, describe(exc))

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            logger.debug("upstream %s: transport reported %s", self.name, describe(message))
        else:
            await self._on_signal(message)
