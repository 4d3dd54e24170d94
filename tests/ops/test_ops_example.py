"""examples/observed.py runs as documented in docs/operations.md: metrics, spans and the mounted console."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import httpx

from helpers import DEADLINE_S, free_port, wait_listening, wait_until
from offload.client import WireClient

ROOT = Path(__file__).resolve().parents[2]


def test_observed_example(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    err = tmp_path / "stderr"
    with open(err, "wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "examples/observed.py"),
                "--port",
                str(port),
                "--metrics-port",
                str(metrics_port),
                "--store",
                f"sqlite:///{tmp_path / 'tasks.db'}",
                "--console-token",
                "t0k",
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        wait_listening(proc, port, err.read_text, what="examples/observed.py")

        async def call() -> str:
            async with WireClient(f"http://127.0.0.1:{port}/mcp") as client:
                task = await client.result("tools/call", {"name": "crunch", "arguments": {"n": 5}})
                assert task["resultType"] == "task"
                with anyio.fail_after(DEADLINE_S):
                    while task["status"] != "completed":
                        await anyio.sleep(0.1)
                        task = await client.result("tasks/get", {"taskId": task["taskId"]})
                return str(task["taskId"])

        task_id = anyio.run(call)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert 'offload_tasks_finished_total{status="completed",tool="crunch"} 1.0' in metrics
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/console", timeout=DEADLINE_S) as http:
            assert http.get("/api/tasks").status_code == 401
            listed = http.get("/api/tasks", headers={"Authorization": "Bearer t0k"}).json()
            assert [t["taskId"] for t in listed["tasks"]] == [task_id]
            assert '<base href="/console/">' in http.get("/").text

        def exported() -> list[dict[str, object]]:
            lines = [ln for ln in err.read_text().splitlines() if ln.startswith("{")]
            return [s for s in map(json.loads, lines) if s.get("name") == "offload.task.execute"]

        (span,) = wait_until(exported, what="the execution span on stderr")
        assert span["attributes"]["offload.task.id"] == task_id  # type: ignore[index]
    finally:
        proc.terminate()
        proc.wait(timeout=DEADLINE_S)
