"""Adaptive `pollIntervalMs`: suggest, on every answer, when to look again, from the tool's real durations.

tasks.md lets the server suggest `pollIntervalMs` on `CreateTaskResult` and on every `tasks/get`
("Task Polling"); a client that follows it polls when the server says. A fixed interval is wrong
for nearly every tool: a 3.4 s task polled every second is seen ~0.6 s late after 4 polls, and a
ten-minute job is polled 600 times. Here each tool's recent durations (`store/durations.py`, shared
by the instances on a store) give the interval, as a function of how long the task has run:

1. fewer than `MIN_SAMPLES` runs known: the configured interval;
2. among recent runs longer than the task's age (those it may still resemble), aim the next poll at
   their `LEAD` quantile: a task waits, in one poll, until near its expected end;
3. once the task is inside that range, poll every `TIGHTEN` of its age, so a completion is seen
   within ~15% of the duration (about half that on average);
4. a task older than every recent run backs off: the interval grows with how far past expectation
   it is;

always within the tool's minimum and maximum. Terminal and `input_required` tasks keep the stored
interval (the latter waits for the client, not for the tool).
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from offload.protocol import TaskStatus
from offload.runtime.policy import TaskPolicy
from offload.store import TaskRecord, TaskStore
from offload.store.durations import DurationLog
from offload.store.sidecars import duration_log_for

__all__ = ["LEAD", "MIN_SAMPLES", "TIGHTEN", "PollAdvisor", "PollBounds", "suggest_interval"]

logger = logging.getLogger(__name__)

MIN_SAMPLES = 5
LEAD = 0.2
TIGHTEN = 0.15
#: How long an instance trusts its cached durations of a tool before reading the store again.
REFRESH_S = 5.0


@dataclass(frozen=True)
class PollBounds:
    """A tool's polling settings: the interval to give without data, and the bounds of any suggestion."""

    default_ms: int
    min_ms: int
    max_ms: int
    adaptive: bool = True

    @classmethod
    def of(cls, policy: TaskPolicy) -> PollBounds:
        """A tool's bounds from its policy: 1 s without data, within 50 ms..5 min unless it says otherwise."""
        default = policy.poll_interval_ms or 1000
        return cls(
            default_ms=default,
            min_ms=policy.poll_min_ms if policy.poll_min_ms is not None else min(50, default),
            max_ms=policy.poll_max_ms if policy.poll_max_ms is not None else max(300_000, default),
            adaptive=policy.adaptive_polling is not False,
        )


def suggest_interval(durations: Sequence[int], elapsed_ms: int, bounds: PollBounds) -> int:
    """The interval to suggest to a task that has run `elapsed_ms`, given the tool's sorted durations."""
    if not bounds.adaptive or len(durations) < MIN_SAMPLES:
        return bounds.default_ms
    elapsed = max(elapsed_ms, 0)
    survivors = durations[bisect.bisect_right(durations, elapsed) :]
    if not survivors:
        overrun = elapsed / max(durations[-1], 1)
        interval = TIGHTEN * elapsed * overrun
    else:
        target = survivors[int(len(survivors) * LEAD)]
        tight = TIGHTEN * elapsed
        interval = max(target - elapsed, tight)
    return int(min(max(interval, bounds.min_ms), bounds.max_ms))


class PollAdvisor:
    """Learns durations as tasks complete here, and suggests intervals from a per-tool cache.

    `observe` is called for each task completed on this instance; `advise` on every answer that
    renders a task. Neither waits on the store: a stale tool's durations are re-read in the
    background (`spawn`), and this instance's own completions count at once.
    """

    def __init__(
        self,
        store: Callable[[], TaskStore],
        bounds_for: Callable[[str], PollBounds],
        spawn: Callable[[Callable[..., Coroutine[Any, Any, Any]]], None],
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.bounds_for = bounds_for
        self._spawn = spawn
        self.refresh_s = refresh_s
        self._clock = clock
        self._log: tuple[TaskStore, DurationLog] | None = None
        self._cache: dict[str, tuple[float, list[int]]] = {}
        self._refreshing: set[str] = set()

    def log(self) -> DurationLog:
        store = self._store()
        if self._log is None or self._log[0] is not store:
            self._log = (store, duration_log_for(store))
        return self._log[1]

    def observe(self, record: TaskRecord) -> None:
        """A task of this instance completed: remember how long it took, here and in the store."""
        if record.status != TaskStatus.COMPLETED or not self.bounds_for(record.tool).adaptive:
            return
        duration = max(record.updated_ms - record.created_ms, 0)
        cached = self._cache.get(record.tool)
        if cached is not None:
            bisect.insort(cached[1], duration)
        log, tool = self.log(), record.tool

        async def store() -> None:
            try:
                await log.add(tool, duration)
            except Exception:  # a lost sample only makes the estimate a little older
                logger.warning("could not record the duration of a %r task", tool, exc_info=True)

        self._spawn(store)

    def advise(self, record: TaskRecord, at_ms: int) -> TaskRecord:
        """The record with the interval to suggest now (unchanged when terminal or waiting for input)."""
        if record.status != TaskStatus.WORKING:
            return record
        bounds = self.bounds_for(record.tool)
        if not bounds.adaptive:
            return record
        interval = suggest_interval(self._durations(record.tool), at_ms - record.created_ms, bounds)
        if interval == record.poll_interval_ms:
            return record
        advised = record.copy()
        advised.poll_interval_ms = interval
        return advised

    def _durations(self, tool: str) -> list[int]:
        cached = self._cache.get(tool)
        now = self._clock()
        if (cached is None or now - cached[0] > self.refresh_s) and tool not in self._refreshing:
            self._refreshing.add(tool)
            self._spawn(lambda: self._refresh(tool))
        return [] if cached is None else cached[1]

    async def _refresh(self, tool: str) -> None:
        try:
            durations = sorted(await self.log().recent(tool))
            self._cache[tool] = (self._clock(), durations)
        except Exception:
            logger.warning("could not read the durations of %r; keeping the cached ones", tool, exc_info=True)
        finally:
            self._refreshing.discard(tool)

    async def refresh(self, tool: str) -> list[int]:
        """Read the tool's durations from the store now (tests, and a warm start)."""
        await self._refresh(tool)
        return self._cache.get(tool, (0.0, []))[1]
