"""The server benchmarks/payload.py measures: a log of N MB, offloaded or (the twin) kept inline."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer

from offload import Tasks

tasks = Tasks("sqlite:///payload-bench.db", budget_s=0.0, max_result_bytes=600 * 1024 * 1024)
server = MCPServer("offload-payload-bench", extensions=[tasks], lifespan=tasks.lifespan)

LINE = "{:08d} build step ok: compiled module, linked objects, wrote artifacts to ./out\n"


def log_text(mb: float) -> str:
    lines = int(mb * 1_000_000 / len(LINE.format(0)))
    return "".join(LINE.format(i) for i in range(1, lines + 1))


@server.tool()
@tasks.tool(mode="optional", budget_s=0.0)
async def log(mb: float) -> str:
    await anyio.sleep(0.01)
    return log_text(mb)


@server.tool()
@tasks.tool(mode="optional", budget_s=0.0, offload_bytes=0)
async def log_inline(mb: float) -> str:
    await anyio.sleep(0.01)
    return log_text(mb)


@server.tool()
@tasks.tool(mode="required", budget_s=0.0)
async def sleep(seconds: float) -> str:
    """Takes as long as asked: for the live polling figures of benchmarks/polling.py."""
    await anyio.sleep(seconds)
    return f"slept {seconds:g} s"
