"""The server benchmarks/cluster.py runs several of: `offload serve benchmarks/cluster_server.py --store URL`.

`OFFLOAD_LEASE_S` and `OFFLOAD_SWEEP_S` set `lease_s` and `sweep_interval_s` (offload's defaults, 5 and 1,
when unset).

- `zero`: returns at once but always becomes a task (`required`): the cost of creating a durable task.
- `sleep`: a task that runs for an hour, not safe to retry: when its instance dies it must end `failed`.
- `stamp`: sleeps `delay` seconds, then returns the wall-clock time (`time.time()`) it finished at.
"""

from __future__ import annotations

import os
import time

import anyio
from mcp.server.mcpserver import MCPServer

from offload import Tasks

tasks = Tasks(
    "sqlite:///offload-cluster-bench.db",  # `offload serve --store URL` replaces this
    lease_s=float(os.environ.get("OFFLOAD_LEASE_S", "5")),
    sweep_interval_s=float(os.environ.get("OFFLOAD_SWEEP_S", "1")),
)
server = MCPServer("offload-cluster-bench", version="0.1.0", extensions=[tasks], lifespan=tasks.lifespan)


@server.tool()
@tasks.tool(mode="required")
async def zero() -> str:
    """No work, but always a task."""
    return "ok"


@server.tool()
@tasks.tool(mode="required", retry=False)
async def sleep() -> str:
    """Runs for an hour (or until its instance dies)."""
    await anyio.sleep(3600)
    return "slept"


@server.tool()
@tasks.tool(mode="required")
async def stamp(delay: float) -> str:
    """Finish after `delay` seconds; the result is the time it finished, as seconds since the epoch."""
    await anyio.sleep(delay)
    return repr(time.time())
