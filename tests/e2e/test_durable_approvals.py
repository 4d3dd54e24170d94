"""Approvals survive crashes and deploys, on every store (runtime/replay.py, README "Durable approvals").

Real `offload serve` processes on one store. The tool (tests/servers/approval_server.py) builds,
asks for approval, then deploys; each step logs "<pid> <step> <tag>", so the tests count how many
times each side effect ran, and in which process.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from helpers import Client, ServerProcess, elicit_accept, text_of, wait_until
from offload.runtime.replay import PARKED_OWNER
from offload.store import open_store

YES = elicit_accept(approve=True)


class Fleet:
    """Approval servers on one store, started and stopped by the test."""

    def __init__(self, tmp_path: Path, store_url: str, park_after_s: str = "inf") -> None:
        self.tmp = tmp_path
        self.store_url = store_url
        self.log = tmp_path / "effects.log"
        self.log.touch()
        self.env = {"APPROVAL_LOG": str(self.log), "APPROVAL_PARK_AFTER_S": park_after_s}
        self.servers: dict[str, ServerProcess] = {}
        self._starts = Counter[str]()

    def start(self, name: str, port: int | None = None) -> ServerProcess:
        self._starts[name] += 1
        log = self.tmp / f"{name}-{self._starts[name]}.log"
        server = ServerProcess(
            "approval_server.py", self.tmp / "x.db", log, env=self.env, port=port, store=self.store_url
        )
        self.servers[name] = server
        return server

    def restart(self, name: str) -> ServerProcess:
        """A deploy: SIGTERM (a clean shutdown), then a new process on the same port."""
        old = self.servers[name]
        old.stop()
        return self.start(name, port=old.port)

    def effects(self) -> list[tuple[int, str, str]]:
        rows = (line.split() for line in self.log.read_text().splitlines())
        return [(int(pid), step, tag) for pid, step, tag in rows]

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((step, tag) for _pid, step, tag in self.effects())

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def fleet(tmp_path: Path, store_url: str) -> Iterator[Fleet]:
    f = Fleet(tmp_path, store_url)
    yield f
    f.stop()


@pytest.fixture
def parking_fleet(tmp_path: Path, store_url: str) -> Iterator[Fleet]:
    f = Fleet(tmp_path, store_url, park_after_s="0")
    yield f
    f.stop()


def _asked(client: Client, task_id: str) -> dict[str, Any]:
    return client.wait_until_task(task_id, lambda t: t["status"] == "input_required", "the approval to be asked")


def test_kill_9_while_waiting_then_the_original_key_is_answered(fleet: Fleet) -> None:
    a, b = fleet.start("a"), fleet.start("b")
    ca, cb = Client(a.url), Client(b.url)
    try:
        during = ca.start_task("release", {"tag": "during"})
        after = ca.start_task("release", {"tag": "after"})
        keys = {tid: list(_asked(ca, tid)["inputRequests"]) for tid in (during, after)}
        assert keys[during] == keys[after] == ["elicitation-2"]  # build was call 1
        a.kill()  # kill -9: A never hands anything over

        # Answered on B while no instance runs the task (B takes it over only when A's 1 s heartbeat ends).
        assert cb.update(during, {"elicitation-2": YES})["resultType"] == "complete"
        done = cb.wait_for(during)
        assert done["status"] == "completed", done
        assert text_of(done["result"]) == "build during; deploy during"

        # After B took it over: the replay still waits under the key the client saw first.
        wait_until(lambda: after[:8] in b.log() and "Restarted" in b.log(), what="B to take the task over")
        taken = cb.get(after)
        assert taken["status"] == "input_required" and list(taken["inputRequests"]) == keys[after]
        cb.update(after, {"elicitation-2": YES})
        assert cb.wait_for(after)["status"] == "completed"
    finally:
        ca.close()
        cb.close()
    # Each side effect ran once: the build was not redone by the replay on B.
    assert fleet.counts() == {
        ("build", "during"): 1,
        ("build", "after"): 1,
        ("deploy", "during"): 1,
        ("deploy", "after"): 1,
    }
    deployers = {pid for pid, step, _ in fleet.effects() if step == "deploy"}
    assert deployers == {b.proc.pid}


def test_an_answer_sent_to_b_resumes_a_task_parked_on_a(parking_fleet: Fleet) -> None:
    a, b = parking_fleet.start("a"), parking_fleet.start("b")
    ca, cb = Client(a.url), Client(b.url)
    try:
        task_id = ca.start_task("release", {"tag": "x"})
        key = list(_asked(ca, task_id)["inputRequests"])
        wait_until(lambda: _owner(parking_fleet.store_url, task_id) == PARKED_OWNER, what="the task to be parked")
        cb.update(task_id, dict.fromkeys(key, YES))
        done = cb.wait_for(task_id)
    finally:
        ca.close()
        cb.close()
    assert done["status"] == "completed" and text_of(done["result"]) == "build x; deploy x"
    assert parking_fleet.counts() == {("build", "x"): 1, ("deploy", "x"): 1}
    (build_pid,) = {pid for pid, step, _ in parking_fleet.effects() if step == "build"}
    (deploy_pid,) = {pid for pid, step, _ in parking_fleet.effects() if step == "deploy"}
    assert build_pid == a.proc.pid and deploy_pid == b.proc.pid  # parked on A, resumed where answered


def test_a_replay_that_asks_something_else_fails_the_task(fleet: Fleet) -> None:
    """The record says call 2 was the approval; a run that asks at another position is stopped."""
    a = fleet.start("a")
    client = Client(a.url)
    try:
        task_id = client.start_task("release", {"tag": "x"})
        _asked(client, task_id)
        a.kill()
        # Tamper with what the replay will see: the recorded build step now has another name.
        _rename_recorded_step(fleet.store_url, task_id)
        b = fleet.start("b")
        client.close()
        client = Client(b.url)
        failed = client.wait_for(task_id)
    finally:
        client.close()
    assert failed["status"] == "failed"
    assert "not deterministic" in failed["error"]["message"] and "'build'" in failed["error"]["message"]
    assert fleet.counts() == {("build", "x"): 1}


def _owner(url: str, task_id: str) -> str | None:
    async def go() -> str | None:
        store = open_store(url)
        await store.open()
        try:
            record = await store.get(task_id)
            return None if record is None else record.owner
        finally:
            await store.close()

    return anyio.run(go)


def _rename_recorded_step(url: str, task_id: str) -> None:
    """Change the journal as a different version of the tool would have written it."""

    async def go() -> None:
        store = open_store(url)
        await store.open()
        try:
            record = await store.get(task_id)
            assert record is not None and record.owner is not None  # still the killed instance's
            await store.record(task_id, "step-1", {"step": "compile", "result": "x"}, owner=record.owner)
            assert (await store.journal(task_id))["step-1"]["step"] == "compile"
        finally:
            await store.close()

    anyio.run(go)


def test_a_rolling_restart_of_three_instances_loses_no_approval(tmp_path: Path, store_url: str) -> None:
    count = 1000
    fleet = Fleet(tmp_path, store_url)
    for name in ("a", "b", "c"):
        fleet.start(name)
    tags = [f"r{n}" for n in range(count)]
    try:
        # Each phase sends task n's requests to another instance than the last one did.
        with Spread(fleet, shift=0) as spread:
            ids = spread.map(lambda c, tag: c.start_task("release", {"tag": tag}), tags)
        with Spread(fleet, shift=1) as spread:
            asked = spread.settle(ids, lambda t: t["status"] == "input_required")
        assert {tuple(t["inputRequests"]) for t in asked} == {("elicitation-2",)}

        for name in ("a", "b", "c"):  # a deploy: one instance at a time, each back before the next goes
            fleet.restart(name)

        with Spread(fleet, shift=2) as spread:  # the key seen before the deploy
            spread.map(lambda c, task_id: c.update(task_id, {"elicitation-2": YES}), ids)
        with Spread(fleet, shift=0) as spread:
            final = spread.settle(ids, lambda t: t["status"] in ("completed", "failed", "cancelled"))
    finally:
        fleet.stop()
    assert Counter(t["status"] for t in final) == {"completed": count}
    counts = fleet.counts()
    assert all(counts[("build", tag)] == 1 and counts[("deploy", tag)] == 1 for tag in tags), counts.most_common(3)


class Spread:
    """Requests about item n go to instance (n + shift) mod 3, from 8 threads with keep-alive clients."""

    def __init__(self, fleet: Fleet, shift: int) -> None:
        self.urls = [server.url for server in fleet.servers.values()]
        self.shift = shift
        self.pool = ThreadPoolExecutor(8)
        self.local = threading.local()
        self.clients: list[Client] = []
        self.lock = threading.Lock()

    def __enter__(self) -> Spread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()
        for client in self.clients:
            client.close()

    def _client(self, n: int) -> Client:
        mine: dict[int, Client] | None = getattr(self.local, "clients", None)
        if mine is None:
            mine = self.local.clients = {}
        url = (n + self.shift) % len(self.urls)
        if url not in mine:
            mine[url] = Client(self.urls[url])
            with self.lock:
                self.clients.append(mine[url])
        return mine[url]

    def map(self, fn: Callable[[Client, Any], Any], items: list[Any]) -> list[Any]:
        return list(self.pool.map(lambda n: fn(self._client(n), items[n]), range(len(items))))

    def settle(self, ids: list[str], done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Poll every task until each satisfies `done`; the tasks as last read, in order."""
        found: dict[int, dict[str, Any]] = {}

        def look(n: int) -> None:
            task = self._client(n).get(ids[n])
            if done(task):
                found[n] = task

        def settled() -> bool:
            list(self.pool.map(look, [n for n in range(len(ids)) if n not in found]))
            return len(found) == len(ids)

        wait_until(settled, timeout=180, what=f"{len(ids)} tasks to settle")
        return [found[n] for n in range(len(ids))]
