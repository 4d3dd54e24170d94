"""`offload bridge` driven by real MCP clients that know nothing of tasks, installed from the registries.

The task-capable server is `offload serve offload.demo.server:server` (its `release` tool runs for a
while, then asks for approval with an elicitation). The hosts:

- the `mcp` 1.27 Python client (2025-11-25, `initialize` handshake) over stdio: one host process starts
  the task and exits (its bridge goes with it); a second host process, with a new bridge on the same
  journal, is told about the task's question, answers it and gets the result;
- the TypeScript `@modelcontextprotocol/client` 2.x (2026-07-28, no tasks extension) over HTTP.

Each sees the handle line as an ordinary tool result, a malformed answer refused with a reason, and
the result through `task_result`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from interop_installs import NPM, mcp1_python, ts_client

from helpers import OFFLOAD, SERVERS, free_port, wait_listening

CLIENTS = Path(__file__).parent / "clients"
TASK_TOOLS = ["task_result", "task_status", "task_answer", "task_cancel", "task_read"]


class Proc:
    """A background `offload ...` process with its output in a log file."""

    def __init__(self, workdir: Path, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        cmd = [OFFLOAD, *args, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        try:
            wait_listening(self.proc, self.port, self.log, what=name)
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    base = tmp_path_factory.mktemp("bridge-upstream")
    server = Proc(
        base,
        "demo-server",
        ["serve", "offload.demo.server:server", "--store", f"sqlite:///{base}/tasks.db"],
        env={"OFFLOAD_DEMO_STEP_S": "0.05"},
    )
    yield server
    server.stop()


def _steps(stdout: str) -> dict[str, Any]:
    """The client's JSON lines by step name (a repeated step keeps its last line)."""
    return {line["step"]: line for line in map(json.loads, stdout.splitlines()) if line.get("step")}


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, **kw)
    assert done.returncode == 0, f"{cmd[:2]} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done


def _check_follow_up(steps: dict[str, Any], task_id: str, version: str) -> None:
    """The part both hosts share: the question, a refused answer, the answer, the result."""
    asked = " ".join(steps.get("status", steps["other_work"])["texts"])
    assert f"task {task_id} (tool release) needs input: [key " in asked
    assert f'"All 5 steps passed. Ship {version} to production?" fields: approve (boolean, required' in asked
    bad = steps["bad_answer"]
    assert bad["isError"] is True
    assert bad["texts"][0].startswith("error: answer not sent: content.approve: 'yes' is not of type 'boolean'")
    assert steps["answer"]["isError"] is False
    assert steps["answer"]["texts"][0].endswith("sent; the task resumes")
    result = steps["result"]
    assert result["isError"] is False
    assert result["texts"][0] == f"Released {version}: 5 steps passed, approved, deployed"


def test_a_2025_11_25_mcp1_host_over_stdio_follows_a_task_across_a_host_restart(
    demo_server: Proc, tmp_path: Path
) -> None:
    python, why = mcp1_python()
    if python is None:
        pytest.skip(f"mcp 1.27 client unavailable: {why}")
    journal = str(tmp_path / "bridge.journal")
    script = str(CLIENTS / "mcp1_session.py")

    start = {"start": {"tool": "release", "arguments": {"version": "1.4.0"}}, "stop_after_start": True}
    first = _steps(_run([python, script, OFFLOAD, demo_server.url, journal, json.dumps(start)]).stdout)
    assert first["initialize"]["protocolVersion"] == "2025-11-25"
    names = first["tools"]["names"]
    assert {"release", "latest_version", "run_pipeline"} <= set(names) and names[-5:] == TASK_TOOLS
    assert all(schema is None for schema in first["tools"]["outputSchemas"].values())
    handle = first["start"]
    assert handle["isError"] is False
    # The handle line; news (the question, if the task got there already) may follow as a second block.
    assert len(handle["texts"]) == 1 or "needs input" in handle["texts"][1]
    task_id = handle["texts"][0].split()[1]
    assert handle["texts"][0] == (
        f"task {task_id} started (tool release, status working); "
        f"call task_result with task_id={task_id} to get the outcome"
    )

    # A new host process and a new bridge: the journal still knows the task and its tool.
    follow = {
        "task_id": task_id,
        "other": {"tool": "latest_version", "arguments": {}},
        "bad_answer": {"approve": "yes"},
        "answer": {"approve": True},
    }
    second = _steps(_run([python, script, OFFLOAD, demo_server.url, journal, json.dumps(follow)]).stdout)
    assert second["other_work"]["texts"][0] == "1.4.0"
    _check_follow_up(second, task_id, "1.4.0")


