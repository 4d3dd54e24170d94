"""The demo's example server: a release pipeline that asks for approval, and a retry-safe reindex.

Serve it yourself with `offload serve offload.demo.server:server`.
"""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from offload import Tasks

STEP_S = float(os.environ.get("OFFLOAD_DEMO_STEP_S", "0.5"))

tasks = Tasks(lease_s=1.0, sweep_interval_s=0.25, poll_interval_ms=250)
server = MCPServer("offload-demo", version="0.1.0", extensions=[tasks], lifespan=tasks.lifespan)


class Approval(BaseModel):
    approve: bool = Field(description="Ship it?")


@server.tool()
@tasks.tool(mode="auto")
async def release(version: str, ctx: Context) -> str:
    """Build, test and (after a human approves) deploy a version: a long call with a question in it."""
    steps = ["checkout", "compile", "unit tests", "integration tests", "package"]
    for i, step in enumerate(steps, 1):
        await ctx.report_progress(i, len(steps), f"{step} ({i}/{len(steps)})")
        await anyio.sleep(STEP_S)
    answer = await ctx.elicit(f"All {len(steps)} steps passed. Ship {version} to production?", Approval)
    if answer.action != "accept" or not answer.data.approve:
        return f"Release {version} stopped: not approved"
    await ctx.report_progress(len(steps), len(steps), "deploying")
    await anyio.sleep(STEP_S)
    return f"Released {version}: {len(steps)} steps passed, approved, deployed"


@server.tool()
@tasks.tool(mode="optional", retry=True)
async def reindex(ctx: Context, shards: int = 6) -> str:
    """Rebuild a search index shard by shard; safe to run again from the start if interrupted."""
    for shard in range(1, shards + 1):
        await ctx.report_progress(shard, shards, f"shard {shard}/{shards}")
        await anyio.sleep(STEP_S)
    return f"Index rebuilt: {shards} shards"
