"""A server whose tasks/* requests must carry `Mcp-Name` (strict routing headers).

Strict mode is set here through the module default of `offload.server.listen` (the `Tasks` option
and the `offload serve --strict-mcp-name` flag are still to come: see the issue 9 report).
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer

from offload import Tasks
from offload.server import listen

listen.STRICT_MCP_NAME = True

tasks = Tasks("memory://", poll_interval_ms=200)
server = MCPServer("interop-strict", version="1.0", extensions=[tasks], lifespan=tasks.lifespan)


@server.tool()
@tasks.tool(mode="required")
async def nap(seconds: float) -> str:
    await anyio.sleep(seconds)
    return f"napped {seconds:g}"