def test_a_2026_07_28_typescript_host_without_tasks_over_http(demo_server: Proc, tmp_path: Path) -> None:
    node, why = ts_client()
    if node is None:
        pytest.skip(f"@modelcontextprotocol/client unavailable: {why}")
    bridge = Proc(
        tmp_path, "bridge", ["bridge", demo_server.url, "--http", "--journal", str(tmp_path / "j"), "--wait", "30"]
    )
    try:
        done = _run(
            [node, str(CLIENTS / "ts_session.mjs"), bridge.url], env={**os.environ, "OFFLOAD_NPM_DIR": str(NPM)}
        )
    finally:
        bridge.stop()
    steps = _steps(done.stdout)
    assert steps["connect"]["protocolVersion"] == "2026-07-28"
    assert steps["tools"]["names"][-5:] == TASK_TOOLS
    started = steps["start"]["texts"][0]
    task_id = started.split()[1]
    assert started.startswith(f"task {task_id} started (tool release")
    assert steps["other_work"]["texts"][0] == "1.4.0"
    _check_follow_up(steps, task_id, "2.0.0")


def test_host_bridge_gateway_and_an_unchanged_2025_11_25_server_compose(tmp_path: Path) -> None:
    """mcp 1.27 host -> offload bridge (stdio) -> offload gateway (HTTP, durable tasks) -> a legacy server.

    The upstream knows nothing of tasks and asks its question with a 2025-11-25 elicitation in the
    middle of the call; the host knows nothing of tasks either. The question still reaches the model
    as one line, and its answer goes all the way back.
    """
    python, why = mcp1_python()
    if python is None:
        pytest.skip(f"mcp 1.27 client unavailable: {why}")
    upstream = f"{sys.executable} {SERVERS / 'gateway_upstream.py'} --legacy"
    config = tmp_path / "gateway.toml"
    config.write_text('poll_interval_ms = 200\n\n[tools.approve]\nmode = "required"\n')
    gateway = Proc(
        tmp_path,
        "gateway",
        ["gateway", "--config", str(config), "--upstream", upstream, "--store", f"sqlite:///{tmp_path}/gw.db"],
    )
    marker = str(tmp_path / "approve")
    plan = {
        "start": {"tool": "approve", "arguments": {"change": "schema v2", "marker": marker}},
        "other": {"tool": "quick", "arguments": {"x": 7}},  # before the question: see README "Gateway" limits
        "gate": f"{marker}.go",
        "bad_answer": {"approve": True, "reason": "typo for note"},
        "answer": {"approve": True, "note": "ship it"},
    }
    try:
        done = _run(
            [python, str(CLIENTS / "mcp1_session.py"), OFFLOAD, gateway.url, str(tmp_path / "j"), json.dumps(plan)]
        )
    finally:
        gateway.stop()
    steps = _steps(done.stdout)
    task_id = steps["start"]["texts"][0].split()[1]
    assert steps["start"]["texts"][0].startswith(f"task {task_id} started (tool approve")
    assert steps["other_work"]["texts"][0] == "quick:7"
    asked = " ".join(steps.get("status", steps["other_work"])["texts"])
    assert f"task {task_id} (tool approve) needs input: [key " in asked
    assert '"Approve schema v2?" fields: approve (boolean, required' in asked and "note (string" in asked
    bad = steps["bad_answer"]
    assert bad["isError"] is True
    assert bad["texts"][0].startswith("error: answer not sent: content.reason: not a requested field")
    assert steps["answer"]["texts"][0].endswith("sent; the task resumes")
    assert steps["result"]["texts"] == ["schema v2: approved (ship it)"]
