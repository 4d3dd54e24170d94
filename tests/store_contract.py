"""The contract every `TaskStore` backend must honour, run once per backend.

To test a new backend (Redis, PostgreSQL, ...), add one entry to `BACKENDS`: an async factory
that takes pytest's `tmp_path` and returns a fresh, empty, *not yet opened* store. The `store`
fixture opens it before the test and closes it after. Every test in `StoreContract` then runs
against it; `tests/test_store_contract.py` is what pytest collects.

Nothing here looks inside a backend: only the `TaskStore` methods are used, so a test that
fails names a real difference in behaviour, not an implementation detail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from offload.store import MemoryStore, SQLiteStore, TaskEvent, TaskRecord, TaskStore, now_ms

StoreFactory = Callable[[Path], Awaitable[TaskStore]]


async def _memory(tmp_path: Path) -> TaskStore:
    return MemoryStore()


async def _sqlite(tmp_path: Path) -> TaskStore:
    return SQLiteStore(tmp_path / "tasks.db")


async def _redis(tmp_path: Path) -> TaskStore:
    from redis_server import redis_url, unique_prefix

    url = redis_url()  # the session's redis-server; skips the test when the test extra is missing
    from offload.store.redis import RedisStore

    return RedisStore(url, prefix=unique_prefix())


async def _postgres(tmp_path: Path) -> TaskStore:
    from offload.store.postgres import PostgresStore
    from postgres_server import shared_server

    return PostgresStore(await shared_server().fresh_schema())  # the session's server, a new schema


BACKENDS: dict[str, StoreFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "redis": _redis,
    "postgres": _postgres,
}

T0 = 1_700_000_000_000  # a fixed "now" for tests that pass the clock explicitly


def sample_record(task_id: str, **fields: Any) -> TaskRecord:
    """A parked task with every field set (nested JSON, non-ASCII), for backend-specific tests."""
    base: dict[str, Any] = {
        "tool": "slow_tool",
        "status": "input_required",
        "status_message": "waiting",
        "created_ms": T0,
        "ttl_ms": 3_600_000,
        "poll_interval_ms": 500,
        "principal": "user:alice",
        "owner": "instance-a",
        "lease_ms": T0 + 30_000,
        "attempts": 2,
        "input_requests": {"elicitation-1.1": {"method": "elicitation/create", "params": {"message": "name?"}}},
        "request": {"name": "slow_tool", "arguments": {"n": [1, 2, {"x": None}]}, "_meta": {"k": "ü"}},
    }
    base.update(fields)
    return TaskRecord(task_id=task_id, **base)


def new_id() -> str:
    return uuid.uuid4().hex


def make(task_id: str | None = None, **fields: Any) -> TaskRecord:
    """A minimal record; `fields` override any TaskRecord field."""
    fields.setdefault("tool", "slow_tool")
    return TaskRecord(task_id=task_id or new_id(), **fields)


def full_record(task_id: str | None = None) -> TaskRecord:
    """A record with every field set to something other than its default, JSON fields nested."""
    return TaskRecord(
        task_id=task_id or new_id(),
        tool="résumé-tool",
        status="input_required",
        status_message="Waiting for you ✓",
        created_ms=T0,
        updated_ms=T0 + 1234,
        ttl_ms=86_400_000,
        poll_interval_ms=750,
        principal="user:alice",
        owner="instance-a",
        lease_ms=T0 + 30_000,
        attempts=3,
        result={"content": [{"type": "text", "text": "partial"}], "isError": False, "n": 1.5},
        error={"code": -32603, "message": "earlier failure", "data": {"retry": True, "why": None}},
        input_requests={
            "elicitation-1.1": {"method": "elicitation/create", "params": {"message": "Name?", "schema": {}}},
            "sampling-1.2": {"method": "sampling/createMessage", "params": {"messages": [1, "two", None]}},
        },
        request={"name": "slow_tool", "arguments": {"n": 3, "tags": ["a", "b"], "deep": {"x": [{}]}}, "_meta": {}},
    )


class StoreContract:
    """Subclass this in a test module; every backend in BACKENDS runs every test."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture(params=list(BACKENDS))
    async def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskStore]:
        backend = await BACKENDS[request.param](tmp_path)
        await backend.open()
        try:
            yield backend
        finally:
            await backend.close()

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
        assert got.ttl_ms is None and got.lease_ms is None and got.owner is None
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
            "lease_ms",
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
            {"status_message": None, "poll_interval_ms": None, "ttl_ms": None, "owner": None, "lease_ms": None},
        )
        assert new is not None
        assert (new.status_message, new.poll_interval_ms, new.ttl_ms, new.owner, new.lease_ms) == (None,) * 5
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
            {"ttl_ms": 5, "poll_interval_ms": 1, "owner": "x", "lease_ms": 1},
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

    @staticmethod
    def _asking(**fields: Any) -> TaskRecord:
        fields.setdefault("status", "input_required")
        fields.setdefault(
            "input_requests",
            {
                "elicitation-1.1": {"method": "elicitation/create", "params": {"message": "a"}},
                "elicitation-1.2": {"method": "elicitation/create", "params": {"message": "b"}},
                "sampling-1.3": {"method": "sampling/createMessage", "params": {"messages": []}},
            },
        )
        return make(**fields)

    @pytest.mark.anyio
    async def test_answer_partial_takes_outstanding_keys_and_keeps_input_required(self, store: TaskStore) -> None:
        start = now_ms()
        record = self._asking(created_ms=start - 60_000)
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
        record = self._asking()
        await store.create(record)
        assert await store.answer(record.task_id, {"elicitation-1.1": {"v": 1}}) == {"elicitation-1.1": {"v": 1}}
        before = await store.get(record.task_id)
        assert await store.answer(record.task_id, {"elicitation-1.1": {"v": 2}}) == {}
        assert await store.answer(record.task_id, {"nope": 1, "also-nope": 2}) == {}
        assert await store.answer(record.task_id, {}) == {}
        assert await store.get(record.task_id) == before

    @pytest.mark.anyio
    async def test_answering_the_last_keys_sets_working(self, store: TaskStore) -> None:
        record = self._asking()
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
        record = self._asking()
        await store.create(record)
        responses = {key: {"answer": key} for key in record.input_requests}
        assert await store.answer(record.task_id, responses) == responses
        got = await store.get(record.task_id)
        assert got is not None and got.status == "working" and got.input_requests == {}

    @pytest.mark.anyio
    @pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
    async def test_answer_on_terminal_task_returns_empty(self, store: TaskStore, status: str) -> None:
        record = self._asking(status=status)  # leftover requests must not be answerable
        await store.create(record)
        assert await store.answer(record.task_id, {"elicitation-1.1": 1, "sampling-1.3": 2}) == {}
        assert await store.get(record.task_id) == record

    @pytest.mark.anyio
    async def test_answer_unknown_task_returns_empty(self, store: TaskStore) -> None:
        assert await store.answer("no-such-task", {"elicitation-1.1": 1}) == {}
        assert await store.get("no-such-task") is None

    @pytest.mark.anyio
    async def test_answer_after_cancel_takes_nothing(self, store: TaskStore) -> None:
        record = self._asking()
        await store.create(record)
        assert await store.update(record.task_id, {"status": "cancelled"}) is not None
        assert await store.answer(record.task_id, {"elicitation-1.1": 1}) == {}
        got = await store.get(record.task_id)
        assert got is not None and got.status == "cancelled"

    # -- purge_expired --

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
        record = self._asking(created_ms=T0, ttl_ms=1, owner="me", lease_ms=T0)
        await store.create(record)
        assert await store.purge_expired(T0 + 1) == 1
        assert await store.get(record.task_id) is None
        assert await store.update(record.task_id, {"status": "completed"}) is None
        assert await store.answer(record.task_id, {"elicitation-1.1": 1}) == {}
        assert await store.claim_orphans(T0 + 10, "other", T0 + 100) == []
        # its id can be used again
        await store.create(make(record.task_id))
        assert await store.get(record.task_id) is not None

    # -- claim_orphans / renew --

    @pytest.mark.anyio
    async def test_claim_orphans_claims_only_live_tasks_with_lapsed_leases(self, store: TaskStore) -> None:
        lapsed = make(owner="dead", lease_ms=T0 - 1, attempts=1)
        lapsed_asking = self._asking(owner="dead", lease_ms=T0 - 10_000, attempts=2)
        lease_now = make(owner="alive", lease_ms=T0)  # not *before* now: still held
        held = make(owner="alive", lease_ms=T0 + 30_000)
        no_lease = make(owner=None, lease_ms=None)
        finished = [
            make(owner="dead", lease_ms=T0 - 1, status="completed", result={}),
            make(owner="dead", lease_ms=T0 - 1, status="failed", error={"code": 1, "message": "m"}),
            make(owner="dead", lease_ms=T0 - 1, status="cancelled"),
        ]
        untouched = [lease_now, held, no_lease, *finished]
        for rec in (lapsed, lapsed_asking, *untouched):
            await store.create(rec)

        claimed = await store.claim_orphans(T0, "me", T0 + 60_000)
        by_id = {rec.task_id: rec for rec in claimed}
        assert len(claimed) == len(by_id) == 2
        assert set(by_id) == {lapsed.task_id, lapsed_asking.task_id}
        for original in (lapsed, lapsed_asking):
            got = by_id[original.task_id]
            assert got.owner == "me"
            assert got.lease_ms == T0 + 60_000
            assert got.attempts == original.attempts + 1
            # the rest of the task comes back intact, so the claimer can run or fail it
            assert (got.status, got.input_requests, got.request, got.tool) == (
                original.status,
                original.input_requests,
                original.request,
                original.tool,
            )
            assert await store.get(original.task_id) == got
        for rec in untouched:
            assert await store.get(rec.task_id) == rec

        # claimed leases are live now: nothing more to claim at the same instant
        assert await store.claim_orphans(T0, "someone-else", T0 + 60_000) == []
        # once the new lease lapses too, the task is an orphan again
        again = await store.claim_orphans(T0 + 60_001, "third", T0 + 120_000)
        assert {rec.task_id for rec in again} == {
            lapsed.task_id,
            lapsed_asking.task_id,
            lease_now.task_id,
            held.task_id,
        }
        assert {rec.task_id: rec.attempts for rec in again} == {
            lapsed.task_id: 3,
            lapsed_asking.task_id: 4,
            lease_now.task_id: 2,
            held.task_id: 2,
        }

    @pytest.mark.anyio
    async def test_claim_orphans_respects_limit(self, store: TaskStore) -> None:
        orphans = [make(owner="dead", lease_ms=T0 - 1) for _ in range(7)]
        for rec in orphans:
            await store.create(rec)
        first = await store.claim_orphans(T0, "me", T0 + 1000, limit=3)
        assert len(first) == 3
        second = await store.claim_orphans(T0, "me", T0 + 1000, limit=3)
        assert len(second) == 3
        third = await store.claim_orphans(T0, "me", T0 + 1000, limit=3)
        assert len(third) == 1
        ids = [rec.task_id for rec in (*first, *second, *third)]
        assert sorted(ids) == sorted(rec.task_id for rec in orphans)
        assert await store.claim_orphans(T0, "me", T0 + 1000, limit=3) == []
        for rec in orphans:
            got = await store.get(rec.task_id)
            assert got is not None and got.attempts == 2 and got.owner == "me"

    @pytest.mark.anyio
    async def test_claim_orphans_default_limit_is_100(self, store: TaskStore) -> None:
        for _ in range(105):
            await store.create(make(owner="dead", lease_ms=T0 - 1))
        assert len(await store.claim_orphans(T0, "me", T0 + 1000)) == 100
        assert len(await store.claim_orphans(T0, "me", T0 + 1000)) == 5

    @pytest.mark.anyio
    async def test_concurrent_claimers_never_claim_the_same_task(self, store: TaskStore) -> None:
        orphans = [make(owner="dead", lease_ms=T0 - 1) for _ in range(60)]
        for rec in orphans:
            await store.create(rec)
        claims: dict[str, list[TaskRecord]] = {}

        async def claimer(owner: str) -> None:
            mine = claims.setdefault(owner, [])
            while True:
                got = await store.claim_orphans(T0, owner, T0 + 60_000, limit=4)
                if not got:
                    return
                mine.extend(got)
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(claimer, f"instance-{i}")

        all_claimed = [rec.task_id for recs in claims.values() for rec in recs]
        assert len(all_claimed) == len(set(all_claimed)) == len(orphans)
        assert set(all_claimed) == {rec.task_id for rec in orphans}
        for owner, recs in claims.items():
            for rec in recs:
                assert rec.owner == owner and rec.attempts == 2
                got = await store.get(rec.task_id)
                assert got is not None and got.owner == owner and got.attempts == 2

    @pytest.mark.anyio
    async def test_renew_extends_only_the_owners_live_tasks(self, store: TaskStore) -> None:
        mine = make(owner="me", lease_ms=T0)
        mine_asking = self._asking(owner="me", lease_ms=T0)
        mine_done = make(owner="me", lease_ms=T0, status="completed", result={})
        mine_unlisted = make(owner="me", lease_ms=T0)
        theirs = make(owner="them", lease_ms=T0)
        for rec in (mine, mine_asking, mine_done, mine_unlisted, theirs):
            await store.create(rec)

        listed = [mine.task_id, mine_asking.task_id, mine_done.task_id, theirs.task_id, "no-such-task"]
        lost = await store.renew("me", listed, T0 + 30_000)
        # what the owner no longer holds comes back, in the order asked: it should stop running those
        assert lost == [mine_done.task_id, theirs.task_id, "no-such-task"]
        for rec in (mine, mine_asking):
            got = await store.get(rec.task_id)
            assert got is not None
            assert got.lease_ms == T0 + 30_000
            # renewing changes the lease and nothing else
            got.lease_ms = rec.lease_ms
            assert got == rec
        for rec in (mine_done, mine_unlisted, theirs):
            assert await store.get(rec.task_id) == rec

        await store.renew("me", [], T0 + 99_999)  # nothing to do is fine
        got = await store.get(mine.task_id)
        assert got is not None and got.lease_ms == T0 + 30_000

        # renewed leases protect from claiming; the others lapsed at T0
        claimable = {rec.task_id for rec in await store.claim_orphans(T0 + 29_999, "other", T0 + 90_000)}
        assert claimable == {mine_unlisted.task_id, theirs.task_id}

    @pytest.mark.anyio
    async def test_renew_to_zero_releases_the_lease(self, store: TaskStore) -> None:
        mine = make(owner="me", lease_ms=T0 + 60_000)
        await store.create(mine)
        assert await store.claim_orphans(T0, "other", T0 + 1000) == []
        await store.renew("me", [mine.task_id], 0)
        claimed = await store.claim_orphans(T0, "other", T0 + 1000)
        assert [rec.task_id for rec in claimed] == [mine.task_id]
        assert claimed[0].owner == "other"
        # the old owner can no longer renew it
        await store.renew("me", [mine.task_id], T0 + 10**9)
        got = await store.get(mine.task_id)
        assert got is not None and got.owner == "other" and got.lease_ms == T0 + 1000

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
            record = self._asking()
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
        record = self._asking()
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
        record = make(owner="a", lease_ms=T0)
        await store.create(record)
        assert await store.update(record.task_id, {"status": "completed", "result": {"x": 1}}, owner="b") is None
        got = await store.get(record.task_id)
        assert got is not None and got.status == "working"  # the instance that lost the task cannot finish it
        done = await store.update(record.task_id, {"status": "completed", "result": {"x": 2}}, owner="a")
        assert done is not None and done.result == {"x": 2}

    @pytest.mark.anyio
    async def test_answers_wait_for_the_owner_until_taken(self, store: TaskStore) -> None:
        record = self._asking(owner="runner", lease_ms=T0 + 10**9)
        await store.create(record)
        other = self._asking(owner="elsewhere", lease_ms=T0 + 10**9)
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
