"""A real `offload console` subprocess for the console tests, and Chromium for the browser ones."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers import DEADLINE_S, OFFLOAD, free_port, wait_listening

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class ConsoleProcess:
    def __init__(self, store: str, log: Path, *, token: str | None = None, args: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - kept open for the process's lifetime
        cmd = [OFFLOAD, "console", "--store", store, "--port", str(self.port), "--poll", "0.3", *args]
        if token:
            cmd += ["--token", token]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=log.parent)
        try:
            wait_listening(self.proc, self.port, self.log, what="offload console")
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=DEADLINE_S)
        self._log.close()


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
