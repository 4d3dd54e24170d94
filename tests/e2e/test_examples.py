"""The README's examples and main job run as documented."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from offload.client import WireClient

ROOT = Path(__file__).resolve().parents[2]
OFFLOAD = str(Path(sys.executable).with_name("offload"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            OFFLOAD,
            "serve",
            str(ROOT / "examples/quickstart.py"),
            "--port",
            str(port),
            "--store",
            f"sqlite:///{tmp_path}/q.db",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(timeout=10)


def test_quickstart_serves_inline_and_task_calls(quickstart: str) -> None:
    async def scenario() -> None:
        async with WireClient(quickstart) as client:
            added = await client.result("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
            assert added["structuredContent"] == {"result": 5}
            quick = await client.result("tools/call", {"name": "crunch", "arguments": {"n": 1}})
            assert quick["resultType"] == "complete"
            assert quick["content"][0]["text"] == "crunched 1 chunks"
            slow = await client.result("tools/call", {"name": "crunch", "arguments": {"n": 8}})
            assert slow["resultType"] == "task"
            assert slow["pollIntervalMs"] == 500
            task = slow
            with anyio.fail_after(20):
                while task["status"] != "completed":
                    await anyio.sleep(0.1)
                    task = await client.result("tasks/get", {"taskId": slow["taskId"]})
            assert task["result"]["content"][0]["text"] == "crunched 8 chunks"
            assert task["statusMessage"] == "chunk 8/8"

    anyio.run(scenario)


def test_demo_main_job_runs_and_exits(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(
        [OFFLOAD, "demo", "--fast", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=240, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "the server answered with a handle" in text
    assert "input_required" in text
    assert "Released 1.4.0" in text
    assert "server killed (SIGKILL)" in text
    assert "the finished release task is still served: status=completed" in text
    assert "Index rebuilt: 6 shards" in text
    assert (tmp_path / "tasks.db").exists()
    # Section 6: the large result stays behind a link; the poll cadence follows the server.
    link_line = next(line for line in text.splitlines() if "task, link + slice:" in line)
    assert "bytes in the window" in link_line
    assert "polls per task, adaptive:" in text
