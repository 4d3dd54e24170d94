"""A server whose tasks/* requests must carry `Mcp-Name` (strict routing headers): `Tasks(strict_mcp_name=True)`."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer

from offload import Tasks

tasks = Tasks("memory://", poll_interval_ms=200, strict_mcp_name=True)
server = MCPServer("interop-strict", version="1.0", extensions=[tasks], lifespan=tasks.lifespan)


@server.tool()
@tasks.tool(mode="required")
async def nap(seconds: float) -> str:
    await anyio.sleep(seconds)
    return f"napped {seconds:g}"
