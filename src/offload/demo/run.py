"""The narrated walk-through behind `offload demo`."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from offload.agent import TOKEN_METHOD, measure_context
from offload.agent.payload import measure_large_result, measure_polls
from offload.client import RpcError, WireClient
from offload.demo.agent_loop import run_agent_loop, run_blocking
from offload.protocol import TERMINAL
from offload.store import open_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """The example server as a child process, so the demo can kill it like a crash would."""

    def __init__(self, store: Path, step_s: float) -> None:
        self.store = store
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.env = {**os.environ, "OFFLOAD_DEMO_STEP_S": str(step_s)}
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        cmd = [sys.executable, "-m", "offload", "serve", "offload.demo.server:server", "--port", str(self.port)]
        cmd += ["--store", f"sqlite:///{self.store}"]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the demo server exited with code {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                await anyio.sleep(0.05)
        raise RuntimeError("the demo server did not start within 30 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _say(text: str = "") -> None:
    print(text, flush=True)


def _short(task_id: str) -> str:
    return f"{task_id[:10]}…"


async def _follow(
    client: WireClient, task: dict[str, Any], t0: float, answers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Poll a task at its pollIntervalMs, printing each change; answer questions as they come."""
    task_id = task["taskId"]
    seen: tuple[Any, ...] = ()
    answered: set[str] = set()
    while True:
        state = (task["status"], task.get("statusMessage"))
        if state != seen:
            seen = state
            _say(f"   {time.monotonic() - t0:5.1f}s  {task['status']:<15} {task.get('statusMessage') or ''}")
        if task["status"] in TERMINAL:
            return task
        if task["status"] == "input_required":
            fresh = {k: v for k, v in task.get("inputRequests", {}).items() if k not in answered}
            for key, req in fresh.items():
                question = req.get("params", {}).get("message", req.get("method"))
                _say(f"   {'':6} question {key!r}: {question}")
                _say(f"   {'':6} -> answering via tasks/update: {answers}")
                await client.result("tasks/update", {"taskId": task_id, "inputResponses": {key: answers}})
                answered.add(key)
        await anyio.sleep(task.get("pollIntervalMs", 1000) / 1000)
        task = await client.result("tasks/get", {"taskId": task_id})


async def _approval_survives_a_crash(client: WireClient, server: _Server) -> bool:
    """Section 3, continued: an approval waiting when the server is killed, answered under the key seen first."""
    _say()
    _say('   An approval waiting when the server dies: release {"version": "1.4.1"}, then kill -9 while it asks.')
    t0 = time.monotonic()
    task = await client.result("tools/call", {"name": "release", "arguments": {"version": "1.4.1"}})
    while task["status"] != "input_required":
        await anyio.sleep(task.get("pollIntervalMs", 250) / 1000)
        task = await client.result("tasks/get", {"taskId": task["taskId"]})
    task_id, (key,) = task["taskId"], list(task["inputRequests"])
    first_pid = server.proc.pid if server.proc else 0
    _say(f"   {time.monotonic() - t0:5.1f}s  input_required  question {key!r}; the build ran in pid {first_pid}")
    server.kill()
    _say(f"   {time.monotonic() - t0:5.1f}s  server killed (SIGKILL); a new process starts on the same file")
    await server.start()
    answer = {"action": "accept", "content": {"approve": True}}
    await client.result("tasks/update", {"taskId": task_id, "inputResponses": {key: answer}})
    _say(f"   {time.monotonic() - t0:5.1f}s  answered {key!r} (the key the client saw before the crash)")
    final = await _follow(client, await client.result("tasks/get", {"taskId": task_id}), t0)
    _say(f"   result: {final.get('result', {}).get('content', [{}])[0].get('text')!r}")
    journal = await _journal(server.store, task_id)
    build, deploy = journal.get("step-1", {}).get("result", {}), journal.get("step-3", {}).get("result", {})
    _say(f"   journal: build ran once, in pid {build.get('pid')}; the approval {key!r} was recorded with its")
    _say(f"   answer; deploy ran once, in pid {deploy.get('pid')}. The tool is retry=True and its side effects")
    _say("   are offload.step()s, so the new process replayed it: recorded results and answers came back")
    _say("   without building again or asking twice (docs/approvals.md).")
    ok = final["status"] == "completed" and build.get("pid") == first_pid and deploy.get("pid") not in (None, first_pid)
    if not ok:
        _say(f"   unexpected: {final['status']}, journal {journal}")
    return ok


async def _journal(store: Path, task_id: str) -> dict[str, Any]:
    tasks = open_store(f"sqlite:///{store}")
    await tasks.open()
    try:
        return await tasks.journal(task_id)
    finally:
        await tasks.close()


PIPELINE_LINES = 5000
MAX_RATIO = 0.01


