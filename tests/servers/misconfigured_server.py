"""A server wired wrongly on purpose, as `MISCONFIG` says: `no-lifespan`, `own-lifespan` or `wrong-name`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from offload import Tasks

tasks = Tasks("memory://")
how = os.environ.get("MISCONFIG", "")


@asynccontextmanager
async def own_lifespan(server: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
    yield {}  # forgets tasks.wrap(): the task runtime never starts


lifespan: Any = {"no-lifespan": None, "own-lifespan": own_lifespan}.get(how, tasks.lifespan)
server = MCPServer("misconfigured", extensions=[tasks], lifespan=lifespan)


@server.tool(name="build-it")
@tasks.tool(mode="required", name=None if how == "wrong-name" else "build-it")
async def build() -> str:
    return "built"
