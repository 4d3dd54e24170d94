"""The one backoff helper: growth, cap, reset, Retry-After, and retry()'s limits."""

from __future__ import annotations

import anyio
import pytest

from offload._backoff import Backoff, retry


def test_delays_grow_to_the_cap_and_reset() -> None:
    b = Backoff(initial=0.1, cap=0.5, factor=2)
    assert [b.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    b.reset()
    assert b.next() == 0.1


def test_jitter_only_adds_up_to_its_fraction() -> None:
    b = Backoff(initial=1.0, cap=1.0, jitter=0.1)
    delays = [b.next() for _ in range(200)]
    assert all(1.0 <= d <= 1.1 for d in delays)
    assert len(set(delays)) > 1


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, cap=1)


def test_retry_gives_up_after_attempts_with_the_last_error() -> None:
    calls = 0
    seen: list[float] = []

    async def op() -> int:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"try {calls}")

    async def main() -> None:
        with pytest.raises(ConnectionError, match="try 3"):
            await retry(op, backoff=Backoff(initial=0.001, cap=0.001), attempts=3, on_retry=lambda e, d: seen.append(d))

    anyio.run(main)
    assert calls == 3
    assert len(seen) == 2


def test_retry_returns_once_it_succeeds_and_does_not_retry_other_errors() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError
        return "ok"

    async def wrong() -> str:
        raise KeyError("not transient")

    async def main() -> None:
        assert await retry(flaky, backoff=Backoff(initial=0.001), attempts=5) == "ok"
        with pytest.raises(KeyError):
            await retry(wrong, backoff=Backoff(initial=0.001), attempts=5, retry_on=(ConnectionError,))

    anyio.run(main)
    assert calls == 3


def test_retry_respects_its_deadline() -> None:
    async def op() -> None:
        raise TimeoutError

    async def main() -> float:
        start = anyio.current_time()
        with pytest.raises(TimeoutError):
            await retry(op, backoff=Backoff(initial=0.05, cap=0.05), deadline_s=0.2)
        return anyio.current_time() - start

    assert anyio.run(main) < 1.0


def test_retry_needs_a_limit() -> None:
    async def op() -> None:
        return None

    with pytest.raises(ValueError):
        anyio.run(lambda: retry(op, backoff=Backoff()))
