"""A server for the operations tests: tools that park, wait for input, finish or fail on demand.

`OPS_MARKS` names a folder where `hold` records that it started and that it was stopped, so a test
sees the tool itself stop when an operator cancels its task from outside.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks

MARKS = Path(os.environ.get("OPS_MARKS", "."))

tasks = Tasks(lease_s=1.0, sweep_interval_s=0.2, poll_interval_ms=200, budget_s=0.05)
server = MCPServer("ops", extensions=[tasks], lifespan=tasks.lifespan)


class Confirm(BaseModel):
    ok: bool


@server.tool()
@tasks.tool(mode="required")
async def hold(tag: str) -> str:
    """Runs until cancelled; leaves `<tag>.started` and, once stopped, `<tag>.stopped`."""
    (MARKS / f"{tag}.started").write_text(str(os.getpid()))
    try:
        await anyio.sleep(600)
    finally:
        (MARKS / f"{tag}.stopped").write_text(str(os.getpid()))
    return "never"


@server.tool()
@tasks.tool(mode="required")
async def ask(question: str, ctx: Context) -> str:
    answer = await ctx.elicit(question, Confirm)
    return f"answered {answer.action}"


@server.tool()
@tasks.tool(mode="required")
async def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool()
@tasks.tool(mode="required")
async def boom(text: str) -> str:
    raise RuntimeError(f"boom: {text}")
