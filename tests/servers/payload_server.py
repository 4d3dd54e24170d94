"""Test server for large results and adaptive polling (tests/payload/).

`timed` sleeps as long as asked and is always a task; the `*_log` tools return large text.
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ImageContent, TextContent

from offload import Tasks

tasks = Tasks(
    "memory://",
    budget_s=0.0,
    poll_interval_ms=5000,
    ttl_ms=600_000,
    sweep_interval_s=0.2,
)
server = MCPServer("offload-payload", extensions=[tasks], lifespan=tasks.lifespan)


def log_text(lines: int, width: int = 60) -> str:
    return "".join(f"{i:08d} {'abcdefghij' * (width // 10)}\n" for i in range(1, lines + 1))


@server.tool()
@tasks.tool(mode="required", budget_s=0.0)
async def timed(ms: int) -> str:
    await anyio.sleep(ms / 1000)
    return f"slept {ms} ms"


@server.tool()
@tasks.tool(mode="required", budget_s=0.0)
async def big_log(lines: int) -> str:
    return log_text(lines)


@server.tool()
@tasks.tool(mode="required", budget_s=0.0)
async def previewed_log(lines: int) -> list[TextContent]:
    summary = f"build log: {lines} lines, 0 errors"
    return [TextContent(type="text", text=log_text(lines), _meta={"offload/preview": summary})]


@server.tool()
@tasks.tool(mode="required", budget_s=0.0)
async def mixed(lines: int) -> list[TextContent | ImageContent]:
    return [
        TextContent(type="text", text="short note"),
        TextContent(type="text", text=log_text(lines)),
        ImageContent(type="image", data="iVBORw0KGgo=" * 20000, mimeType="image/png"),
    ]
