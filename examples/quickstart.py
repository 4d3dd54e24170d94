"""The README's quickstart: an MCPServer whose slow tool answers with a durable task handle.

Serve it: `offload serve examples/quickstart.py --port 8000`
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks

tasks = Tasks("sqlite:///quickstart-tasks.db")  # the default store kind: one SQLite file
server = MCPServer("quickstart", extensions=[tasks], lifespan=tasks.lifespan)


@server.tool()
def add(a: int, b: int) -> int:
    """Fast: never a task (the server default mode is `forbidden`)."""
    return a + b


@server.tool()
@tasks.tool(mode="auto", budget_s=0.25, poll_interval_ms=500)
async def crunch(n: int, ctx: Context) -> str:
    """Inline if it finishes within 250 ms, otherwise a task that keeps running."""
    for i in range(n):
        await ctx.report_progress(i + 1, n, f"chunk {i + 1}/{n}")
        await anyio.sleep(0.1)
    return f"crunched {n} chunks"


class Confirm(BaseModel):
    confirm: bool


@server.tool()
@tasks.tool(mode="required", input_timeout_s=600, retry=False)
async def purge(bucket: str, ctx: Context) -> str:
    """Always a task; asks for confirmation mid-task with the SDK's ordinary elicitation."""
    answer = await ctx.elicit(f"Really purge {bucket}?", Confirm)
    if answer.action == "accept" and answer.data.confirm:
        return f"purged {bucket}"
    return "kept everything"
