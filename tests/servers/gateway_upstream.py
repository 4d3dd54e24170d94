"""An ordinary MCP server (no offload) that `offload gateway` is put in front of in tests/gateway/test_gateway.py.

Run over stdio: `python gateway_upstream.py [--legacy]`, or `--http PORT` for Streamable HTTP. With
`--legacy` it serves only the 2025-11-25 initialize handshake (`server/discover` is unknown, so
`mode="auto"` clients fall back): the era of most servers in the wild, where elicitation is a
server-to-client request sent in the middle of the call. Without it the SDK serves 2026-07-28 too,
which the gateway's client then picks (elicitation becomes an MRTR InputRequiredResult).

Tools that the test must observe from outside take a `marker` path prefix: they write
`marker.started` when they begin, `marker.cancelled` when they are cancelled, and wait for
`marker.go` gate files the test creates, so nothing depends on timing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from fixture_tools import quick, wait_for_file
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.runner import serve_loop
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

LEGACY = "--legacy" in sys.argv
GATE_TIMEOUT_S = 60.0

server = MCPServer("gateway-upstream", version="1.0")
server.tool()(quick)


def mark(marker: str, what: str, text: str = "") -> None:
    Path(f"{marker}.{what}").write_text(text or what)


class Approval(BaseModel):
    approve: bool
    note: str = ""


@server.tool()
async def whoami() -> str:
    """This process's pid: tells a restarted upstream from the first one."""
    return str(os.getpid())


@server.tool()
async def slow(steps: int, marker: str, ctx: Context) -> str:
    """Reports progress `step i/n`, one step per `marker.go<i>` gate file; counts its runs in `marker.starts`."""
    starts = Path(f"{marker}.starts")
    mark(marker, "starts", str(int(starts.read_text()) + 1 if starts.exists() else 1))
    mark(marker, "started")
    for i in range(1, steps + 1):
        await ctx.report_progress(i - 1, steps, f"step {i}/{steps}")
        await wait_for_file(f"{marker}.go{i}", GATE_TIMEOUT_S)
    return f"slow done after {steps} steps"


@server.tool()
async def sleepy(seconds: float) -> str:
    """Sleeps, then answers: the benchmark's slow tool."""
    await anyio.sleep(seconds)
    return f"slept {seconds:g}"


@server.tool()
async def approve(change: str, marker: str, ctx: Context) -> InputRequiredResult | str:
    """Asks for approval: ctx.elicit on a 2025-11-25 connection (a server-to-client request in the
    middle of the call), an MRTR InputRequiredResult on a 2026-07-28 one (no back-channel there)."""
    if ctx.request_context.protocol_version in MODERN_PROTOCOL_VERSIONS:
        answer = (ctx.input_responses or {}).get("approval")
        if answer is None:
            mark(marker, "started")
            await wait_for_file(f"{marker}.go", GATE_TIMEOUT_S)
            schema = Approval.model_json_schema()
            ask = ElicitRequest(params=ElicitRequestFormParams(message=f"Approve {change}?", requested_schema=schema))
            return InputRequiredResult(input_requests={"approval": ask})
        action = getattr(answer, "action", "?")
        content = getattr(answer, "content", None) or {}
        if action != "accept":
            return f"{change}: {action}"
        return f"{change}: {'approved' if content.get('approve') else 'rejected'} ({content.get('note', '')})"
    mark(marker, "started")
    await wait_for_file(f"{marker}.go", GATE_TIMEOUT_S)
    result = await ctx.elicit(f"Approve {change}?", Approval)
    if result.action != "accept":
        return f"{change}: {result.action}"
    data = result.data
    assert data is not None
    return f"{change}: {'approved' if data.approve else 'rejected'} ({data.note})"


@server.tool()
async def hang(marker: str) -> str:
    """Runs until cancelled; records the cancellation in `marker.cancelled`."""
    mark(marker, "started")
    try:
        await anyio.sleep_forever()
    finally:
        mark(marker, "cancelled")
    return "unreachable"


@server.tool()
async def crash(marker: str) -> str:
    """Exits the whole process (as a crash would) once `marker.go` exists."""
    mark(marker, "started")
    await wait_for_file(f"{marker}.go", GATE_TIMEOUT_S)
    os._exit(3)


@server.tool()
async def fail(message: str) -> str:
    """Raises a JSON-RPC error."""
    raise MCPError(code=-32099, message=message)


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Registers a new tool `name` and announces the change (notifications/tools/list_changed)."""

    async def added() -> str:
        return f"{name} is here"

    server.add_tool(added, name=name, description=f"added at run time: {name}")
    if LEGACY:
        await ctx.request_context.session.send_tool_list_changed()
    else:
        await ctx.notify_tools_changed()
    return f"added {name}"


@server.resource("note://hello", mime_type="text/plain")
def hello() -> str:
    return "hello from upstream"


@server.resource("note://item/{item}", mime_type="text/plain")
def item(item: str) -> str:
    return f"item {item}"


@server.prompt()
def greet(name: str) -> str:
    """A greeting prompt."""
    return f"Say hello to {name}."


async def serve_legacy_stdio() -> None:
    """A 2025-11-25-only server over stdio: the SDK's handshake loop, without the era switch."""
    low = server._lowlevel_server
    async with stdio_server() as (read_stream, write_stream), low.lifespan(low) as state:
        await serve_loop(
            low, read_stream, write_stream, lifespan_state=state, init_options=low.create_initialization_options()
        )


if __name__ == "__main__":
    if "--http" in sys.argv:
        import uvicorn

        port = int(sys.argv[sys.argv.index("--http") + 1])
        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")
    elif LEGACY:
        anyio.run(serve_legacy_stdio)
    else:
        server.run("stdio")
