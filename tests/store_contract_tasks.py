"""The store contract, part one: what a task is and how it changes (create, get, update, answer,
purge, races between writers, events). Runs on every backend through `StoreContract`."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from offload.store import TaskEvent, TaskRecord, TaskStore, now_ms
from store_samples import T0, asking, full_record, make, new_id


class TaskContract:
    # -- create / get --

    @pytest.mark.anyio
    async def test_create_then_get_round_trips_every_field(self, store: TaskStore) -> None:
        record = full_record()
        await store.create(record)
        got = await store.get(record.task_id)
        assert got == record
        assert got is not record
        # field by field too, so a failure names the field
        for name in record.__dataclass_fields__:
            assert getattr(got, name) == getattr(record, name), name

    @pytest.mark.anyio
    async def test_create_then_get_minimal_record_keeps_defaults(self, store: TaskStore) -> None:
        record = make(created_ms=T0)
        await store.create(record)
        got = await store.get(record.task_id)
        assert got == record
        assert got is not None
        assert got.status == "working"
        assert got.updated_ms == T0
        assert got.result is None and got.error is None and got.request is None
        assert got.input_requests == {}
        assert got.ttl_ms is None and got.owner is None
        assert got.attempts == 1

    @pytest.mark.anyio
    @pytest.mark.parametrize("status", ["working", "input_required", "completed", "failed", "cancelled"])
    async def test_create_keeps_any_status(self, store: TaskStore, status: str) -> None:
        record = make(status=status, result={"ok": 1} if status == "completed" else None)
        await store.create(record)
        assert await store.get(record.task_id) == record

    @pytest.mark.anyio
    async def test_get_unknown_is_none(self, store: TaskStore) -> None:
        assert await store.get("no-such-task") is None
        await store.create(make())
        assert await store.get("no-such-task") is None

    @pytest.mark.anyio
    async def test_duplicate_create_raises_and_keeps_the_original(self, store: TaskStore) -> None:
        first = full_record()
        await store.create(first)
        with pytest.raises(ValueError, match="already exists"):
            await store.create(make(first.task_id, tool="other", status="completed"))
        assert await store.get(first.task_id) == first
        # the store is still usable after the failed write
        other = make()
        await store.create(other)
        assert await store.get(other.task_id) == other

    @pytest.mark.anyio
    async def test_store_keeps_its_own_copy(self, store: TaskStore) -> None:
        """Mutating what was passed in, or what came out, never changes the stored task."""
        record = full_record()
        expected = full_record(record.task_id)
        await store.create(record)
        record.status = "completed"
        record.input_requests.clear()
        assert record.request is not None and record.result is not None
        record.request["arguments"]["tags"].append("mutated")
        record.result["content"].append({"type": "text", "text": "mutated"})
        assert await store.get(record.task_id) == expected

        got = await store.get(record.task_id)
        assert got is not None and got.request is not None and got.error is not None
        got.request["arguments"]["deep"]["x"].append(1)
        got.error["data"]["retry"] = False
        got.input_requests.pop("sampling-1.2")
        assert await store.get(record.task_id) == expected

        change_requests = {"k": {"method": "elicitation/create", "params": {"n": [1]}}}
        updated = await store.update(record.task_id, {"input_requests": change_requests})
        assert updated is not None
        change_requests["k"]["params"]["n"].append(2)
        change_requests["extra"] = {}
        updated.input_requests["k"]["params"]["n"].append(3)
        again = await store.get(record.task_id)
        assert again is not None
        assert again.input_requests == {"k": {"method": "elicitation/create", "params": {"n": [1]}}}

    # -- update --

    @pytest.mark.anyio
    async def test_update_applies_change_and_returns_new_state(self, store: TaskStore) -> None:
        record = full_record()
        record.status = "working"
        record.input_requests = {}
        await store.create(record)
        requests = {"elicitation-1.9": {"method": "elicitation/create", "params": {"message": "ok?"}}}
        new = await store.update(
            record.task_id,
            {
                "status": "input_required",
                "status_message": "need input",
                "input_requests": requests,
                "poll_interval_ms": 5000,
                "result": {"partial": [1, 2]},
                "error": None,
            },
        )
        assert new is not None
        assert new.status == "input_required"
        assert new.status_message == "need input"
        assert new.input_requests == requests
        assert new.poll_interval_ms == 5000
        assert new.result == {"partial": [1, 2]}
        assert new.error is None
        # untouched fields stay as they were
        for name in (
            "task_id",
            "tool",
            "created_ms",
            "ttl_ms",
            "principal",
            "owner",
            "attempts",
            "request",
        ):
            assert getattr(new, name) == getattr(record, name), name
        # what update returns is what get sees
        assert await store.get(record.task_id) == new

    @pytest.mark.anyio
    async def test_update_can_clear_nullable_fields(self, store: TaskStore) -> None:
        record = full_record()
        await store.create(record)
        new = await store.update(
            record.task_id,
            {"status_message": None, "poll_interval_ms": None, "ttl_ms": None, "owner": None},
        )
        assert new is not None
        assert (new.status_message, new.poll_interval_ms, new.ttl_ms, new.owner) == (None,) * 4
        assert await store.get(record.task_id) == new

    @pytest.mark.anyio
    async def test_update_bumps_updated_ms(self, store: TaskStore) -> None:
        start = now_ms()
        record = make(created_ms=start - 60_000)
        await store.create(record)
        assert record.updated_ms == start - 60_000
        new = await store.update(record.task_id, {"status_message": "step 1"})
        assert new is not None
        assert start <= new.updated_ms <= now_ms()
        assert new.created_ms == start - 60_000  # created stays put
        newer = await store.update(record.task_id, {"status_message": "step 2"})
        assert newer is not None
        assert newer.updated_ms >= new.updated_ms

    @pytest.mark.anyio
    async def test_update_never_moves_updated_ms_backwards(self, store: TaskStore) -> None:
        future = now_ms() + 3_600_000  # e.g. written by an instance whose clock runs ahead
        record = make(created_ms=future - 10, updated_ms=future)
        await store.create(record)
        new = await store.update(record.task_id, {"status_message": "x"})
        assert new is not None
        assert new.updated_ms == future
        got = await store.get(record.task_id)
        assert got is not None and got.updated_ms == future

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "final",
        [
            {"status": "completed", "result": {"content": [], "structured": {"v": 1}}, "input_requests": {}},
            {"status": "failed", "error": {"code": -32603, "message": "boom"}, "input_requests": {}},
            {"status": "cancelled", "status_message": "Cancelled", "input_requests": {}},
        ],
        ids=["completed", "failed", "cancelled"],
    )
    async def test_terminal_status_is_final(self, store: TaskStore, final: dict[str, Any]) -> None:
        record = make(status="input_required", input_requests={"a": {}}, ttl_ms=1000, created_ms=T0)
        await store.create(record)
        done = await store.update(record.task_id, final)  # type: ignore[arg-type]
        assert done is not None and done.status == final["status"]
        assert done.input_requests == {}
        snapshot = await store.get(record.task_id)
        assert snapshot == done

        for change in (
            {"status": "cancelled", "status_message": "too late"},
            {"status": "completed", "result": {"other": True}},
            {"status": "working"},
            {"status_message": "progress after the end"},
            {"input_requests": {"b": {}}, "status": "input_required"},
            {"ttl_ms": 5, "poll_interval_ms": 1, "owner": "x"},
        ):
            assert await store.update(record.task_id, change) is None  # type: ignore[arg-type]
            assert await store.get(record.task_id) == snapshot
        # the changed TTL above must not have taken effect either
        assert await store.purge_expired(T0 + 999) == 0
        assert await store.get(record.task_id) == snapshot

    @pytest.mark.anyio
    async def test_completed_then_cancelled_stays_completed(self, store: TaskStore) -> None:
        record = make()
        await store.create(record)
        assert await store.update(record.task_id, {"status": "completed", "result": {"v": 42}}) is not None
        assert await store.update(record.task_id, {"status": "cancelled", "status_message": "late"}) is None
        got = await store.get(record.task_id)
        assert got is not None
        assert got.status == "completed"
        assert got.result == {"v": 42}
        assert got.status_message is None

    @pytest.mark.anyio
    async def test_update_of_task_created_terminal_is_none(self, store: TaskStore) -> None:
        record = make(status="failed", error={"code": 1, "message": "m"})
        await store.create(record)
        assert await store.update(record.task_id, {"status": "working"}) is None
        assert await store.get(record.task_id) == record

    @pytest.mark.anyio
    async def test_update_unknown_is_none_and_creates_nothing(self, store: TaskStore) -> None:
        assert await store.update("no-such-task", {"status": "completed", "result": {}}) is None
        assert await store.get("no-such-task") is None

    @pytest.mark.anyio
    async def test_update_ttl_moves_expiry(self, store: TaskStore) -> None:
        record = make(created_ms=T0, ttl_ms=1000)
        await store.create(record)

        longer = await store.update(record.task_id, {"ttl_ms": 5000})
        assert longer is not None and longer.ttl_ms == 5000 and longer.expires_ms == T0 + 5000
        assert await store.purge_expired(T0 + 1000) == 0
        assert await store.purge_expired(T0 + 4999) == 0
        assert await store.get(record.task_id) is not None

        unlimited = await store.update(record.task_id, {"ttl_ms": None})
        assert unlimited is not None and unlimited.expires_ms is None
        assert await store.purge_expired(T0 + 10**12) == 0
        assert await store.get(record.task_id) is not None

        shorter = await store.update(record.task_id, {"ttl_ms": 10})
        assert shorter is not None and shorter.expires_ms == T0 + 10
        assert await store.purge_expired(T0 + 9) == 0
        assert await store.purge_expired(T0 + 10) == 1
        assert await store.get(record.task_id) is None

    # -- answer --

    @pytest.mark.anyio
    async def test_answer_partial_takes_outstanding_keys_and_keeps_input_required(self, store: TaskStore) -> None:
        start = now_ms()
        record = asking(created_ms=start - 60_000)
        await store.create(record)
        answer = {"action": "accept", "content": {"name": "Ada", "list": [1, 2]}}
        taken = await store.answer(record.task_id, {"elicitation-1.1": answer, "not-asked": {"x": 1}})
        assert taken == {"elicitation-1.1": answer}
        got = await store.get(record.task_id)
        assert got is not None
        assert got.status == "input_required"
        assert set(got.input_requests) == {"elicitation-1.2", "sampling-1.3"}
        assert got.input_requests["sampling-1.3"] == record.input_requests["sampling-1.3"]
        assert got.updated_ms >= start
        # nothing else moved
        assert (got.tool, got.created_ms, got.attempts, got.owner) == (
            record.tool,
            record.created_ms,
            record.attempts,
            record.owner,
        )

    @pytest.mark.anyio
    async def test_answer_ignores_unknown_and_already_answered_keys(self, store: TaskStore) -> None:
        record = asking()
        await store.create(record)
        assert await store.answer(record.task_id, {"elicitation-1.1": {"v": 1}}) == {"elicitation-1.1": {"v": 1}}
        before = await store.get(record.task_id)
        assert await store.answer(record.task_id, {"elicitation-1.1": {"v": 2}}) == {}
        assert await store.answer(record.task_id, {"nope": 1, "also-nope": 2}) == {}
        assert await store.answer(record.task_id, {}) == {}
        assert await store.get(record.task_id) == before

    @pytest.mark.anyio
    async def test_answering_the_last_keys_sets_working(self, store: TaskStore) -> None:
        record = asking()
        await store.create(record)
        await store.answer(record.task_id, {"elicitation-1.1": 1})
        taken = await store.answer(record.task_id, {"elicitation-1.2": 2, "sampling-1.3": 3, "elicitation-1.1": 4})
        assert taken == {"elicitation-1.2": 2, "sampling-1.3": 3}
        got = await store.get(record.task_id)
        assert got is not None
        assert got.status == "working"
        assert got.input_requests == {}

    @pytest.mark.anyio
    async def test_answering_everything_at_once_sets_working(self, store: TaskStore) -> None:
        record = asking()
        await store.create(record)
        responses = {key: {"answer": key} for key in record.input_requests}
        assert await store.answer(record.task_id, responses) == responses
        got = await store.get(record.task_id)
        assert got is not None and got.status == "working" and got.input_requests == {}

    @pytest.mark.anyio
    @pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
    async def test_answer_on_terminal_task_returns_empty(self, store: TaskStore, status: str) -> None:
        record = asking(status=status)  # leftover requests must not be answerable
        await store.create(record)
        assert await store.answer(record.task_id, {"elicitation-1.1": 1, "sampling-1.3": 2}) == {}
        assert await store.get(record.task_id) == record

    @pytest.mark.anyio
    async def test_answer_unknown_task_returns_empty(self, store: TaskStore) -> None:
        assert await store.answer("no-such-task", {"elicitation-1.1": 1}) == {}
        assert await store.get("no-such-task") is None

    @pytest.mark.anyio
    async def test_answer_after_cancel_takes_nothing(self, store: TaskStore) -> None:
        record = asking()
        await store.create(record)
        assert await store.update(record.task_id, {"status": "cancelled"}) is not None
        assert await store.answer(record.task_id, {"elicitation-1.1": 1}) == {}
        got = await store.get(record.task_id)
        assert got is not None and got.status == "cancelled"

    # -- purge_expired --

    @pytest.mark.anyio
    async def test_count_live_counts_a_principals_live_tasks_only(self, store: TaskStore) -> None:
        who = f"user:{new_id()}"
        ids = [new_id() for _ in range(4)]
        await store.create(make(ids[0], principal=who))
        await store.create(make(ids[1], principal=who, status="input_required"))
        await store.create(make(ids[2], principal=who, status="completed"))
        await store.create(make(ids[3], principal=f"other:{new_id()}"))
        assert await store.count_live(who) == 2
        await store.update(ids[0], {"status": "failed", "error": {"code": 1, "message": "x"}})
        assert await store.count_live(who) == 1
        assert await store.count_live(f"nobody:{new_id()}") == 0

    @pytest.mark.anyio
    async def test_purge_expired_removes_exactly_the_expired(self, store: TaskStore) -> None:
        at_100 = make(created_ms=T0, ttl_ms=100)  # expires T0+100
        at_100_done = make(created_ms=T0 + 40, ttl_ms=60, status="completed", result={})  # expires T0+100
        at_101 = make(created_ms=T0 + 1, ttl_ms=100)  # expires T0+101
        zero = make(created_ms=T0 + 100, ttl_ms=0)  # expires T0+100, the moment it was made
        forever = make(created_ms=T0 - 10**9, ttl_ms=None)
        forever_done = make(created_ms=T0 - 10**9, ttl_ms=None, status="failed", error={"code": 1, "message": "m"})
        for rec in (at_100, at_100_done, at_101, zero, forever, forever_done):
            await store.create(rec)

        assert await store.purge_expired(T0 + 99) == 0
        for rec in (at_100, at_100_done, at_101, zero, forever, forever_done):
            assert await store.get(rec.task_id) == rec

        assert await store.purge_expired(T0 + 100) == 3  # created_ms + ttl_ms <= now
        for rec in (at_100, at_100_done, zero):
            assert await store.get(rec.task_id) is None
        for rec in (at_101, forever, forever_done):
            assert await store.get(rec.task_id) == rec

        assert await store.purge_expired(T0 + 100) == 0
        assert await store.purge_expired(T0 + 101) == 1
        assert await store.get(at_101.task_id) is None

        assert await store.purge_expired(T0 + 10**12) == 0
        assert await store.get(forever.task_id) == forever
        assert await store.get(forever_done.task_id) == forever_done

    @pytest.mark.anyio
    async def test_purged_task_is_gone_for_every_method(self, store: TaskStore) -> None:
        record = asking(created_ms=T0, ttl_ms=1, owner="me")
        await store.create(record)
        assert await store.purge_expired(T0 + 1) == 1
        assert await store.get(record.task_id) is None
        assert await store.update(record.task_id, {"status": "completed"}) is None
        assert await store.answer(record.task_id, {"elicitation-1.1": 1}) == {}
        await store.release("me")
        assert await store.claim_orphans(T0 + 10, "other") == []
        assert await store.owned("me") == []
        # its id can be used again
        await store.create(make(record.task_id))
        assert await store.get(record.task_id) is not None

    # -- concurrency --

    @pytest.mark.anyio
    async def test_200_concurrent_creates_are_all_readable(self, store: TaskStore) -> None:
        records = [full_record() if i % 2 else make(ttl_ms=60_000, request={"i": i}) for i in range(200)]

        async with anyio.create_task_group() as tg:
            for rec in records:
                tg.start_soon(store.create, rec)

        for rec in records:
            assert await store.get(rec.task_id) == rec

    @pytest.mark.anyio
    async def test_concurrent_duplicate_creates_let_exactly_one_win(self, store: TaskStore) -> None:
        task_id = new_id()
        outcomes: list[str] = []

        async def attempt(i: int) -> None:
            try:
                await store.create(make(task_id, tool=f"tool-{i}"))
            except ValueError:
                outcomes.append("dup")
            else:
                outcomes.append(f"tool-{i}")

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(attempt, i)
        winners = [o for o in outcomes if o != "dup"]
        assert len(winners) == 1 and len(outcomes) == 10
        got = await store.get(task_id)
        assert got is not None and got.tool == winners[0]

    @pytest.mark.anyio
    async def test_racing_terminal_updates_leave_exactly_one_terminal_status(self, store: TaskStore) -> None:
        changes: list[dict[str, Any]] = [
            {"status": "completed", "result": {"content": [{"type": "text", "text": "done"}]}, "input_requests": {}},
            {"status": "cancelled", "status_message": "Cancelled at the client's request", "input_requests": {}},
            {"status": "failed", "error": {"code": -32603, "message": "lost"}, "input_requests": {}},
        ]
        for _ in range(20):
            record = asking()
            await store.create(record)
            returned: list[TaskRecord | None] = []

            async def write(change: dict[str, Any], task_id: str = record.task_id, out: list = returned) -> None:
                out.append(await store.update(task_id, change))  # type: ignore[arg-type]

            async def chatter(task_id: str = record.task_id) -> None:
                for i in range(5):
                    await store.update(task_id, {"status_message": f"progress {i}"})

            async with anyio.create_task_group() as tg:
                tg.start_soon(chatter)
                for change in changes:
                    tg.start_soon(write, change)

            winners = [rec for rec in returned if rec is not None]
            assert len(returned) == 3
            assert len(winners) == 1, [rec.status for rec in winners]
            final = await store.get(record.task_id)
            assert final is not None and final.terminal
            assert final.status == winners[0].status
            assert final.result == winners[0].result and final.error == winners[0].error
            assert final.input_requests == {}

    @pytest.mark.anyio
    async def test_racing_answers_take_each_key_once(self, store: TaskStore) -> None:
        record = asking()
        await store.create(record)
        keys = list(record.input_requests)
        taken: list[dict[str, Any]] = []

        async def answer(i: int) -> None:
            taken.append(await store.answer(record.task_id, {key: i for key in keys}))

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(answer, i)

        all_keys = [key for t in taken for key in t]
        assert sorted(all_keys) == sorted(keys)
        got = await store.get(record.task_id)
        assert got is not None and got.status == "working" and got.input_requests == {}

    # -- several instances on one store: owner-bound writes, answers waiting for the owner, events --

    @pytest.mark.anyio
    async def test_owner_bound_update_applies_only_for_the_holder(self, store: TaskStore) -> None:
        record = make(owner="a")
        await store.create(record)
        assert await store.update(record.task_id, {"status": "completed", "result": {"x": 1}}, owner="b") is None
        got = await store.get(record.task_id)
        assert got is not None and got.status == "working"  # the instance that lost the task cannot finish it
        done = await store.update(record.task_id, {"status": "completed", "result": {"x": 2}}, owner="a")
        assert done is not None and done.result == {"x": 2}

    @pytest.mark.anyio
    async def test_answers_wait_for_the_owner_until_taken(self, store: TaskStore) -> None:
        record = asking(owner="runner")
        await store.create(record)
        other = asking(owner="elsewhere")
        await store.create(other)
        assert await store.answered_tasks("runner") == []
        taken = await store.answer(record.task_id, {"elicitation-1.1": {"action": "accept"}, "bogus": 1})
        assert taken == {"elicitation-1.1": {"action": "accept"}}
        await store.answer(record.task_id, {"sampling-1.3": {"role": "assistant"}})
        await store.answer(other.task_id, {"elicitation-1.2": {"action": "decline"}})
        assert await store.answered_tasks("runner") == [record.task_id]
        waiting = await store.take_answers(record.task_id)
        assert waiting == {"elicitation-1.1": {"action": "accept"}, "sampling-1.3": {"role": "assistant"}}
        assert await store.take_answers(record.task_id) == {}  # taken once
        assert await store.answered_tasks("runner") == []
        assert await store.answered_tasks("elsewhere") == [other.task_id]
        assert await store.take_answers("no-such-task") == {}

    @pytest.mark.anyio
    async def test_events_reach_subscribers_until_they_unsubscribe(self, store: TaskStore) -> None:
        seen: list[TaskEvent] = []
        got_one = anyio.Event()

        def handler(event: TaskEvent) -> None:
            seen.append(event)
            got_one.set()

        unsubscribe = store.subscribe(handler)
        await anyio.sleep(0.05)  # a backend with a server may need a moment to start listening
        sent = TaskEvent("answer", "task-1", "instance-a")
        await store.publish(sent)
        with anyio.fail_after(10):
            await got_one.wait()
        assert seen == [sent]
        unsubscribe()
        await store.publish(TaskEvent("cancel", "task-2", "instance-a"))
        await anyio.sleep(0.2)
        assert seen == [sent]
