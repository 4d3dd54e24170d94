"""One instance of the cluster test: every tool run is logged with this process's pid."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import anyio
from fixture_tools import register
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


def _timed(name: str, seconds: float) -> Callable[[str], Awaitable[str]]:
    """A tool that logs its start, takes `seconds`, logs its end and answers "<name> <tag>"."""

    async def tool(tag: str) -> str:
        _ran(name, tag)
        await anyio.sleep(seconds)
        _ran(name, tag, "end")
        return f"{name} {tag}"

    return tool


for name, seconds, policy in (
    ("quick", 0.05, {}),
    # Not safe to retry: if its instance dies, the task must end failed, never run twice.
    ("slow", SLOW_S, {}),
    # Safe to retry: if its instance dies, another one runs it again.
    ("redo", SLOW_S, {"retry": True}),
    # Runs until cancelled (or its instance dies).
    ("hold", 600, {}),
    # Inline for 2 s (twice the 1 s lease) before it becomes a task: promotion must not be late.
    ("auto_long", 3.0, {"mode": "auto", "budget_s": 2.0}),
):
    register(server, tasks, _timed(name, seconds), **{"mode": "optional", "name": name, **policy})


class Answer(BaseModel):
    word: str


@server.tool()
@tasks.tool(mode="optional")
async def ask(tag: str, ctx: Context) -> str:
    _ran("ask", tag)
    answer = await ctx.elicit(f"word for {tag}?", Answer)
    _ran("ask", tag, "end")
    return f"ask {tag} {answer.data.word if answer.action == 'accept' else answer.action}"
