"""Test server for the `offload call` / `offload task` / `offload tasks` commands.

Served with `offload serve tests/servers/cli_server.py --port N --store sqlite:///...`. `gated` waits for
the file `path` to exist, so a test decides when it ends; nothing depends on timing.
"""

from __future__ import annotations

import json

import anyio
from fixture_tools import ask_name, confirm_first, raises_rpc_error, register, tool_error, wait_for_file
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks

tasks = Tasks("memory://", poll_interval_ms=200, ttl_ms=600_000, input_timeout_s=300.0, sweep_interval_s=0.2)
server = MCPServer("offload-cli-test", extensions=[tasks], lifespan=tasks.lifespan)


@server.tool()
@tasks.tool(mode="forbidden")
async def echo(n: int, flag: bool, word: str) -> str:
    """Inline; shows how the CLI typed the arguments."""
    return json.dumps({"n": n, "flag": flag, "word": word}, sort_keys=True)


@server.tool()
@tasks.tool(mode="required")
async def slow(steps: int, ctx: Context) -> str:
    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps, message=f"step {i} of {steps}")
        await anyio.sleep(0.1)
    return f"slow done after {steps} steps"


@server.tool()
@tasks.tool(mode="required")
async def gated(path: str, ctx: Context) -> str:
    await ctx.report_progress(0, 1, message="waiting for the gate")
    await wait_for_file(path, 300)
    return "gate opened"


register(server, tasks, ask_name, mode="required")
register(server, tasks, raises_rpc_error("the deploy target refused the release"), mode="required", name="fail")
register(server, tasks, tool_error, mode="required", name="broken")
register(server, tasks, confirm_first, mode="required")


class Approval(BaseModel):
    ok: bool
    copies: int = 1


@server.tool()
@tasks.tool(mode="required")
async def approve(ctx: Context) -> str:
    """Asks a yes/no question with a typed field once it is a task."""
    r = await ctx.elicit("Ship it?", Approval)
    if r.action != "accept":
        return f"not approved ({r.action})"
    assert isinstance(r.data.ok, bool)
    return f"approved ok={r.data.ok} copies={r.data.copies}"


@server.tool()
@tasks.tool(mode="required")
async def counted(total: int, ctx: Context) -> str:
    """Reports bare progress (no message): the statusMessage is "N/TOTAL"; waits for `gate` at the end."""
    for i in range(1, total + 1):
        await ctx.report_progress(i, total)
        await anyio.sleep(0.05)
    return f"counted to {total}"
