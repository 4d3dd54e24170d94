"""What a large result and a task's polling cost an agent: the accounting `measure_context` leaves out.

`measure_large_result` runs one tool that returns a large result three ways and counts the bytes that
reach the agent's context window, and the time until the agent has something to read (blocking: the
call; a task: the tasks/get that hands its result over once it is done, so polling pace is left out):

- **blocking**: the call runs inline (no tasks extension); the whole result enters the window;
- **task, inline**: a task whose result is stored whole (`inline_tool`, a twin of the tool with
  `offload_bytes=0`); the whole result enters the window when the agent fetches it;
- **task, link + slice**: the server offloads the large items; the window gets the CreateTaskResult,
  the result with previews and links, and one just-in-time slice (`slice_lines`, default the last 40
  lines) that the agent asks for with `task_read`.

`measure_polls` runs a tool several times as tasks and counts the tasks/get each needed, once
following the server's suggested `pollIntervalMs` (adaptive on an offload server) and once polling
every `fixed_ms`, as a client of a server suggesting a constant interval does.

`offload demo` can print both after its own figures: `report.lines()` gives one figure per line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from offload.agent.accounting import call_blocking, window_size
from offload.client import TaskClient, TaskHandle
from offload.client.reads import offload_links

__all__ = ["LargeResultReport", "PollReport", "measure_large_result", "measure_polls"]


def _window(messages: list[Any]) -> int:
    return window_size(messages)[0]  # the one definition of "bytes in the window" (agent.py)


@dataclass
class LargeResultReport:
    tool: str
    result_bytes: int  # the blocking result as received
    blocking_bytes: int
    blocking_seconds: float  # the call, until the whole answer arrived: the agent sees nothing before
    inline_task_bytes: int | None  # None without an inline twin
    inline_task_seconds: float | None  # the tasks/get that hands over the whole result
    link_bytes: int  # CreateTaskResult + result with previews and links
    link_seconds: float  # the tasks/get that hands over previews and links
    slice_bytes: int  # the one slice read on demand
    slice_seconds: float  # that read alone
    links: int

    def lines(self) -> list[str]:
        inline = (
            f"task, result inline:  {self.inline_task_bytes:,} bytes in the window, result fetched in "
            f"{self.inline_task_seconds:.2f} s"
            if self.inline_task_bytes is not None and self.inline_task_seconds is not None
            else "task, result inline:  (no inline twin measured)"
        )
        return [
            f"blocking:             {self.blocking_bytes:,} bytes in the window, call answered in "
            f"{self.blocking_seconds:.2f} s",
            inline,
            f"task, link + slice:   {self.link_bytes + self.slice_bytes:,} bytes in the window "
            f"({self.link_bytes:,} preview and links, {self.slice_bytes:,} slice); previews fetched in "
            f"{self.link_seconds:.2f} s, slice in {self.slice_seconds * 1000:.0f} ms",
        ]


async def _as_task(
    client: TaskClient, tool: str, arguments: dict[str, Any], timeout_s: float
) -> tuple[Any, Any, float]:
    """(CreateTaskResult, final task, seconds of the tasks/get that hands the result over).

    The last figure is timed on a tasks/get made once the task is known to be done, so it measures
    the transfer of the result, not how soon a poll happened to come.
    """
    created = await client.wire.call("tools/call", {"name": tool, "arguments": arguments})
    if created.result.get("resultType") != "task":
        return created.result, created.result, 0.0
    task_id = str(created.result["taskId"])
    status = await client.handle(task_id).wait(timeout=timeout_s)
    if status.get("status") != "completed":
        raise RuntimeError(f"{tool} ended {status.get('status')}: {status.get('statusMessage')}")
    t0 = time.monotonic()
    task = await client.wire.result("tasks/get", {"taskId": task_id})
    return created.result, task, time.monotonic() - t0


async def measure_large_result(
    url: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    inline_tool: str | None = None,
    slice_lines: str = "-40:",
    token: str | None = None,
    timeout_s: float = 600.0,
) -> LargeResultReport:
    """Measure the three ways of the module docstring; `tool` must be allowed to run inline too."""
    args = dict(arguments or {})
    params = {"name": tool, "arguments": args}
    blocking, blocking_seconds = await call_blocking(url, params, token=token, timeout_s=timeout_s)
    blocking_bytes = _window([*blocking.notifications, blocking.result])

    inline_bytes = inline_seconds = None
    async with TaskClient(url, token=token, push=False, timeout_s=timeout_s) as client:
        if inline_tool is not None:
            created, task, inline_seconds = await _as_task(client, inline_tool, args, timeout_s)
            inline_bytes = _window([created, task.get("result")])
        created, task, link_seconds = await _as_task(client, tool, args, timeout_s)
        result = task.get("result") or {}
        link_bytes = _window([created, result])
        links = offload_links(result)
        slice_bytes, slice_seconds = 0, 0.0
        if links:
            t0 = time.monotonic()
            piece = await client.read(str(links[0]["uri"]), lines=slice_lines)
            slice_seconds = time.monotonic() - t0
            slice_bytes = _window([piece.text if piece.text is not None else f"[{len(piece.data)} bytes]"])
    return LargeResultReport(
        tool=tool,
        result_bytes=blocking.raw_bytes,
        blocking_bytes=blocking_bytes,
        blocking_seconds=blocking_seconds,
        inline_task_bytes=inline_bytes,
        inline_task_seconds=inline_seconds,
        link_bytes=link_bytes,
        link_seconds=link_seconds,
        slice_bytes=slice_bytes,
        slice_seconds=slice_seconds,
        links=len(links),
    )


@dataclass
class PollReport:
    tool: str
    runs: int
    fixed_ms: int
    fixed_polls: list[int]
    adaptive_polls: list[int]
    #: ms from the task's completion (its lastUpdatedAt) to the poll that saw it; same-host clocks only
    fixed_delays_ms: list[float] = field(default_factory=list)
    adaptive_delays_ms: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        def summary(polls: list[int]) -> str:
            ordered = sorted(polls)
            return f"median {ordered[len(ordered) // 2]}, max {ordered[-1]}, total {sum(ordered)}"

        return [
            f"polls per task, fixed {self.fixed_ms} ms:  {summary(self.fixed_polls)} ({self.runs} runs of {self.tool})",
            f"polls per task, adaptive:      {summary(self.adaptive_polls)} (the server's suggested pollIntervalMs)",
        ]


class _FixedPollClient(TaskClient):
    """A client that polls every `fixed_ms`, whatever the server suggests."""

    def __init__(self, url: str, fixed_ms: int, **kw: Any) -> None:
        super().__init__(url, **kw)
        self.fixed_ms = fixed_ms

    def poll_delay(self, task: dict[str, Any]) -> float:
        return self.fixed_ms / 1000


async def measure_polls(
    url: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    runs: int = 8,
    fixed_ms: int = 1000,
    token: str | None = None,
    timeout_s: float = 600.0,
) -> PollReport:
    """tasks/get per task for `runs` sequential runs, fixed interval first, then following the server."""
    args = dict(arguments or {})
    counts: dict[str, list[int]] = {"fixed": [], "adaptive": []}
    delays: dict[str, list[float]] = {"fixed": [], "adaptive": []}
    for mode in ("fixed", "adaptive"):
        for _ in range(runs):
            client = (
                _FixedPollClient(url, fixed_ms, token=token, push=False, timeout_s=timeout_s)
                if mode == "fixed"
                else TaskClient(url, token=token, push=False, timeout_s=timeout_s)
            )
            async with client:
                created = await client.wire.call("tools/call", {"name": tool, "arguments": args})
                if created.result.get("resultType") != "task":
                    counts[mode].append(0)
                    continue
                before = client.requests_sent
                seed = {k: v for k, v in created.result.items() if k not in ("resultType", "_meta")}
                final = await TaskHandle(client, str(created.result["taskId"]), seed).wait(timeout=timeout_s)
                seen = time.time()
                counts[mode].append(client.requests_sent - before)
                done = datetime.fromisoformat(str(final["lastUpdatedAt"]).replace("Z", "+00:00")).timestamp()
                delays[mode].append(max(seen - done, 0.0) * 1000)
    return PollReport(tool, runs, fixed_ms, counts["fixed"], counts["adaptive"], delays["fixed"], delays["adaptive"])
