"""The store contract, part three: the rules every backend applies the same way before it writes
(which `Change` keys exist, which event kinds, what a value must be to be stored) and purging in
batches. Each test here caught a real disagreement between backends once."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from offload.store import StoreEncodingError, TaskEvent, TaskStore
from store_samples import T0, asking, make, raw_publish

ALLOWED = "error, input_requests, owner, poll_interval_ms, result, status, status_message, ttl_ms"


class RuleContract:
    @pytest.mark.anyio
    @pytest.mark.parametrize("key", ["lease_ms", "attempts", "task_id", "created_ms", "answers", "status; DROP"])
    async def test_an_unknown_change_key_is_refused_the_same_way_everywhere(self, store: TaskStore, key: str) -> None:
        record = make()
        await store.create(record)
        message = f"a task has no field {key!r} to update (allowed: {ALLOWED})"
        with pytest.raises(ValueError) as caught:
            await store.update(record.task_id, {"status_message": "x", key: 1})  # type: ignore[misc]
        assert str(caught.value) == message
        assert await store.get(record.task_id) == record  # nothing applied, not even the valid key
        with pytest.raises(ValueError, match="has no field"):  # also for a task that does not exist
            await store.update("no-such-task", {key: 1})  # type: ignore[misc]

    @pytest.mark.anyio
    async def test_a_status_that_is_not_one_of_the_five_is_refused(self, store: TaskStore) -> None:
        record = make()
        await store.create(record)
        with pytest.raises(ValueError, match="'done' is not a task status"):
            await store.update(record.task_id, {"status": "done"})
        with pytest.raises(ValueError, match="not a task status"):
            await store.create(make(status="running"))
        assert await store.get(record.task_id) == record

    @pytest.mark.anyio
    async def test_publishing_an_unknown_event_kind_is_refused(self, store: TaskStore) -> None:
        seen: list[TaskEvent] = []
        store.subscribe(seen.append)
        with pytest.raises(ValueError, match="unknown task event kind 'bogus'"):
            await store.publish(TaskEvent("bogus", "t", "x"))  # type: ignore[arg-type]
        await store.publish(TaskEvent("new", "t", "x"))
        with anyio.fail_after(10):
            while not seen:
                await anyio.sleep(0.01)
        assert seen == [TaskEvent("new", "t", "x")]

    @pytest.mark.anyio
    async def test_malformed_events_from_the_channel_are_ignored(self, store: TaskStore) -> None:
        seen: list[TaskEvent] = []
        store.subscribe(seen.append)
        await anyio.sleep(0.05)
        for payload in (
            '{"kind": "bogus", "task_id": "t"}',
            '{"kind": "cancel"}',
            '{"kind": "cancel", "task_id": 7}',
            '{"kind": "cancel", "task_id": "t", "origin": ["x"]}',
            "not json",
            "[1, 2]",
        ):
            await raw_publish(store, payload)
        await raw_publish(store, '{"kind": "answer", "task_id": "t"}')
        with anyio.fail_after(10):
            while not seen:
                await anyio.sleep(0.01)
        await anyio.sleep(0.1)
        assert seen == [TaskEvent("answer", "t", "")]

    @pytest.mark.anyio
    async def test_purging_more_than_one_batch_removes_them_all(self, store: TaskStore) -> None:
        store.purge_batch = 4
        expired = [make(created_ms=T0, ttl_ms=10, status="completed" if i % 3 else "working") for i in range(11)]
        kept = [make(created_ms=T0, ttl_ms=10_000), make(created_ms=T0)]
        for rec in (*expired, *kept):
            await store.create(rec)
        assert await store.purge_expired(T0 + 10) == len(expired)
        for rec in expired:
            assert await store.get(rec.task_id) is None
        for rec in kept:
            assert await store.get(rec.task_id) == rec
        assert await store.purge_expired(T0 + 10) == 0
        store.purge_batch = 3  # an exact multiple of the batch
        for rec in [make(created_ms=T0, ttl_ms=1) for _ in range(6)]:
            await store.create(rec)
        assert await store.purge_expired(T0 + 10) == 6

    @pytest.mark.anyio
    async def test_a_lone_surrogate_is_refused_before_anything_is_written(self, store: TaskStore) -> None:
        record = asking()
        await store.create(record)
        bad = {"content": [{"type": "text", "text": "half a pair \ud83d"}]}
        with pytest.raises(StoreEncodingError) as caught:
            await store.update(record.task_id, {"status": "completed", "result": bad, "input_requests": {}})
        assert caught.value.field == "result.content[0].text"
        assert "result.content[0].text" in str(caught.value) and "surrogate" in str(caught.value)
        assert await store.get(record.task_id) == record
        with pytest.raises(StoreEncodingError) as caught:
            await store.update(record.task_id, {"status_message": "\udc00"})
        assert caught.value.field == "status_message"
        with pytest.raises(StoreEncodingError):
            await store.answer(record.task_id, {"elicitation-1.1": {"text": "\ud800"}})
        assert await store.get(record.task_id) == record  # nothing taken
        fresh = make(request={"arguments": {"q": "\udfff"}})
        with pytest.raises(StoreEncodingError) as caught:
            await store.create(fresh)
        assert caught.value.field == "request.arguments.q"
        assert await store.get(fresh.task_id) is None
        # a proper pair (one code point) is fine, and the task is still writable
        done = await store.update(record.task_id, {"status": "completed", "result": {"t": "\U0001f600"}})
        assert done is not None and done.result == {"t": "\U0001f600"}

    @pytest.mark.anyio
    async def test_nan_and_infinity_come_back_as_null_everywhere(self, store: TaskStore) -> None:
        record = make()
        await store.create(record)
        result: dict[str, Any] = {"v": [math.nan, math.inf, -math.inf, 1.5], "n": {"x": math.nan}}
        done = await store.update(record.task_id, {"status": "completed", "result": result})
        assert done is not None and done.result == {"v": [None, None, None, 1.5], "n": {"x": None}}
        assert await store.get(record.task_id) == done

    @pytest.mark.anyio
    async def test_an_integer_past_64_bits_is_refused(self, store: TaskStore) -> None:
        record = make()
        await store.create(record)
        with pytest.raises(StoreEncodingError, match="ttl_ms"):
            await store.update(record.task_id, {"ttl_ms": 2**63})
        with pytest.raises(StoreEncodingError, match="poll_interval_ms"):
            await store.create(make(poll_interval_ms=-(2**63) - 1))
        assert await store.get(record.task_id) == record
