"""Three server processes on one store behind a round-robin balancer; one is killed mid-way.

What the stateless protocol promises: any instance answers for any task, answers and cancels
reach the instance running the tool, and losing an instance loses no finished result, leaves no
task `working` forever, and runs no tool that is not safe to retry twice.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import DEADLINE_S, Client, ServerProcess, wait_until
from rrproxy import RoundRobinProxy

KINDS = {"quick": 50, "slow": 40, "redo": 40, "ask": 30, "hold": 30}
LOST = "worker lost"


class Cluster:
    """Three `offload serve` processes sharing one store; tool runs logged to one file."""

    def __init__(self, tmp_path: Path, store_url: str) -> None:
        self.tmp = tmp_path
        self.store_url = store_url
        self.runs = tmp_path / "runs.log"
        self.runs.touch()
        self.env = {"CLUSTER_RUNS": str(self.runs)}
        self.servers: list[ServerProcess] = []
        for i in range(3):
            self.servers.append(self._start(i))

    def _start(self, i: int, port: int | None = None) -> ServerProcess:
        log = self.tmp / f"server{i}.log"
        return ServerProcess("cluster_server.py", self.tmp / "x.db", log, env=self.env, port=port, store=self.store_url)

    def restart(self, i: int) -> None:
        self.servers[i] = self._start(i, port=self.servers[i].port)

    def run_log(self) -> list[tuple[int, str, str, str]]:
        out = []
        for line in self.runs.read_text().splitlines():
            pid, tool, tag, phase = line.split()
            out.append((int(pid), tool, tag, phase))
        return out

    def stop(self) -> None:
        for srv in self.servers:
            srv.stop()


@pytest.fixture
def cluster(tmp_path: Path, store_url: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, store_url)
    yield c
    c.stop()


def _client(url: str) -> Client:
    client = Client(url)
    client.http.close()
    # a new connection per request, so the L4 balancer spreads requests, not just connections
    client.http = httpx.Client(timeout=DEADLINE_S, limits=httpx.Limits(max_keepalive_connections=0))
    return client


def test_any_instance_answers_and_a_killed_instance_loses_nothing(cluster: Cluster) -> None:
    with RoundRobinProxy([s.port for s in cluster.servers]) as lb:
        url = f"http://127.0.0.1:{lb.port}/mcp"
        plan = [(kind, f"{kind}-{n}") for kind, count in KINDS.items() for n in range(count)]
        random.Random(7).shuffle(plan)

        def start(item: tuple[str, str]) -> tuple[str, str, str]:
            kind, tag = item
            c = _client(url)
            try:
                return kind, tag, c.start_task(kind, {"tag": tag})
            finally:
                c.close()

        with ThreadPoolExecutor(8) as pool:
            started = list(pool.map(start, plan))
        assert len(started) == sum(KINDS.values())
        victim = cluster.servers[1]
        victim_pid = victim.proc.pid
        victim.kill()  # mid-way: slow, redo and ask tasks are still running or waiting for input

        client = _client(url)
        try:
            # cancels and answers land on whichever instance the balancer picks
            for kind, _tag, task_id in started:
                if kind == "hold":
                    client.request("tasks/cancel", {"taskId": task_id})
            cluster.restart(1)
            final: dict[str, dict[str, Any]] = {}

            def settle(item: tuple[str, str, str]) -> bool:
                _kind, tag, task_id = item
                task = client.request("tasks/get", {"taskId": task_id})
                if task["status"] == "input_required":
                    answers = {k: {"action": "accept", "content": {"word": tag}} for k in task["inputRequests"]}
                    client.request("tasks/update", {"taskId": task_id, "inputResponses": answers})
                    return False
                if task["status"] in ("completed", "failed", "cancelled"):
                    final[task_id] = task
                    return True
                return False

            pending = list(started)

            def all_settled() -> bool:
                nonlocal pending
                pending = [item for item in pending if not settle(item)]
                return not pending

            wait_until(all_settled, timeout=90, what="every task to reach a terminal status")
        finally:
            client.close()

    runs = cluster.run_log()
    starts = Counter((tool, tag) for _pid, tool, tag, phase in runs if phase == "start")
    ends = Counter((tool, tag) for _pid, tool, tag, phase in runs if phase == "end")
    # the tasks the kill interrupted: started on the victim and not finished there
    victim_started = {tag for pid, _tool, tag, phase in runs if pid == victim_pid and phase == "start"}
    victim_finished = {tag for pid, _tool, tag, phase in runs if pid == victim_pid and phase == "end"}
    on_victim = victim_started - victim_finished
    assert on_victim, "the kill interrupted nothing: the balancer did not spread the load"
    assert len({pid for pid, *_ in runs}) >= 3, "every instance should have run tools"
    outcome: Counter[str] = Counter()
    for kind, tag, task_id in started:
        task = final[task_id]
        status = task["status"]
        outcome[f"{kind}:{status}"] += 1
        tool = kind
        if kind == "redo":
            # safe to retry: always completes; ran twice exactly when its first instance died
            assert status == "completed", task
            assert task["result"]["content"][0]["text"] == f"redo {tag}"
            assert starts[(tool, tag)] == (2 if tag in on_victim else 1)
            assert ends[(tool, tag)] == 1  # and completed exactly once
            continue
        assert starts[(tool, tag)] <= 1, f"{tag} is not safe to retry but ran {starts[(tool, tag)]} times"
        if kind == "hold":
            # cancelled wherever the cancel landed; only a task orphaned by the kill may have been failed first
            assert status == "cancelled" or (tag in on_victim and LOST in task["statusMessage"]), task
            continue
        if tag in on_victim:
            # interrupted and not safe to retry: failed, saying why, never run again
            assert status == "failed" and LOST in task["statusMessage"], task
            continue
        assert status == "completed", task
        expected = f"ask {tag} {tag}" if kind == "ask" else f"{kind} {tag}"
        assert task["result"]["content"][0]["text"] == expected
    assert max(starts.values()) <= 2
    print(dict(outcome))
