"""`Gateway`: an `MCPServer` whose tools, resources and prompts are those of upstream MCP servers.

The gateway forwards `tools/call` to the upstream that owns the tool, with the offload `Tasks`
extension installed in front: a call that is still running after its budget (mode `auto`, the
default) becomes a durable task for callers that declared the extension, while the gateway keeps
the upstream call going and stores its result. The upstream server needs no change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged
from mcp_types import INVALID_PARAMS
from pydantic import AnyUrl

from offload.gateway.config import GatewayConfig
from offload.gateway.listings import ListKind
from offload.gateway.upstream import CompletionRef, Upstream
from offload.runtime import TaskPolicy
from offload.server import Tasks
from offload.store import TaskStore

_LIST_EVENTS: dict[ListKind, type[ToolsListChanged | PromptsListChanged | ResourcesListChanged]] = {
    "tools": ToolsListChanged,
    "prompts": PromptsListChanged,
    "resources": ResourcesListChanged,
}


class GatewayTasks(Tasks):
    """`Tasks` whose per-tool policies come from the gateway config: exact names and glob patterns.

    Upstream tool names are only known at run time, so a pattern is resolved the first time a
    name is asked about; names no rule matches get the gateway's defaults (`mode`, `budget_s`).
    """

    def __init__(self, config: GatewayConfig, store: str | TaskStore | None = None, **options: Any) -> None:
        super().__init__(
            store if store is not None else config.store,
            default_mode=config.mode,
            budget_s=config.budget_s,
            ttl_ms=config.ttl_ms,
            poll_interval_ms=config.poll_interval_ms,
            input_timeout_s=config.input_timeout_s,
            lease_s=config.lease_s,
            sweep_interval_s=min(1.0, config.lease_s / 3),
            **options,
        )
        self.config = config
        self._applied: set[str] = set()

    def policy(self, tool: str) -> TaskPolicy:
        if tool not in self._applied:
            rule = self.config.rule_for(tool)
            if rule is not None:
                self._applied.add(tool)
                self.set_policy(tool, rule.policy)
        return super().policy(tool)


class Gateway(MCPServer[Any]):
    """Serve `config.upstreams` through one MCP server with durable tasks.

    gateway = Gateway(GatewayConfig(upstreams=(UpstreamConfig(command=("node", "server.js")),)))
    serve_http(gateway, port=8000)      # offload.server.app; or gateway.run("stdio")
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        tasks: Tasks | None = None,
        subscriptions: SubscriptionBus | None = None,
        **server_options: Any,
    ) -> None:
        self.config = config
        # The bus behind subscriptions/listen: upstream list changes are published on it. The gateway
        # makes its own (the SDK's public in-memory bus) rather than reaching for the server's.
        self.events: SubscriptionBus = subscriptions if subscriptions is not None else InMemorySubscriptionBus()
        self.tasks = tasks if tasks is not None else GatewayTasks(config)
        self.upstreams = [
            Upstream(u, on_change=self._upstream_changed, on_resource_updated=self._resource_updated)
            for u in config.upstreams
        ]
        # Longest prefix first, so `a_b_` wins over `a_` for `a_b_tool`.
        self._routes = sorted(self.upstreams, key=lambda u: len(u.prefix), reverse=True)
        super().__init__(
            config.name,
            extensions=[self.tasks],
            lifespan=self._lifespan,
            subscriptions=self.events,
            **server_options,
        )
        self.completion()(self._complete)  # type: ignore[no-untyped-call]

    def upstream(self, name: str) -> Upstream:
        for up in self.upstreams:
            if up.name == name:
                return up
        raise KeyError(name)

    # -- lifecycle: upstream supervisors outside the task runtime --

    @asynccontextmanager
    async def _lifespan(self, server: MCPServer[Any]) -> AsyncIterator[Any]:
        # The task runtime stops first (releasing the leases of running tasks, so the next gateway
        # process takes them over); only then do the upstream connections close. The other way round,
        # every running task would fail with "upstream exited" on a clean shutdown.
        async with anyio.create_task_group() as tg:
            for up in self.upstreams:
                tg.start_soon(up.run)
            try:
                async with self.tasks.lifespan(server) as state:
                    yield state
            finally:
                for up in self.upstreams:
                    up.stop()
                tg.cancel_scope.cancel()

    # -- change notifications, to subscriptions/listen streams --

    async def _upstream_changed(self, upstream: Upstream, kind: ListKind) -> None:
        event = _LIST_EVENTS.get(kind)
        if event is not None:
            await self.events.publish(event())

    async def _resource_updated(self, uri: str) -> None:
        await self.events.publish(ResourceUpdated(uri=uri))

    # -- routing --

    def _route(self, name: str, what: str) -> tuple[Upstream, str]:
        for up in self._routes:
            if name.startswith(up.prefix):
                return up, name[len(up.prefix) :]
        raise MCPError(code=INVALID_PARAMS, message=f"Unknown {what}: {name}")

    async def _listing(self, kind: ListKind) -> list[tuple[Upstream, Any]]:
        """Every upstream's items; with several upstreams one that is down is skipped, not fatal."""
        out: list[tuple[Upstream, Any]] = []
        for up in self.upstreams:
            try:
                items = await up.listing(kind)
            except MCPError:
                if len(self.upstreams) == 1:
                    raise
                continue
            out.extend((up, item) for item in items)
        return out

    @staticmethod
    def _renamed(up: Upstream, item: Any) -> Any:
        return item.model_copy(update={"name": up.prefix + item.name}) if up.prefix else item

    # -- the MCPServer surface, forwarded --

    async def list_tools(self) -> list[types.Tool]:
        return [self._renamed(up, tool) for up, tool in await self._listing("tools")]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> types.CallToolResult:
        up, upstream_name = self._route(name, "tool")
        return await up.call_tool(upstream_name, arguments, context or Context(mcp_server=self))

    async def list_prompts(self) -> list[types.Prompt]:
        return [self._renamed(up, prompt) for up, prompt in await self._listing("prompts")]

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> types.GetPromptResult:
        up, upstream_name = self._route(name, "prompt")
        args = {k: str(v) for k, v in arguments.items()} if arguments else None
        return await up.get_prompt(upstream_name, args)

    async def list_resources(self) -> list[types.Resource]:
        return [resource for _, resource in await self._listing("resources")]

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return [template for _, template in await self._listing("templates")]

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Any, Any] | None = None
    ) -> list[ReadResourceContents]:
        uri = str(uri)
        candidates = await self._resource_owners(uri)
        first_error: MCPError | None = None
        for up in candidates:
            try:
                return await up.read_resource(uri)
            except MCPError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    async def _resource_owners(self, uri: str) -> list[Upstream]:
        """The upstream that listed `uri` first, then the others (a template may match anywhere)."""
        if len(self.upstreams) == 1:
            return list(self.upstreams)
        owners: list[Upstream] = []
        for up, resource in await self._listing("resources"):
            if str(resource.uri) == uri and up not in owners:
                owners.append(up)
        return owners + [up for up in self.upstreams if up not in owners]

    async def _complete(
        self, ref: CompletionRef, argument: types.CompletionArgument, context: types.CompletionContext | None
    ) -> types.Completion:
        if isinstance(ref, types.PromptReference):
            up, name = self._route(ref.name, "prompt")
            return await up.complete(ref.model_copy(update={"name": name}), argument, context)
        owners = await self._resource_owners(ref.uri)
        return await owners[0].complete(ref, argument, context)
