"""The server benchmarks/approvals.py runs: `offload serve benchmarks/approvals_server.py --store URL`.

`APPROVALS_PARK_AFTER_S` sets `park_after_s` ("0": parked as soon as it asks; "inf": kept in memory
while the instance runs). `OFFLOAD_SWEEP_S` sets `sweep_interval_s` (offload's default, 1, when unset).
`APPROVALS_METRICS_PORT` serves the Prometheus metrics there (store calls per operation).

- `approve(n)`: retry-safe; one durable step, then a question; once answered, a second step records
  the wall-clock time the tool resumed at (`time.time()`), which is also its result. On replay the
  first step and the answer come from the journal; the clock step runs once, after the answer.
- `memory(action)` (answered inline, never a task): where the process's memory goes, for finding
  what a parked task leaves behind. Every action collects garbage first and reports the layers RSS
  is made of: the kernel's view (`/proc/self/status`), Python's small-object allocator (its arenas,
  from `sys._debugmallocstats`), glibc's heap (`mallinfo2`), SQLite's own allocations
  (`sqlite3_memory_used`), and, with `APPROVALS_TRACEMALLOC=<frames>` set before start, the bytes
  Python objects hold. `stats` just reports; `trim` first hands glibc's free memory back to the
  kernel (`malloc_trim(0)`); `mark` keeps a baseline of object counts by type and a tracemalloc
  snapshot; `diff` reports the growth since then: top types by count, top allocation sites by size.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks, step

PARK_AFTER_S = float(os.environ.get("APPROVALS_PARK_AFTER_S", "0"))
TRACE_FRAMES = int(os.environ.get("APPROVALS_TRACEMALLOC", "0"))
if TRACE_FRAMES:
    tracemalloc.start(TRACE_FRAMES)  # before the tasks exist: every allocation they make is traced
if os.environ.get("APPROVALS_METRICS_PORT"):  # store calls counted per operation (offload.observe)
    from offload.observe.prometheus import start_metrics_endpoint

    start_metrics_endpoint(int(os.environ["APPROVALS_METRICS_PORT"]))

tasks = Tasks(
    "sqlite:///offload-approvals-bench.db",  # `offload serve --store URL` replaces this
    park_after_s=PARK_AFTER_S,
    sweep_interval_s=float(os.environ.get("OFFLOAD_SWEEP_S", "1")),
    # One caller holds every task here, up to 100,000 waiting at once (offload's defaults: 1,000 each).
    max_tasks_per_caller=None,
    max_running=1_000_000,
)
server = MCPServer("offload-approvals-bench", version="0.1.0", extensions=[tasks], lifespan=tasks.lifespan)


class Approval(BaseModel):
    approve: bool


def prepare(n: int) -> dict[str, Any]:
    return {"request": n, "prepared": True}


@server.tool()
@tasks.tool(mode="required", retry=True)
async def approve(n: int, ctx: Context) -> str:
    """Prepare (a step), ask for approval, then record when the tool resumed (a step) and return it."""
    await step("prepare", prepare, n)
    await ctx.elicit(f"Approve request {n}?", Approval)
    resumed_at = await step("resumed", time.time)
    return repr(resumed_at)


_baseline: tuple[Counter[str], tracemalloc.Snapshot | None] | None = None


def _types() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def _snapshot() -> tracemalloc.Snapshot | None:
    if not tracemalloc.is_tracing():
        return None
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")
    ]  # fmt: skip


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _Mallinfo2
_libc.malloc_trim.argtypes = [ctypes.c_size_t]
_sqlite = ctypes.CDLL("libsqlite3.so.0")  # the library the sqlite3 module is linked to: the same counters
_sqlite.sqlite3_memory_used.restype = ctypes.c_int64
_sqlite.sqlite3_memory_highwater.restype = ctypes.c_int64
_sqlite.sqlite3_memory_highwater.argtypes = [ctypes.c_int]


def _pymalloc() -> dict[str, int]:
    """The summary of `sys._debugmallocstats()` (written to fd 2 by C code: caught through a file)."""
    with tempfile.TemporaryFile() as f:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode(errors="replace")
    wanted = {
        "# arenas allocated current": "arenas",
        "# bytes in allocated blocks": "used",
        "# bytes in available blocks": "available",
        "# bytes lost to pool headers": "pool_headers",
        "# bytes lost to quantization": "quantization",
        "# bytes lost to arena alignment": "alignment",
        "Total": "total",
    }
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in wanted:
            out[wanted[key.strip()]] = int(value.strip().replace(",", ""))
    return out


def _layers() -> dict[str, Any]:
    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            status[key] = int(value.split()[0]) * 1024
    info = _libc.mallinfo2()
    out: dict[str, Any] = {
        "proc": status,
        "pymalloc": _pymalloc(),
        "glibc": {name: getattr(info, name) for name, _ in _Mallinfo2._fields_},
        "sqlite": {"used": _sqlite.sqlite3_memory_used(), "highwater": _sqlite.sqlite3_memory_highwater(0)},
        "tasks_in_memory": len(tasks.runtime.executions),
    }
    if tracemalloc.is_tracing():
        out["traced_bytes"], out["traced_peak"] = tracemalloc.get_traced_memory()
    return out


@server.tool()
@tasks.tool(mode="forbidden")
async def memory(action: str = "stats") -> str:
    """`stats`, `trim`, `mark` or `diff` (see the module docstring); JSON."""
    global _baseline
    gc.collect()
    if action == "trim":
        _libc.malloc_trim(0)
    out = _layers()
    if action == "mark":
        _baseline = (_types(), _snapshot())
    elif action == "diff" and _baseline is not None:
        before, snap0 = _baseline
        out["objects"] = [sum(before.values()), sum((types := _types()).values())]
        out["types"] = (types - before).most_common(25)
        snap1 = _snapshot()
        if snap0 is not None and snap1 is not None:
            out["sites"] = [
                {"size_diff": s.size_diff, "count_diff": s.count_diff, "traceback": s.traceback.format()}
                for s in snap1.compare_to(snap0, "traceback")[:25]
            ]
            out["by_line"] = [
                {"size_diff": s.size_diff, "count_diff": s.count_diff, "where": str(s.traceback[0])}
                for s in snap1.compare_to(snap0, "lineno")[:25]
            ]
    return json.dumps(out)
