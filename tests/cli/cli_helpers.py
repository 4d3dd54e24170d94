"""What the CLI tests share: running the real `offload` console script and reading how it ended."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from helpers import OFFLOAD, Client, ServerProcess

CLI_DEADLINE_S = 60.0


def cli_env(journal: Path) -> dict[str, str]:
    """The environment of an `offload` run: its own journal, no token or debug switch from outside."""
    env = {**os.environ, "OFFLOAD_JOURNAL": str(journal), "COLUMNS": "100"}
    env.pop("OFFLOAD_TOKEN", None)
    env.pop("OFFLOAD_DEBUG", None)
    return env


def offload(
    *args: str, journal: Path, stdin: Any = subprocess.DEVNULL, timeout: float = 0
) -> subprocess.CompletedProcess[str]:
    """Run `offload ARGS`; the journal goes to `journal` ($OFFLOAD_JOURNAL), never to the real home."""
    proc = subprocess.run(
        [OFFLOAD, *args],
        capture_output=True,
        text=True,
        stdin=stdin,
        env=cli_env(journal),
        timeout=timeout or CLI_DEADLINE_S,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def offload_each(commands: list[tuple[str, ...]], *, journal: Path) -> list[subprocess.CompletedProcess[str]]:
    """Several independent `offload` runs at once (each process spends most of its time importing)."""
    with ThreadPoolExecutor(max_workers=min(len(commands), 4)) as pool:
        return list(pool.map(lambda args: offload(*args, journal=journal), commands))


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc.stdout


def one_error_line(proc: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    """The command failed with exactly one `offload: ...` line on stderr."""
    assert proc.returncode != 0, f"expected failure, got 0; stdout: {proc.stdout}"
    if code is not None:
        assert proc.returncode == code, f"exit {proc.returncode}, expected {code}; stderr: {proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {proc.stderr!r}"
    assert lines[0].startswith("offload: "), lines[0]
    return lines[0]


def task_json(server: ServerProcess, task_id: str, journal: Path) -> dict[str, Any]:
    return dict(json.loads(ok(offload("task", "get", server.url, task_id, "--json", journal=journal))))


def wait_status(server: ServerProcess, task_id: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    """Poll over raw HTTP (a CLI process per poll would only be slower); the CLI is checked elsewhere."""
    client = Client(server.url)
    try:
        return client.wait_for(task_id, statuses, timeout=CLI_DEADLINE_S)
    finally:
        client.close()


def detach(server: ServerProcess, journal: Path, *call: str) -> str:
    out = ok(offload("call", "--detach", server.url, *call, journal=journal))
    lines = out.splitlines()
    assert len(lines) == 1, out
    task_id = lines[0].strip()
    assert len(task_id) == 43, task_id
    return task_id


class Terminal:
    """`offload ARGS` on a pseudo-terminal that is its controlling terminal (so ^C sends SIGINT)."""

    def __init__(self, *args: str, journal: Path, columns: int = 100) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))

        def controlling_tty() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {**cli_env(journal), "TERM": "xterm-256color"}
        env.pop("COLUMNS", None)
        self.proc = subprocess.Popen(
            [OFFLOAD, *args], stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=controlling_tty
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = CLI_DEADLINE_S) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            assert time.monotonic() < deadline, f"no {marker!r} on the terminal; saw {self.seen!r}"
            self._read(0.1)

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:
            return False
        self.seen += chunk
        return bool(chunk)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = CLI_DEADLINE_S) -> int:
        """Read until the process exits; its exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"still running; saw {self.seen!r}"
            self._read(0.05)
        while self._read(0.05) and select.select([self.master], [], [], 0)[0]:
            pass
        return self.proc.returncode

    def text(self) -> str:
        return self.seen.decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        os.close(self.master)
