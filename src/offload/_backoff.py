"""The one backoff policy for every retry loop in offload: growing delays, a cap, optional jitter.

Store reconnects, outcome writes, client polling through errors and upstream restarts all wait the
same way; only their numbers differ, and those are named where each loop builds its `Backoff`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

T = TypeVar("T")


@dataclass
class Backoff:
    """Delays of `initial`, then times `factor` each try, never above `cap`.

    `jitter` adds up to that fraction at random (0.1: up to +10%), so many clients retrying the
    same server spread out. `reset()` starts over after a success.
    """

    initial: float = 0.1
    cap: float = 5.0
    factor: float = 2.0
    jitter: float = 0.0
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial or self.factor < 1 or self.jitter < 0:
            raise ValueError("Backoff needs 0 < initial <= cap, factor >= 1 and jitter >= 0")
        self._next = self.initial

    def next(self) -> float:
        """The next delay, in seconds; the one after grows."""
        delay = self._next
        self._next = min(delay * self.factor, self.cap)
        return delay * (1 + random.uniform(0, self.jitter)) if self.jitter else delay

    def reset(self) -> None:
        self._next = self.initial

    async def sleep(self, at_least: float | None = None) -> float:
        """Wait the next delay (or `at_least`, such as a server's Retry-After, if longer); return it."""
        delay = self.next()
        if at_least is not None and at_least > delay:
            delay = min(at_least, max(self.cap, at_least))
        await anyio.sleep(delay)
        return delay


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    attempts: int | None = None,
    deadline_s: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run `operation` until it succeeds, waiting `backoff` between tries.

    Gives up, re-raising the last error, after `attempts` tries or when the next wait would end past
    `deadline_s` from now; exceptions outside `retry_on` are raised at once. `on_retry(exc, delay)`
    is told about each failure that will be tried again (for a log line).
    """
    if attempts is None and deadline_s is None:
        raise ValueError("retry needs attempts or deadline_s, or it could run forever")
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    tries = 0
    while True:
        tries += 1
        try:
            return await operation()
        except retry_on as exc:
            delay = backoff.next()
            if attempts is not None and tries >= attempts:
                raise
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            await anyio.sleep(delay)
