"""`offload admin`: list, show, cancel, purge and stats over SQLite, Redis and PostgreSQL, and a cancel that
stops a tool running in a real `offload serve` process."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from helpers import Client, ServerProcess, wait_until
from offload.cli import main
from offload.store import TaskRecord, now_ms, open_store

OPS_SERVER = str(Path(__file__).parent / "ops_server.py")


def seed(url: str, records: list[TaskRecord]) -> None:
    async def go() -> None:
        store = open_store(url)
        await store.open()
        try:
            for r in records:
                await store.create(r)
        finally:
            await store.close()

    anyio.run(go)


def stored(url: str, task_id: str) -> TaskRecord | None:
    async def go() -> TaskRecord | None:
        store = open_store(url)
        await store.open()
        try:
            return await store.get(task_id)
        finally:
            await store.close()

    return anyio.run(go)


def admin(capsys: pytest.CaptureFixture[str], url: str, *words: str) -> tuple[int, str, str]:
    code = main(["admin", "--store", url, *words])
    out, err = capsys.readouterr()
    return code, out, err


HOUR = 3_600_000


def sample(now: int) -> list[TaskRecord]:
    return [
        TaskRecord(
            "done-aaaaaaaa",
            "render",
            status="completed",
            created_ms=now - 3 * HOUR,
            principal="alice",
            result={"content": [{"type": "text", "text": "rendered 12 pages"}]},
        ),
        TaskRecord(
            "fail-bbbbbbbb",
            "render",
            status="failed",
            created_ms=now - 2 * HOUR,
            error={"code": -32603, "message": "out of paper"},
        ),
        TaskRecord(
            "park-cccccccc",
            "deploy",
            status="input_required",
            status_message="waiting for approval",
            created_ms=now - HOUR,
            principal="alice",
            owner="gone",
            input_requests={"elicitation-1": {"method": "elicitation/create", "params": {"message": "Ship it?"}}},
            request={"name": "deploy", "arguments": {"env": "prod"}, "_meta": {}},
        ),
        TaskRecord("work-dddddddd", "deploy", status="working", created_ms=now - 1000, owner="gone"),
    ]


def test_list_show_stats(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    seed(store_url, sample(now_ms()))
    code, out, _ = admin(capsys, store_url, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TASK", "STATUS", "TOOL", "PRINCIPAL", "AGE", "TRY", "MESSAGE"]
    assert [ln.split()[0] for ln in lines[1:]] == ["work-ddddddd", "park-ccccccc", "fail-bbbbbbb", "done-aaaaaaa"]
    assert "waiting for approval" in lines[2] and "1h00m" in lines[2]

    code, out, _ = admin(capsys, store_url, "list", "--status", "live", "--json")
    assert code == 0 and [t["taskId"] for t in json.loads(out)["tasks"]] == ["work-dddddddd", "park-cccccccc"]
    _, out, _ = admin(capsys, store_url, "list", "--principal", "alice", "--older-than", "90m", "--json")
    assert [t["taskId"] for t in json.loads(out)["tasks"]] == ["done-aaaaaaaa"]
    _, out, _ = admin(capsys, store_url, "list", "--tool", "render", "--status", "failed", "--wide")
    assert "fail-bbbbbbbb" in out and "done-" not in out

    # paging: the printed cursor gives the next page
    _, out, _ = admin(capsys, store_url, "list", "--limit", "3", "--json")
    first = json.loads(out)
    assert len(first["tasks"]) == 3 and first["nextCursor"]
    _, out, _ = admin(capsys, store_url, "list", "--limit", "3", "--json", "--cursor", first["nextCursor"])
    assert [t["taskId"] for t in json.loads(out)["tasks"]] == ["done-aaaaaaaa"]

    code, out, _ = admin(capsys, store_url, "show", "park-cc")  # a unique prefix is enough
    assert code == 0
    assert "park-cccccccc" in out and "input_required" in out and "Ship it?" in out and '"env": "prod"' in out
    _, out, _ = admin(capsys, store_url, "show", "done-aaaaaaaa")
    assert "result:\nrendered 12 pages" in out
    _, out, _ = admin(capsys, store_url, "show", "fail-bbbbbbbb", "--json")
    detail = json.loads(out)
    assert detail["preview"] == "out of paper" and detail["error"]["code"] == -32603

    code, out, _ = admin(capsys, store_url, "stats", "--json")
    assert json.loads(out) == {
        "total": 4,
        "live": 2,
        "by_status": {"completed": 1, "failed": 1, "input_required": 1, "working": 1},
        "by_tool": {"deploy": {"input_required": 1, "working": 1}, "render": {"completed": 1, "failed": 1}},
    }
    _, out, _ = admin(capsys, store_url, "stats")
    assert out.startswith("4 task(s), 2 live") and "deploy" in out and "(all)" in out


def test_cancel_and_purge(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    seed(store_url, sample(now_ms()))
    code, out, _ = admin(capsys, store_url, "cancel", "park-cccccccc", "done-aaaaaaaa")
    assert code == 0
    assert "park-cccccccc  cancelled" in out and "done-aaaaaaaa  already completed: unchanged" in out
    parked = stored(store_url, "park-cccccccc")
    assert parked is not None and parked.status == "cancelled" and parked.input_requests == {}
    assert parked.status_message == "Cancelled by an operator"
    done = stored(store_url, "done-aaaaaaaa")
    assert done is not None and done.status == "completed"  # a finished task keeps its outcome

    code, _, err = admin(capsys, store_url, "cancel", "nope-nope-nope")
    assert code == 1 and "no task 'nope-nope-nope'" in err

    # a live task is never purged; ended ones are, by id or by age
    code, out, _ = admin(capsys, store_url, "purge", "work-dddddddd", "fail-bbbbbbbb")
    assert code == 1 and "purged 1 task(s)" in out and "kept work-dddddddd" in out
    assert stored(store_url, "fail-bbbbbbbb") is None
    _, out, _ = admin(capsys, store_url, "purge", "--older-than", "30m", "--dry-run", "--json")
    assert sorted(json.loads(out)["purged"]) == ["done-aaaaaaaa", "park-cccccccc"]
    assert stored(store_url, "done-aaaaaaaa") is not None  # a dry run deletes nothing
    _, out, _ = admin(capsys, store_url, "purge", "--older-than", "150m")
    assert "purged 1 task(s)" in out and stored(store_url, "done-aaaaaaaa") is None
    assert stored(store_url, "park-cccccccc") is not None


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    for words, expected in [
        (["list", "--status", "done"], "unknown status 'done'"),
        (["list", "--older-than", "soon"], "invalid duration 'soon'"),
        (["list", "--cursor", "zzz"], "invalid cursor"),
        (["purge"], "purge needs task ids or --older-than"),
        (["purge", "--older-than", "1d", "--status", "working"], "only ended tasks can be purged"),
    ]:
        code, out, err = admin(capsys, url, *words)
        assert (code, out) == (2, ""), words
        assert err.startswith("offload: ") and expected in err and "Traceback" not in err
    code, _, err = admin(capsys, "mysql://x", "stats")
    assert code == 2 and "unsupported store URL" in err


def test_cancel_stops_the_tool_on_the_instance_running_it(
    capsys: pytest.CaptureFixture[str], store_url: str, tmp_path: Path
) -> None:
    """The admin process shares only the store with the server: the cancel reaches the tool through
    the store's events (Redis, PostgreSQL) or the owner's lease renewal (SQLite)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    srv = ServerProcess(
        OPS_SERVER, tmp_path / "x.db", tmp_path / "server.log", store=store_url, env={"OPS_MARKS": str(marks)}
    )
    client = Client(srv.url)
    try:
        task_id = client.start_task("hold", {"tag": "h1"})
        wait_until(lambda: (marks / "h1.started").exists(), what="the tool to start")
        code, out, _ = admin(capsys, store_url, "cancel", task_id)
        assert code == 0 and "cancelled" in out
        wait_until(lambda: (marks / "h1.stopped").exists(), what="the tool to stop")
        task = client.get(task_id)
        assert task["status"] == "cancelled" and task["statusMessage"] == "Cancelled by an operator"
    finally:
        client.close()
        srv.stop()
