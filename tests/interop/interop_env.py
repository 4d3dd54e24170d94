"""The third-party clients of tests/interop: where they live, how each one is run, what it printed.

`scripts/interop-setup.sh` installs them (idempotent, a stamp per environment); `ensure_installed`
runs it once per test session, so `pytest tests/interop` works on a fresh clone as well as under
scripts/test.sh. Each client is driven by a small script in its own language and environment
(tests/interop/clients/), which prints one JSON line per case; the tests assert on those lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import OFFLOAD, LoggedProcess, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("INTEROP_CACHE", ROOT / ".cache" / "interop"))
SERVER = HERE / "server.py"
CLIENTS = HERE / "clients"
NPM = CACHE / "npm"
INSPECTOR = NPM / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
INSTALL_TIMEOUT_S = 900
DRIVER_TIMEOUT_S = 300  # a whole driver run; generous, a loaded machine must not fail it

# Per-tool policy of the gateway: the modes offload's own fixture server declares (server.TOOLS).
GATEWAY_CONFIG = """
budget_s = 0.25
poll_interval_ms = 200

[tools.quick]
mode = "forbidden"

[tools.slow]
mode = "optional"

[tools.report]
mode = "required"

[tools.approve]
mode = "optional"

[tools.approve_or_default]
mode = "optional"

[tools.hang]
mode = "optional"

[tools.sample]
mode = "optional"

[tools.roots]
mode = "optional"
"""


def ensure_installed() -> None:
    """Install (or confirm) every client environment; fail with the installer's output if it cannot."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "interop-setup.sh")],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        env={**os.environ, "INTEROP_CACHE": str(CACHE)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/interop-setup.sh failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not on PATH (the TypeScript clients need Node >= 20)")
    return found


class Gateway(LoggedProcess):
    """`offload gateway` in front of tests/interop/server.py --plain (an ordinary MCP server over stdio)."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        (workdir / "gateway.toml").write_text(GATEWAY_CONFIG)
        upstream = f"{sys.executable} {SERVER} --plain"
        cmd = [OFFLOAD, "gateway", "--config", str(workdir / "gateway.toml"), "--upstream", upstream]
        cmd += ["--port", str(port), "--store", f"sqlite:///{workdir / 'tasks.db'}"]
        super().__init__(cmd, workdir / "gateway.log", port, what="the gateway", cwd=workdir)


@dataclass
class Run:
    """What one driver printed: its JSON lines by case, and the raw output for failure messages."""

    client: str
    target: str
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: str = ""

    def case(self, name: str) -> dict[str, Any]:
        assert name in self.cases, f"{self.client} against {self.target} printed no {name!r} line:\n{self.output}"
        return self.cases[name]


def driver_command(client: str, url: str, marker: str) -> list[str]:
    """The command line that runs `client`'s driver against `url`."""
    if client == "fastmcp":
        return [str(CACHE / "fastmcp" / "bin" / "python"), str(CLIENTS / "fastmcp_driver.py"), url, marker]
    if client == "mcp1":
        return [str(CACHE / "mcp1" / "bin" / "python"), str(CLIENTS / "mcp1_driver.py"), url, marker]
    if client == "mcp2":
        return [sys.executable, str(CLIENTS / "mcp2_driver.py"), url, marker]
    if client == "typescript":
        # ESM resolves packages next to the script, so the driver runs from the npm environment.
        shutil.copyfile(CLIENTS / "ts_driver.mjs", NPM / "offload_ts_driver.mjs")
        return [node(), str(NPM / "offload_ts_driver.mjs"), url, marker]
    raise ValueError(client)


def run_driver(client: str, target: str, url: str, marker: str) -> Run:
    cmd = driver_command(client, url, marker)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S, cwd=CACHE)
        stdout, output = done.stdout, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output = f"killed after {DRIVER_TIMEOUT_S} s\nstdout:\n{stdout}\nstderr:\n{exc.stderr!r}"
    run = Run(client, target, output=output)
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            run.cases[record["case"]] = record
    return run


@dataclass
class InspectorCall:
    """One `inspector --cli` invocation: its exit code, parsed stdout, and how long it took."""

    returncode: int | None  # None: still running at the deadline, killed
    result: dict[str, Any] | None
    output: str
    seconds: float


def inspector(url: str, home: Path, tool: str, args: dict[str, str], *, timeout: float) -> InspectorCall:
    """`npx @modelcontextprotocol/inspector --cli URL --protocol-era modern --method tools/call ...`."""
    cmd = [node(), str(INSPECTOR), "--cli", url, "--protocol-era", "modern", "--format", "json"]
    cmd += ["--method", "tools/call", "--tool-name", tool]
    for key, value in args.items():
        cmd += ["--tool-arg", f"{key}={value}"]
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "MCP_CATALOG_PATH": str(home / "mcp.json")}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=home)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        code = None
    seconds = time.monotonic() - started
    result = None
    try:
        parsed = json.loads(out)
        result = parsed if isinstance(parsed, dict) else None
    except ValueError:
        pass
    return InspectorCall(code, result, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}", seconds)


def in_parallel(jobs: Sequence[tuple[Any, ...]], fn: Any, *, workers: int | None = None) -> list[Any]:
    """fn(*job) for every job, `workers` at a time (each is a subprocess, so threads suffice); results in order."""
    with ThreadPoolExecutor(max_workers=max(1, workers or len(jobs))) as pool:
        return list(pool.map(lambda job: fn(*job), jobs))