async def _context_accounting(url: str) -> bool:
    """Section 4: the same noisy operation blocking and as a task; what enters the agent's window."""
    _say()
    _say(f'4. Context accounting: run_pipeline {{"lines": {PIPELINE_LINES}}} twice. Both requests ask for logs')
    _say("   (_meta io.modelcontextprotocol/logLevel=info) and progress (a progressToken); only the second one")
    _say("   declares the tasks extension.")
    report = await measure_context(url, "run_pipeline", {"lines": PIPELINE_LINES})
    _say(f"   blocking (no tasks extension, runs inline, {report.blocking_seconds:.1f}s):")
    _say(
        f"     into the window: {report.blocking_log_lines:,} log lines + {report.blocking_progress} progress "
        f"notifications + the result"
    )
    _say(f"                      {report.blocking_bytes:,} bytes, ~{report.blocking_tokens:,} tokens")
    _say(f"     round trips:     {report.blocking_round_trips} HTTP request, open for the whole run")
    _say(f"   as a task (offload TaskClient, {report.task_seconds:.1f}s):")
    _say("     into the window: the CreateTaskResult handle + the final result, fetched when needed")
    n = report.task_notifications
    if n:
        _say(
            f"                      (+ {n} notification{'s' if n != 1 else ''} sent on the response before the handle)"
        )
    _say(f"                      {report.task_bytes:,} bytes, ~{report.task_tokens:,} tokens")
    _say(
        f"     round trips:     {report.task_round_trips} HTTP requests: 1 tools/call + {report.task_polls} tasks/get "
        f"polls, made by the harness outside the window"
    )
    _say(
        f"   ratio: the task put {report.ratio:.3%} of the blocking case's bytes into the window "
        f"(limit {MAX_RATIO:.0%})"
    )
    _say("   bytes: UTF-8 compact JSON of each message handed to the agent (notification frames, results)")
    _say(f"   tokens: approximate, {report.token_method}")
    if report.task_status != "completed" or report.blocking_log_lines < PIPELINE_LINES:
        _say(f"   unexpected: task {report.task_status}, {report.blocking_log_lines} log lines received blocking")
        return False
    if report.ratio > MAX_RATIO:
        _say(f"   FAILED: {report.ratio:.3%} is over the {MAX_RATIO:.0%} limit")
        return False
    return True


async def _agent_loop(url: str) -> bool:
    """Section 5: a scripted agent does the release and the pipeline with tasks, then a host does them blocking."""
    _say()
    _say("5. An agent loop (a scripted stand-in for the model, offload.demo.agent_loop) with TaskToolAdapter:")
    _say(f'   it starts release and run_pipeline {{"lines": {PIPELINE_LINES}}}, does other work, and waits; between')
    _say("   turns the harness hands it the attention line when a task ended or asks something.")

    def show(kind: str, text: str) -> None:
        for line in text.splitlines():
            shown = line if len(line) <= 150 else line[:149] + "…"
            _say(f"   {'model <- ' + kind:<21} {shown}")

    loop = await run_agent_loop(url, lines=PIPELINE_LINES, on_message=show)
    window = loop.window
    blocking, outcomes = await run_blocking(url, lines=PIPELINE_LINES)
    size = f"{window.bytes():,} bytes, ~{window.tokens():,} tokens"
    _say(f"   with tasks: {size} entered the window over {loop.turns} tool calls:")
    _say(f"     tool results    {window.count('tool'):>4} messages, {window.bytes('tool'):>9,} bytes")
    _say(f"     attention lines {window.count('attention'):>4} messages, {window.bytes('attention'):>9,} bytes")
    _say(
        f"     (while the model waited, the harness checked its tasks {loop.attention_polls} times, outside the window)"
    )
    _say(f"   blocking (a 2025-11-25 host, same calls): {blocking.bytes():,} bytes, ~{blocking.tokens():,} tokens:")
    for kind in ("tool", "progress", "log", "question"):
        _say(f"     {kind:<15} {blocking.count(kind):>4} messages, {blocking.bytes(kind):>9,} bytes")
    ratio = window.bytes() / blocking.bytes() if blocking.bytes() else 0.0
    _say(f"   ratio: {ratio:.3%} of the blocking bytes; tokens approximate ({TOKEN_METHOD.split(' (')[0]})")
    if loop.outcomes != outcomes:
        _say(f"   unexpected: outcomes differ: {loop.outcomes} vs {outcomes}")
        return False
    return ratio <= MAX_RATIO


