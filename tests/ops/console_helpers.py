"""A real `offload console` subprocess for the console tests, and Chromium for the browser ones."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers import OFFLOAD, LoggedProcess, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class ConsoleProcess(LoggedProcess):
    def __init__(self, store: str, log: Path, *, token: str | None = None, args: Sequence[str] = ()) -> None:
        port = free_port()
        cmd = [OFFLOAD, "console", "--store", store, "--port", str(port), "--poll", "0.3", *args]
        if token:
            cmd += ["--token", token]
        super().__init__(cmd, log, port, what="offload console", cwd=log.parent, path="/")


def chromium_path() -> str:
    """Debian's Chromium, installed here when missing and allowed (root); otherwise the test is skipped."""
    pytest.importorskip("playwright.sync_api", reason="the test extra installs playwright")
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"no {CHROMIUM}, and installing it needs root and apt-get (apt-get install -y chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    for cmd in (["apt-get", *lock, "update", "-q"], ["apt-get", *lock, "install", "-y", "-q", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    assert os.path.exists(CHROMIUM), "apt-get install chromium left no /usr/bin/chromium"
    return CHROMIUM
