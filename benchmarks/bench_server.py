"""The server the benchmarks load: `offload serve benchmarks/bench_server.py --store URL [--json-response]`.

- `noop`: never a task (`forbidden`): the SDK's inline tools/call path plus offload's interceptor.
- `zero`: returns at once but always becomes a task (`required`): the cost of creating a durable task.
- `park`: a task that asks the client a question nobody answers: the memory a parked task holds.
"""

from __future__ import annotations

import gc
import json
import os
import tracemalloc
from collections import Counter

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks

tasks = Tasks("sqlite:///offload-bench.db")  # `offload serve --store URL` replaces this
server = MCPServer("offload-bench", version="0.1.0", extensions=[tasks], lifespan=tasks.lifespan)


class Answer(BaseModel):
    ok: bool


@server.tool()
@tasks.tool(mode="forbidden")
async def noop() -> str:
    """Answer inline, at once."""
    return "ok"


@server.tool()
@tasks.tool(mode="required")
async def zero() -> str:
    """No work, but always a task."""
    return "ok"


@server.tool()
@tasks.tool(mode="optional", input_timeout_s=24 * 3600.0)
async def park(ctx: Context) -> str:
    """Wait for an answer that never comes (until the task is cancelled or the server stops)."""
    answer = await ctx.elicit("Parked by the benchmark; never answered", Answer)
    return f"answered: {answer.action}"


if os.environ.get("OFFLOAD_BENCH_TRACEMALLOC"):
    # Opt-in (run.py --profile): where the memory of parked tasks goes.
    tracemalloc.start(int(os.environ["OFFLOAD_BENCH_TRACEMALLOC"]))
    _marks: list[tuple[tracemalloc.Snapshot, Counter[str]]] = []

    @server.tool()
    @tasks.tool(mode="forbidden")
    async def memory(action: str = "mark", top: int = 25) -> str:
        """`mark` a baseline; `report` the growth since then, by allocation site and by offload/mcp frame."""
        gc.collect()
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        types = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
        if action == "mark" or not _marks:
            _marks[:] = [(snap, types)]
            return "marked"
        base, base_types = _marks[0]
        diff = [d for d in snap.compare_to(base, "traceback") if d.size_diff > 0]
        by_site: Counter[str] = Counter()
        by_owner: Counter[str] = Counter()
        for d in diff:
            frames = list(reversed(d.traceback))  # most recent call first
            by_site[_where(frames[0])] += d.size_diff
            owner = next((f for f in frames if "/offload/" in f.filename or "/mcp/" in f.filename), frames[0])
            by_owner[_where(owner)] += d.size_diff
        report = {
            "bytes": sum(by_site.values()),
            "site": by_site.most_common(top),
            "owner": by_owner.most_common(top),
            "types": (types - base_types).most_common(top),
        }
        return json.dumps(report)

    def _where(frame: tracemalloc.Frame) -> str:
        path = frame.filename.split("site-packages/")[-1].split("/src/")[-1]
        return f"{path}:{frame.lineno}"
