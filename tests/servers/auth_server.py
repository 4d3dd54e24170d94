"""A server behind bearer-token auth: two callers, alice and bob, for the auth-binding tests."""

from __future__ import annotations

import os

import anyio
from fixture_tools import Name, ask_name, bearer_auth, register
from mcp.server.mcpserver import Context, MCPServer

from offload import Tasks

PORT = os.environ.get("OFFLOAD_TEST_PORT", "8000")
# Small admission limits, so the tests can reach them (the defaults are 1000 each).
tasks = Tasks(
    "memory://",
    poll_interval_ms=200,
    max_running=int(os.environ.get("OFFLOAD_TEST_MAX_RUNNING", "1000")),
    max_tasks_per_caller=int(os.environ.get("OFFLOAD_TEST_PER_CALLER", "1000")),
)
server = MCPServer("offload-auth", extensions=[tasks], lifespan=tasks.lifespan, **bearer_auth(PORT))
register(server, tasks, ask_name, mode="required")


@server.tool()
@tasks.tool(mode="required")
async def quick() -> str:
    await anyio.sleep(0.01)
    return "quick"


@server.tool()
@tasks.tool(mode="required")
async def parked(ctx: Context) -> str:
    """Waits for an answer: a task that stays unfinished until cancelled."""
    r = await ctx.elicit("Hold on?", Name)
    return r.action
