"""The interop fixture: the same five tools served two ways, for clients that nobody here wrote.

* `offload serve tests/interop/server.py` serves `server`: the tools with offload's task modes.
* `python tests/interop/server.py --plain` serves the same tools from an ordinary MCP server with no
  offload at all, 2025-11-25 only, over stdio (elicitation is a server-to-client request in the
  middle of the call there): the upstream `offload gateway` is put in front of.

Tools that a test observes from outside take a `marker` path prefix: `hang` writes
`marker.started` when it begins and `marker.cancelled` when it is cancelled, so the tests see that
a client's cancel reached the tool itself and not only the task record.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

PLAIN = __name__ == "__main__" and "--plain" in sys.argv


class Approval(BaseModel):
    approve: bool


async def quick(x: int) -> str:
    """Answers at once: an inline call for every client."""
    return f"quick:{x}"


async def slow(seconds: float) -> str:
    """Sleeps, then answers; a task when the client can follow one (optional)."""
    await anyio.sleep(seconds)
    return f"slow:{seconds:g}"


async def report(label: str) -> str:
    """Runs only as a task (required)."""
    await anyio.sleep(0.2)
    return f"report:{label}"


async def approve(change: str, ctx: Context) -> str:
    """Asks the user for a boolean approval, then answers with the decision."""
    answer = await ctx.elicit(f"Approve {change}?", Approval)
    if answer.action != "accept" or answer.data is None:
        return f"{change}: {answer.action}"
    return f"{change}: {'approved' if answer.data.approve else 'rejected'}"


async def approve_or_default(change: str, ctx: Context) -> str:
    """Like `approve`, but a client that cannot be asked gets a default instead of an error."""
    try:
        answer = await ctx.elicit(f"Approve {change}?", Approval)
    except Exception as exc:  # the error a tool gets when the client cannot answer (issue 9 item 2)
        return f"{change}: not asked ({exc})"
    return f"{change}: {answer.action}"


async def sample(topic: str, ctx: Context) -> str:
    """Asks the client's model for one line (sampling/createMessage)."""
    from mcp_types import SamplingMessage, TextContent

    ask = SamplingMessage(role="user", content=TextContent(type="text", text=f"One line on {topic}"))
    answer = await ctx.session.create_message([ask], max_tokens=50)
    content = answer.content
    return f"sampled: {getattr(content, 'text', content)}"


async def roots(ctx: Context) -> str:
    """Asks the client for its roots (roots/list)."""
    listed = await ctx.session.list_roots()
    return "roots: " + ",".join(str(root.uri) for root in listed.roots)


async def hang(marker: str) -> str:
    """Runs until cancelled; records the cancellation in `marker.cancelled`."""
    Path(f"{marker}.started").write_text("started")
    try:
        await anyio.sleep_forever()
    finally:
        Path(f"{marker}.cancelled").write_text("cancelled")
    return "unreachable"


async def outlive(seconds: float, marker: str) -> str:
    """Runs longer than its task's TTL (1.5 s) when `seconds` says so; `marker.stopped` if it is stopped."""
    try:
        await anyio.sleep(seconds)
    except BaseException:
        Path(f"{marker}.stopped").write_text("stopped")
        raise
    return f"outlived:{seconds:g}"


async def chatter(marker: str, ctx: Context) -> str:
    """Changes its statusMessage (16 kB each) as fast as it can until `marker.stop` exists.

    Counts its changes in `marker.count` every 100, so a test can wait for a listen stream that is
    not being read to fall behind by more than its backlog.
    """
    pad = "x" * 16_000
    n = 0
    while not Path(f"{marker}.stop").exists() and n < 100_000:
        n += 1
        await ctx.report_progress(n, None, f"{n} {pad}")
        await anyio.sleep(0.001)
        if n % 100 == 0:
            Path(f"{marker}.count").write_text(str(n))
    return f"chatted {n} times"


# name -> (function, offload task mode, extra policy)
TOOLS: dict[str, tuple[Callable[..., Any], str, dict[str, Any]]] = {
    "quick": (quick, "forbidden", {}),
    "slow": (slow, "optional", {}),
    "report": (report, "required", {}),
    "approve": (approve, "optional", {}),
    "approve_or_default": (approve_or_default, "optional", {}),
    "sample": (sample, "optional", {}),
    "roots": (roots, "optional", {}),
    "hang": (hang, "optional", {}),
    "outlive": (outlive, "required", {"ttl_ms": 1500}),
    "chatter": (chatter, "required", {}),
}

if PLAIN:
    server = MCPServer("interop-plain", version="1.0")
    for name, (fn, _mode, _policy) in TOOLS.items():
        server.tool(name=name)(fn)
else:
    from offload import Tasks

    tasks = Tasks(
        "memory://",
        budget_s=0.25,
        poll_interval_ms=200,
        sweep_interval_s=0.1,
        input_timeout_s=60.0,
        expired_grace_s=3.0,  # a task its TTL stopped stays readable 3 s, then goes
    )
    server = MCPServer("interop-offload", version="1.0", extensions=[tasks], lifespan=tasks.lifespan)
    for name, (fn, mode, policy) in TOOLS.items():
        server.tool(name=name)(tasks.tool(name, mode=mode, **policy)(fn))  # type: ignore[arg-type]


async def _serve_plain_stdio() -> None:
    """2025-11-25 only over stdio: the SDK's handshake loop without the era switch (as most servers in the wild)."""
    from mcp.server.runner import serve_loop
    from mcp.server.stdio import stdio_server

    low = server._lowlevel_server
    async with stdio_server() as (read_stream, write_stream), low.lifespan(low) as state:
        await serve_loop(
            low, read_stream, write_stream, lifespan_state=state, init_options=low.create_initialization_options()
        )


if PLAIN:
    anyio.run(_serve_plain_stdio)
