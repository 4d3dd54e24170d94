"""Server for the client tests: counts the requests it sees, and can refuse push (NO_PUSH=1)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import anyio
from fixture_tools import ask_twice, raises_rpc_error, register
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.responses import JSONResponse

from offload import Tasks

seen: Counter[str] = Counter()
POLL_MS = int(os.environ.get("POLL_MS", "300"))


async def count(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    seen[ctx.method] += 1
    if ctx.method == "subscriptions/listen" and os.environ.get("NO_PUSH"):
        raise MCPError(code=-32601, message="push disabled for this test")
    return await call_next(ctx)


tasks = Tasks(poll_interval_ms=POLL_MS, lease_s=1.0, sweep_interval_s=0.2)
server = MCPServer("client-tests", extensions=[tasks], lifespan=tasks.lifespan, middleware=[count])


@server.custom_route("/stats", methods=["GET"])
async def stats(request: Request) -> JSONResponse:
    return JSONResponse(dict(seen))


@server.tool()
def echo(text: str) -> str:
    return text


@server.tool()
@tasks.tool(mode="optional")
async def sleepy(seconds: float, ctx: Context) -> str:
    await ctx.report_progress(0, 1, "sleeping")
    await anyio.sleep(seconds)
    return f"slept {seconds}"


register(server, tasks, ask_twice, mode="optional")
register(server, tasks, raises_rpc_error("the pipeline exploded", delay_s=0.1), mode="optional", name="explode")
