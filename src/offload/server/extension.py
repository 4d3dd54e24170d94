"""`Tasks`: the io.modelcontextprotocol/tasks extension for an `MCPServer`.

tasks = Tasks("sqlite:///tasks.db")
server = MCPServer("demo", extensions=[tasks], lifespan=tasks.lifespan)

@server.tool()
@tasks.tool(mode="auto")
async def build(ctx: Context) -> str: ...
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import MCPServer, authenticated_principal
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp_types import CallToolRequestParams

from offload.observe import admission_refused, creation_span, instrument_store
from offload.protocol import (
    EXTENSION_ID,
    INTERNAL_ERROR,
    MODERN_VERSION,
    TOO_MANY_TASKS,
    TaskIdParams,
    UpdateTaskParams,
    create_task_result,
)
from offload.runtime import Role, TaskDispatch, TaskMode, TaskPolicy, TaskRuntime
from offload.runtime.offload_result import DEFAULT_MAX_OFFLOADED_BYTES, DEFAULT_OFFLOAD_BYTES
from offload.server import bridge
from offload.server.gates import declares_tasks, needs_task, needs_task_for_input
from offload.server.handlers import TaskHandlers
from offload.server.middleware import TasksMiddleware
from offload.server.resources import DEFAULT_MAX_READ_BYTES, BlobReads
from offload.store import DEFAULT_STORE_URL, TaskRecord, TaskStore, open_store

__all__ = ["DEFAULT_TTL_MS", "Tasks"]

logger = logging.getLogger("offload")

NOT_RUNNING = (
    "offload Tasks is not running, so no task can be created: build the server with "
    "MCPServer(..., extensions=[tasks], lifespan=tasks.lifespan) (or lifespan=tasks.wrap(your_lifespan))"
)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TTL_MS = 24 * 3600 * 1000


class Tasks(Extension):
    """Durable tasks for an `MCPServer`; see the module docstring for wiring."""

    identifier = EXTENSION_ID

    def __init__(
        self,
        store: str | TaskStore = DEFAULT_STORE_URL,
        *,
        default_mode: TaskMode = "forbidden",
        budget_s: float = 0.25,
        ttl_ms: int | None = DEFAULT_TTL_MS,
        poll_interval_ms: int = 1000,
        poll_min_ms: int = 50,
        poll_max_ms: int = 300_000,
        adaptive_polling: bool = True,
        input_timeout_s: float | None = 900.0,
        lease_s: float = 5.0,
        sweep_interval_s: float = 1.0,
        max_result_bytes: int = 4 * 1024 * 1024,
        offload_bytes: int = DEFAULT_OFFLOAD_BYTES,
        max_offloaded_bytes: int = DEFAULT_MAX_OFFLOADED_BYTES,
        max_read_bytes: int = DEFAULT_MAX_READ_BYTES,
        max_update_bytes: int = 1024 * 1024,
        max_running: int = 1000,
        role: Role = "all",
        strict_mcp_name: bool = False,
        max_tasks_per_caller: int | None = 1000,
        expired_grace_s: float = 60.0,
        park_after_s: float | None = 30.0,
    ) -> None:
        self.store = instrument_store(open_store(store) if isinstance(store, str) else store)
        self.defaults = TaskPolicy(
            mode=default_mode,
            budget_s=budget_s,
            ttl_ms=ttl_ms,
            poll_interval_ms=poll_interval_ms,
            input_timeout_s=input_timeout_s,
            poll_min_ms=poll_min_ms,
            poll_max_ms=poll_max_ms,
            adaptive_polling=adaptive_polling,
            offload_bytes=offload_bytes,
            park_after_s=park_after_s,
        )
        self.max_read_bytes = max_read_bytes
        self.runtime = TaskRuntime(
            self.store,
            policy_for=self.policy,
            rerun=self._rerun,
            lease_s=lease_s,
            sweep_interval_s=sweep_interval_s,
            max_result_bytes=max_result_bytes,
            max_offloaded_bytes=max_offloaded_bytes,
            max_running=max_running,
            role=role,
            expired_grace_s=expired_grace_s,
        )
        self.handlers = TaskHandlers(self.runtime, max_update_bytes=max_update_bytes)
        self.strict_mcp_name = strict_mcp_name
        self.max_tasks_per_caller = max_tasks_per_caller
        self._declared: dict[str, TaskPolicy] = {}
        self._resolved: dict[str, TaskPolicy] = {}
        self._server: MCPServer[Any] | None = None
        self._lifespan_context: Any = None

    def use_store(self, store: str | TaskStore) -> None:
        """Swap the store before the server starts (what `offload serve --store` does)."""
        if self.runtime.started:
            raise RuntimeError("cannot change the store of a running server")
        self.store = instrument_store(open_store(store) if isinstance(store, str) else store)
        self.runtime.store = self.store

    def set_role(self, role: Role) -> None:
        """`all` (run what you create), `front` (create only) or `worker` (claim and run only)."""
        if self.runtime.started:
            raise RuntimeError("cannot change the role of a running server")
        self.runtime.role = role

    # -- declaring tools --

    def tool(
        self,
        name: str | None = None,
        *,
        mode: TaskMode = "optional",
        budget_s: float | None = None,
        ttl_ms: int | None = None,
        poll_interval_ms: int | None = None,
        input_timeout_s: float | None = None,
        retry: bool = False,
        max_attempts: int = 3,
        poll_min_ms: int | None = None,
        poll_max_ms: int | None = None,
        adaptive_polling: bool | None = None,
        offload_bytes: int | None = None,
        park_after_s: float | None = None,
    ) -> Callable[[F], F]:
        """Declare how a tool relates to tasks; put it below `@server.tool()`.

        `name` defaults to the function's name; pass it when the tool was registered under another.
        """
        policy = TaskPolicy(
            mode=mode,
            budget_s=budget_s,
            ttl_ms=ttl_ms,
            poll_interval_ms=poll_interval_ms,
            input_timeout_s=input_timeout_s,
            retry=retry,
            max_attempts=max_attempts,
            poll_min_ms=poll_min_ms,
            poll_max_ms=poll_max_ms,
            adaptive_polling=adaptive_polling,
            offload_bytes=offload_bytes,
            park_after_s=park_after_s,
        )

        def decorate(fn: F) -> F:
            self.set_policy(name or fn.__name__, policy)
            return fn

        return decorate

    def set_policy(self, tool: str, policy: TaskPolicy) -> None:
        self._declared[tool] = policy
        self._resolved.pop(tool, None)

    def policy(self, tool: str) -> TaskPolicy:
        """The effective policy of a tool: its declaration over the server defaults.

        `budget_s` inherits the server's budget only in `auto` mode; `optional` and `required` tools
        become tasks at once unless they declare a budget of their own (see README "Task modes").
        """
        resolved = self._resolved.get(tool)
        if resolved is None:
            d = self.defaults
            declared = self._declared.get(tool, replace(d, budget_s=None))
            inherited = d.budget_s if declared.mode == "auto" else 0.0

            def pick(own: Any, default: Any) -> Any:
                return default if own is None else own

            resolved = replace(
                declared,
                budget_s=pick(declared.budget_s, inherited),
                ttl_ms=pick(declared.ttl_ms, d.ttl_ms),
                poll_interval_ms=pick(declared.poll_interval_ms, d.poll_interval_ms),
                input_timeout_s=pick(declared.input_timeout_s, d.input_timeout_s),
                poll_min_ms=pick(declared.poll_min_ms, d.poll_min_ms),
                poll_max_ms=pick(declared.poll_max_ms, d.poll_max_ms),
                adaptive_polling=pick(declared.adaptive_polling, d.adaptive_polling),
                offload_bytes=pick(declared.offload_bytes, d.offload_bytes),
                park_after_s=pick(declared.park_after_s, d.park_after_s),
            )
            self._resolved[tool] = resolved
        return resolved

    # -- lifecycle --

    @asynccontextmanager
    async def lifespan(self, server: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        """Pass as `MCPServer(lifespan=tasks.lifespan)`; use `wrap` to keep a lifespan of your own."""
        async with self.wrap(None)(server) as state:
            yield state

    def wrap(
        self, inner: Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]] | None
    ) -> Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]]:
        """A lifespan that runs the task runtime around `inner` and yields `inner`'s state."""

        @asynccontextmanager
        async def lifespan(server: MCPServer[Any]) -> AsyncIterator[Any]:
            self.attach(server)
            await self._check_declarations(server)
            async with self.runtime.running():
                if inner is None:
                    self._lifespan_context = {}
                    yield self._lifespan_context
                else:
                    async with inner(server) as state:
                        self._lifespan_context = state
                        yield state

        return lifespan

    def attach(self, server: MCPServer[Any]) -> None:
        """Install the routing-header check and push streams, and bind re-runs of lost tasks, for `server`."""
        self._server = server
        if not any(isinstance(m, TasksMiddleware) and m.handlers is self.handlers for m in server.middleware):
            server.middleware.append(TasksMiddleware(self.handlers, server, strict_mcp_name=self.strict_mcp_name))
        if not any(isinstance(m, BlobReads) and m.runtime is self.runtime for m in server.middleware):
            server.middleware.append(BlobReads(self.runtime, server, max_read_bytes=self.max_read_bytes))

    async def _check_declarations(self, server: MCPServer[Any]) -> None:
        """Say loudly, at start-up, when a declared policy names no tool: that tool would run inline."""
        if not self._declared:
            return
        try:
            names = {tool.name for tool in await server.list_tools()}
        except Exception as exc:  # a server whose tools come from elsewhere (a gateway's upstream) may not say yet
            logger.debug("could not list the tools to check @tasks.tool declarations: %s", exc)
            return
        for declared in sorted(set(self._declared) - names):
            policy = self._declared[declared]
            logger.error(
                "@tasks.tool declares mode=%r for %r, but the server has no tool of that name, so that policy "
                "applies to nothing (registered: %s). Put @tasks.tool directly below @server.tool(), and pass "
                "@tasks.tool(name=...) when the tool is registered under another name.",
                policy.mode,
                declared,
                ", ".join(sorted(names)) or "none",
            )

    async def _rerun(self, record: TaskRecord, dispatch: TaskDispatch) -> Any:
        """Run a stored call again (a task taken over, or queued for a worker) on the attached server."""
        if self._server is None:
            raise RuntimeError("offload Tasks is not attached to a server: pass lifespan=tasks.lifespan to MCPServer")
        return await bridge.rerun_tool(self._server, self._lifespan_context, record, dispatch)

    # -- SDK contributions --

    def methods(self) -> list[MethodBinding]:
        versions = frozenset({MODERN_VERSION})
        return [
            MethodBinding("tasks/get", TaskIdParams, self._get, protocol_versions=versions),
            MethodBinding("tasks/update", UpdateTaskParams, self._update, protocol_versions=versions),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel, protocol_versions=versions),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        policy = self.policy(params.name)
        if policy.mode == "forbidden":
            return await call_next(ctx)
        if not declares_tasks(ctx):
            if policy.mode == "required":
                raise needs_task(ctx, params.name)
            try:
                return await call_next(ctx)
            except NoBackChannelError as exc:
                # The tool asked for input mid-call and this request has no channel for it: the caller
                # needs the extension, so the call could become a task (tasks.md "Capability Negotiation").
                raise needs_task_for_input(params.name, exc.method) from exc
        if not self.runtime.started:
            logger.error(NOT_RUNNING)
            raise MCPError(code=INTERNAL_ERROR, message=NOT_RUNNING)
        await self._admit(authenticated_principal(ctx))
        with creation_span(params.name, params.meta):
            if not self.runtime.executes:
                return await self._enqueue(params, ctx, policy)
            return await self._run_as_task(params, ctx, call_next, policy)

    async def _admit(self, principal: str | None) -> None:
        """Refuse, before anything runs or is stored, a call over an admission limit.

        The per-caller count is read before the task is created, so calls racing each other can pass
        the limit by as many as run at once: it bounds a runaway caller, it is not a quota.
        """
        runtime = self.runtime
        if runtime.executes and len(runtime.executions) >= runtime.max_running:
            admission_refused("instance")
            raise MCPError(
                code=TOO_MANY_TASKS,
                message=f"This server is running its limit of {runtime.max_running} tasks; try again shortly",
                data={"limit": runtime.max_running, "retryAfterMs": 1000},
            )
        cap = self.max_tasks_per_caller
        if cap is not None and await self.store.count_live(principal) >= cap:
            admission_refused("caller")
            raise MCPError(
                code=TOO_MANY_TASKS,
                message=f"You have {cap} unfinished tasks on this server, its limit per caller: wait for some to "
                "finish or cancel some before starting more",
                data={"limit": cap},
            )

    async def _enqueue(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], policy: TaskPolicy
    ) -> HandlerResult:
        """Front role: store the call as a task for a worker process; nothing runs here."""
        record = self.runtime.new_record(
            params.name, policy, authenticated_principal(ctx), bridge.request_snapshot(ctx, params)
        )
        return create_task_result(self.runtime.advise(await self.runtime.enqueue(record)))

    async def _run_as_task(
        self,
        params: CallToolRequestParams,
        ctx: ServerRequestContext[Any, Any],
        call_next: CallNext,
        policy: TaskPolicy,
    ) -> HandlerResult:
        task_context = bridge.task_context_factory(ctx)

        async def call(dispatch: Any) -> Any:
            return await call_next(task_context(dispatch))

        inline = bridge.inline_channel(ctx)
        ex = self.runtime.start(
            call,
            tool=params.name,
            policy=policy,
            inline=inline,
            transport=getattr(inline, "transport", None),
            principal=authenticated_principal(ctx),
            request=bridge.request_snapshot(ctx, params) if policy.retry else None,
            capabilities=bridge.client_capabilities(ctx),
        )
        try:
            # One scheduler turn lets a tool that answers at once (an MRTR InputRequiredResult, or a
            # trivial result) settle before any task exists; then the tool's budget, if any.
            await anyio.lowlevel.checkpoint()
            budget = policy.budget_s
            if not ex.decided and budget:
                with anyio.move_on_after(budget):
                    await ex.wait_decided()
            if ex.settled:
                assert ex.outcome is not None
                kind, value = ex.outcome
                mrtr = kind == "result" and _result_type(value) == "input_required"
                if mrtr or policy.mode != "required":
                    if kind == "error":
                        raise MCPError(code=value["code"], message=value["message"], data=value.get("data"))
                    return value  # type: ignore[no-any-return]
            record = await ex.promote()
        except BaseException:
            if not ex.promoted:
                ex.cancel("The request was abandoned before the task was created")
            raise
        return create_task_result(self.runtime.advise(record))

    # -- tasks/*: the middleware checked version, capability, params and Mcp-Name; one handler answers --

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        return await self.handlers.get(params.task_id, authenticated_principal(ctx))

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> dict[str, Any]:
        return await self.handlers.update(params.task_id, authenticated_principal(ctx), params.input_responses)

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        return await self.handlers.cancel(params.task_id, authenticated_principal(ctx))


def _result_type(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("resultType")
    return getattr(value, "result_type", None)
