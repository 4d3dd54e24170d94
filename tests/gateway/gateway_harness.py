"""The gateway test harness: `offload gateway` as a subprocess, the upstream commands, small helpers.

Shared by the gateway test modules of this folder (test_gateway, test_gateway_faults,
test_gateway_everything).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers import (
    DEADLINE_S,
    OFFLOAD,
    SERVERS,
    Client,
    LoggedProcess,
    free_port,
    wait_until,
)

UPSTREAM = str(SERVERS / "gateway_upstream.py")
LEGACY_UPSTREAM = f"{sys.executable} {UPSTREAM} --legacy"
MODERN_UPSTREAM = f"{sys.executable} {UPSTREAM}"

# Fast tools keep a long budget so a slow machine never turns them into tasks; everything that must
# become a task blocks on a gate file, so the default 0.3 s budget is only a lower bound.
BASE_CONFIG = """
budget_s = 0.3
poll_interval_ms = 200

[tools.quick]
mode = "auto"
budget_s = 15

[tools.fail]
mode = "required"
"""


class Gateway(LoggedProcess):
    """`offload gateway ... --port N --store sqlite:///<db>` as a subprocess."""

    def __init__(self, workdir: Path, args: Sequence[str], *, config: str = BASE_CONFIG) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        (workdir / "gateway.toml").write_text(config)
        cmd = [OFFLOAD, "gateway", "--config", str(workdir / "gateway.toml"), *args]
        cmd += ["--port", str(port), "--store", f"sqlite:///{workdir / 'tasks.db'}"]
        super().__init__(cmd, workdir / "gateway.log", port, what="the gateway", cwd=workdir)

    def client(self, **kw: Any) -> Client:
        return Client(self.url, **kw)


def touch(path: str) -> None:
    Path(path).write_text("go")


def result_of(c: Client, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CallToolResult, whether it came inline or (budget elapsed) as a task."""
    result = c.call(tool, arguments)
    if result.get("resultType") == "task":
        task = c.wait_for(result["taskId"])
        assert task["status"] == "completed", task
        return dict(task["result"])
    return result


def read_resource(c: Client, uri: str) -> dict[str, Any]:
    return c.request("resources/read", {"uri": uri}, name=uri)


class HttpUpstream:
    """tests/servers/gateway_upstream.py over Streamable HTTP; `restart()` keeps the port, forgets sessions."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._log = open(workdir / "upstream.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, UPSTREAM, "--http", str(self.port)]
        proc = subprocess.Popen(cmd, stdout=self._log, stderr=self._log)

        def listening() -> bool:
            assert proc.poll() is None, "the HTTP upstream exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(listening, what="the HTTP upstream to listen")
        return proc

    def restart(self) -> None:
        # SIGKILL: uvicorn's graceful shutdown would wait for the streams the gateway keeps open.
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self.proc = self._start()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self._log.close()
