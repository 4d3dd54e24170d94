"""`offload worker`: a process that claims tasks from the store and runs them, serving no requests.

Front instances started with `offload serve --workers` only create tasks; workers sharing their
store pick them up (woken by the store's `new` event, or by their sweep), run the tool with the
call's stored arguments, and answer for them through the store like any other instance.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

from offload.server.app import TargetError
from offload.server.extension import Tasks

logger = logging.getLogger(__name__)


async def run_worker(server: MCPServer[Any], tasks: list[Tasks]) -> None:
    """Enter the server's lifespan (which runs the task runtime) as a worker, until cancelled."""
    if not tasks:
        raise TargetError("the target defines no offload Tasks extension; nothing for a worker to run")
    for t in tasks:
        t.set_role("worker")
    lifespan = server.settings.lifespan
    if lifespan is None:
        raise TargetError("the server has no lifespan; pass lifespan=tasks.lifespan to MCPServer")
    async with lifespan(server):
        ids = ", ".join(t.runtime.instance_id for t in tasks)
        logger.warning("offload worker %s ready on %s", ids, ", ".join(t.store.url for t in tasks))
        await anyio.sleep_forever()
