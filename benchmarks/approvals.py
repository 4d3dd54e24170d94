"""Durable approvals (docs/approvals.md): `.venv/bin/python benchmarks/approvals.py [--quick] [--only rss|latency]`.

One `offload serve benchmarks/approvals_server.py` process on core 0 (`taskset -c 0`); this process
(the load) and redis-server / PostgreSQL on core 1, as benchmarks/cluster.py runs them. The tool,
`approve`, is retry-safe: one durable step, a question (`ctx.elicit`), then a step recording the
wall-clock time the tool resumed at, which it returns.

1. Memory per parked task (SQLite): after a warm-up of 200 tasks, N tasks are created over 32
   keep-alive connections; once every one is parked (owner `(parked)` in the SQLite file), the
   server's RSS (VmRSS) is read again: (after - before) / N is what each parked task costs. With
   park_after_s=0 (parked at once) for each N, and park_after_s=inf (held in memory) for one N.
   Idle CPU: the server's utime+stime over 10 s with nothing to do but its sweeps. The server's
   `memory` tool splits the growth by layer (pymalloc, glibc's heap, SQLite), so a figure above
   target says where it comes from.
2. Answer -> resumed tool, per store and mode: M tasks wait for input (parked, or in memory); they
   are answered one at a time (tasks/update), each once the previous one completed; latency = the
   time the tool resumed (its result) minus this process's `time.time()` just before sending.
   Store calls per answer come from the server's Prometheus endpoint (`offload.store.duration`).

`--diagnose N` instead runs the server under tracemalloc, parks N tasks (or, with `--park-after-s
inf`, keeps them waiting in memory), and prints where the memory they hold was allocated (object
types by count, allocation sites by size).

Prints Markdown tables (and writes them to --out if given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster import Instance, Stores, cpu_s, free_port, installed, loadavg, revision
from load import META, TASKS_EXT, Connection, RpcError, Stats, call_tool, get_task, request_bytes
from offload.runtime.replay import PARKED_OWNER
from offload.store import open_store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OFFLOAD = Path(sys.executable).with_name("offload")
SERVER = HERE / "approvals_server.py"
SERVER_CORE, LOAD_CORE = 0, 1
ACCEPT = {"action": "accept", "content": {"approve": True}}
#: The load client's envelope, declaring elicitation too: offload refuses a question no one could answer.
ELICITING = {**META, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {TASKS_EXT: {}}}}
INF = float("inf")


@dataclass
class Config:
    sizes: list[int]  # N for the parked runs of benchmark 1
    in_memory_size: int  # N for the in-memory comparison
    warmup: int  # tasks created (and parked) before the first RSS reading
    connections: int  # for creating tasks
    idle_s: float  # CPU is measured over this long, idle
    answers: int  # M, per store and mode (benchmark 2)
    answer_warmup: int  # answered first, unmeasured


FULL = Config(sizes=[1_000, 10_000, 100_000], in_memory_size=10_000, warmup=200, connections=32, idle_s=10.0,
              answers=300, answer_warmup=10)  # fmt: skip
QUICK = Config(sizes=[200, 1_000], in_memory_size=1_000, warmup=50, connections=32, idle_s=3.0, answers=40,
               answer_warmup=5)  # fmt: skip


# -- the server --


class Server(Instance):
    """One `offload serve benchmarks/approvals_server.py` on core 0 (cluster.py's Instance, another target)."""

    def _spawn(self, port: int) -> None:
        self.port = port
        self.log_from = self.log.stat().st_size if self.log.exists() else 0
        cmd = ["taskset", "-c", str(SERVER_CORE), str(OFFLOAD), "serve", str(SERVER), "--port", str(port)]
        with self.log.open("ab") as out:  # taskset execs the server: the pid is the server's
            self.proc = subprocess.Popen(
                [*cmd, "--store", self.store_url], cwd=self.log.parent, env={**os.environ, **self.env},
                stdout=out, stderr=out,
            )  # fmt: skip


async def start_server(store_url: str, log: Path, park_after_s: float, **env: str) -> Server:
    server = Server(store_url, log, {"APPROVALS_PARK_AFTER_S": repr(park_after_s), **env})
    await server.ready()
    return server


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) ... of a process, in bytes."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            out[key] = int(value.split()[0]) * 1024
    return out


