"""Tasks-unaware MCP clients from the registries, installed once under `.cache/interop/`.

- `.cache/interop/mcp1`: a virtual environment with `mcp==1.27.*` (a 2025-11-25 client; the project's
  own environment has mcp 2.x, so it cannot live there).
- `.cache/interop/npm`: node_modules with `@modelcontextprotocol/client` 2.x (a 2026-07-28 client
  that does not declare the tasks extension), run with a Node >= 20 (`npm_upstreams.node`).

Other test modules share these directories, so every step checks what is already there first and
runs under a file lock: calling these functions again, or from two processes, is safe and cheap.
Each returns what to run, or (None, why not) for the test to skip with.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from npm_upstreams import node

ROOT = Path(__file__).resolve().parents[2]
INTEROP = Path(os.environ.get("OFFLOAD_INTEROP_CACHE", ROOT / ".cache" / "interop"))
MCP1 = INTEROP / "mcp1"
NPM = INTEROP / "npm"
MCP1_SPEC = os.environ.get("OFFLOAD_MCP1_SPEC", "mcp==1.27.*")
MCP1_PREFIX = "1.27."
TS_CLIENT = "@modelcontextprotocol/client"
TS_CLIENT_SPEC = f"{TS_CLIENT}@^2.4.0"
TIMEOUT_S = 900


@contextmanager
def _locked() -> Iterator[None]:
    INTEROP.mkdir(parents=True, exist_ok=True)
    with open(INTEROP / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{' '.join(cmd)}` failed: {exc}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"`{' '.join(cmd)}` failed (registry unreachable?): {' / '.join(tail)}"
    return None


def _mcp1_version(python: Path) -> str:
    if not python.exists():
        return ""
    probe = "import importlib.metadata as m; print(m.version('mcp'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else ""


def mcp1_python() -> tuple[str | None, str]:
    """The interpreter of a venv with the mcp 1.x client, or (None, why not)."""
    python = MCP1 / "bin" / "python"
    if _mcp1_version(python).startswith(MCP1_PREFIX):
        return str(python), ""
    with _locked():
        if _mcp1_version(python).startswith(MCP1_PREFIX):
            return str(python), ""
        if not python.exists():
            failure = _run([sys.executable, "-m", "venv", "--clear", str(MCP1)])
            if failure is not None:
                return None, failure
        failure = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", MCP1_SPEC])
        if failure is not None:
            return None, failure
    version = _mcp1_version(python)
    return (str(python), "") if version.startswith(MCP1_PREFIX) else (None, f"mcp {version!r} installed, not 1.27")


def _ts_version() -> str:
    manifest = NPM / "node_modules" / "@modelcontextprotocol" / "client" / "package.json"
    try:
        return str(json.loads(manifest.read_text()).get("version", ""))
    except (OSError, ValueError):
        return ""


def ts_client() -> tuple[str | None, str]:
    """A Node >= 20 that can import `@modelcontextprotocol/client` 2.x from NPM, or (None, why not)."""
    binary, why = node(20)
    if binary is None:
        return None, why
    if _ts_version().startswith("2."):
        return binary, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not on PATH"
    with _locked():
        if not _ts_version().startswith("2."):
            NPM.mkdir(parents=True, exist_ok=True)
            if not (NPM / "package.json").exists():
                (NPM / "package.json").write_text('{"name": "offload-interop-clients", "private": true}\n')
            cmd = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", TS_CLIENT_SPEC]
            failure = _run(cmd, cwd=NPM)
            if failure is not None:
                return None, failure
    return (binary, "") if _ts_version().startswith("2.") else (None, f"{TS_CLIENT} 2.x missing after install")


if __name__ == "__main__":  # `python tests/bridge/interop_installs.py`: install ahead of time
    print("mcp1:", mcp1_python())
    print("ts client:", ts_client())
