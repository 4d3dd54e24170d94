"""Wiring mistakes are said out loud, with the fix, instead of failing every call later."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import OFFLOAD, SERVERS, Client, ServerProcess, wait_until


def test_a_server_without_a_lifespan_is_refused_at_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [OFFLOAD, "serve", str(SERVERS / "misconfigured_server.py"), "--port", "1"],
        env={"MISCONFIG": "no-lifespan", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "lifespan=tasks.lifespan" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_lifespan_that_forgets_the_tasks_gets_a_clear_error_per_call(tmp_path: Path) -> None:
    srv = ServerProcess(
        "misconfigured_server.py", tmp_path / "t.db", tmp_path / "log", env={"MISCONFIG": "own-lifespan"}
    )
    client = Client(srv.url)
    try:
        reply = client.message("tools/call", {"name": "build-it", "arguments": {}})
        assert reply["error"]["code"] == -32603
        assert "lifespan=tasks.lifespan" in reply["error"]["message"]
    finally:
        client.close()
        srv.stop()


def test_a_policy_for_a_tool_that_does_not_exist_is_logged_at_start(tmp_path: Path) -> None:
    srv = ServerProcess("misconfigured_server.py", tmp_path / "t.db", tmp_path / "log", env={"MISCONFIG": "wrong-name"})
    try:
        wait_until(lambda: "@tasks.tool declares" in srv.log(), what="the start-up error about the undeclared tool")
        text = " ".join(srv.log().split())  # however the log handler wraps it
        assert "'build'" in text and "build-it" in text and "below @server.tool()" in text
    finally:
        srv.stop()
