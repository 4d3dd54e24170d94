"""End-to-end helpers: real `offload serve` subprocesses and a raw JSON-RPC client over HTTP.

Nothing here uses the SDK's client: the wire is built by hand so the tests see exactly what a
client of io.modelcontextprotocol/tasks (2026-07-28, stateless) sends and receives.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

EXT = "io.modelcontextprotocol/tasks"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
SERVERS = Path(__file__).parent / "servers"
OFFLOAD = str(Path(sys.executable).parent / "offload")
ACCEPT = "application/json, text/event-stream"
TERMINAL = ("completed", "failed", "cancelled")

# Generous: a slow CI machine must never fail a test by being slow.
DEADLINE_S = 20.0
_auto = object()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: What a full client declares besides the extension: it can answer every kind of inputRequest.
INPUT_CAPS: dict[str, Any] = {"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {}}


def meta(ext: bool = True, caps: dict[str, Any] | None = None) -> dict[str, Any]:
    """The 2026-07-28 envelope: the extension (unless `ext` is False) and `caps` (default `INPUT_CAPS`)."""
    declared: dict[str, Any] = dict(INPUT_CAPS if caps is None else caps)
    if ext:
        declared["extensions"] = {EXT: {}}
    return {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": declared}


def wait_until(check: Callable[[], Any], *, timeout: float = DEADLINE_S, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last value: {last!r}")
        time.sleep(0.03)


def wait_listening(proc: subprocess.Popen[bytes], port: int, log: Callable[[], str], *, what: str) -> None:
    """Until a started server accepts connections on `port`; fail with its log if it exits first."""

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(up, what=f"{what} to listen on port {port}")


def parse_body(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response, whether a JSON body or an SSE stream."""
    ctype = response.headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    if not response.content:
        return []
    body = response.json()
    return body if isinstance(body, list) else [body]


class LoggedProcess:
    """A command that serves on `port`, its output in a log file; ready once the port accepts connections."""

    def __init__(
        self,
        cmd: Sequence[str],
        log: Path,
        port: int,
        *,
        what: str,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        path: str = "/mcp",
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}{path}"
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - kept open for the process's lifetime
        self.proc = subprocess.Popen(
            list(cmd), stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
        )
        try:
            wait_listening(self.proc, port, self.log, what=what)
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=DEADLINE_S)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=DEADLINE_S)
        self._log.close()


class ServerProcess(LoggedProcess):
    """`offload serve <file> --port N --store sqlite:///<db>` as a real subprocess."""

    def __init__(
        self,
        script: str,
        db: Path,
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        store: str | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.script = str(SERVERS / script)
        self.db = db
        port = port or free_port()
        cmd = [OFFLOAD, "serve", self.script, "--port", str(port), "--store", store or f"sqlite:///{db}", *args]
        super().__init__(cmd, log, port, what=self.script, cwd=db.parent, env=env)


@contextmanager
def asgi_server(app: Any) -> Iterator[int]:
    """Run an ASGI app under uvicorn in a thread on 127.0.0.1; yield its port."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the ASGI app to start")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error
        self.code = error.get("code")
        self.message = error.get("message", "")
        self.data = error.get("data")


class Client:
    """A minimal 2026-07-28 client: every request is self-contained (`_meta` + routing headers)."""

    def __init__(
        self, url: str, *, token: str | None = None, ext: bool = True, caps: dict[str, Any] | None = None
    ) -> None:
        self.url = url
        self.ext = ext
        self.caps = caps
        self.http = httpx.Client(timeout=DEADLINE_S)
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.http.close()

    # -- raw --

    def headers(self, method: str, name: str | None) -> dict[str, str]:
        h = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
        if name is not None:
            h["Mcp-Name"] = name
        return {**h, **self.auth}

    def post(self, body: Any, headers: Mapping[str, str]) -> httpx.Response:
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.http.post(self.url, content=content, headers=dict(headers))

    def message(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        ext: bool | None = None,
        name: Any = _auto,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request; return its JSON-RPC response message (result or error)."""
        params = dict(params or {})
        params["_meta"] = meta(self.ext if ext is None else ext, self.caps)
        if name is _auto:
            name = params.get("taskId") if method.startswith("tasks/") else params.get("name")
        rid = next(self._ids)
        h = {**self.headers(method, name), **(headers or {})}
        response = self.post({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, h)
        assert response.status_code < 500, f"HTTP {response.status_code}: {response.text}"
        replies = [m for m in parse_body(response) if m.get("id") == rid]
        assert replies, f"no reply to request {rid} (HTTP {response.status_code}): {response.text!r}"
        return replies[-1]

    def request(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The result of one request; raises `RpcError` on a JSON-RPC error."""
        reply = self.message(method, params, **kw)
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]

    # -- tools and tasks --

    def call(self, tool: str, arguments: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.request("tools/call", {"name": tool, "arguments": arguments or {}}, **kw)

    def start_task(self, tool: str, arguments: dict[str, Any] | None = None, **kw: Any) -> str:
        result = self.call(tool, arguments, **kw)
        assert result.get("resultType") == "task", f"expected a task from {tool}, got {result}"
        return str(result["taskId"])

    def get(self, task_id: str, **kw: Any) -> dict[str, Any]:
        return self.request("tasks/get", {"taskId": task_id}, **kw)

    def update(self, task_id: str, responses: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.request("tasks/update", {"taskId": task_id, "inputResponses": responses}, **kw)

    def cancel(self, task_id: str, **kw: Any) -> dict[str, Any]:
        return self.request("tasks/cancel", {"taskId": task_id}, **kw)

    def wait_for(
        self, task_id: str, statuses: tuple[str, ...] = TERMINAL, *, timeout: float = DEADLINE_S
    ) -> dict[str, Any]:
        """Poll tasks/get until the task's status is one of `statuses`; return that task."""

        def check() -> dict[str, Any] | None:
            task = self.get(task_id)
            return task if task["status"] in statuses else None

        return wait_until(check, timeout=timeout, what=f"task {task_id[:8]} to reach {statuses}")

    def wait_until_task(
        self, task_id: str, pred: Callable[[dict[str, Any]], bool], what: str, *, timeout: float = DEADLINE_S
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            task = self.get(task_id)
            return task if pred(task) else None

        return wait_until(check, timeout=timeout, what=what)


def text_of(result: dict[str, Any]) -> str:
    """The concatenated text content of a CallToolResult."""
    return "".join(block.get("text", "") for block in result.get("content", []) if block.get("type") == "text")


def elicit_accept(**content: Any) -> dict[str, Any]:
    return {"action": "accept", "content": content}
