"""The demo's example server: a release that asks for approval, a retry-safe reindex, a noisy pipeline.

Serve it yourself with `offload serve offload.demo.server:server`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import BaseModel, Field

from offload import Tasks, step

STEP_S = float(os.environ.get("OFFLOAD_DEMO_STEP_S", "0.5"))

# run_pipeline logs the way long tools do today (ctx.info). Logging is deprecated at 2026-07-28 (SEP-2577)
# but still delivered to requests that opt in; the context accounting measures exactly that traffic.
warnings.filterwarnings("ignore", message="The logging capability is deprecated", category=MCPDeprecationWarning)

tasks = Tasks(lease_s=1.0, sweep_interval_s=0.25, poll_interval_ms=250)
server = MCPServer("offload-demo", version="0.1.0", extensions=[tasks], lifespan=tasks.lifespan)


class Approval(BaseModel):
    approve: bool = Field(description="Ship it?")


STAGES = ["checkout", "compile", "unit tests", "integration tests", "package"]


async def _build(version: str, ctx: Context) -> dict[str, Any]:
    for i, stage in enumerate(STAGES, 1):
        await ctx.report_progress(i, len(STAGES), f"{stage} ({i}/{len(STAGES)})")
        await anyio.sleep(STEP_S)
    return {"artifact": f"app-{version}.tar", "pid": os.getpid()}


async def _deploy(artifact: str, ctx: Context) -> dict[str, Any]:
    await ctx.report_progress(len(STAGES), len(STAGES), "deploying")
    await anyio.sleep(STEP_S)
    return {"deployed": artifact, "pid": os.getpid()}


@server.tool()
@tasks.tool(mode="auto", retry=True)
async def release(version: str, ctx: Context) -> str:
    """Build, test and (after a human approves) deploy a version: a long call with a question in it.

    Retry-safe by replay (docs/approvals.md): the build and the deploy are durable steps, so a
    restart while the approval waits (a deploy of this server, a crash) neither rebuilds nor asks
    again; the approval stays answerable under the key the client saw.
    """
    built = await step("build", _build, version, ctx)
    answer = await ctx.elicit(f"All {len(STAGES)} steps passed. Ship {version} to production?", Approval)
    if answer.action != "accept" or not answer.data.approve:
        return f"Release {version} stopped: not approved"
    await step("deploy", _deploy, built["artifact"], ctx)
    return f"Released {version}: {len(STAGES)} steps passed, approved, deployed"


@server.tool()
@tasks.tool(mode="optional", retry=True)
async def reindex(ctx: Context, shards: int = 6) -> str:
    """Rebuild a search index shard by shard; safe to run again from the start if interrupted."""
    for shard in range(1, shards + 1):
        await ctx.report_progress(shard, shards, f"shard {shard}/{shards}")
        await anyio.sleep(STEP_S)
    return f"Index rebuilt: {shards} shards"


@server.tool()
async def latest_version() -> str:
    """The version the next release would ship: a quick lookup, always answered inline."""
    return "1.4.0"


PROGRESS_EVERY = 250


@server.tool()
@tasks.tool(mode="optional")
async def run_pipeline(ctx: Context, lines: int = 5000) -> str:
    """Check out, then run `lines` checks, logging one line per check: a long and noisy call.

    Called blocking, every log line (`notifications/message`, when the request's `_meta` asks for them
    with `io.modelcontextprotocol/logLevel`) and every progress update (with a `progressToken`) streams
    back on the request. As a task, the client gets the handle, and the final summary when it asks.
    """
    await ctx.report_progress(0, lines, "checkout")
    await anyio.sleep(STEP_S)
    for i in range(1, lines + 1):
        await ctx.info(f"[{i:>5}/{lines}] check {i}: ok ({i * 7 % 997} ms, cache {'hit' if i % 3 else 'miss'})")
        if i % PROGRESS_EVERY == 0 or i == lines:
            await ctx.report_progress(i, lines, f"{i}/{lines} checks")
            await anyio.sleep(STEP_S / 10)
    return f"Pipeline passed: {lines} checks, 0 failed"


@server.tool()
@tasks.tool(mode="optional")
async def build_log(ctx: Context, lines: int = 20000) -> str:
    """A build that prints a long log (about 1 MB for 20,000 lines): a large result for a small window."""
    await ctx.report_progress(0, 1, "building")
    await anyio.sleep(STEP_S)
    return "\n".join(
        f"[{i:>6}] step {i}: compiled module_{i % 97}.py in {i * 13 % 500} ms" for i in range(1, lines + 1)
    )


@server.tool()
@tasks.tool(mode="optional", offload_bytes=0)
async def build_log_inline(ctx: Context, lines: int = 20000) -> str:
    """`build_log` with its result kept inline in the task, for comparison."""
    return await build_log(ctx, lines)


@server.tool()
@tasks.tool(mode="optional")
async def pause(seconds: float = 1.2) -> str:
    """Works for a fixed time: the server learns how long and suggests when to poll."""
    await anyio.sleep(seconds)
    return f"paused {seconds:g} s"