async def idle_cpu(pid: int, seconds: float) -> float:
    """The process's CPU over `seconds` of doing nothing asked, as a % of one core."""
    c0, t0 = cpu_s(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return 100 * (cpu_s(pid) - c0) / (time.perf_counter() - t0)


def approve(port: int, n: int) -> bytes:
    return request_bytes(port, "tools/call", {"name": "approve", "arguments": {"n": n}}, meta=ELICITING)


async def create(port: int, first: int, n: int, connections: int) -> tuple[list[str], float]:
    """Create `n` `approve` tasks over `connections` keep-alive connections: (their ids, tasks/s)."""
    ids: list[str] = []
    numbers = iter(range(first, first + n))
    t0 = time.perf_counter()

    async def worker() -> None:
        conn = await Connection.open(port)
        try:
            for k in numbers:
                result = await conn.call(approve(port, k))
                if result.get("resultType") != "task":
                    raise RpcError(f"expected a task, got {result}")
                ids.append(result["taskId"])
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, n))))
    return ids, n / (time.perf_counter() - t0)


def sqlite_counts(path: Path) -> tuple[int, int]:
    """(tasks parked, tasks waiting for input), read straight from the SQLite file."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        parked, waiting = db.execute(
            "SELECT SUM(owner=?), SUM(status='input_required') FROM tasks", (PARKED_OWNER,)
        ).fetchone()
    return parked or 0, waiting or 0


async def wait_for(what: str, done: Any, timeout: float, every: float = 1.0) -> float:
    """Poll `done()` (sync or async, truthy when finished) until it holds; seconds waited."""
    t0 = time.perf_counter()
    while True:
        value = done()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)


# -- 1. memory per parked task --


async def memory_tool(port: int, action: str) -> dict[str, Any]:
    """The server's `memory` tool: the layers its RSS is made of (benchmarks/approvals_server.py)."""
    conn = await Connection.open(port)  # a fresh one: an idle one is closed after keep_alive_s
    try:
        result = await conn.call(call_tool(port, "memory", {"action": action}))
    finally:
        conn.close()
    parsed: dict[str, Any] = json.loads(result["content"][0]["text"])
    return parsed


#: What each layer of the server's memory holds: (column, how to read it from the `memory` tool's answer).
LAYERS: list[tuple[str, Any]] = [
    ("RssAnon", lambda m: m["proc"]["RssAnon"]),
    ("RssFile + RssShmem", lambda m: m["proc"]["RssFile"] + m["proc"]["RssShmem"]),
    ("pymalloc: live blocks", lambda m: m["pymalloc"]["used"]),
    ("pymalloc: arenas", lambda m: m["pymalloc"]["arenas"] << 20),  # 1 MiB each in CPython 3.11
    ("glibc heap: in use", lambda m: m["glibc"]["uordblks"]),
    ("glibc heap: free, kept", lambda m: m["glibc"]["fordblks"]),
    ("glibc: mmapped blocks", lambda m: m["glibc"]["hblkhd"]),
    ("SQLite (sqlite3_memory_used)", lambda m: m["sqlite"]["used"]),
]


@dataclass
class MemoryRow:
    mode: str
    n: int
    rate: float  # tasks created per second
    settle_s: float  # from the last creation until all were parked / waiting
    before: dict[str, int]
    after: dict[str, int]
    idle_before: float
    idle_after: float
    layers_before: dict[str, Any]
    layers_after: dict[str, Any]
    trimmed: dict[str, Any]  # the layers after malloc_trim(0)
    load: str  # load average at the end of the run

    @property
    def per_task(self) -> float:
        return (self.after["VmRSS"] - self.before["VmRSS"]) / self.n


