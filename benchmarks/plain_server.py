"""An ordinary MCP server (no offload) for benchmarks/gateway.py: the "direct" baseline and the upstream.

    python benchmarks/plain_server.py            # stdio (what `offload gateway --upstream` starts)
    python benchmarks/plain_server.py --http N   # Streamable HTTP on 127.0.0.1:N/mcp

- `noop`: answers at once.
- `zero`: answers at once too; the gateway is told to make it a task (`--tool zero=required`).
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("plain-bench", version="0.1.0")


@server.tool()
async def noop() -> str:
    """Answer inline, at once."""
    return "ok"


@server.tool()
async def zero() -> str:
    """Answer at once (the gateway turns calls to it into durable tasks)."""
    return "ok"


if __name__ == "__main__":
    if "--http" in sys.argv:
        import uvicorn

        port = int(sys.argv[sys.argv.index("--http") + 1])
        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    else:
        server.run("stdio")
