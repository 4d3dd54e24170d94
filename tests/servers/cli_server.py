"""Test server for the `offload call` / `offload task` / `offload tasks` commands.

Served with `offload serve tests/servers/cli_server.py --port N --store sqlite:///...`. `gated` waits for
the file `path` to exist, so a test decides when it ends; nothing depends on timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult
from pydantic import BaseModel

from offload import Tasks

tasks = Tasks("memory://", poll_interval_ms=200, ttl_ms=600_000, input_timeout_s=300.0, sweep_interval_s=0.2)
server = MCPServer("offload-cli-test", extensions=[tasks], lifespan=tasks.lifespan)


class Name(BaseModel):
    name: str


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
    with anyio.fail_after(300):
        while not Path(path).exists():
            await anyio.sleep(0.02)
    return "gate opened"


@server.tool()
@tasks.tool(mode="required")
async def ask_name(ctx: Context) -> str:
    r = await ctx.elicit("Please enter your name.", Name)
    return f"Hello, {r.data.name}!" if r.action == "accept" else f"no name ({r.action})"


@server.tool()
@tasks.tool(mode="required")
async def fail() -> str:
    await anyio.sleep(0.05)
    raise MCPError(code=-32050, message="the deploy target refused the release")


@server.tool()
@tasks.tool(mode="required")
async def broken() -> str:
    await anyio.sleep(0.05)
    raise ValueError("the widget is broken")


@server.tool()
@tasks.tool(mode="required")
async def confirm_first(ctx: Context) -> InputRequiredResult | str:
    """Asks before it becomes a task (an MRTR round on tools/call itself)."""
    answer = (ctx.input_responses or {}).get("confirm")
    if answer is None:
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
        ask = ElicitRequest(params=ElicitRequestFormParams(message="Really do it?", requested_schema=schema))
        return InputRequiredResult(input_requests={"confirm": ask})
    await anyio.sleep(0.05)
    content = getattr(answer, "content", None) or {}
    return f"confirmed ok={content.get('ok')}"


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