async def memory_run(tmp: Path, cfg: Config, n: int, park_after_s: float) -> MemoryRow:
    mode = "parked (park_after_s=0)" if park_after_s == 0 else "in memory (park_after_s=inf)"
    run = tmp / f"rss-{n}-{'parked' if park_after_s == 0 else 'memory'}"
    run.mkdir()
    db = run / "tasks.db"
    server = await start_server(f"sqlite:///{db}", run / "server.log", park_after_s)
    pid = server.proc.pid

    def settled(total: int) -> Any:
        def check() -> bool:
            parked, waiting = sqlite_counts(db)
            return (parked if park_after_s == 0 else waiting) >= total

        return check

    try:
        await create(server.port, 0, cfg.warmup, cfg.connections)
        await wait_for("the warm-up tasks", settled(cfg.warmup), 120)
        await asyncio.sleep(2)
        before = status_kb(pid)
        idle_before = await idle_cpu(pid, cfg.idle_s)
        layers_before = await memory_tool(server.port, "stats")
        print(f"  {mode} N={n:,}: RSS before {before['VmRSS'] / 2**20:.1f} MiB; creating", flush=True)
        ids, rate = await create(server.port, cfg.warmup, n, cfg.connections)
        assert len(ids) == n
        settle = await wait_for(f"{n} tasks to settle", settled(cfg.warmup + n), 120 + n / 100)
        await asyncio.sleep(2)
        after = status_kb(pid)
        idle_after = await idle_cpu(pid, cfg.idle_s)
        layers_after = await memory_tool(server.port, "stats")
        trimmed = await memory_tool(server.port, "trim")
        row = MemoryRow(
            mode, n, rate, settle, before, after, idle_before, idle_after, layers_before, layers_after, trimmed,
            loadavg(),
        )  # fmt: skip
        print(
            f"  {mode} N={n:,}: {rate:.0f} tasks/s, RSS after {after['VmRSS'] / 2**20:.1f} MiB, "
            f"{row.per_task:,.0f} B/task ({(trimmed['proc']['VmRSS'] - before['VmRSS']) / n:,.0f} after "
            f"malloc_trim), idle CPU {idle_after:.1f}%",
            flush=True,
        )
        return row
    finally:
        server.stop()


# -- 2. answer -> resumed --


@dataclass
class LatencyRow:
    store: str
    mode: str
    resume: Stats = field(default_factory=Stats)  # answer sent -> tool resumed
    update: Stats = field(default_factory=Stats)  # tasks/update round trip
    store_ops: dict[str, float] = field(default_factory=dict)  # store calls per answer, by operation
    polls: float = 0.0  # tasks/get per answer (the benchmark's own polling, in store_ops' `get` too)
    load: str = ""


def store_calls(metrics_port: int) -> dict[str, float]:
    """The server's store calls so far, per operation (its Prometheus endpoint)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("offload_store_duration_seconds_count{"):
            labels, _, value = line.rpartition(" ")
            op = labels.split('op="', 1)[1].split('"', 1)[0]
            calls[op] = calls.get(op, 0.0) + float(value)
    return calls


def update_task(port: int, task_id: str, key: str) -> bytes:
    return request_bytes(port, "tasks/update", {"taskId": task_id, "inputResponses": {key: ACCEPT}})


async def open_keys(conn: Connection, port: int, ids: list[str]) -> dict[str, str]:
    """Each task's open input key, once every task waits for input."""
    keys: dict[str, str] = {}

    async def all_asked() -> bool:
        for tid in ids:
            if tid not in keys:
                task = await conn.call(get_task(port, tid))
                if task["status"] == "input_required" and task.get("inputRequests"):
                    (keys[tid],) = task["inputRequests"]
        return len(keys) == len(ids)

    await wait_for(f"{len(ids)} tasks to ask", all_asked, 120, every=0.2)
    return keys


async def wait_completed(
    conn: Connection, port: int, task_id: str, timeout: float = 30.0
) -> tuple[dict[str, Any], int]:
    """The task once completed, and how many tasks/get it took."""
    await asyncio.sleep(0.02)  # most resumes are done by then: fewer polls to disturb them
    deadline = time.perf_counter() + timeout
    polls = 0
    while True:
        task = await conn.call(get_task(port, task_id))
        polls += 1
        if task["status"] == "completed":
            return task, polls
        if task["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"task {task_id} ended {task['status']}: {task.get('statusMessage')}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"task {task_id} not completed {timeout:.0f} s after its answer")
        await asyncio.sleep(0.01)


