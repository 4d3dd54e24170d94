"""A server for the restart test: short leases so a new process takes over a dead one's tasks fast.

`slow_unsafe` and `slow_safe` block on their first run until the test kills the process; they
count their starts in `path.starts`. `slow_safe` is declared retry-safe, so the next process runs
it again from the start, and that second run finishes at once.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer

from offload import Tasks

tasks = Tasks("memory://", lease_s=1.0, sweep_interval_s=0.2, poll_interval_ms=100)
server = MCPServer("offload-durable", extensions=[tasks], lifespan=tasks.lifespan)


def count_start(path: str) -> int:
    starts = Path(path + ".starts")
    n = int(starts.read_text()) + 1 if starts.exists() else 1
    starts.write_text(str(n))
    return n


@server.tool()
@tasks.tool(mode="required")
async def quick(x: int) -> str:
    return f"quick:{x}"


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
