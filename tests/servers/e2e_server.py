"""The main end-to-end test server: one tool per behaviour the suite checks.

Served with `offload serve tests/servers/e2e_server.py --port N --store sqlite:///...`.
Tools that must be observed from outside take a `path` (a file under the test's tmp dir):
they count their starts in `path.starts`, write `path.cleanup` when they end, and wait for
`path.go*` gate files the test creates, so nothing depends on timing.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from fixture_tools import (
    Name,
    ask_confirm,
    ask_name,
    ask_twice,
    confirm_first,
    count_start,
    raises_rpc_error,
    register,
    tool_error,
    wait_for_file,
)
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import InputRequiredResult, SamplingMessage, TextContent
from pydantic import BaseModel

from offload import Tasks

tasks = Tasks(
    "memory://",
    budget_s=0.25,
    poll_interval_ms=500,
    adaptive_polling=False,  # this suite checks the configured interval; tests/payload covers adaptive polling
    ttl_ms=600_000,
    input_timeout_s=60.0,
    sweep_interval_s=0.1,
    max_result_bytes=64 * 1024,
    max_update_bytes=4096,
)
server = MCPServer("offload-e2e", extensions=[tasks], lifespan=tasks.lifespan)


class Color(BaseModel):
    color: str


# -- modes --


@server.tool()
@tasks.tool(mode="forbidden")
async def never_task(x: int) -> str:
    return f"forbidden:{x}"


@server.tool()
@tasks.tool(mode="optional")
async def maybe_task(x: int) -> str:
    await anyio.sleep(0.05)
    return f"optional:{x}"


@server.tool()
@tasks.tool(mode="required")
async def always_task(x: int) -> str:
    await anyio.sleep(0.05)
    return f"required:{x}"


@server.tool()
@tasks.tool(mode="auto", budget_s=1.0)
async def auto_tool(path: str, gated: bool) -> str:
    """Fast unless `gated`: then it waits for `path.go`, well past its budget."""
    n = count_start(path)
    if gated:
        await wait_for_file(path + ".go")
    return f"auto done after {n} start(s)"


# -- MRTR before the task --

register(server, tasks, confirm_first, mode="required")


# -- results, errors, progress, policy fields --

register(server, tasks, tool_error, mode="required")


register(server, tasks, raises_rpc_error("upstream API rate limit exceeded"), mode="required", name="rpc_error")


@server.tool()
@tasks.tool(mode="required", offload_bytes=0)  # offloading off: the inline limit applies (tests/payload)
async def huge_result() -> str:
    await anyio.sleep(0.05)
    return "x" * (200 * 1024)


@server.tool()
@tasks.tool(mode="required", ttl_ms=98_765, poll_interval_ms=1_234)
async def tuned(x: int) -> str:
    return f"tuned:{x}"


@server.tool()
@tasks.tool(mode="required", ttl_ms=300)
async def short_lived() -> str:
    return "gone soon"


@server.tool()
@tasks.tool(mode="required")
async def staged(path: str, ctx: Context) -> str:
    await ctx.report_progress(1, 3, message="stage one: fetching")
    await wait_for_file(path + ".go1")
    await ctx.report_progress(2, 3, message="stage two: crunching")
    await wait_for_file(path + ".go2")
    return "staged done"


@server.tool()
@tasks.tool(mode="required")
async def gated(path: str) -> str:
    """Runs until `path.go` exists; writes `path.cleanup` however it ends."""
    count_start(path)
    try:
        await wait_for_file(path + ".go")
        return "gated done"
    finally:
        Path(path + ".cleanup").write_text("cleaned up")


# -- input mid-task --

register(server, tasks, ask_name, mode="required")


@server.tool()
@tasks.tool(mode="required")
async def ask_two(ctx: Context) -> str:
    """Asks two questions at once."""
    out: dict[str, str] = {}

    async def name() -> None:
        r = await ctx.elicit("Your name?", Name)
        out["name"] = r.data.name if r.action == "accept" else r.action

    async def color() -> None:
        r = await ctx.elicit("Favourite colour?", Color)
        out["color"] = r.data.color if r.action == "accept" else r.action

    async with anyio.create_task_group() as tg:
        tg.start_soon(name)
        tg.start_soon(color)
    return f"{out['name']} likes {out['color']}"


register(server, tasks, ask_twice, mode="required")


@server.tool()
@tasks.tool(mode="required", input_timeout_s=0.5)
async def impatient(ctx: Context) -> str:
    r = await ctx.elicit("Quick, your name?", Name)
    return f"got {r.data.name}"


@server.tool()
@tasks.tool(mode="required", budget_s=2.0)
def confirm_first_sync(ctx: Context) -> InputRequiredResult | str:
    """The same MRTR flow from a plain `def` tool (the SDK runs it in a worker thread)."""
    if (ctx.input_responses or {}).get("confirm") is None:
        return ask_confirm()
    return "confirmed"


# -- input the client may not be able to give --


@server.tool()
@tasks.tool(mode="optional")
async def ask_inline(ctx: Context) -> str:
    """Elicits mid-call: a task for a client with the extension, -32021 for one without."""
    r = await ctx.elicit("Proceed?", Name)
    return f"inline answer: {r.action}"


@server.tool()
@tasks.tool(mode="required")
async def ask_sampling(ctx: Context) -> str:
    reply = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text="hi"))], max_tokens=5
    )
    return f"sampled: {reply.model}"


@server.tool()
@tasks.tool(mode="required")
async def ask_roots(ctx: Context) -> str:
    roots = await ctx.session.list_roots()
    return f"{len(roots.roots)} roots"


@server.tool()
@tasks.tool(mode="required")
async def ask_catching(ctx: Context) -> str:
    """Catches the refusal of a question its client cannot answer, and carries on."""
    try:
        await ctx.elicit("Proceed?", Name)
    except MCPError as exc:
        return f"carried on without asking: {exc.error.code}"
    return "asked"


@server.tool()
@tasks.tool(mode="required", ttl_ms=700)
async def outlives_ttl() -> str:
    """Runs past its 700 ms time to live: the server stops it."""
    await anyio.sleep(3600)
    return "never"


@server.tool()
@tasks.tool(mode="required")
async def bad_text(path: str) -> str:
    """Returns text that is not valid Unicode (a lone surrogate): no store can hold it."""
    await wait_for_file(path + ".go")
    return "broken \ud800 text"


@server.tool()
@tasks.tool(mode="required")
async def big_gated(path: str) -> str:
    """A 20 KB result once `<path>.go` exists: a write that needs room in the store."""
    await wait_for_file(path + ".go")
    return "y" * 20_000