async def latency_run(store: str, url: str, tmp: Path, cfg: Config, park_after_s: float) -> LatencyRow:
    mode = "parked" if park_after_s == 0 else "in memory"
    run = tmp / f"latency-{store}-{mode.replace(' ', '-')}"
    run.mkdir()
    metrics_port = free_port()
    server = await start_server(url, run / "server.log", park_after_s, APPROVALS_METRICS_PORT=str(metrics_port))
    port = server.port
    row = LatencyRow(store, mode)
    conn = await Connection.open(port)
    try:
        total = cfg.answer_warmup + cfg.answers
        ids, _ = await create(port, 0, total, 8)
        keys = await open_keys(conn, port, ids)
        if park_after_s == 0:
            reader = open_store(url)
            await reader.open()
            try:

                async def all_parked() -> bool:
                    return set(ids) <= set(await reader.owned(PARKED_OWNER))

                await wait_for(f"{total} tasks to park", all_parked, 120, every=0.2)
            finally:
                await reader.close()
        await asyncio.sleep(1)
        polls = 0
        for i, tid in enumerate(ids):
            if i == cfg.answer_warmup:
                calls0 = await asyncio.to_thread(store_calls, metrics_port)
            data = update_task(port, tid, keys[tid])
            sent = time.time()
            t0 = time.perf_counter()
            await conn.call(data)
            rtt = time.perf_counter() - t0
            task, polled = await wait_completed(conn, port, tid)
            resumed = float(task["result"]["content"][0]["text"])
            if i >= cfg.answer_warmup:
                polls += polled
                row.update.latencies.append(rtt)
                row.resume.latencies.append(resumed - sent)
        calls1 = await asyncio.to_thread(store_calls, metrics_port)
        row.store_ops = {op: (n - calls0.get(op, 0.0)) / cfg.answers for op, n in calls1.items()}
        row.polls = polls / cfg.answers
        row.update.ops = row.resume.ops = cfg.answers
        row.load = loadavg()
        print(
            f"  {store:<8} {mode:<9}: resumed p50 {row.resume.percentile(0.5):.2f} ms, "
            f"p99 {row.resume.percentile(0.99):.2f} ms; tasks/update p50 {row.update.percentile(0.5):.2f} ms",
            flush=True,
        )
        return row
    finally:
        conn.close()
        server.stop()


# -- diagnosis: where a parked task's memory goes --


async def diagnose(tmp: Path, n: int, frames: int, park_after_s: float) -> str:
    db = tmp / "diagnose.db"
    env = {"APPROVALS_TRACEMALLOC": str(frames)}
    server = await start_server(f"sqlite:///{db}", tmp / "diagnose.log", park_after_s, **env)

    def parked(total: int) -> Any:  # or, kept in memory, waiting for input
        return lambda: sqlite_counts(db)[0 if park_after_s == 0 else 1] >= total

    try:
        await create(server.port, 0, 200, 32)
        await wait_for("the warm-up", parked(200), 120)
        await asyncio.sleep(2)
        base = await memory_tool(server.port, "mark")
        await create(server.port, 200, n, 32)
        await wait_for(f"{n} tasks to park", parked(200 + n), 120 + n / 50)
        await asyncio.sleep(2)
        diff = await memory_tool(server.port, "diff")
        trimmed = await memory_tool(server.port, "trim")
    finally:
        server.stop()
    objects0, objects1 = diff["objects"]
    out = [
        f"## Where memory goes: {n:,} tasks {'parked' if park_after_s == 0 else 'held in memory'} under "
        f"tracemalloc ({frames} frames)",
        "",
        "Growth per task, by layer (tracemalloc's own bookkeeping included in RSS):",
        "",
        *(
            f"- {name}: {(read(diff) - read(base)) / n:+,.0f} B"
            for name, read in LAYERS
            if diff["pymalloc"] or not name.startswith("pymalloc")  # not reported while tracemalloc hooks it
        ),
        f"- VmRSS: {(diff['proc']['VmRSS'] - base['proc']['VmRSS']) / n:+,.0f} B; after malloc_trim(0): "
        f"{(trimmed['proc']['VmRSS'] - base['proc']['VmRSS']) / n:+,.0f} B",
        f"- bytes held by Python objects (tracemalloc): {(diff['traced_bytes'] - base['traced_bytes']) / n:+,.0f} B "
        f"(peak {diff['traced_peak']:,} B in all, {diff['traced_bytes']:,} now)",
        f"- objects tracked by gc: {objects0:,} -> {objects1:,} ({(objects1 - objects0) / n:+.2f} per task)",
        f"- executions held in memory: {diff['tasks_in_memory']}",
        "",
        "Object types that grew (count, per task):",
        "",
        *(f"- {name}: {count:,} ({count / n:.2f})" for name, count in diff.get("types", [])),
        "",
        "Allocation lines that grew (bytes, per task, blocks):",
        "",
        *(
            f"- {s['where']}: {s['size_diff']:,} B ({s['size_diff'] / n:,.0f}/task), {s['count_diff']:+,} blocks"
            for s in diff.get("by_line", [])
        ),
        "",
        "Allocation sites that grew, with their callers:",
        "",
    ]
    for s in diff.get("sites", [])[:12]:
        out.append(f"- {s['size_diff']:,} B ({s['size_diff'] / n:,.0f}/task), {s['count_diff']:+,} blocks:")
        out += [f"      {line}" for line in s["traceback"]]
    return "\n".join(out) + "\n"


