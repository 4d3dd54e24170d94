"""One instance of the cluster test: every tool run is logged with this process's pid."""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks

RUNS = os.environ["CLUSTER_RUNS"]  # a shared append-only log: "<pid> <tool> <tag> start|end"
SLOW_S = float(os.environ.get("CLUSTER_SLOW_S", "4.0"))

tasks = Tasks(lease_s=1.0, sweep_interval_s=0.2, poll_interval_ms=200)
server = MCPServer("cluster", extensions=[tasks], lifespan=tasks.lifespan)


def _ran(tool: str, tag: str, phase: str = "start") -> None:
    with open(RUNS, "a") as log:
        log.write(f"{os.getpid()} {tool} {tag} {phase}\n")


@server.tool()
@tasks.tool(mode="optional")
async def quick(tag: str) -> str:
    _ran("quick", tag)
    await anyio.sleep(0.05)
    _ran("quick", tag, "end")
    return f"quick {tag}"


@server.tool()
@tasks.tool(mode="optional")
async def slow(tag: str) -> str:
    """Not safe to retry: if its instance dies, the task must end failed, never run twice."""
    _ran("slow", tag)
    await anyio.sleep(SLOW_S)
    _ran("slow", tag, "end")
    return f"slow {tag}"


@server.tool()
@tasks.tool(mode="optional", retry=True)
async def redo(tag: str) -> str:
    """Safe to retry: if its instance dies, another one runs it again."""
    _ran("redo", tag)
    await anyio.sleep(SLOW_S)
    _ran("redo", tag, "end")
    return f"redo {tag}"


@server.tool()
@tasks.tool(mode="optional")
async def hold(tag: str) -> str:
    """Runs until cancelled (or its instance dies)."""
    _ran("hold", tag)
    await anyio.sleep(600)
    return f"hold {tag}"


class Answer(BaseModel):
    word: str


@server.tool()
@tasks.tool(mode="optional")
async def ask(tag: str, ctx: Context) -> str:
    _ran("ask", tag)
    answer = await ctx.elicit(f"word for {tag}?", Answer)
    _ran("ask", tag, "end")
    return f"ask {tag} {answer.data.word if answer.action == 'accept' else answer.action}"


@server.tool()
@tasks.tool(mode="auto", budget_s=2.0)
async def auto_long(tag: str) -> str:
    """Inline for 2 s (twice the 1 s lease) before it becomes a task: promotion must not be late."""
    _ran("auto_long", tag)
    await anyio.sleep(3.0)
    _ran("auto_long", tag, "end")
    return f"auto_long {tag}"
