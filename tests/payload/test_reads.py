"""Just-in-time reads from the client side: TaskClient/TaskHandle, `offload task read`, `task_read`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from helpers import DEADLINE_S, OFFLOAD, ServerProcess
from offload.agent.reads import TASK_READ_TOOL, TaskReader, preview_and_links
from offload.client import TaskClient
from offload.client.reads import offload_links, read_all


def log_text(lines: int, width: int = 60) -> str:  # the server's own generator (tests/servers/payload_server.py)
    return "".join(f"{i:08d} {'abcdefghij' * (width // 10)}\n" for i in range(1, lines + 1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("payload-reads")
    srv = ServerProcess("payload_server.py", base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


def finished_log(server: ServerProcess, lines: int) -> str:
    async def run() -> str:
        async with TaskClient(server.url) as client:
            handle = await client.start_tool("big_log", {"lines": lines})
            assert not isinstance(handle, type(None)) and hasattr(handle, "task_id")
            await handle.wait(timeout=DEADLINE_S)  # type: ignore[union-attr]
            return str(handle.task_id)  # type: ignore[union-attr]

    return anyio.run(run)


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([OFFLOAD, *args], capture_output=True, timeout=DEADLINE_S)


def test_the_client_reads_links_whole_in_ranges_and_page_by_page(server: ServerProcess) -> None:
    async def run() -> None:
        async with TaskClient(server.url) as client:
            handle = await client.start_tool("big_log", {"lines": 150_000})  # ~10 MB: more than one 8 MiB read
            result = await handle.result(timeout=DEADLINE_S)  # type: ignore[union-attr]
            (link,) = offload_links(result)
            tail = await client.read(link["uri"], lines="-2:")
            assert tail.text == "".join(log_text(150_000).splitlines(keepends=True)[-2:])
            assert tail.range["lines"] == [149_999, 150_000] and tail.lines == 150_000
            head = await handle.read(lines=(1, 1))  # type: ignore[union-attr]
            assert head.text == log_text(1)
            some = await handle.read(0, bytes_="10:20")  # type: ignore[union-attr]
            assert some.data == log_text(1).encode()[10:20]
            pieces = [piece async for piece in read_all(client.wire, link["uri"])]
            assert len(pieces) == 2 and pieces[0].next is not None and pieces[1].next is None
            assert b"".join(p.data for p in pieces) == log_text(150_000).encode()

    anyio.run(run)


def test_offload_task_read_prints_a_range_and_writes_a_whole_item(server: ServerProcess, tmp_path: Path) -> None:
    task_id = finished_log(server, 30_000)
    done = cli("task", "read", server.url, task_id, "--lines", "2:3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == "".join(log_text(3).splitlines(keepends=True)[1:])
    done = cli("task", "read", server.url, task_id, "--lines=-1:", "--json")
    shown = json.loads(done.stdout)
    assert shown["lines"] == [30_000, 30_000] and shown["text"].startswith("00030000")
    out = tmp_path / "log.txt"
    assert cli("task", "read", server.url, task_id, "-o", str(out)).returncode == 0
    assert out.read_text() == log_text(30_000)
    missing = cli("task", "read", server.url, task_id, "--item", "5")
    assert missing.returncode == 1 and b"has that item" not in missing.stdout and b"item" in missing.stderr
    bad = cli("task", "read", server.url, task_id, "--lines", "x:y")
    assert bad.returncode == 2 and b"--lines must be A:B" in bad.stderr
    unknown = cli("task", "read", server.url, "nope")
    assert unknown.returncode == 1 and b"-32602" in unknown.stderr


def test_a_call_prints_the_preview_not_the_payload(server: ServerProcess) -> None:
    done = cli("call", server.url, "big_log", "lines=30000", "-q")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) < 8 * 1024
    assert b"30,000 lines" in done.stdout and b"00030000" in done.stdout and b"offload://task/" in done.stdout


def test_task_read_gives_a_model_a_slice(server: ServerProcess) -> None:
    task_id = finished_log(server, 5_000)

    async def run() -> None:
        async with TaskClient(server.url) as client:
            reader = TaskReader(client, max_chars=1000)
            text = await reader.call({"task_id": task_id, "lines": "10:12"})
            assert text.splitlines()[0] == "[lines 10-12 of 5,000 lines, 350,000 bytes]"
            assert text.splitlines()[1].startswith("00000010")
            assert len(text.splitlines()) == 4
            default = await reader.call({"task_id": task_id})  # no range: the first lines, capped
            assert "cut at 1,000 characters" in default and len(default) < 1200
            assert (await reader.call({"task_id": task_id, "item": 3})).startswith("error: ")
            assert (await reader.call({"task_id": task_id, "lines": "0:2"})).startswith("error: ")
            assert (await reader.call({})).startswith("error: task_read needs a task_id")
            status = await client.handle(task_id).status()
            shown = preview_and_links(status["result"])
            assert shown[0].startswith("[350,000 bytes, 5,000 lines") and "use task_read" in shown[1]

    anyio.run(run)
    assert TASK_READ_TOOL["name"] == "task_read" and "lines" in TASK_READ_TOOL["parameters"]["properties"]