# -- report --


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    ram = int(mem.split()[1]) / 2**20
    nproc = subprocess.run(["nproc", "--all"], capture_output=True, text=True).stdout.strip()  # not our pinning
    return (
        f"{model}, nproc {nproc}, {ram:.1f} GiB RAM; Linux {platform.release()}; Python "
        f"{platform.python_version()} ({installed('uvloop')})"
    )


def memory_table(rows: list[MemoryRow]) -> list[str]:
    out = [
        "| mode | N | created/s | all settled, s after the last | RSS before MiB | RSS after MiB "
        "| (after - before) / N, bytes | peak RSS MiB | idle CPU % before | idle CPU % after | load avg at end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.mode} | {r.n:,} | {r.rate:.0f} | {r.settle_s:.1f} | {r.before['VmRSS'] / 2**20:.1f} "
            f"| {r.after['VmRSS'] / 2**20:.1f} "
            f"| {r.per_task:,.0f} | {r.after['VmHWM'] / 2**20:.1f} | {r.idle_before:.1f} | {r.idle_after:.1f} "
            f"| {r.load} |"
        )
    return out


def layers_table(rows: list[MemoryRow]) -> list[str]:
    """Each layer's growth from 'before' to 'after', per task (the `memory` tool collects garbage first)."""
    out = [
        "| mode | N | " + " | ".join(name for name, _ in LAYERS) + " | VmRSS after malloc_trim(0) |",
        "|---|---:|" + "---:|" * (len(LAYERS) + 1),
    ]
    for r in rows:
        cells = [f"{(read(r.layers_after) - read(r.layers_before)) / r.n:+,.0f}" for _, read in LAYERS]
        trimmed = (r.trimmed["proc"]["VmRSS"] - r.before["VmRSS"]) / r.n
        out.append(f"| {r.mode} | {r.n:,} | " + " | ".join(cells) + f" | {trimmed:+,.0f} |")
    return out


#: Store calls the sweeper makes (once a second, whatever the traffic): left out of the calls per answer.
SWEEP_OPS = {"heartbeat", "answered_tasks", "claim_orphans", "purge_expired", "changed_since"}


def store_ops_table(rows: list[LatencyRow]) -> list[str]:
    ops = sorted({op for r in rows for op, n in r.store_ops.items() if n >= 0.005 and op not in SWEEP_OPS})
    out = [
        "| store | mode | " + " | ".join(f"`{op}`" for op in ops) + " | all (sweeps aside) | tasks/get polls |",
        "|---|---|" + "---:|" * (len(ops) + 2),
    ]
    for r in rows:
        cells = [f"{r.store_ops.get(op, 0.0):.2f}" for op in ops]
        total = sum(n for op, n in r.store_ops.items() if op not in SWEEP_OPS)
        out.append(f"| {r.store} | {r.mode} | " + " | ".join(cells) + f" | {total:.2f} | {r.polls:.2f} |")
    return out