async def _payload_and_polling(url: str) -> bool:
    """Section 6: a large result kept out of the window, and poll intervals learned from durations."""
    _say()
    _say("6. A large result and the poll cadence. build_log returns a 20,000-line log (~1 MB; the SDK sends a")
    _say("   `-> str` result twice, as text and structuredContent). Run blocking, as a task with the result")
    _say("   inline (build_log_inline), and as a task whose log stays in the store behind a resource_link and")
    _say("   a preview, of which the agent then reads the last 40 lines:")
    large = await measure_large_result(url, "build_log", {"lines": 20000}, inline_tool="build_log_inline")
    for line in large.lines():
        _say(f"   {line}")
    _say('   Then pause {"seconds": 1.2}, eight times polling every second, eight times following the')
    _say("   pollIntervalMs the server suggests once it has seen the tool's durations:")
    polls = await measure_polls(url, "pause", {"seconds": 1.2}, runs=8, fixed_ms=1000)
    for line in polls.lines():
        _say(f"   {line}")
    ok = large.links > 0 and large.link_bytes * 20 < large.blocking_bytes
    if not ok:
        _say(f"   unexpected: {large.links} links, {large.link_bytes:,} bytes with links")
    return ok


async def _demo(workdir: Path, step_s: float) -> int:
    store = workdir / "tasks.db"
    server = _Server(store, step_s)
    _say("offload demo: durable MCP Tasks (io.modelcontextprotocol/tasks) on the official MCP SDK")
    _say(f"  task store: {store}")
    await server.start()
    _say(f"  server:     {server.url} (pid {server.proc.pid if server.proc else '?'})")
    try:
        async with WireClient(server.url, capabilities={"elicitation": {}}) as client:  # it answers the approval
            _say()
            _say('1. The client declares the tasks extension and calls release {"version": "1.4.0"}.')
            t0 = time.monotonic()
            created = await client.result("tools/call", {"name": "release", "arguments": {"version": "1.4.0"}})
            if created.get("resultType") != "task":
                _say("   the call finished inline (no task needed)")
                return 1
            _say(
                f"   after {time.monotonic() - t0:.2f}s the server answered with a handle, not a result:\n"
                f"   taskId={_short(created['taskId'])} status={created['status']} "
                f"pollIntervalMs={created.get('pollIntervalMs')} ttlMs={created.get('ttlMs')}"
            )
            done = await _follow(client, created, t0, {"action": "accept", "content": {"approve": True}})
            text = done.get("result", {}).get("content", [{}])[0].get("text")
            _say(f"   result: {text!r}")
            release_id = created["taskId"]

            _say()
            _say("2. Where does the task live? In the store, not in the server's memory:")
            with sqlite3.connect(store) as db:
                rows = db.execute("SELECT task_id, tool, status FROM tasks ORDER BY created_ms").fetchall()
            for tid, tool, status in rows:
                _say(f"   {store.name}: {_short(tid)} {tool:<8} {status}")
            _say("   Any server process pointed at this file answers tasks/get for it.")

            _say()
            _say("3. What if the server dies mid-task? Start reindex, then kill -9 the server.")
            t0 = time.monotonic()
            job = await client.result("tools/call", {"name": "reindex", "arguments": {"shards": 6}})
            _say(f"   handle: taskId={_short(job['taskId'])} status={job['status']}")
            await anyio.sleep(step_s * 2.5)
            job = await client.result("tasks/get", {"taskId": job["taskId"]})
            _say(f"   {time.monotonic() - t0:5.1f}s  {job['status']:<15} {job.get('statusMessage') or ''}")
            server.kill()
            _say(f"   {time.monotonic() - t0:5.1f}s  server killed (SIGKILL); starting a new process on the same file")
            await server.start()
            try:
                old = await client.result("tasks/get", {"taskId": release_id})
                _say(f"   the finished release task is still served: status={old['status']}")
            except RpcError as exc:
                _say(f"   unexpected: {exc}")
                return 1
            job = await client.result("tasks/get", {"taskId": job["taskId"]})
            final = await _follow(client, job, t0)
            _say(f"   result: {final.get('result', {}).get('content', [{}])[0].get('text')!r}")
            _say()
            _say("   reindex is declared retry=True, so the new process took over its lease and ran it again.")
            _say("   A tool not declared safe to retry ends 'failed' with a message that its worker was lost:")
            _say("   a task is never left 'working' forever.")
            if not await _approval_survives_a_crash(client, server):
                return 1

        if not await _context_accounting(server.url):
            return 1
        if not await _agent_loop(server.url):
            return 1
        if not await _payload_and_polling(server.url):
            return 1
        return 0
    finally:
        server.stop()


def run_demo(workdir: str | None = None, fast: bool = False) -> int:
    step_s = 0.15 if fast else 0.5
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        (path / "tasks.db").unlink(missing_ok=True)
        return anyio.run(_demo, path, step_s)
    with tempfile.TemporaryDirectory(prefix="offload-demo-") as tmp:
        return anyio.run(_demo, Path(tmp), step_s)
