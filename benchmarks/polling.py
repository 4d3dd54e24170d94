"""Polls per task and delay after completion: fixed 1 s, FastMCP's ramp, and offload's adaptive interval.

    .venv/bin/python benchmarks/polling.py [--tasks 300] [--seed 1]

Simulated time (a ten-minute job is not waited for): six tools whose typical durations span
0.2 s to 10 min, each run's duration drawn log-normally around its tool's median (sigma 0.25).
Each task is created at t=0 and polled as each strategy says until a poll sees it done:

- fixed: every 1000 ms (what a server suggesting a constant `pollIntervalMs` gets);
- fastmcp-ramp: fastmcp-tasks 4.1.4's client (`_next_poll_delay`): first poll after 20 ms,
  doubling each round up to the server's `pollIntervalMs` (1000 ms here);
- adaptive: the interval `offload.runtime.polling.suggest_interval` gives at each answer (the
  CreateTaskResult and every tasks/get), learning each tool's last 64 durations as tasks complete
  (history starts empty: the first tasks of each tool get the configured 1000 ms).

Reported per strategy: polls per task (tasks/get calls) and the delay from completion to the poll
that saw it, in ms and as a share of the task's duration; p50 and p95 over all tasks of all tools.

`--live` also runs real tasks (0.2 s and 3.4 s) against `offload serve benchmarks/payload_server.py`
with offload's `TaskClient`: polling every 1000 ms, then following the server's suggestions, after
six runs that teach the server the tool's duration (`offload.agent.payload.measure_polls`).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from offload.runtime.polling import PollBounds, suggest_interval
from offload.store.durations import KEEP_DURATIONS

TOOLS_MS = {"lint": 200, "test": 3_400, "build": 15_000, "index": 60_000, "report": 180_000, "train": 600_000}
SIGMA = 0.25
BOUNDS = PollBounds(default_ms=1000, min_ms=50, max_ms=300_000)


@dataclass
class Outcome:
    tool: str
    duration_ms: int
    polls: int
    delay_ms: int


Schedule = Callable[[str, int], tuple[int, int]]


def fixed(_tool: str, duration: int) -> tuple[int, int]:
    t, polls = 0, 0
    while t < duration:
        t += 1000
        polls += 1
    return polls, t - duration


def fastmcp_ramp(_tool: str, duration: int, ceiling: int = 1000) -> tuple[int, int]:
    t, polls, backoff = 0, 0, 20
    while t < duration:
        t += min(backoff, ceiling)
        backoff = min(backoff * 2, ceiling)
        polls += 1
    return polls, t - duration


class Adaptive:
    def __init__(self) -> None:
        self.history: dict[str, list[int]] = {}

    def __call__(self, tool: str, duration: int) -> tuple[int, int]:
        recent = self.history.setdefault(tool, [])
        durations = sorted(recent)
        t, polls = 0, 0
        while t < duration:
            t += suggest_interval(durations, t, BOUNDS)
            polls += 1
        recent.append(duration)
        del recent[:-KEEP_DURATIONS]
        return polls, t - duration


def run(schedule: Schedule, tasks: list[tuple[str, int]]) -> list[Outcome]:
    return [Outcome(tool, d, *schedule(tool, d)) for tool, d in tasks]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per tool")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--live", action="store_true", help="also measure real 0.2 s and 3.4 s tasks over HTTP")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tasks: list[tuple[str, int]] = []
    for _ in range(args.tasks):  # interleaved, as a real mix arrives
        for tool, median in TOOLS_MS.items():
            tasks.append((tool, max(1, int(median * rng.lognormvariate(0, SIGMA)))))
    strategies: dict[str, Schedule] = {"fixed 1 s": fixed, "fastmcp-ramp": fastmcp_ramp, "adaptive": Adaptive()}
    where = f"Python {platform.python_version()} on {platform.machine()}"
    print(f"{len(tasks)} tasks, {args.tasks} per tool {list(TOOLS_MS)}; {where}")
    print()
    print("| strategy | polls p50 | polls p95 | polls mean | delay p50 | delay p95 | delay/duration p50 | p95 |")
    print("|---|---|---|---|---|---|---|---|")
    by_tool: dict[str, list[Outcome]] = {}
    for name, schedule in strategies.items():
        outcomes = run(schedule, tasks)
        by_tool[name] = outcomes
        polls = [float(o.polls) for o in outcomes]
        delays = [float(o.delay_ms) for o in outcomes]
        rel = [o.delay_ms / o.duration_ms for o in outcomes]
        print(
            f"| {name} | {pct(polls, 0.5):.0f} | {pct(polls, 0.95):.0f} | {statistics.fmean(polls):.1f} "
            f"| {pct(delays, 0.5):.0f} ms | {pct(delays, 0.95):.0f} ms | {pct(rel, 0.5):.1%} | {pct(rel, 0.95):.1%} |"
        )
    print()
    print("Per tool (median polls / median delay):")
    print()
    print("| tool | median duration | " + " | ".join(strategies) + " |")
    print("|---|---|" + "---|" * len(strategies))
    for tool, median in TOOLS_MS.items():
        cells = []
        for name in strategies:
            mine = [o for o in by_tool[name] if o.tool == tool]
            cells.append(
                f"{statistics.median(o.polls for o in mine):.0f} / {statistics.median(o.delay_ms for o in mine):.0f} ms"
            )
        print(f"| {tool} | {median / 1000:g} s | " + " | ".join(cells) + " |")
    if args.live:
        live()


def live(runs: int = 8) -> None:
    import functools
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import anyio

    from offload.agent.payload import measure_polls
    from payload import free_port, wait_listening

    here = Path(__file__).resolve().parent
    offload = str(Path(sys.executable).parent / "offload")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cmd = [
            offload,
            "serve",
            str(here / "payload_server.py"),
            "--port",
            str(port),
            "--store",
            f"sqlite:///{tmp}/t.db",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            wait_listening(port, proc)
            url = f"http://127.0.0.1:{port}/mcp"
            print()
            print(f"Live, {runs} tasks each, offload TaskClient without push (polls only):")
            print()
            print("| task | fixed 1 s: polls p50 | delay p50 | adaptive: polls p50 | delay p50 |")
            print("|---|---|---|---|---|")
            for seconds in (0.2, 3.4):
                measure = functools.partial(measure_polls, url, "sleep", {"seconds": seconds}, fixed_ms=1000)
                anyio.run(functools.partial(measure, runs=6))  # learning runs
                report = anyio.run(functools.partial(measure, runs=runs))
                print(
                    f"| {seconds:g} s | {statistics.median(report.fixed_polls):g} "
                    f"| {statistics.median(report.fixed_delays_ms):.0f} ms "
                    f"| {statistics.median(report.adaptive_polls):g} "
                    f"| {statistics.median(report.adaptive_delays_ms):.0f} ms |"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
