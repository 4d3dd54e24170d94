"""Test server for large results and adaptive polling (tests/payload/).

`timed` sleeps as long as asked and is always a task; the `*_log` tools return large text. With
OFFLOAD_TEST_PORT set, requests need a bearer token (`alice-token` or `bob-token`), for the tests
that check a link is its task's principal's only.
"""

from __future__ import annotations

import base64
import os

import anyio
from fixture_tools import bearer_auth
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

PORT = os.environ.get("OFFLOAD_TEST_PORT")
auth = bearer_auth(PORT) if PORT else {}
server = MCPServer("offload-payload", extensions=[tasks], lifespan=tasks.lifespan, **auth)


IMAGE = bytes(range(256)) * 800


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
        ImageContent(type="image", data=base64.b64encode(IMAGE).decode(), mimeType="image/png"),
    ]


@server.resource("demo://hello")
def hello() -> str:
    """A plain resource, to compare offload's resources/read answers with the SDK's own."""
    return "hello"


@server.tool()
@tasks.tool(mode="required", budget_s=0.0, offload_bytes=0)
async def never_offloaded(lines: int) -> str:
    return log_text(lines)


@server.tool()
@tasks.tool(mode="required", budget_s=0.0, offload_bytes=1024)
async def low_threshold(lines: int) -> str:
    return log_text(lines)


@server.tool()
@tasks.tool(mode="optional", budget_s=0.0)
async def optional_log(lines: int) -> str:
    """Inline without the tasks extension, a task with it (offloaded when large)."""
    await anyio.sleep(0.05)  # a tool that answers at once is answered inline even when a task was possible
    return log_text(lines)


@server.tool()
@tasks.tool(mode="optional", budget_s=0.0, offload_bytes=0)
async def optional_log_inline(lines: int) -> str:
    """`optional_log` with offloading off: the whole result stays in the task."""
    await anyio.sleep(0.05)
    return log_text(lines)
