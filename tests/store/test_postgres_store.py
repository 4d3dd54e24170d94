"""What only the PostgreSQL backend promises, against a real server (tests/postgres_server.py).

The shared contract (tests/store_contract.py) runs against PostgreSQL too; these tests cover
what needs several store objects on one database, the schema's versioning and the URL.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import anyio
import asyncpg
import pytest

from offload.store import StoreUnavailable, TaskEvent, TaskRecord, open_store
from offload.store import postgres as pg
from offload.store.postgres import SCHEMA_VERSION, PostgresStore
from offload.store.urls import redact
from postgres_server import EmbeddedPostgres

T0 = 1_700_000_000_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def url(postgres_server: EmbeddedPostgres) -> str:
    """A database of this test's own: NOTIFY and advisory locks are not shared with other tests."""
    return await postgres_server.fresh_database()


@pytest.fixture
async def admin(url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


def _record(task_id: str, **fields: object) -> TaskRecord:
    base: dict[str, object] = {
        "tool": "slow_tool",
        "status": "working",
        "created_ms": T0,
        "ttl_ms": 3_600_000,
        "owner": "dead",
        "request": {"name": "slow_tool", "arguments": {"n": [1, 2, {"x": None}]}, "_meta": {"k": "ü"}},
    }
    base.update(fields)
    return TaskRecord(task_id=task_id, **base)  # type: ignore[arg-type]


async def _versions(conn: asyncpg.Connection[asyncpg.Record]) -> list[int]:
    return [row["version"] for row in await conn.fetch("SELECT version FROM offload_schema ORDER BY version")]


async def _tables(conn: asyncpg.Connection[asyncpg.Record]) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {row["tablename"] for row in rows}


# -- schema --


@pytest.mark.anyio
async def test_schema_is_created_recorded_and_kept_across_reopens(
    url: str, admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    store = PostgresStore(url)
    await store.open()
    await store.open()  # idempotent
    try:
        await store.create(_record("kept"))
    finally:
        await store.close()
        await store.close()
    tables = {
        "offload_schema",
        "offload_tasks",
        "offload_instances",
        "offload_blobs",
        "offload_durations",
        "offload_journal",
    }
    assert await _tables(admin) == tables
    assert await _versions(admin) == list(range(1, SCHEMA_VERSION + 1))
    indexes = {row["indexname"] for row in await admin.fetch("SELECT indexname FROM pg_indexes")}
    assert {
        "offload_tasks_live_owner",
        "offload_tasks_expires",
        "offload_tasks_answers",
        "offload_instances_alive",
    } <= indexes
    assert "offload_tasks_lease" not in indexes
    json_columns = await admin.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name='offload_tasks' AND data_type='jsonb'"
    )
    assert {row["column_name"] for row in json_columns} == {
        "result",
        "error",
        "input_requests",
        "request",
        "answers",
    }

    again = PostgresStore(url)
    await again.open()
    try:
        assert await again.get("kept") == _record("kept")
    finally:
        await again.close()
    assert await _versions(admin) == list(range(1, SCHEMA_VERSION + 1))  # nothing applied twice
    with pytest.raises(RuntimeError, match="not open"):
        await again.get("kept")


@pytest.mark.anyio
async def test_instances_opening_at_once_migrate_once(url: str, admin: asyncpg.Connection[asyncpg.Record]) -> None:
    stores = [PostgresStore(url, max_size=2) for _ in range(6)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        assert await _versions(admin) == list(range(1, SCHEMA_VERSION + 1))
        await stores[0].create(_record("shared"))
        for s in stores:
            assert await s.get("shared") == _record("shared")
    finally:
        await asyncio.gather(*(s.close() for s in stores))


@pytest.mark.anyio
async def test_a_database_from_a_newer_offload_is_refused(
    url: str, admin: asyncpg.Connection[asyncpg.Record], postgres_server: EmbeddedPostgres
) -> None:
    await admin.execute("CREATE TABLE offload_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
    await admin.execute("INSERT INTO offload_schema VALUES ($1, 0)", SCHEMA_VERSION + 1)
    store = PostgresStore(url)
    with pytest.raises(RuntimeError, match=rf"schema v{SCHEMA_VERSION + 1} is newer than this offload"):
        await store.open()
    # nothing was changed, the store did not half-open, and it left no connection behind
    assert await _tables(admin) == {"offload_schema"}
    assert await _versions(admin) == [SCHEMA_VERSION + 1]
    with pytest.raises(RuntimeError, match="not open"):
        await store.create(_record("x"))
    await store.close()  # harmless
    others = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert others == 0


@pytest.mark.anyio
async def test_an_older_schema_is_upgraded_step_by_step(
    url: str, admin: asyncpg.Connection[asyncpg.Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresStore(url)
    await store.open()
    await store.create(_record("old", status="input_required", input_requests={"k": {"method": "x"}}))
    await store.close()

    # a later offload adds a step
    step = SCHEMA_VERSION + 1
    monkeypatch.setitem(pg._MIGRATIONS, step, ["ALTER TABLE offload_tasks ADD COLUMN later TEXT"])
    monkeypatch.setattr(pg, "SCHEMA_VERSION", step)
    upgraded = PostgresStore(url)
    await upgraded.open()
    try:
        assert await _versions(admin) == list(range(1, step + 1))
        assert await admin.fetchval("SELECT count(later) FROM offload_tasks") == 0  # the new column exists
        assert await upgraded.answer("old", {"k": 1}) == {"k": 1}
        assert await upgraded.take_answers("old") == {"k": 1}
    finally:
        await upgraded.close()


# -- several instances on one database --


@pytest.mark.anyio
async def test_instances_never_claim_the_same_orphan(url: str) -> None:
    stores = [PostgresStore(url, max_size=3) for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        ids = [f"orphan-{i}" for i in range(90)]
        for tid in ids:
            await stores[0].create(_record(tid))
        claims: dict[str, list[str]] = {}

        async def claimer(store: PostgresStore, owner: str) -> None:
            mine = claims.setdefault(owner, [])
            await store.heartbeat(owner, T0 + 60_000, at_ms=T0)
            while got := await store.claim_orphans(T0, owner, limit=4):
                mine.extend(rec.task_id for rec in got)
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            for i, s in enumerate(stores):
                for j in range(2):  # two claimers per instance, on separate pool connections
                    tg.start_soon(claimer, s, f"instance-{i}-{j}")

        claimed = [tid for tids in claims.values() for tid in tids]
        assert sorted(claimed) == sorted(ids)  # every orphan once, none twice
        for owner, tids in claims.items():
            for tid in tids:
                got = await stores[1].get(tid)
                assert got is not None and got.owner == owner and got.attempts == 2
    finally:
        for s in stores:
            await s.close()


@pytest.mark.anyio
async def test_owner_bound_writes_and_answers_cross_instances(url: str) -> None:
    a, b = PostgresStore(url), PostgresStore(url)
    await a.open()
    await b.open()
    try:
        await a.create(_record("t", status="input_required", input_requests={"q": {}}))
        await a.heartbeat("a", T0 + 60_000, at_ms=T0)
        [claimed] = await a.claim_orphans(T0, "a")
        assert claimed.owner == "a"
        assert await b.claim_orphans(T0, "b") == []
        assert await b.answer("t", {"q": {"action": "accept"}}) == {"q": {"action": "accept"}}
        assert await a.answered_tasks("a") == ["t"]
        assert await a.take_answers("t") == {"q": {"action": "accept"}}
        assert await b.update("t", {"status": "completed", "result": {}}, owner="b") is None
        assert await b.owned("b") == []
        assert await b.owned("a") == ["t"]
        assert await b.heartbeat("a", T0 + 90_000, at_ms=T0 + 1) is True
        done = await a.update("t", {"status": "completed", "result": {"ok": True}}, owner="a")
        assert done is not None and (await b.get("t")) == done
    finally:
        await a.close()
        await b.close()


@pytest.mark.anyio
async def test_events_cross_between_store_objects(url: str) -> None:
    a, b = PostgresStore(url), PostgresStore(url)
    await a.open()
    await b.open()
    seen_a: list[TaskEvent] = []
    seen_b: list[TaskEvent] = []
    try:
        a.subscribe(seen_a.append)
        unsubscribe_b = b.subscribe(seen_b.append)
        sent = TaskEvent("cancel", "task-ü", "instance-a")
        await a.publish(sent)
        with anyio.fail_after(10):
            while not (seen_a and seen_b):
                await anyio.sleep(0.01)
        await anyio.sleep(0.1)
        assert seen_a == seen_b == [sent]  # every instance once, the publisher included
        unsubscribe_b()
        second = TaskEvent("new", "task-2")
        await b.publish(second)
        with anyio.fail_after(10):
            while len(seen_a) < 2:
                await anyio.sleep(0.01)
        await anyio.sleep(0.1)
        assert seen_a == [sent, second]
        assert seen_b == [sent]
        assert a.shared_events and b.shared_events
    finally:
        await a.close()
        await b.close()


@pytest.mark.anyio
async def test_events_flow_again_after_the_listener_connection_is_killed(
    url: str, admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    listener, sender = PostgresStore(url), PostgresStore(url)
    await listener.open()
    await sender.open()
    seen: list[TaskEvent] = []
    listener.subscribe(seen.append)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        assert killed == 2  # both stores' listeners
        event = TaskEvent("changed", "task-1", "sender")
        with anyio.fail_after(20):
            while not seen:  # events sent while the listener is away are lost: keep sending
                await sender.publish(event)
                await anyio.sleep(0.1)
        assert set(seen) == {event}
        # the store still works for everything else too
        await listener.create(_record("after"))
        assert await sender.get("after") == _record("after")
    finally:
        await listener.close()
        await sender.close()


@pytest.mark.anyio
async def test_a_server_restart_is_ridden_out() -> None:
    """Operations wait for a restarting server; the listener comes back; nothing stored is lost."""
    server = EmbeddedPostgres()  # a private server: this one is shut down mid-test
    try:
        await anyio.to_thread.run_sync(server.start)
        store = PostgresStore(await server.fresh_database(), connect_retry_s=60, listen_check_s=0.5)
        await store.open()
        seen: list[TaskEvent] = []
        store.subscribe(seen.append)
        try:
            await store.create(_record("before"))
            await anyio.to_thread.run_sync(server.shutdown)  # every connection is closed

            async def restart_soon() -> None:
                await anyio.sleep(1.0)
                await anyio.to_thread.run_sync(server.restart)

            async with anyio.create_task_group() as tg:
                tg.start_soon(restart_soon)
                with anyio.fail_after(60):
                    got = await store.get("before")  # waits for the server instead of failing
            assert got == _record("before")
            await store.create(_record("after"))
            assert await store.get("after") == _record("after")
            event = TaskEvent("changed", "after", "me")
            with anyio.fail_after(30):
                while not seen:
                    await store.publish(event)
                    await anyio.sleep(0.2)
            assert set(seen) == {event}
        finally:
            await store.close()
    finally:
        await anyio.to_thread.run_sync(server.stop)


@pytest.mark.anyio
async def test_what_jsonb_cannot_hold_is_stored_safely(url: str) -> None:
    """NUL characters and NaN/Infinity would make the write fail (and the task unfinishable)."""
    store = PostgresStore(url)
    await store.open()
    try:
        record = _record("odd", status_message="bin\x00ary", result={"t": "a\x00b", "k\x00": [float("nan"), 1.5]})
        await store.create(record)
        got = await store.get("odd")
        assert got is not None
        assert got.status_message == "bin\ufffdary"
        assert got.result == {"t": "a\ufffdb", "k\ufffd": [None, 1.5]}
        done = await store.update(
            "odd", {"status": "completed", "status_message": "\x00", "result": {"inf": float("inf"), "s": "\\u0000"}}
        )
        assert done is not None
        assert done.status_message == "\ufffd"
        assert done.result == {"inf": None, "s": "\\u0000"}  # a backslash-u in the text is kept as it is
        assert await store.get("odd") == done
    finally:
        await store.close()


@pytest.mark.anyio
async def test_publish_on_a_closed_store_raises_not_open(url: str) -> None:
    store = PostgresStore(url)
    with pytest.raises(RuntimeError, match="not open"):
        await store.publish(TaskEvent("new", "x"))


@pytest.mark.anyio
async def test_a_schema_in_the_search_path_holds_the_tables(
    postgres_server: EmbeddedPostgres, url: str, admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    await admin.execute("CREATE SCHEMA tenant_a")
    await admin.execute("CREATE SCHEMA tenant_b")
    a, b = PostgresStore(f"{url}?search_path=tenant_a"), PostgresStore(f"{url}?search_path=tenant_b")
    await a.open()
    await b.open()
    try:
        await a.create(_record("only-in-a"))
        assert await b.get("only-in-a") is None
        assert await a.get("only-in-a") == _record("only-in-a")
    finally:
        await a.close()
        await b.close()
    assert await _tables(admin) == set()  # nothing in public
    counts = await admin.fetch("SELECT schemaname FROM pg_tables WHERE tablename = 'offload_tasks' ORDER BY 1")
    assert [row["schemaname"] for row in counts] == ["tenant_a", "tenant_b"]


# -- URLs --


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_open_store_selects_postgres(scheme: str, url: str) -> None:
    store = open_store(url.replace("postgresql://", f"{scheme}://", 1))
    assert isinstance(store, PostgresStore)
    await store.open()
    try:
        await store.create(_record("via-url"))
        assert await store.get("via-url") == _record("via-url")
    finally:
        await store.close()


def test_store_url_hides_the_password() -> None:
    store = open_store("postgresql://app:s3cret@db.example:5433/tasks?sslmode=require")
    assert isinstance(store, PostgresStore)
    assert store.url == "postgresql://app:***@db.example:5433/tasks?sslmode=require"
    assert "s3cret" not in store.url
    assert redact("postgres://app@db/tasks") == "postgres://app@db/tasks"
    assert redact("postgresql://u:p@[::1]/d") == "postgresql://u:***@[::1]/d"


def test_without_asyncpg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # import asyncpg now raises ImportError
    monkeypatch.delitem(sys.modules, "offload.store.postgres")
    with pytest.raises(ImportError, match=r"offload\[postgres\]") as info:
        open_store("postgresql://app:s3cret@db/tasks")
    assert "s3cret" not in str(info.value)


@pytest.mark.anyio
async def test_a_version_1_database_turns_leases_into_instances(
    url: str, admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    """v1 held a lease per task; v2 makes each live owner an instance alive until its latest lease."""
    await admin.execute("CREATE TABLE offload_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
    for stmt in pg._MIGRATIONS[1]:
        await admin.execute(stmt)
    await admin.execute("INSERT INTO offload_schema VALUES (1, 0)")
    rows = [
        ("a1", "working", "a", T0 + 5_000, 1),
        ("a2", "input_required", "a", T0 + 9_000, 1),
        ("b1", "working", "b", T0 - 1, 1),
        ("queued", "working", None, 0, 0),
        ("done", "completed", "c", T0 - 1, 1),
    ]
    for tid, status, owner, lease, attempts in rows:
        await admin.execute(
            "INSERT INTO offload_tasks (task_id, tool, status, created_ms, updated_ms, owner, lease_ms, attempts) "
            "VALUES ($1, 't', $2, $3, $3, $4, $5, $6)",
            tid,
            status,
            T0,
            owner,
            lease,
            attempts,
        )
    store = PostgresStore(url)
    await store.open()
    try:
        assert await _versions(admin) == list(range(1, SCHEMA_VERSION + 1))
        instances = {r["owner"]: r["alive_until_ms"] for r in await admin.fetch("SELECT * FROM offload_instances")}
        assert instances == {"a": T0 + 9_000, "b": T0 - 1}
        assert sorted(await store.owned("a")) == ["a1", "a2"]
        claimed = await store.claim_orphans(T0, "new")
        assert sorted((r.task_id, r.attempts) for r in claimed) == [("b1", 2), ("queued", 1)]
        assert sorted(r.task_id for r in await store.claim_orphans(T0 + 9_001, "new")) == ["a1", "a2"]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_version_4_database_gains_a_journal_that_goes_with_its_tasks(
    url: str, admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    """v5 adds the journal table; tasks written before it get an empty journal, then a full one."""
    await admin.execute("CREATE TABLE offload_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
    for step in range(1, 5):
        for stmt in pg._MIGRATIONS[step]:
            await admin.execute(stmt)
        await admin.execute("INSERT INTO offload_schema VALUES ($1, 0)", step)
    await admin.execute(
        "INSERT INTO offload_tasks (task_id, tool, status, created_ms, updated_ms, expires_ms, ttl_ms, owner, "
        "input_requests) VALUES ('old', 't', 'input_required', $1, $1, $2, 10, 'me', $3::jsonb)",
        T0,
        T0 + 10,
        '{"k": {"method": "elicitation/create", "params": {"message": "?"}}}',
    )
    store = PostgresStore(url)
    await store.open()
    try:
        assert await _versions(admin) == list(range(1, SCHEMA_VERSION + 1))
        assert await store.journal("old") == {}
        assert await store.answer("old", {"k": {"action": "accept"}}) == {"k": {"action": "accept"}}
        assert await store.record("old", "step", {"v": 1}, owner="me") is True
        assert await store.journal("old") == {
            "k": {"method": "elicitation/create", "params": {"message": "?"}, "answer": {"action": "accept"}},
            "step": {"v": 1},
        }
        assert await store.purge_expired(T0 + 10) == 1
        assert await admin.fetchval("SELECT count(*) FROM offload_journal") == 0
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_stopped_server_is_reported_unavailable_and_recovered_from_without_reopening() -> None:
    server = EmbeddedPostgres()  # a private server: this one is shut down mid-test
    try:
        await anyio.to_thread.run_sync(server.start)
        store = PostgresStore(await server.fresh_database(), connect_retry_s=0.5)
        await store.open()
        try:
            await store.create(_record("kept"))
            await anyio.to_thread.run_sync(server.shutdown)
            for call in (store.get("kept"), store.create(_record("lost")), store.heartbeat("me", T0)):
                with pytest.raises(StoreUnavailable):
                    await call
            await anyio.to_thread.run_sync(server.restart)
            with anyio.fail_after(30):
                while True:  # pooled connections that died with the server are replaced as they are met
                    try:
                        got = await store.get("kept")
                        break
                    except StoreUnavailable:
                        await anyio.sleep(0.1)
            assert got == _record("kept")
            await store.create(_record("after"))
            assert await store.get("after") == _record("after")
        finally:
            await store.close()
    finally:
        await anyio.to_thread.run_sync(server.stop)
