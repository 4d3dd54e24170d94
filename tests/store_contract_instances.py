"""The store contract, part two: instances. Heartbeats say who is alive (one write each, whatever
the number of tasks); `claim_orphans` hands out queued tasks and those of dead owners, once each;
`release` frees all of an owner's tasks at once; `owned` lists them."""

from __future__ import annotations

import anyio
import pytest

from offload.store import TaskRecord, TaskStore
from store_samples import T0, asking, make

#: The owner the runtime parks waiting tasks under: it heartbeats far into the future, so never dies.
PARKED = "(parked)"


class InstanceContract:
    @pytest.mark.anyio
    async def test_heartbeat_says_whether_the_owner_was_still_alive(self, store: TaskStore) -> None:
        assert await store.heartbeat("a", T0 + 1000, at_ms=T0) is False  # never seen before
        assert await store.heartbeat("a", T0 + 2000, at_ms=T0 + 1000) is True  # until is inclusive
        assert await store.heartbeat("a", T0 + 3000, at_ms=T0 + 1500) is True
        assert await store.heartbeat("a", T0 + 9000, at_ms=T0 + 3001) is False  # it had run out
        assert await store.heartbeat("a", T0 + 9500, at_ms=T0 + 4000) is True  # alive again
        await store.release("a")
        assert await store.heartbeat("a", T0 + 9600, at_ms=T0 + 4001) is False  # released: dead

    @pytest.mark.anyio
    async def test_claim_takes_queued_tasks_and_dead_owners_tasks_only(self, store: TaskStore) -> None:
        await store.heartbeat("alive", T0 + 30_000, at_ms=T0)
        await store.heartbeat("edge", T0, at_ms=T0 - 10)  # alive until exactly now: not dead yet
        await store.heartbeat("dead", T0 - 1, at_ms=T0 - 10)
        lapsed = make(owner="dead", attempts=1)
        lapsed_asking = asking(owner="dead", attempts=2)
        queued = make(owner=None, attempts=0)
        ghost = make(owner="never-heartbeated")  # an owner nobody heard from is dead
        held = make(owner="alive")
        edge_held = make(owner="edge")
        finished = [
            make(owner="dead", status="completed", result={}),
            make(owner="dead", status="failed", error={"code": 1, "message": "m"}),
            make(owner=None, status="cancelled"),
        ]
        untouched = [held, edge_held, *finished]
        for rec in (lapsed, lapsed_asking, queued, ghost, *untouched):
            await store.create(rec)

        await store.heartbeat("me", T0 + 30_000, at_ms=T0)
        claimed = await store.claim_orphans(T0, "me")
        by_id = {rec.task_id: rec for rec in claimed}
        assert len(claimed) == len(by_id) == 4
        assert set(by_id) == {lapsed.task_id, lapsed_asking.task_id, queued.task_id, ghost.task_id}
        for original in (lapsed, lapsed_asking, queued, ghost):
            got = by_id[original.task_id]
            assert got.owner == "me"
            assert got.attempts == original.attempts + 1
            # the rest of the task comes back intact, so the claimer can run or fail it
            got.owner, got.attempts = original.owner, original.attempts
            assert got == original
            stored = await store.get(original.task_id)
            assert stored is not None and stored.owner == "me" and stored.attempts == original.attempts + 1
        for rec in untouched:
            assert await store.get(rec.task_id) == rec
        assert sorted(await store.owned("me")) == sorted(by_id)
        assert await store.owned("dead") == []
        # nothing more to claim at the same instant, by anyone
        assert await store.claim_orphans(T0, "someone-else") == []
        # a dead owner left with no live task is forgotten: its next heartbeat says it was dead
        assert await store.heartbeat("dead", T0 + 60_000, at_ms=T0 + 1) is False
        # once the other heartbeats lapse, their tasks are orphans too (the claimer's included)
        again = await store.claim_orphans(T0 + 30_001, "third")
        assert {rec.task_id for rec in again} == {*by_id, held.task_id, edge_held.task_id}

    @pytest.mark.anyio
    async def test_an_instance_never_claims_its_own_tasks(self, store: TaskStore) -> None:
        await store.heartbeat("me", T0 - 1, at_ms=T0 - 10)
        mine = make(owner="me")
        await store.create(mine)
        assert await store.claim_orphans(T0, "me") == []  # it would run them twice
        [taken] = await store.claim_orphans(T0, "other")
        assert taken.task_id == mine.task_id and taken.owner == "other"

    @pytest.mark.anyio
    async def test_release_frees_every_task_of_the_owner_at_once(self, store: TaskStore) -> None:
        await store.heartbeat("leaving", T0 + 10**9, at_ms=T0)
        tasks = [make(owner="leaving") for _ in range(5)] + [asking(owner="leaving")]
        for rec in tasks:
            await store.create(rec)
        assert await store.claim_orphans(T0, "other") == []
        await store.release("leaving")
        claimed = await store.claim_orphans(T0, "other")
        assert sorted(r.task_id for r in claimed) == sorted(r.task_id for r in tasks)
        assert await store.owned("leaving") == []
        assert sorted(await store.owned("other")) == sorted(r.task_id for r in tasks)
        # the instance that left can no longer write to them
        assert await store.update(tasks[0].task_id, {"status": "completed", "result": {}}, owner="leaving") is None

    @pytest.mark.anyio
    async def test_owned_lists_the_live_tasks_an_owner_holds(self, store: TaskStore) -> None:
        await store.heartbeat("me", T0 + 10**9, at_ms=T0)
        mine = [make(owner="me"), asking(owner="me")]
        done = make(owner="me")
        theirs = make(owner="them")
        for rec in (*mine, done, theirs):
            await store.create(rec)
        assert await store.update(done.task_id, {"status": "completed", "result": {}}) is not None
        assert sorted(await store.owned("me")) == sorted(r.task_id for r in mine)
        assert await store.owned("them") == [theirs.task_id]
        assert await store.owned("nobody") == []
        # handing a task over moves it between owners
        assert await store.update(theirs.task_id, {"owner": "me"}, owner="them") is not None
        assert sorted(await store.owned("me")) == sorted([*(r.task_id for r in mine), theirs.task_id])
        assert await store.owned("them") == []
        assert await store.update(theirs.task_id, {"owner": None}) is not None  # back to the queue
        [requeued] = await store.claim_orphans(T0, "worker")
        assert requeued.task_id == theirs.task_id and requeued.attempts == 2

    @pytest.mark.anyio
    async def test_a_dead_owner_that_comes_back_keeps_what_was_not_taken(self, store: TaskStore) -> None:
        await store.heartbeat("slow", T0 - 1, at_ms=T0 - 10)
        tasks = [make(owner="slow") for _ in range(5)]
        for rec in tasks:
            await store.create(rec)
        taken = await store.claim_orphans(T0, "other", limit=2)
        assert len(taken) == 2
        assert await store.heartbeat("slow", T0 + 30_000, at_ms=T0) is False  # it was dead: look again
        left = sorted(await store.owned("slow"))
        assert left == sorted({r.task_id for r in tasks} - {r.task_id for r in taken})
        assert await store.claim_orphans(T0, "other") == []  # alive again: the rest stay with it

    @pytest.mark.anyio
    async def test_claim_orphans_respects_limit(self, store: TaskStore) -> None:
        orphans = [make(owner="dead") for _ in range(7)]
        for rec in orphans:
            await store.create(rec)
        first = await store.claim_orphans(T0, "me", limit=3)
        second = await store.claim_orphans(T0, "me", limit=3)
        third = await store.claim_orphans(T0, "me", limit=3)
        assert (len(first), len(second), len(third)) == (3, 3, 1)
        ids = [rec.task_id for rec in (*first, *second, *third)]
        assert sorted(ids) == sorted(rec.task_id for rec in orphans)
        assert await store.claim_orphans(T0, "me", limit=3) == []
        assert await store.claim_orphans(T0, "me", limit=0) == []
        for rec in orphans:
            got = await store.get(rec.task_id)
            assert got is not None and got.attempts == 2 and got.owner == "me"

    @pytest.mark.anyio
    async def test_claim_orphans_default_limit_is_100(self, store: TaskStore) -> None:
        for i in range(105):
            await store.create(make(owner=None if i % 2 else f"dead-{i % 3}", attempts=0))
        assert len(await store.claim_orphans(T0, "me")) == 100
        assert len(await store.claim_orphans(T0, "me")) == 5

    @pytest.mark.anyio
    async def test_queued_tasks_are_handed_out_oldest_first(self, store: TaskStore) -> None:
        queued = [make(owner=None, attempts=0, created_ms=T0 + i) for i in (3, 1, 2, 0)]
        for rec in queued:
            await store.create(rec)
        got = [r.created_ms for r in await store.claim_orphans(T0 + 10, "w", limit=2)]
        got += [r.created_ms for r in await store.claim_orphans(T0 + 10, "w", limit=2)]
        assert got == [T0, T0 + 1, T0 + 2, T0 + 3]

    @pytest.mark.anyio
    async def test_concurrent_claimers_never_claim_the_same_task(self, store: TaskStore) -> None:
        orphans = [make(owner="dead" if i % 2 else None) for i in range(60)]
        for rec in orphans:
            await store.create(rec)
        claims: dict[str, list[TaskRecord]] = {}

        async def claimer(owner: str) -> None:
            mine = claims.setdefault(owner, [])
            await store.heartbeat(owner, T0 + 60_000, at_ms=T0)
            while True:
                got = await store.claim_orphans(T0, owner, limit=4)
                if not got:
                    return
                mine.extend(got)
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(claimer, f"instance-{i}")

        all_claimed = [rec.task_id for recs in claims.values() for rec in recs]
        assert len(all_claimed) == len(set(all_claimed)) == len(orphans)
        for owner, recs in claims.items():
            assert sorted(await store.owned(owner)) == sorted(rec.task_id for rec in recs)
            for rec in recs:
                got = await store.get(rec.task_id)
                assert got is not None and got.owner == owner

    # -- parking: the runtime hands a waiting task to an owner that never dies, and takes it back --

    @pytest.mark.anyio
    async def test_tasks_of_an_owner_alive_far_into_the_future_are_never_claimed(self, store: TaskStore) -> None:
        assert await store.heartbeat(PARKED, 2**62) is False
        parked = [make(owner=PARKED), asking(owner=PARKED)]
        orphan = make(owner="dead")
        for rec in (*parked, orphan):
            await store.create(rec)
        for at in (T0, T0 + 10**12, 2**61):
            claimed = await store.claim_orphans(at, "me")
            assert PARKED not in {rec.owner for rec in claimed}
            assert not {rec.task_id for rec in claimed} & {rec.task_id for rec in parked}
        assert sorted(await store.owned(PARKED)) == sorted(rec.task_id for rec in parked)
        assert await store.owned("me") == [orphan.task_id]
        for rec in parked:
            assert await store.get(rec.task_id) == rec  # attempts and all untouched
        assert await store.heartbeat(PARKED, 2**62) is True  # still alive, never forgotten

    @pytest.mark.anyio
    async def test_a_parked_task_is_taken_back_by_exactly_one_racer(self, store: TaskStore) -> None:
        await store.heartbeat(PARKED, 2**62)
        tasks = [asking(owner=PARKED) for _ in range(10)]
        for rec in tasks:
            await store.create(rec)
        winners: dict[str, list[str]] = {rec.task_id: [] for rec in tasks}

        async def take(task_id: str, me: str) -> None:
            got = await store.update(task_id, {"owner": me}, owner=PARKED)
            if got is not None:
                assert got.owner == me
                winners[task_id].append(me)

        async with anyio.create_task_group() as tg:
            for rec in tasks:
                for i in range(3):
                    tg.start_soon(take, rec.task_id, f"instance-{i}")

        for rec in tasks:
            assert len(winners[rec.task_id]) == 1, winners[rec.task_id]
            got = await store.get(rec.task_id)
            assert got is not None and got.owner == winners[rec.task_id][0]
            assert got.attempts == rec.attempts and got.input_requests == rec.input_requests
        assert await store.owned(PARKED) == []
        taken = [tid for i in range(3) for tid in await store.owned(f"instance-{i}")]
        assert sorted(taken) == sorted(winners)
