"""The official `@modelcontextprotocol/server-everything` from npm, for the gateway tests.

Installed once into `.cache/npm-everything/` (a pinned version; a stamp file records it). Node:
`$OFFLOAD_NODE`, else the system `node` when it is >= 18, else the Node 22 that
scripts/conformance.sh installs from npm, else `node-<os>-<arch>@22` from npm into the same cache.
`everything()` returns the command line, or the reason it cannot run here (the tests skip with it).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("OFFLOAD_NPM_CACHE", ROOT / ".cache" / "npm-everything"))
VERSION = os.environ.get("OFFLOAD_EVERYTHING_VERSION", "2026.8.31")
ENTRY = CACHE / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
STAMP = CACHE / ".offload-installed"
INSTALL_TIMEOUT_S = 600


def _node_package() -> str | None:
    os_name = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system())
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    return f"node-{os_name}-{arch}" if os_name and arch else None


def _major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def _npm_install(*specs: str) -> str | None:
    """Install into the cache; None on success, else why not."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not on PATH"
    CACHE.mkdir(parents=True, exist_ok=True)
    package_json = CACHE / "package.json"
    if not package_json.exists():
        package_json.write_text('{"name": "offload-gateway-upstreams", "private": true}\n')
    cmd = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *specs]
    try:
        done = subprocess.run(cmd, cwd=CACHE, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return (
            f"`npm install {' '.join(specs)}` did not finish within {INSTALL_TIMEOUT_S} s (npm registry unreachable?)"
        )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"`npm install {' '.join(specs)}` failed (npm registry unreachable?): {' / '.join(tail)}"
    return None


def node(min_major: int = 18) -> tuple[str | None, str]:
    """A Node >= `min_major` binary, or (None, why not)."""
    candidates = [os.environ.get("OFFLOAD_NODE"), shutil.which("node")]
    pkg = _node_package()
    if pkg is not None:
        candidates += [
            str(ROOT / ".cache" / "conformance" / "npm" / "node_modules" / pkg / "bin" / "node"),
            str(CACHE / "node_modules" / pkg / "bin" / "node"),
        ]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _major(candidate) >= min_major:
            return candidate, ""
    if pkg is None:
        return None, f"no Node >= {min_major} here and no npm Node build for {platform.system()}/{platform.machine()}"
    failure = _npm_install(f"{pkg}@22")
    local = CACHE / "node_modules" / pkg / "bin" / "node"
    if failure is None and local.exists() and _major(str(local)) >= min_major:
        return str(local), ""
    return None, failure or f"{local} does not run"


def everything() -> tuple[list[str] | None, str]:
    """The stdio command line of server-everything, or (None, why it cannot run here)."""
    binary, why = node()
    if binary is None:
        return None, why
    if not ENTRY.exists() or (STAMP.read_text() if STAMP.exists() else "") != VERSION:
        failure = _npm_install(f"@modelcontextprotocol/server-everything@{VERSION}")
        if failure is not None:
            return None, failure
        if not ENTRY.exists():
            return None, f"npm install finished but {ENTRY} is missing"
        STAMP.write_text(VERSION)
    return [binary, str(ENTRY), "stdio"], ""


if __name__ == "__main__":  # `python tests/npm_upstreams.py`: install ahead of time, print the command
    command, reason = everything()
    print(" ".join(command) if command else f"cannot run server-everything: {reason}")
