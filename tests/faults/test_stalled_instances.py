"""An instance that is alive but stalled (SIGSTOP, a huge header, a long inline budget) beside a peer.

Two `offload serve` processes share one SQLite store with a 1 s heartbeat horizon (`lease_s`). A stall
shorter than that must cost nothing; a longer one lets the peer take the tasks over, and the stalled
instance, once resumed, completes nothing it lost (its writes are bound to ownership).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import Client, ServerProcess, wait_until


class Pair:
    def __init__(self, tmp: Path) -> None:
        self.runs = tmp / "runs.log"
        self.runs.write_text("")
        env = {"CLUSTER_RUNS": str(self.runs), "CLUSTER_SLOW_S": "3.0"}
        store = f"sqlite:///{tmp / 'tasks.db'}"
        self.a = ServerProcess("cluster_server.py", tmp / "a.db", tmp / "a.log", env=env, store=store)
        self.b = ServerProcess("cluster_server.py", tmp / "b.db", tmp / "b.log", env=env, store=store)

    def stop(self) -> None:
        for srv in (self.a, self.b):
            if srv.proc.poll() is None:
                os.kill(srv.proc.pid, signal.SIGCONT)
            srv.stop()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    p = Pair(tmp_path)
    yield p
    p.stop()


def _start(client: Client, tool: str, n: int) -> list[str]:
    return [client.start_task(tool, {"tag": f"{tool}-{i}"}) for i in range(n)]


def _finals(client: Client, task_ids: list[str]) -> list[dict[str, object]]:
    return [client.wait_for(task_id, timeout=40) for task_id in task_ids]


def test_a_stop_shorter_than_the_lease_fails_nothing(pair: Pair) -> None:
    a, b = Client(pair.a.url), Client(pair.b.url)
    try:
        tasks = _start(a, "slow", 4)
        os.kill(pair.a.proc.pid, signal.SIGSTOP)
        time.sleep(0.6)  # under the 1 s horizon
        os.kill(pair.a.proc.pid, signal.SIGCONT)
        finals = _finals(b, tasks)
        assert [f["status"] for f in finals] == ["completed"] * 4, finals
    finally:
        a.close()
        b.close()


def test_a_stop_longer_than_the_lease_is_taken_over_and_the_resumed_instance_completes_nothing_it_lost(
    pair: Pair,
) -> None:
    a, b = Client(pair.a.url), Client(pair.b.url)
    try:
        unsafe = _start(a, "slow", 3)  # not safe to retry: the peer fails them
        safe = _start(a, "redo", 3)  # safe: the peer runs them again
        os.kill(pair.a.proc.pid, signal.SIGSTOP)
        for task_id in unsafe:
            lost = b.wait_for(task_id, timeout=30)
            assert lost["status"] == "failed" and "lost" in str(lost["statusMessage"]), lost
        os.kill(pair.a.proc.pid, signal.SIGCONT)  # A wakes up with tools that still think they run
        for task_id in safe:
            done = b.wait_for(task_id, timeout=40)
            assert done["status"] == "completed", done
        time.sleep(4.0)  # A's own tools would have finished by now
        for task_id in unsafe:
            assert b.get(task_id)["status"] == "failed"  # A's late completion did not land
        starts = pair.runs.read_text().splitlines()
        assert sum(1 for line in starts if " redo " in line and line.endswith("start")) == 6  # once on A, once on B
        assert a.get(unsafe[0])["status"] == "failed"  # and A serves the truth again
    finally:
        a.close()
        b.close()


def test_an_inline_budget_longer_than_the_lease_fails_nothing(pair: Pair) -> None:
    a, b = Client(pair.a.url), Client(pair.b.url)
    try:
        tasks = _start(a, "auto_long", 4)  # each stayed inline 2 s (> the 1 s horizon) before promotion
        finals = _finals(b, tasks)
        assert [f["status"] for f in finals] == ["completed"] * 4, finals
        assert "lost" not in str(finals)
    finally:
        a.close()
        b.close()


def test_a_64_mb_header_on_one_instance_fails_none_of_its_tasks(pair: Pair) -> None:
    a, b = Client(pair.a.url), Client(pair.b.url)
    try:
        tasks = _start(a, "slow", 4)

        def flood() -> None:
            with socket.create_connection(("127.0.0.1", pair.a.port), timeout=20) as sock:
                try:
                    sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                    for _ in range(64):
                        sock.sendall(b"a" * (1024 * 1024))
                except OSError:
                    pass  # refused (431) and closed: the point

        sender = threading.Thread(target=flood)
        sender.start()
        sender.join(30)
        finals = _finals(b, tasks)
        assert [f["status"] for f in finals] == ["completed"] * 4, finals
        wait_until(lambda: a.get(tasks[0])["status"] == "completed", what="A to answer again")
    finally:
        a.close()
        b.close()
