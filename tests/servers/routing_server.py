"""Tools that ask through both SDK channels at once, to check each request lands in its own task."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import SamplingMessage, TextContent
from pydantic import BaseModel

from offload import Tasks

tasks = Tasks(poll_interval_ms=100)
server = MCPServer("routing", extensions=[tasks], lifespan=tasks.lifespan)


class Word(BaseModel):
    word: str


@server.tool()
@tasks.tool(mode="optional")
async def ask_both(tag: str, ctx: Context) -> str:
    """An elicitation (request-scoped) and a sampling request (standalone channel), concurrently."""
    answers: dict[str, str] = {}

    async def elicit() -> None:
        result = await ctx.elicit(f"word for {tag}?", Word)
        answers["elicit"] = result.data.word if result.action == "accept" and result.data else result.action

    async def sample() -> None:
        # no related request id: the SDK sends this on the connection's standalone channel
        result = await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text=f"sample {tag}"))], max_tokens=5
        )
        answers["sample"] = result.content.text if isinstance(result.content, TextContent) else "?"

    async with anyio.create_task_group() as tg:
        tg.start_soon(elicit)
        tg.start_soon(sample)
    return f"{tag}: {answers['elicit']} {answers['sample']}"
