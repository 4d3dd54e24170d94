"""Nothing a client sends stalls the server: huge or many headers, silent sockets, too many connections.

Each test injects the fault over a real socket against a real `offload serve` and checks the answer,
and that other requests kept being served meanwhile (no stall long enough to cost a task its lease).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import Client, ServerProcess, text_of, wait_until

ARGS = ["--head-timeout", "1.5", "--max-connections", "40", "--keep-alive", "2"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("floods")
    srv = ServerProcess("e2e_server.py", base / "tasks.db", base / "server.log", args=ARGS)
    yield srv
    srv.stop()


def _connect(srv: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=10)


def _read_status(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    return data.split(b"\r\n", 1)[0]


def _head(extra: bytes) -> bytes:
    return b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra


class _Poller:
    """tasks/get in a loop on its own connection, recording the slowest answer."""

    def __init__(self, srv: ServerProcess, task_id: str) -> None:
        self.client = Client(srv.url)
        self.task_id = task_id
        self.slowest = 0.0
        self.answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            assert self.client.get(self.task_id)["taskId"] == self.task_id
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.answers += 1
            time.sleep(0.02)

    def __enter__(self) -> _Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.client.close()


def test_a_64_mb_header_is_refused_with_431_without_stalling_the_server(server: ServerProcess) -> None:
    client = Client(server.url)
    task_id = client.start_task("always_task", {"x": 1})
    with _Poller(server, task_id) as poller:
        sock = _connect(server)
        status = b""
        try:
            sock.sendall(_head(b"X-Big: "))
            chunk = b"a" * (1024 * 1024)
            t0 = time.monotonic()
            try:
                for _ in range(64):
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server closed the connection on us: that is the point
            status = _read_status(sock)
            elapsed = time.monotonic() - t0
        finally:
            sock.close()
        time.sleep(0.3)
    assert status.startswith(b"HTTP/1.1 431"), status
    assert elapsed < 5, f"took {elapsed:.1f}s to refuse"
    assert poller.answers > 3
    # The lease is 5 s; the server must never have gone quiet for anything close to that.
    assert poller.slowest < 2.0, f"a tasks/get waited {poller.slowest:.2f}s while the header arrived"
    assert text_of(client.call("never_task", {"x": 2})) == "forbidden:2"
    client.close()


def test_too_many_header_fields_get_431(server: ServerProcess) -> None:
    sock = _connect(server)
    try:
        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(150))
        sock.sendall(_head(fields + b"Content-Length: 2\r\n\r\n{}"))
        assert _read_status(sock).startswith(b"HTTP/1.1 431")
    finally:
        sock.close()


def test_a_silent_or_trickling_connection_is_closed_after_the_head_timeout(server: ServerProcess) -> None:
    silent, trickle = _connect(server), _connect(server)
    try:
        trickle.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
        t0 = time.monotonic()
        assert silent.recv(100) == b""  # closed, nothing owed
        assert _read_status(trickle).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - t0 < 10
    finally:
        silent.close()
        trickle.close()


def test_connections_beyond_the_limit_get_503_and_the_server_recovers(server: ServerProcess) -> None:
    idle = [_connect(server) for _ in range(60)]
    try:
        refused = 0
        for sock in idle:
            sock.settimeout(0.5)
            try:
                if sock.recv(100).startswith(b"HTTP/1.1 503"):
                    refused += 1
            except TimeoutError:
                pass
        assert refused >= 15, refused  # 60 opened against a limit of 40 (some may be counted before others close)
    finally:
        for sock in idle:
            sock.close()
    client = Client(server.url)
    try:
        wait_until(lambda: text_of(client.call("never_task", {"x": 3})) == "forbidden:3", what="service again")
    finally:
        client.close()