def latency_table(rows: list[LatencyRow]) -> list[str]:
    out = [
        "| store | mode | answers | answer -> resumed p50 ms | p99 ms | max ms | tasks/update round trip p50 ms "
        "| p99 ms | load avg at end |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.store} | {r.mode} | {r.resume.ops} | {r.resume.percentile(0.5):.2f} "
            f"| {r.resume.percentile(0.99):.2f} | {1000 * max(r.resume.latencies):.2f} "
            f"| {r.update.percentile(0.5):.2f} | {r.update.percentile(0.99):.2f} | {r.load} |"
        )
    return out


async def main_async(args: argparse.Namespace, cfg: Config, tmp: Path) -> str:
    head = [
        f"Command: `{shlex.join(['.venv/bin/python', 'benchmarks/approvals.py', *sys.argv[1:]])}`",
        f"Machine: {machine()}",
        f"Code: offload {revision()}",
        f"Load average at the start: {loadavg()}",
    ]
    if args.diagnose:
        return (
            "\n".join(f"- {h}" for h in head)
            + "\n\n"
            + await diagnose(tmp, args.diagnose, args.frames, args.park_after_s)
        )
    out: list[str] = []
    if args.only in (None, "rss"):
        print("1. memory per parked task (SQLite)", flush=True)
        rows = [await memory_run(tmp, cfg, n, 0.0) for n in cfg.sizes]
        rows.append(await memory_run(tmp, cfg, cfg.in_memory_size, INF))
        out += [
            "### RSS per parked task (SQLite, one instance)",
            "",
            f"Warm-up: {cfg.warmup} tasks created and settled before the 'before' reading; then N tasks over "
            f"{cfg.connections} keep-alive connections; 'after' once all N + {cfg.warmup} are parked (or, in "
            f"memory, all wait for input), 2 s later. Idle CPU: utime+stime over {cfg.idle_s:g} s right after "
            "each reading.",
            "",
            *memory_table(rows),
            "",
            "Where the growth is, bytes per task ((after - before) / N of each layer, read by the server's "
            "`memory` tool after a gc.collect(); the last column: VmRSS once glibc handed its free memory back "
            "with malloc_trim(0), minus VmRSS before):",
            "",
            *layers_table(rows),
            "",
        ]
    if args.only in (None, "latency"):
        print("2. answer -> resumed tool", flush=True)
        stores = Stores(tmp)
        try:
            latency: list[LatencyRow] = []
            for store in ("sqlite", "redis", "postgres"):
                for park in (0.0, INF):
                    latency.append(await latency_run(store, await stores.fresh(store), tmp, cfg, park))
            versions = stores.versions()
        finally:
            stores.stop()
        out += [
            "### Answer -> resumed tool",
            "",
            f"{cfg.answers} tasks per row (after {cfg.answer_warmup} unmeasured), answered one at a time, each "
            "once the previous one completed; latency = the tool's `time.time()` in its step after the question "
            "minus this process's just before sending tasks/update (same clock). Parked: park_after_s=0, the "
            "answer claims the task and replays it (journal read, one step and the answer recalled). In memory: "
            f"park_after_s=inf, the answer wakes the waiting coroutine. Stores: {versions}.",
            "",
            *latency_table(latency),
            "",
            "Store calls per answer, by operation (the server's `offload.store.duration` counts over the measured "
            "answers; `get` includes the benchmark's tasks/get polls until each task completed, counted in the last "
            "column; the sweeper's calls are left out):",
            "",
            *store_ops_table(latency),
            "",
        ]
    head.append(f"Load average at the end: {loadavg()}")
    return "\n".join(f"- {h}" for h in head) + "\n\n" + "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small N and M: a smoke run of a minute or two")
    parser.add_argument("--only", choices=["rss", "latency"], help="run one of the two benchmarks")
    parser.add_argument("--diagnose", type=int, metavar="N", help="park N tasks under tracemalloc; report growth")
    parser.add_argument("--frames", type=int, default=8, help="tracemalloc frames kept per allocation (--diagnose)")
    parser.add_argument(
        "--park-after-s", type=float, default=0.0, help="park_after_s of the --diagnose run (inf: held in memory)"
    )
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CORE})
    with tempfile.TemporaryDirectory(prefix="offload-approvals-") as tmp:
        text = asyncio.run(main_async(args, QUICK if args.quick else FULL, Path(tmp)))
    print("\n" + text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
