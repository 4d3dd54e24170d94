"""Recent run times per tool, shared by every instance on a store: what adaptive polling learns from.

Each tool keeps its last `keep` durations (milliseconds), newest last. One small record per tool,
appended to atomically, so instances sharing a store learn from each other's runs at the cost of
one write per finished task and one read per tool every few seconds (`runtime/polling.py` caches).
"""

from __future__ import annotations

import abc
from collections import deque
from typing import Generic, TypeVar

__all__ = ["KEEP_DURATIONS", "DurationLog", "MemoryDurationLog", "SidecarDurationLog"]

#: How many recent durations a tool keeps: enough for a p10..p90 that follows change within minutes.
KEEP_DURATIONS = 64


class DurationLog(abc.ABC):
    """Append-only, bounded: the last `keep` durations of each tool."""

    keep: int = KEEP_DURATIONS

    @abc.abstractmethod
    async def add(self, tool: str, duration_ms: int) -> None:
        """Record one finished run; the oldest falls out past `keep`."""

    @abc.abstractmethod
    async def recent(self, tool: str) -> list[int]:
        """The tool's recent durations, oldest first (empty when none was recorded)."""


_Store = TypeVar("_Store")


class SidecarDurationLog(DurationLog, Generic[_Store]):
    """Durations in a task store's own database or server, reached through that store's connections."""

    def __init__(self, store: _Store, keep: int = KEEP_DURATIONS) -> None:
        self.store = store
        self.keep = keep


class MemoryDurationLog(DurationLog):
    """For `MemoryStore`: this process only."""

    def __init__(self, keep: int = KEEP_DURATIONS) -> None:
        self.keep = keep
        self._tools: dict[str, deque[int]] = {}

    async def add(self, tool: str, duration_ms: int) -> None:
        self._tools.setdefault(tool, deque(maxlen=self.keep)).append(int(duration_ms))

    async def recent(self, tool: str) -> list[int]:
        return list(self._tools.get(tool, ()))
