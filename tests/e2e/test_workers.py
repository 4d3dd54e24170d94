"""Front instances only create tasks; `offload worker` processes on the same store run them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import DEADLINE_S, OFFLOAD, SERVERS, Client, ServerProcess, wait_until


class Workers:
    def __init__(self, tmp_path: Path, store: str, env: dict[str, str], count: int) -> None:
        self.logs = [open(tmp_path / f"worker{i}.log", "ab") for i in range(count)]  # noqa: SIM115
        cmd = [OFFLOAD, "worker", str(SERVERS / "cluster_server.py"), "--store", store]
        self.procs = [
            subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}) for log in self.logs
        ]

    @property
    def pids(self) -> set[int]:
        return {p.pid for p in self.procs}

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[ServerProcess, Workers, Path]]:
    runs = tmp_path / "runs.log"
    runs.touch()
    env = {"CLUSTER_RUNS": str(runs), "CLUSTER_SLOW_S": "0.5"}
    store = f"sqlite:///{tmp_path / 'tasks.db'}"
    log = tmp_path / "front.log"
    front = ServerProcess("cluster_server.py", tmp_path / "x.db", log, env=env, store=store, args=["--workers"])
    workers = Workers(tmp_path, store, env, count=2)
    yield front, workers, runs
    workers.stop()
    front.stop()


def test_workers_run_what_the_front_creates(deployment: tuple[ServerProcess, Workers, Path]) -> None:
    front, workers, runs = deployment
    client = Client(front.url)
    try:
        quick = [client.start_task("quick", {"tag": f"q{i}"}) for i in range(10)]
        asking = client.start_task("ask", {"tag": "a0"})
        holding = client.start_task("hold", {"tag": "h0"})
        # an answer and a cancel given to the front reach the worker running the tool
        task = wait_until(
            lambda: (t := client.request("tasks/get", {"taskId": asking}))["status"] == "input_required" and t,
            what="the worker's question to show on the front",
        )
        key = next(iter(task["inputRequests"]))
        client.request(
            "tasks/update",
            {"taskId": asking, "inputResponses": {key: {"action": "accept", "content": {"word": "yes"}}}},
        )
        wait_until(lambda: "hold h0 start" in runs.read_text(), what="the held task to start on a worker")
        client.request("tasks/cancel", {"taskId": holding})
        results = {tid: client.wait_for(tid) for tid in [*quick, asking, holding]}
    finally:
        client.close()
    assert all(results[t]["status"] == "completed" for t in quick)
    assert results[asking]["status"] == "completed"
    assert results[asking]["result"]["content"][0]["text"] == "ask a0 yes"
    assert results[holding]["status"] == "cancelled"
    ran_in = {int(line.split()[0]) for line in runs.read_text().splitlines()}
    assert ran_in <= workers.pids, "a tool ran outside the worker processes"
    assert front.proc.pid not in ran_in
    assert len(runs.read_text().splitlines()) >= 12
