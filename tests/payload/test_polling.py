"""Adaptive pollIntervalMs: the schedule it suggests, what it learns from, and what a client sees."""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from offload.runtime.polling import PollAdvisor, PollBounds, suggest_interval
from offload.store import MemoryStore, TaskRecord

BOUNDS = PollBounds(default_ms=1000, min_ms=50, max_ms=300_000)


def polls_until_seen(duration_ms: int, durations: list[int], bounds: PollBounds = BOUNDS) -> tuple[int, int]:
    """Follow the suggestions from creation (t=0): (tasks/get calls, ms from completion to the one that saw it)."""
    t, polls = 0, 0
    while True:
        t += suggest_interval(durations, t, bounds)
        polls += 1
        if t >= duration_ms:
            return polls, t - duration_ms


def test_without_enough_data_the_configured_interval() -> None:
    assert suggest_interval([], 0, BOUNDS) == 1000
    assert suggest_interval([3000, 3100, 3200, 3300], 500, BOUNDS) == 1000
    assert suggest_interval(list(range(5)), 0, PollBounds(1000, 50, 9000, adaptive=False)) == 1000


def test_a_task_waits_until_near_its_expected_end_then_tightens_then_backs_off() -> None:
    durations = sorted(3400 + 40 * i for i in range(-10, 11))  # 3.0 s .. 3.8 s
    first = suggest_interval(durations, 0, BOUNDS)
    assert 2900 <= first <= 3200  # one wait, to the low end of what this tool takes
    inside = suggest_interval(durations, 3300, BOUNDS)
    assert inside <= 0.15 * 3300 + 1  # inside the range: short steps
    past = [suggest_interval(durations, t, BOUNDS) for t in (4000, 8000, 16000)]
    assert past[0] < past[1] < past[2]  # outlived every recent run: backing off, more the later it gets


def test_suggestions_stay_within_the_tool_bounds() -> None:
    short = [100] * 10
    assert suggest_interval(short, 95, PollBounds(1000, 80, 5000)) == 80
    long = [3_600_000] * 10
    assert suggest_interval(long, 0, PollBounds(1000, 50, 60_000)) == 60_000


def test_the_34_second_task_of_the_issue_is_seen_sooner_with_fewer_polls() -> None:
    rng = random.Random(7)
    history = sorted(int(rng.lognormvariate(0, 0.05) * 3400) for _ in range(64))
    fixed = PollBounds(1000, 1000, 1000, adaptive=False)
    fixed_polls, fixed_delay = polls_until_seen(3400, history, fixed)
    polls, delay = polls_until_seen(3400, history)
    assert (fixed_polls, fixed_delay) == (4, 600)
    assert polls <= 3 and delay <= 340, (polls, delay)


def test_a_ten_minute_job_is_polled_a_handful_of_times() -> None:
    rng = random.Random(3)
    history = sorted(int(rng.lognormvariate(0, 0.1) * 600_000) for _ in range(64))
    polls, delay = polls_until_seen(600_000, history)
    assert polls <= 5 and delay <= 60_000, (polls, delay)


class _Spawner:
    def __init__(self) -> None:
        self.pending: list[Callable[[], Coroutine[Any, Any, Any]]] = []

    def __call__(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.pending.append(fn)

    async def drain(self) -> None:
        while self.pending:
            await self.pending.pop(0)()


@pytest.mark.anyio
async def test_the_advisor_learns_from_completions_and_shares_them_through_the_store() -> None:
    store = MemoryStore()
    spawn = _Spawner()
    advisor = PollAdvisor(lambda: store, lambda _tool: BOUNDS, spawn)
    working = TaskRecord(task_id="w", tool="build", created_ms=1_000_000, poll_interval_ms=1000)
    assert advisor.advise(working, 1_000_000).poll_interval_ms == 1000  # nothing known yet
    await spawn.drain()
    for i in range(8):
        done = TaskRecord(task_id=f"d{i}", tool="build", status="completed", created_ms=0, updated_ms=2000 + 10 * i)
        advisor.observe(done)
    advisor.observe(TaskRecord(task_id="f", tool="build", status="failed", created_ms=0, updated_ms=99))
    await spawn.drain()
    advised = advisor.advise(working, 1_000_000)
    assert 1900 <= (advised.poll_interval_ms or 0) <= 2100
    assert working.poll_interval_ms == 1000  # the stored record is not changed
    # Another instance on the same store learns the same durations (a failure is not a duration).
    other = PollAdvisor(lambda: store, lambda _tool: BOUNDS, _Spawner())
    assert await other.refresh("build") == [2000 + 10 * i for i in range(8)]
    waiting = TaskRecord(task_id="i", tool="build", status="input_required", created_ms=10**6, poll_interval_ms=1000)
    assert advisor.advise(waiting, 1_000_000).poll_interval_ms == 1000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _BrokenLog:
    """A duration log whose store is down: every call fails."""

    keep = 64

    async def add(self, tool: str, duration_ms: int) -> None:
        raise ConnectionError("store unreachable")

    async def recent(self, tool: str) -> list[int]:
        raise ConnectionError("store unreachable")


@pytest.mark.anyio
async def test_a_store_outage_keeps_the_last_known_durations_and_loses_only_samples() -> None:
    store = MemoryStore()
    spawn = _Spawner()
    advisor = PollAdvisor(lambda: store, lambda _tool: BOUNDS, spawn, refresh_s=0.0)
    working = TaskRecord(task_id="w", tool="build", created_ms=0, poll_interval_ms=1000)
    advisor.advise(working, 0)
    await spawn.drain()
    for i in range(6):
        advisor.observe(TaskRecord(task_id=f"d{i}", tool="build", status="completed", created_ms=0, updated_ms=3000))
    await spawn.drain()
    learned = advisor.advise(working, 0).poll_interval_ms
    assert learned is not None and 2000 <= learned <= 3000
    advisor._log = (store, _BrokenLog())  # type: ignore[assignment]  # the store goes down
    advisor.observe(TaskRecord(task_id="x", tool="build", status="completed", created_ms=0, updated_ms=3000))
    assert advisor.advise(working, 0).poll_interval_ms == learned  # refresh fails: the cache stands
    await spawn.drain()  # the failed write and the failed refresh are logged, not raised
    assert advisor.advise(working, 0).poll_interval_ms == learned
