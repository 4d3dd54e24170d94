"""`offload serve --stdio`: the 2026-07-28 wire over stdin/stdout, no initialize handshake."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from helpers import DEADLINE_S, OFFLOAD, SERVERS, meta, text_of, wait_until


class StdioPeer:
    def __init__(self, db: Path, log: Path) -> None:
        self._log = open(log, "wb")  # noqa: SIM115 - closed in close()
        cmd = [OFFLOAD, "serve", str(SERVERS / "e2e_server.py"), "--stdio", "--store", f"sqlite:///{db}"]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=db.parent
        )
        self.lines: Queue[dict[str, Any]] = Queue()
        self._ids = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self._ids += 1
        msg = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": {**params, "_meta": meta()}}
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        while True:
            try:
                reply = self.lines.get(timeout=DEADLINE_S)
            except Empty:
                raise AssertionError(f"no reply to {method} within {DEADLINE_S} s") from None
            if reply.get("id") == self._ids:
                assert "error" not in reply, reply
                return dict(reply["result"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def test_stdio_task_round_trip(tmp_path: Path) -> None:
    peer = StdioPeer(tmp_path / "tasks.db", tmp_path / "stdio.log")
    try:
        created = peer.request("tools/call", {"name": "always_task", "arguments": {"x": 6}})
        assert created["resultType"] == "task"
        task_id = created["taskId"]

        def completed() -> dict[str, Any] | None:
            task = peer.request("tasks/get", {"taskId": task_id})
            return task if task["status"] == "completed" else None

        done = wait_until(completed, what="the stdio task to complete")
        assert done["resultType"] == "complete"
        assert text_of(done["result"]) == "required:6"
        inline = peer.request("tools/call", {"name": "never_task", "arguments": {"x": 6}})
        assert text_of(inline) == "forbidden:6"
    finally:
        peer.close()
    assert peer.proc.returncode == 0, (tmp_path / "stdio.log").read_text()
