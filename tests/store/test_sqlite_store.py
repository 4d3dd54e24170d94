"""What only the SQLite backend promises: a file that survives restarts, a versioned schema, URLs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from offload.store import DEFAULT_STORE_URL, MemoryStore, SQLiteStore, StoreFull, now_ms, open_store
from offload.store.sqlite import SCHEMA_VERSION
from store_contract import T0, sample_record


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.anyio
async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    store = SQLiteStore(path)
    await store.open()
    kept = sample_record("kept")
    done = sample_record("done", status="working", input_requests={})
    gone = sample_record("gone", ttl_ms=1)
    for rec in (kept, done, gone):
        await store.create(rec)
    finished = await store.update("done", {"status": "completed", "result": {"content": [{"type": "text"}]}})
    assert finished is not None
    assert await store.purge_expired(T0 + 1) == 1
    await store.close()

    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        assert await reopened.get("kept") == kept
        assert await reopened.get("done") == finished
        assert await reopened.get("gone") is None
        # still a working store after the restart, terminal still final
        assert await reopened.update("done", {"status": "cancelled"}) is None
        taken = await reopened.answer("kept", {"elicitation-1.1": {"action": "accept"}})
        assert taken == {"elicitation-1.1": {"action": "accept"}}
        claimed = await reopened.claim_orphans(T0 + 30_001, "instance-b")  # instance-a never heartbeated
        assert [rec.task_id for rec in claimed] == ["kept"]
    finally:
        await reopened.close()

    third = SQLiteStore(path)
    await third.open()
    try:
        got = await third.get("kept")
        assert got is not None
        assert (got.status, got.input_requests, got.owner, got.attempts) == ("working", {}, "instance-b", 3)
    finally:
        await third.close()


@pytest.mark.anyio
async def test_writes_are_visible_to_another_instance_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = SQLiteStore(path), SQLiteStore(path)
    await a.open()
    await b.open()
    try:
        await a.create(sample_record("t1"))
        assert await b.get("t1") == sample_record("t1")
        with pytest.raises(ValueError, match="already exists"):
            await b.create(sample_record("t1", tool="other"))
        assert await b.update("t1", {"status": "completed", "result": {}}) is not None
        assert await a.update("t1", {"status": "cancelled"}) is None
        got = await a.get("t1")
        assert got is not None and got.status == "completed"
    finally:
        await a.close()
        await b.close()


@pytest.mark.anyio
async def test_two_instances_claiming_the_same_file_never_share_a_task(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    stores = [SQLiteStore(path) for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        ids = [f"orphan-{i}" for i in range(40)]
        for tid in ids:
            owner = "dead" if len(tid) % 2 else None
            await stores[0].create(sample_record(tid, status="working", input_requests={}, owner=owner))
        claims: dict[str, list[str]] = {}

        async def claimer(idx: int) -> None:
            owner = f"instance-{idx}"
            mine = claims.setdefault(owner, [])
            await stores[idx].heartbeat(owner, T0 + 60_000, at_ms=T0)
            while got := await stores[idx].claim_orphans(T0, owner, limit=3):
                mine.extend(rec.task_id for rec in got)
                await anyio.sleep(0)

        async with anyio.create_task_group() as tg:
            for idx in range(len(stores)):
                tg.start_soon(claimer, idx)

        claimed = [tid for tids in claims.values() for tid in tids]
        assert sorted(claimed) == sorted(ids)
        for owner, tids in claims.items():
            for tid in tids:
                got = await stores[0].get(tid)
                assert got is not None and got.owner == owner and got.attempts == 3
    finally:
        for s in stores:
            await s.close()


@pytest.mark.anyio
async def test_schema_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    assert SCHEMA_VERSION >= 1
    assert _user_version(path) == SCHEMA_VERSION
    # opening an up-to-date file again migrates nothing and keeps the data
    store = SQLiteStore(path)
    await store.open()
    await store.create(sample_record("x"))
    await store.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.get("x") == sample_record("x")
    finally:
        await store.close()
    assert _user_version(path) == SCHEMA_VERSION


@pytest.mark.anyio
async def test_file_from_a_newer_offload_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future_things (x)")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()

    store = SQLiteStore(path)
    with pytest.raises(RuntimeError, match=rf"schema v{SCHEMA_VERSION + 1} is newer than this offload"):
        await store.open()
    # nothing was changed, and the store did not half-open
    assert _user_version(path) == SCHEMA_VERSION + 1
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert tables == {"future_things"}
    with pytest.raises(RuntimeError, match="not open"):
        await store.get("x")
    with pytest.raises(RuntimeError, match="not open"):
        await store.create(sample_record("x"))
    await store.close()  # harmless


@pytest.mark.anyio
async def test_open_and_close_are_idempotent(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "tasks.db")
    await store.open()
    await store.open()
    await store.create(sample_record("a"))
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        await store.update("a", {"status_message": "x"})


@pytest.mark.anyio
async def test_open_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "tasks.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    assert path.exists()


# -- open_store URLs --


@pytest.mark.anyio
async def test_open_store_relative_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel.db")
    assert isinstance(store, SQLiteStore)
    assert store.path == "rel.db"
    await store.open()
    try:
        await store.create(sample_record("r"))
    finally:
        await store.close()
    assert (tmp_path / "rel.db").is_file()
    assert _user_version(tmp_path / "rel.db") == SCHEMA_VERSION


@pytest.mark.anyio
async def test_open_store_relative_sqlite_url_with_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/sub/tasks.db")
    assert isinstance(store, SQLiteStore)
    await store.open()
    await store.close()
    assert (tmp_path / "data" / "sub" / "tasks.db").is_file()


@pytest.mark.anyio
async def test_open_store_absolute_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    target = tmp_path / "abs" / "path.db"
    assert str(target).startswith("/")
    url = f"sqlite:///{target}"  # four slashes: sqlite:////abs/path.db
    assert url.startswith("sqlite:////")
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == str(target)
    assert store.url == url
    await store.open()
    try:
        await store.create(sample_record("a"))
    finally:
        await store.close()
    assert target.is_file()
    assert not any(elsewhere.iterdir())  # nothing written relative to the working directory


def test_store_url_round_trips_through_open_store(tmp_path: Path) -> None:
    for path in ("rel.db", "sub/dir/t.db", str(tmp_path / "abs.db")):
        store = SQLiteStore(path)
        again = open_store(store.url)
        assert isinstance(again, SQLiteStore) and again.path == path


def test_default_store_url_is_a_relative_sqlite_file() -> None:
    store = open_store(DEFAULT_STORE_URL)
    assert isinstance(store, SQLiteStore)
    assert not store.path.startswith("/")


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["memory://", "memory:"])
async def test_open_store_memory_url(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, MemoryStore)
    assert store.url == "memory://"
    await store.open()
    await store.create(sample_record("m"))
    assert await store.get("m") == sample_record("m")
    await store.close()
    assert open_store(url) is not store  # a fresh store each time


@pytest.mark.anyio
async def test_open_store_sqlite_in_memory_url_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///:memory:")
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        await store.create(sample_record("m"))
        assert await store.get("m") == sample_record("m")
        assert await store.update("m", {"status": "completed", "result": {}}) is not None
        assert len(await store.claim_orphans(T0 + 10**9, "x")) == 0
    finally:
        await store.close()
    assert not any(tmp_path.iterdir())  # no file named ":memory:" left behind
    # a fresh in-memory store starts empty
    fresh = open_store("sqlite:///:memory:")
    await fresh.open()
    try:
        assert await fresh.get("m") is None
    finally:
        await fresh.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "sqlite:",
        "memory",
        "file:///tmp/x.db",
        "tasks.db",
        "SQLITE:///x",
    ],
)
def test_open_store_rejects_unsupported_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported store URL .*expected sqlite:///PATH, memory://"):
        open_store(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///"])
def test_open_store_rejects_sqlite_url_without_a_path(url: str) -> None:
    with pytest.raises(ValueError, match=r"names no file: use sqlite:///PATH"):
        open_store(url)


@pytest.mark.anyio
async def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    """Schema upgrades run step by step on open; rows written by the older schema stay readable."""
    from offload.store.sqlite import _MIGRATIONS

    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        for stmt in _MIGRATIONS[1]:
            db.execute(stmt)
        db.execute("PRAGMA user_version=1")
        db.execute(
            "INSERT INTO tasks (task_id, tool, status, created_ms, updated_ms, input_requests) "
            "VALUES ('old', 'tool', 'input_required', 1, 1, '{\"k\": {\"method\": \"elicitation/create\"}}')"
        )
    store = SQLiteStore(path)
    await store.open()
    try:
        assert _user_version(path) == SCHEMA_VERSION == 6
        old = await store.get("old")
        assert old is not None and old.status == "input_required"
        assert await store.answer("old", {"k": {"action": "accept"}}) == {"k": {"action": "accept"}}
        assert await store.take_answers("old") == {"k": {"action": "accept"}}  # the v2 column works
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_version_5_file_gains_a_journal_that_goes_with_its_tasks(tmp_path: Path) -> None:
    """v6 adds the journal table; tasks written before it get an empty journal, then a full one."""
    from offload.store.sqlite import _MIGRATIONS

    path = tmp_path / "v5.db"
    with sqlite3.connect(path) as db:
        for step in range(1, 6):
            for stmt in _MIGRATIONS[step]:
                db.execute(stmt)
        db.execute("PRAGMA user_version=5")
        db.execute(
            "INSERT INTO tasks (task_id, tool, status, created_ms, updated_ms, ttl_ms, expires_ms, owner, "
            "input_requests) VALUES ('old', 't', 'input_required', ?, ?, 10, ?, 'me', ?)",
            (T0, T0, T0 + 10, '{"k":{"method":"elicitation/create","params":{"message":"?"}}}'),
        )
    store = SQLiteStore(path)
    await store.open()
    try:
        assert _user_version(path) == SCHEMA_VERSION
        assert await store.journal("old") == {}
        assert await store.answer("old", {"k": {"action": "accept"}}) == {"k": {"action": "accept"}}
        assert await store.record("old", "step", {"v": 1}, owner="me") is True
        assert await store.journal("old") == {
            "k": {"method": "elicitation/create", "params": {"message": "?"}, "answer": {"action": "accept"}},
            "step": {"v": 1},
        }
        assert await store.purge_expired(T0 + 10) == 1
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM task_journal").fetchone()[0] == 0
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_version_2_file_turns_leases_into_instances(tmp_path: Path) -> None:
    """v2 held a lease per task; v3 makes each live owner an instance alive until its latest lease."""
    from offload.store.sqlite import _MIGRATIONS

    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as db:
        for step in (1, 2):
            for stmt in _MIGRATIONS[step]:
                db.execute(stmt)
        db.execute("PRAGMA user_version=2")
        for tid, status, owner, lease, attempts in [
            ("a1", "working", "a", T0 + 5_000, 1),
            ("a2", "input_required", "a", T0 + 9_000, 1),
            ("b1", "working", "b", T0 - 1, 1),
            ("queued", "working", None, 0, 0),
            ("done", "completed", "c", T0 - 1, 1),
        ]:
            db.execute(
                "INSERT INTO tasks (task_id, tool, status, created_ms, updated_ms, owner, lease_ms, attempts) "
                "VALUES (?, 't', ?, ?, ?, ?, ?, ?)",
                (tid, status, T0, T0, owner, lease, attempts),
            )
    store = SQLiteStore(path)
    await store.open()
    try:
        assert _user_version(path) == SCHEMA_VERSION
        with sqlite3.connect(path) as db:
            assert dict(db.execute("SELECT owner, alive_until_ms FROM instances").fetchall()) == {
                "a": T0 + 9_000,
                "b": T0 - 1,
            }
            columns = {row[1] for row in db.execute("PRAGMA table_info(tasks)")}
        assert "lease_ms" not in columns
        assert sorted(await store.owned("a")) == ["a1", "a2"]
        claimed = await store.claim_orphans(T0, "new")
        assert sorted((r.task_id, r.attempts) for r in claimed) == [("b1", 2), ("queued", 1)]
        assert sorted(r.task_id for r in await store.claim_orphans(T0 + 9_001, "new")) == ["a1", "a2"]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_full_disk_raises_store_full_and_the_store_recovers_when_space_is_freed(tiny_disk: Path) -> None:
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"\0" * 256 * 1024)  # what the operator frees once alerted
    store = SQLiteStore(tiny_disk / "tasks.db")
    await store.open()
    try:
        stored: list[str] = []
        blob = {"content": [{"type": "text", "text": "x" * 20_000}]}
        with pytest.raises(StoreFull, match="full"):
            for i in range(1000):
                await store.create(sample_record(f"t{i}", result=blob))
                stored.append(f"t{i}")
        assert 0 < len(stored) < 1000
        for tid in (stored[0], stored[-1]):  # what was acknowledged is still there and readable
            assert await store.get(tid) == sample_record(tid, result=blob)
        ballast.unlink()
        await store.create(sample_record("after", result=blob))  # the same store object, not reopened
        assert await store.get("after") == sample_record("after", result=blob)
    finally:
        await store.close()


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "level"), [("sqlite:///a.db", 1), ("sqlite:///a.db?synchronous=full", 2)])
async def test_synchronous_full_is_chosen_by_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, level: int
) -> None:
    """NORMAL (1) survives a process crash; FULL (2) syncs the WAL at each commit (docs/durability.md)."""
    monkeypatch.chdir(tmp_path)
    store = open_store(url)
    assert isinstance(store, SQLiteStore) and store.url == url
    await store.open()
    try:
        assert store._writer is not None
        assert store._writer.conn.execute("PRAGMA synchronous").fetchone()[0] == level
        await store.create(sample_record("x"))
        assert await store.get("x") == sample_record("x")
    finally:
        await store.close()
    with pytest.raises(ValueError, match="unknown option 'sync'"):
        open_store("sqlite:///a.db?sync=full")
    with pytest.raises(ValueError, match="expected one of NORMAL, FULL"):
        open_store("sqlite:///a.db?synchronous=off")


@pytest.mark.anyio
async def test_changed_since_sees_other_processes_writes_only_and_tells_every_caller(tmp_path: Path) -> None:
    """Own writes (a heartbeat every sweep) do not make it scan; a write from another connection (another
    process) is returned to every caller that looks back past it, not only to the first."""
    path = tmp_path / "tasks.db"
    mine, theirs = SQLiteStore(path), SQLiteStore(path)
    await mine.open()
    await theirs.open()
    try:
        await mine.create(sample_record("t1", created_ms=now_ms(), status="working", input_requests={}))
        start = now_ms()
        first = await mine.changed_since({"t1"}, start - 5000)  # the first look always scans
        assert [r.task_id for r in first] == ["t1"]
        await mine.heartbeat("me", now_ms() + 5000)  # this process's own write
        scans: list[str] = []
        original = mine._query

        def counting(sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
            scans.append(sql)
            return original(sql, args)

        mine._query = counting  # type: ignore[method-assign]
        assert await mine.changed_since({"t1"}, now_ms()) == []
        assert not any("updated_ms" in q for q in scans)  # no scan for its own write
        await theirs.update("t1", {"status_message": "changed elsewhere"})
        since = now_ms() - 2000
        seen_by_sweep = await mine.changed_since({"t1"}, since)
        seen_by_push = await mine.changed_since({"t1"}, since)
        assert [r.status_message for r in seen_by_sweep] == ["changed elsewhere"]
        assert [r.status_message for r in seen_by_push] == ["changed elsewhere"]
    finally:
        await mine.close()
        await theirs.close()
