"""A server for the restart test: short leases so a new process takes over a dead one's tasks fast.

`slow_unsafe` and `slow_safe` block on their first run until the test kills the process; they
count their starts in `path.starts`. `slow_safe` is declared retry-safe, so the next process runs
it again from the start, and that second run finishes at once.
"""

from __future__ import annotations

import anyio
from fixture_tools import count_start, quick, register
from mcp.server.mcpserver import MCPServer

from offload import Tasks

tasks = Tasks("memory://", lease_s=1.0, sweep_interval_s=0.2, poll_interval_ms=100)
server = MCPServer("offload-durable", extensions=[tasks], lifespan=tasks.lifespan)
register(server, tasks, quick, mode="required")


@server.tool()
@tasks.tool(mode="required")
async def slow_unsafe(path: str) -> str:
    n = count_start(path)
    await anyio.sleep(3600)
    return f"unsafe finished after {n} start(s)"


@server.tool()
@tasks.tool(mode="required", retry=True)
async def slow_safe(path: str) -> str:
    n = count_start(path)
    if n == 1:
        await anyio.sleep(3600)
    return f"safe finished after {n} start(s)"
