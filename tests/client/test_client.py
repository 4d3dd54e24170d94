"""offload.client against a real server over HTTP: transparent and handle modes, input, push, journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequestParams, ElicitResult

from helpers import ServerProcess, wait_until
from offload.client import TaskCancelled, TaskClient, TaskFailed


def _server(tmp_path: Path, **env: str) -> ServerProcess:
    # Every request through the SDK, so the server's counting middleware sees tasks/get too.
    env = {"OFFLOAD_FAST_GET": "0", **env}
    return ServerProcess("client_server.py", tmp_path / "tasks.db", tmp_path / "server.log", env=env)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = _server(tmp_path)
    yield srv
    srv.stop()


@pytest.fixture
def polling_server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = _server(tmp_path, NO_PUSH="1")
    yield srv
    srv.stop()


def stats(srv: ServerProcess) -> dict[str, int]:
    return dict(httpx.get(srv.url.replace("/mcp", "/stats")).json())


class Answers:
    """An elicitation callback that records what it was asked."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.asked: list[str] = []

    async def __call__(self, ctx: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        return ElicitResult(action="accept", content={"name": self.names[len(self.asked) - 1]})


def test_transparent_mode_returns_the_ordinary_result(server: ServerProcess) -> None:
    async def run() -> None:
        async with TaskClient(server.url) as client:
            result = await client.call_tool("sleepy", {"seconds": 0.3})
            assert result.content[0].text == "slept 0.3"  # type: ignore[union-attr]
            assert not result.is_error
            inline = await client.call_tool("echo", {"text": "hi"})
            assert inline.content[0].text == "hi"  # type: ignore[union-attr]

    anyio.run(run)
    assert stats(server)["tools/call"] == 2


def test_transparent_mode_raises_for_failed_and_cancelled_tasks(server: ServerProcess) -> None:
    async def run() -> None:
        async with TaskClient(server.url) as client:
            with pytest.raises(TaskFailed) as failed:
                await client.call_tool("explode")
            assert failed.value.code == -32050
            assert failed.value.error_message == "the pipeline exploded"
            handle = await client.start_tool("sleepy", {"seconds": 30})
            assert not isinstance(handle, type(None))
            await handle.cancel()  # type: ignore[union-attr]
            with pytest.raises(TaskCancelled):
                await handle.result(timeout=20)  # type: ignore[union-attr]

    anyio.run(run)


def test_handle_mode_and_a_handle_from_only_url_and_id(server: ServerProcess) -> None:
    async def run() -> None:
        async with TaskClient(server.url) as client:
            handle = await client.start_tool("sleepy", {"seconds": 0.5})
            assert not hasattr(handle, "content"), "expected a handle"
            task_id = handle.task_id  # type: ignore[union-attr]
            assert (await handle.status())["status"] in ("working", "completed")  # type: ignore[union-attr]
        # a different client object, as another process would: only the URL and the id
        async with TaskClient(server.url) as other:
            result = await other.handle(task_id).result(timeout=20)
            assert result.content[0].text == "slept 0.5"  # type: ignore[union-attr]
            inline = await other.start_tool("echo", {"text": "x"})
            assert inline.content[0].text == "x"  # type: ignore[union-attr]

    anyio.run(run)


def test_input_is_answered_once_per_key(polling_server: ServerProcess) -> None:
    answers = Answers("Ada", "Lovelace")

    async def run() -> None:
        async with TaskClient(polling_server.url, elicitation_callback=answers) as client:
            result = await client.call_tool("ask_twice")
            assert result.content[0].text == "Ada Lovelace"  # type: ignore[union-attr]

    anyio.run(run)
    # two questions, each shown once although every poll in between repeated the open one
    assert answers.asked == ["First name?", "Last name?"]
    seen = stats(polling_server)
    assert seen["tasks/update"] == 2
    assert seen["tasks/get"] >= 2


def test_no_input_handler_fails_clearly(server: ServerProcess) -> None:
    # A client with no elicitation handler declares no elicitation capability, so the server refuses the
    # question at once (-32021 naming it) instead of parking a task nobody can answer.
    async def run() -> None:
        async with TaskClient(server.url) as client:
            with pytest.raises(MCPError, match="elicitation") as info:
                with anyio.fail_after(20):
                    await client.call_tool("ask_twice")
            assert info.value.error.code == -32021

    anyio.run(run)


def test_polling_never_beats_poll_interval(polling_server: ServerProcess) -> None:
    # POLL_MS=300 on the server: a 2.4 s task allows at most 2.4/0.3 + 1 polls (+1 for the last read).
    async def run() -> None:
        async with TaskClient(polling_server.url) as client:
            result = await client.call_tool("sleepy", {"seconds": 2.4})
            assert result.content[0].text == "slept 2.4"  # type: ignore[union-attr]

    anyio.run(run)
    gets = stats(polling_server)["tasks/get"]
    assert 1 <= gets <= 2.4 / 0.3 + 2


def test_push_is_used_when_offered(server: ServerProcess) -> None:
    async def run() -> None:
        async with TaskClient(server.url) as client:
            result = await client.call_tool("sleepy", {"seconds": 2.4})
            assert result.content[0].text == "slept 2.4"  # type: ignore[union-attr]

    anyio.run(run)
    seen = stats(server)
    assert seen["subscriptions/listen"] == 1
    assert seen.get("tasks/get", 0) <= 1  # the completed task arrived as a notification, not by polling


RESUMER = textwrap.dedent(
    """
    import sys, anyio, json
    from offload.client import TaskClient

    async def main(url, journal, mode):
        async with TaskClient(url, journal=journal) as client:
            if mode == "start":
                handle = await client.start_tool("sleepy", {"seconds": 3})
                print(handle.task_id, flush=True)
                await handle.wait()  # killed while waiting
            else:
                handles = await client.resume()
                out = []
                for h in handles:
                    result = await h.result(timeout=30)
                    out.append([h.task_id, result.content[0].text])
                print(json.dumps(out), flush=True)

    anyio.run(main, *sys.argv[1:])
    """
)


def test_a_second_process_resumes_from_the_journal(server: ServerProcess, tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    script = tmp_path / "resumer.py"
    script.write_text(RESUMER)
    first = subprocess.Popen(
        [sys.executable, str(script), server.url, str(journal), "start"], stdout=subprocess.PIPE, text=True
    )
    assert first.stdout is not None
    task_id = first.stdout.readline().strip()
    assert len(task_id) >= 43
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)
    second = subprocess.run(
        [sys.executable, str(script), server.url, str(journal), "resume"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == [[task_id, "slept 3.0"]]

    async def after() -> None:
        async with TaskClient(server.url, journal=journal) as client:
            assert await client.resume() == []  # finished now, so nothing left to resume
            entry = client.journal.get(server.url, task_id) if client.journal else None
            assert entry is not None and entry.status == "completed" and entry.tool == "sleepy"

    anyio.run(after)


def test_transient_server_loss_is_ridden_out(tmp_path: Path) -> None:
    """Polls that hit a dead server back off and reconnect; a new process on the same store answers."""
    first = _server(tmp_path, NO_PUSH="1")
    restarted: list[ServerProcess] = []

    async def restart_later() -> None:
        await anyio.sleep(1.0)
        log = tmp_path / "second.log"
        restarted.append(ServerProcess("client_server.py", tmp_path / "tasks.db", log, port=first.port))

    async def run() -> None:
        async with TaskClient(first.url, default_poll_ms=200) as client:
            handle = await client.start_tool("sleepy", {"seconds": 0.2})
            assert not hasattr(handle, "content"), "expected a handle"
            wait_until(lambda: _finished(first, handle.task_id), what="the task to finish")  # type: ignore[union-attr]
            first.stop()  # the server goes away before the client polls again
            async with anyio.create_task_group() as tg:
                tg.start_soon(restart_later)
                result = await handle.result(timeout=30)  # type: ignore[union-attr]
            assert result.content[0].text == "slept 0.2"  # type: ignore[union-attr]

    try:
        anyio.run(run)
    finally:
        for srv in restarted:
            srv.stop()


def _finished(srv: ServerProcess, task_id: str) -> bool:
    import sqlite3

    with sqlite3.connect(srv.db) as db:
        row = db.execute("SELECT status FROM tasks WHERE task_id=?", (task_id,)).fetchone()
    return row is not None and row[0] == "completed"


def test_wait_reports_each_change_to_on_update(polling_server: ServerProcess) -> None:
    seen: list[tuple[str, str | None]] = []

    async def run() -> None:
        async with TaskClient(polling_server.url) as client:
            handle = await client.start_tool("sleepy", {"seconds": 1.0})
            assert not hasattr(handle, "content"), "expected a handle"
            final = await handle.wait(
                timeout=20, on_update=lambda t: seen.append((t["status"], t.get("statusMessage")))
            )  # type: ignore[union-attr]
            assert final["status"] == "completed"

    anyio.run(run)
    assert seen[-1][0] == "completed"
    assert ("working", "sleeping") in seen
    assert len(seen) == len(set(seen))  # a change is reported once, not once per poll
