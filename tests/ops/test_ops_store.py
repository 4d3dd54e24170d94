"""list_tasks, stats and purge_tasks on every backend (memory, SQLite, Redis, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from offload.store import TaskRecord, TaskStore
from store_contract import BACKENDS, T0

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=list(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskStore]:
    backend = await BACKENDS[request.param](tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


def rec(task_id: str, created: int, **fields: object) -> TaskRecord:
    fields.setdefault("tool", "alpha")
    return TaskRecord(task_id=task_id, created_ms=created, **fields)  # type: ignore[arg-type]


async def seed(store: TaskStore) -> None:
    # Two tasks share a millisecond: the id breaks the tie, so paging never drops or repeats one.
    await store.create(rec("t1", T0 + 1, status="completed", principal="alice", result={"content": []}))
    await store.create(rec("t2", T0 + 2, status="working", principal="bob", owner="i1"))
    await store.create(rec("t3", T0 + 3, status="input_required", tool="beta", principal="alice"))
    await store.create(rec("t4a", T0 + 4, status="failed", tool="beta", error={"code": 1, "message": "x"}))
    await store.create(rec("t4b", T0 + 4, status="cancelled"))
    await store.create(rec("t5", T0 + 5, status="working", principal="alice"))


def ids(records: list[TaskRecord]) -> list[str]:
    return [r.task_id for r in records]


async def test_newest_first_with_every_filter(store: TaskStore) -> None:
    await seed(store)
    page, cursor = await store.list_tasks()
    assert ids(page) == ["t5", "t4b", "t4a", "t3", "t2", "t1"] and cursor is None
    assert page[-1].result == {"content": []} and page[0].principal == "alice"  # whole records
    assert ids((await store.list_tasks(status="working"))[0]) == ["t5", "t2"]
    assert ids((await store.list_tasks(status=["working", "input_required"]))[0]) == ["t5", "t3", "t2"]
    assert ids((await store.list_tasks(tool="beta"))[0]) == ["t4a", "t3"]
    assert ids((await store.list_tasks(principal="alice"))[0]) == ["t5", "t3", "t1"]
    assert ids((await store.list_tasks(older_than_ms=T0 + 3))[0]) == ["t2", "t1"]
    assert ids((await store.list_tasks(principal="alice", tool="alpha", status="completed"))[0]) == ["t1"]
    assert (await store.list_tasks(tool="nope")) == ([], None)


async def test_pages_are_stable_while_tasks_arrive(store: TaskStore) -> None:
    await seed(store)
    seen: list[str] = []
    page, cursor = await store.list_tasks(limit=2)
    seen += ids(page)
    assert cursor is not None
    await store.create(rec("t9", T0 + 9))  # newer than every page handed out: not in the later pages
    while cursor is not None:
        page, cursor = await store.list_tasks(limit=2, cursor=cursor)
        assert len(page) <= 2
        seen += ids(page)
    assert seen == ["t5", "t4b", "t4a", "t3", "t2", "t1"]
    page, cursor = await store.list_tasks(limit=3, status="working")
    assert ids(page) == ["t9", "t5", "t2"] and cursor is None  # exactly a full page: no empty next page


async def test_bad_arguments_say_what_was_expected(store: TaskStore) -> None:
    with pytest.raises(ValueError, match="unknown task status 'done'"):
        await store.list_tasks(status="done")
    with pytest.raises(ValueError, match="invalid cursor"):
        await store.list_tasks(cursor="garbage")
    with pytest.raises(ValueError, match="limit"):
        await store.list_tasks(limit=0)


async def test_stats_count_per_status_and_tool(store: TaskStore) -> None:
    assert await store.stats() == {"total": 0, "live": 0, "by_status": {}, "by_tool": {}}
    await seed(store)
    assert await store.stats() == {
        "total": 6,
        "live": 3,
        "by_status": {"cancelled": 1, "completed": 1, "failed": 1, "input_required": 1, "working": 2},
        "by_tool": {
            "alpha": {"cancelled": 1, "completed": 1, "working": 2},
            "beta": {"failed": 1, "input_required": 1},
        },
    }


async def test_purge_deletes_only_terminal_tasks(store: TaskStore) -> None:
    await seed(store)
    gone = await store.purge_tasks(["t1", "t2", "t3", "t4a", "t4a", "missing"])
    assert sorted(gone) == ["t1", "t4a"]
    assert await store.get("t1") is None and await store.get("t4a") is None
    live = await store.get("t2")
    assert live is not None and live.status == "working"  # a live task's owner still writes to it
    assert ids((await store.list_tasks())[0]) == ["t5", "t4b", "t3", "t2"]
    assert (await store.stats())["total"] == 4
    # the indexes forget purged tasks too: nothing claims or expires a ghost
    claimed = {r.task_id for r in await store.claim_orphans(T0 + 10_000, "i2")}  # "i1" never heartbeat: dead
    assert "t2" in claimed and not claimed & {"t1", "t4a"}
    assert await store.purge_tasks([]) == []
