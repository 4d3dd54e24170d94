"""A tool with a large result: offload stores the log with the task and answers a preview and a link.

offload serve examples/large_results.py --port 8000
offload call http://127.0.0.1:8000/mcp build_log lines=200000       # prints the preview and the link
offload task read http://127.0.0.1:8000/mcp TASK_ID --lines=-20:   # the last 20 lines, on demand
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import TextContent

from offload import Tasks

tasks = Tasks("sqlite:///large-results.db", offload_bytes=64 * 1024)  # the default threshold, said out loud
server = MCPServer("large-results", extensions=[tasks], lifespan=tasks.lifespan)


@server.tool()
@tasks.tool(mode="required", poll_min_ms=100)
async def build_log(lines: int = 100_000) -> list[TextContent]:
    """Build something and return its whole log, with a one-line summary as the preview."""
    await anyio.sleep(0.5)
    log = "".join(f"{i:07d} compiled unit {i}\n" for i in range(1, lines + 1))
    return [TextContent(type="text", text=log, _meta={"offload/preview": f"build ok: {lines} units, 0 errors"})]
