"""The runtime on owner heartbeats: O(1) store work per sweep, a clean shutdown frees every task at
once, an instance that was thought dead stops what was taken from it, a restart hands back what an
earlier process with the same id left."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import anyio
import pytest

from offload.runtime import TaskPolicy, TaskRuntime
from offload.runtime.execution import Execution, TaskDispatch
from offload.store import Change, MemoryStore, TaskRecord, now_ms


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingStore(MemoryStore):
    """Counts the store calls the runtime makes, by method."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        self.calls["update"] += 1
        return await super().update(task_id, change, owner=owner)

    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        self.calls["heartbeat"] += 1
        return await super().heartbeat(owner, until_ms, at_ms=at_ms)

    async def release(self, owner: str) -> None:
        self.calls["release"] += 1
        await super().release(owner)

    async def owned(self, owner: str) -> list[str]:
        self.calls["owned"] += 1
        return await super().owned(owner)


async def _park(dispatch: TaskDispatch) -> dict[str, Any]:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def _start_parked(runtime: TaskRuntime, n: int) -> list[Execution]:
    executions = []
    for _ in range(n):
        ex = runtime.start(_park, tool="t", policy=TaskPolicy(mode="optional"))
        await ex.promote()
        executions.append(ex)
    return executions


@pytest.mark.anyio
async def test_a_sweep_costs_the_same_store_calls_whatever_the_number_of_tasks() -> None:
    per_sweep: list[Counter[str]] = []
    for n in (1, 200):
        store = CountingStore()
        runtime = TaskRuntime(store, sweep_interval_s=3600, instance_id="a")
        async with runtime.running():
            await _start_parked(runtime, n)
            store.calls.clear()
            await runtime.sweep()
            per_sweep.append(Counter(store.calls))
    assert per_sweep[0] == per_sweep[1] == Counter({"heartbeat": 1})


@pytest.mark.anyio
async def test_a_clean_shutdown_frees_every_running_task_at_once() -> None:
    store = CountingStore()
    runtime = TaskRuntime(store, sweep_interval_s=3600, lease_s=3600, instance_id="leaving")
    async with runtime.running():
        executions = await _start_parked(runtime, 50)
        assert await store.claim_orphans(now_ms(), "other", limit=100) == []  # alive for an hour
    assert store.calls["release"] == 1
    claimed = await store.claim_orphans(now_ms(), "other", limit=100)  # no waiting for the lease
    assert sorted(r.task_id for r in claimed) == sorted(ex.task_id for ex in executions)


@pytest.mark.anyio
async def test_an_instance_thought_dead_stops_only_what_was_taken_from_it() -> None:
    store = MemoryStore()
    runtime = TaskRuntime(store, sweep_interval_s=3600, instance_id="slow")
    async with runtime.running():
        kept, taken = await _start_parked(runtime, 2)
        await store.release("slow")  # as if its heartbeat had run out during a long pause
        await store.heartbeat("other", now_ms() + 3_600_000)
        [claimed] = [r for r in await store.claim_orphans(now_ms(), "other") if r.task_id == taken.task_id] or [None]
        assert claimed is not None
        await store.update(kept.task_id, {"owner": "slow"}, owner="other")  # hand the other one back
        await runtime.sweep()  # heartbeat says "you were dead": compare with owned()
        with anyio.fail_after(10):
            while not taken.settled:
                await anyio.sleep(0.01)
        assert not kept.settled
        assert await store.owned("slow") == [kept.task_id]
        record = await store.get(taken.task_id)
        assert record is not None and record.owner == "other" and record.status == "working"  # not written by "slow"


@pytest.mark.anyio
async def test_a_restart_with_the_same_id_hands_back_what_the_earlier_process_left() -> None:
    store = MemoryStore()
    await store.heartbeat("fixed-id", now_ms() + 3_600_000)
    left = TaskRecord(task_id="left-behind", tool="t", owner="fixed-id")
    await store.create(left)
    runtime = TaskRuntime(store, sweep_interval_s=3600, instance_id="fixed-id")
    async with runtime.running():
        assert await store.owned("fixed-id") == []  # nothing runs it here: back to the queue
        got = await store.get("left-behind")
        assert got is not None and got.owner is None
        [claimed] = await store.claim_orphans(now_ms(), "worker")
        assert claimed.task_id == "left-behind" and claimed.attempts == 2


class SlowHousekeepingStore(MemoryStore):
    """A store whose housekeeping calls take 1 s once `slow` is set (a big takeover, a slow query)."""

    def __init__(self) -> None:
        super().__init__()
        self.slow = False

    async def answered_tasks(self, owner: str) -> list[str]:
        if self.slow:
            await anyio.sleep(1.0)
        return await super().answered_tasks(owner)


@pytest.mark.anyio
async def test_a_slow_housekeeping_pass_never_makes_a_live_instance_look_dead() -> None:
    store = SlowHousekeepingStore()
    runtime = TaskRuntime(store, lease_s=0.3, sweep_interval_s=0.05)
    async with runtime.running():
        [ex] = await _start_parked(runtime, 1)
        store.slow = True  # every sweep now takes over 1 s: three leases
        deadline = anyio.current_time() + 2.5
        while anyio.current_time() < deadline:
            # Another instance looking for orphans all along finds none: the heartbeat kept beating.
            assert await store.claim_orphans(now_ms(), "peer") == []
            await anyio.sleep(0.05)
        store.slow = False
        assert not ex.settled and (await store.get(ex.task_id)).owner == runtime.instance_id  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_the_release_on_shutdown_stays_in_force_while_slow_executions_are_cancelled() -> None:
    store = MemoryStore()
    runtime = TaskRuntime(store, lease_s=5.0, sweep_interval_s=0.02)

    async def slow_to_stop(dispatch: TaskDispatch) -> dict[str, Any]:
        try:
            await anyio.sleep_forever()
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # slow cleanup: many heartbeat intervals while the shutdown waits
            raise
        raise AssertionError("unreachable")

    async with runtime.running():
        ex = runtime.start(slow_to_stop, tool="t", policy=TaskPolicy(mode="optional"))
        await ex.promote()
        await anyio.sleep(0.1)  # the tool is in its try block
    # Released (alive until 0) and not renewed during the 0.3 s stop: a peer may claim at once.
    [taken] = await store.claim_orphans(now_ms(), "peer")
    assert taken.task_id == ex.task_id
