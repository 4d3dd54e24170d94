"""Benchmarks of offload's HTTP serving: `.venv/bin/python benchmarks/run.py [--quick] [--profile]`.

The server (`offload serve benchmarks/bench_server.py`) runs pinned to core 0 with `taskset -c 0`;
this process generates the load from core 1. Results go to stdout and `docs/benchmarks.md`
(a section headed `## Analysis` in that file is kept across runs). Scenarios:

1. inline tools/call of `noop`; 2. tools/call of `zero` answered with a durable task (SQLite);
3. tasks/get of one task; 4. tools/call then tasks/get until completed, as fast as possible;
5. RSS per `park` task waiting in input_required; 6. tasks/get on random ids of a store holding
1,000 vs 1,000,000 tasks (prefilled with sqlite3), plus `SQLiteStore.get` alone.
1 and 3 (and 2) also run with `--json-response`. `--profile` runs py-spy (CPU) or tracemalloc
(memory, via bench_server's `memory` tool) on the server for each missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import platform
import random
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import astuple, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from load import Connection, Operation, RpcError, Stats, call_tool, cycle, expecting, get_task, run_load
from offload.store.sqlite import SQLiteStore, migrate
from profiling import profile_summary

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OFFLOAD = Path(sys.executable).with_name("offload")
TERMINAL = ("completed", "failed", "cancelled")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Config:
    duration: float
    warmup: float
    connections: int
    parked: int
    big_store: int
    runs: int


FULL = Config(duration=6.0, warmup=1.5, connections=50, parked=2_000, big_store=1_000_000, runs=2)
QUICK = Config(duration=2.0, warmup=0.5, connections=50, parked=500, big_store=100_000, runs=1)


# -- the server under test --


@dataclass
class Server:
    pid: int
    port: int
    label: str

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(
    store: Path, *, json_response: bool = False, env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    """`offload serve` on core 0 with the given SQLite file, until the block ends."""
    port = free_port()
    cmd = ["taskset", "-c", "0", str(OFFLOAD), "serve", str(HERE / "bench_server.py"), "--port", str(port)]
    cmd += ["--store", f"sqlite:///{store}"] + (["--json-response"] if json_response else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL)
    server = Server(proc.pid, port, "JSON" if json_response else "SSE-capable")
    try:
        for _ in range(300):  # up to 30 s to import, migrate and bind
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {shlex.join(cmd)}")
            try:
                conn = await Connection.open(port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            await conn.call(call_tool(port, "noop"))
            conn.close()
            break
        else:
            raise RuntimeError("server did not come up in 30 s")
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- measuring --


@dataclass
class Usage:
    """CPU over a whole load run (warm-up included): the server's, the load generator's, per operation."""

    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    ops: float = 0.0  # operations over `wall`, scaled from the measured window

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def server_us(self) -> float:
        return 1e6 * self.server_cpu / self.ops

    @property
    def ceiling(self) -> float:
        """Operations per second if the server had its core to itself: 1 / CPU per operation."""
        return self.ops / self.server_cpu

    def pct(self, cpu: float) -> float:
        return 100 * cpu / self.wall


@dataclass
class Row:
    key: str
    scenario: str
    mode: str
    conns: int
    stats: Stats | None = None
    usage: Usage | None = None
    value: str = ""  # for rows that are not a rate (memory)
    note: str = ""


@dataclass
class Run:
    rows: list[Row] = field(default_factory=list)

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)


async def measure(
    server: Server, op: Operation, cfg: Config, *, connections: int | None = None, duration: float | None = None
) -> tuple[Stats, Usage]:
    """Load `server` with `op` for a warm-up and a measured window."""
    cpu0, own0, wall0 = server.cpu_s(), time.process_time(), time.perf_counter()
    stats = await run_load(
        server.port,
        op,
        connections=connections or cfg.connections,
        duration=duration or cfg.duration,
        warmup=cfg.warmup,
    )
    wall = time.perf_counter() - wall0
    if stats.errors:
        raise RuntimeError(f"{stats.errors} errors, first: {stats.first_error}")
    ops = stats.ops * wall / stats.seconds
    return stats, Usage(wall, server.cpu_s() - cpu0, time.process_time() - own0, ops)


def record(run: Run, server: Server, key: str, scenario: str, conns: int, stats: Stats, usage: Usage) -> Row:
    row = Row(key, scenario, server.label, conns, stats, usage)
    run.rows.append(row)
    print(f"  {scenario:<48} {server.label:<11} c={conns:<3} {stats.line()}", flush=True)
    return row


async def add(run: Run, server: Server, key: str, scenario: str, op: Operation, cfg: Config, **kw: Any) -> Row:
    stats, usage = await measure(server, op, cfg, **kw)
    return record(run, server, key, scenario, kw.get("connections") or cfg.connections, stats, usage)


async def one_task(port: int, tool: str = "zero") -> dict[str, Any]:
    conn = await Connection.open(port)
    try:
        return await conn.call(call_tool(port, tool))
    finally:
        conn.close()


def create_then_poll(port: int, polls: list[int]) -> Operation:
    """tools/call `zero`, then tasks/get back to back until it reports completion (with its result)."""
    create = call_tool(port, "zero")

    async def op(conn: Connection) -> object:
        task = await conn.call(create)
        get = get_task(port, task["taskId"])
        for n in range(1, 10_001):
            task = await conn.call(get)
            if task["status"] in TERMINAL:
                polls.append(n)
                return task
        raise RpcError("task not done after 10,000 polls")

    return op


async def sse_and_json(run: Run, cfg: Config, tmp: Path) -> None:
    for json_response in (False, True):
        async with serving(tmp / f"tasks-{json_response}-{len(run.rows)}.db", json_response=json_response) as srv:
            sfx = "json" if json_response else "sse"
            p = srv.port
            await add(run, srv, f"noop-{sfx}", "1. tools/call `noop` (inline)", cycle([call_tool(p, "noop")]), cfg)
            await add(
                run,
                srv,
                f"create-{sfx}",
                "2. tools/call `zero` -> task (SQLite)",
                expecting(call_tool(p, "zero"), "task"),
                cfg,
            )
            task = await one_task(p)
            await add(run, srv, f"get-{sfx}", "3. tasks/get, one task", cycle([get_task(p, task["taskId"])]), cfg)
            if json_response:
                continue
            for conns in (1, cfg.connections):
                polls: list[int] = []
                row = await add(
                    run,
                    srv,
                    f"cycle-{conns}",
                    "4. create -> completed (polling)",
                    create_then_poll(p, polls),
                    cfg,
                    connections=conns,
                )
                suggested = task.get("pollIntervalMs")
                row.note = f"{sum(polls) / len(polls):.2f} gets/cycle; server suggests pollIntervalMs={suggested}"


async def park(port: int, n: int) -> list[str]:
    """Start `n` `park` tasks over 50 connections; return their ids."""
    conns = [await Connection.open(port) for _ in range(50)]
    data = call_tool(port, "park")

    async def worker(conn: Connection, k: int) -> list[str]:
        return [(await conn.call(data))["taskId"] for _ in range(k)]

    try:
        share = [n // len(conns) + (i < n % len(conns)) for i in range(len(conns))]
        ids = await asyncio.gather(*(worker(c, k) for c, k in zip(conns, share, strict=True)))
    finally:
        for c in conns:
            c.close()
    return [i for chunk in ids for i in chunk]


async def settle(port: int, ids: list[str]) -> None:
    """Wait until every task is input_required; then give the sweeper and the allocator a moment."""
    conn = await Connection.open(port)
    try:
        for tid in ids:
            for _ in range(1000):
                if (await conn.call(get_task(port, tid)))["status"] == "input_required":
                    break
                await asyncio.sleep(0.01)
            else:
                raise RuntimeError(f"task {tid} never reached input_required")
    finally:
        conn.close()
    await asyncio.sleep(1.5)


async def parked_memory(run: Run, cfg: Config, tmp: Path) -> None:
    """RSS growth of the server while `cfg.parked` tasks wait in input_required."""
    async with serving(tmp / f"parked-{len(run.rows)}.db") as srv:
        await settle(srv.port, await park(srv.port, 200))  # warm-up: first-use allocations are not per-task
        before = srv.rss_kb()
        t0 = time.perf_counter()
        await settle(srv.port, await park(srv.port, cfg.parked))
        after = srv.rss_kb()
    per_task = (after - before) * 1024 / cfg.parked
    row = Row("parked", f"5. RSS per parked task ({cfg.parked:,} input_required)", srv.label, 50)
    row.value = f"{per_task / 1024:.1f} KB"
    row.note = f"VmRSS {before / 1024:.1f} -> {after / 1024:.1f} MiB; parked in {time.perf_counter() - t0:.1f} s"
    run.rows.append(row)
    print(f"  {row.scenario:<48} {row.value}  ({row.note})", flush=True)


# -- a store with many tasks --

RESULT = json.dumps(
    {"content": [{"type": "text", "text": "ok"}], "structuredContent": {"result": "ok"}, "isError": False}
)


def prefill(path: Path, count: int, seed: int = 7) -> list[str]:
    """A store holding `count` completed tasks (one transaction); return a sample of their ids."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    ids = [base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode() for _ in range(count)]

    def rows() -> Iterator[tuple[Any, ...]]:
        for i, tid in enumerate(ids):
            created = now - 3_600_000 + i * 3_600_000 // count  # created over the last hour, 24 h TTL
            yield tid, created, created + 3, created + 86_400_000, created + 5000, RESULT

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tasks (task_id, created_ms, updated_ms, expires_ms, lease_ms, result, tool, status, ttl_ms, "
            "poll_interval_ms, owner, attempts, input_requests) "
            "VALUES (?,?,?,?,?,?,'zero','completed',86400000,1000,'prefill',1,'{}')",
            rows(),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return rng.sample(ids, min(count, 20_000))


async def store_size(run: Run, cfg: Config, stores: dict[int, tuple[Path, list[str]]], rounds: int = 3) -> None:
    """tasks/get on random existing ids, small store vs big store: both servers up, measured in alternation."""
    async with contextlib.AsyncExitStack() as stack:
        servers = {n: await stack.enter_async_context(serving(path)) for n, (path, _) in stores.items()}
        for conns in (cfg.connections, 1):
            totals = {n: (Stats(), Usage()) for n in stores}
            for _ in range(rounds):
                for n, (_, ids) in stores.items():
                    ops = cycle([get_task(servers[n].port, tid) for tid in ids])
                    stats, usage = await measure(servers[n], ops, cfg, connections=conns, duration=cfg.duration / 2)
                    totals[n] = (totals[n][0].merge(stats), totals[n][1] + usage)
            for n, (stats, usage) in totals.items():
                scenario = f"6. tasks/get, random of {n:,} stored"
                record(run, servers[n], f"store-{n}-{conns}", scenario, conns, stats, usage)


async def store_lookups(run: Run, stores: dict[int, tuple[Path, list[str]]]) -> None:
    """`SQLiteStore.get` alone, in this process: the store's share of a tasks/get, small vs big."""
    for n, (path, ids) in stores.items():
        store = SQLiteStore(path)
        await store.open()
        stats = Stats()
        try:
            for tid in ids:
                t0 = time.perf_counter()
                if await store.get(tid) is None:
                    raise RuntimeError(f"prefilled task {tid} not found")
                stats.latencies.append(time.perf_counter() - t0)
        finally:
            await store.close()
        stats.ops, stats.seconds = len(stats.latencies), sum(stats.latencies)
        run.rows.append(Row(f"lookup-{n}", f"6. `SQLiteStore.get` alone, {n:,} stored", "in-process", 1, stats))
        print(f"  {run.rows[-1].scenario:<48} {'in-process':<11} c=1   {stats.line()}", flush=True)


# -- report --


@dataclass
class Target:
    key: str  # what --profile looks at: get-sse, create-json, parked, ...
    name: str
    measured: str
    met: bool


def targets(run: Run, big: int) -> list[Target]:
    """The targets the project set, checked against one run."""
    out: list[Target] = []
    for sfx, mode in (("sse", "SSE-capable"), ("json", "JSON")):
        get, create = run.row(f"get-{sfx}"), run.row(f"create-{sfx}")
        for key, what, row, goal in (
            ("get", "tasks/get", get, 3000),
            ("create", "durable task creation", create, 1000),
        ):
            assert row.stats is not None and row.usage is not None
            measured = f"{row.stats.rate:,.0f}/s (CPU ceiling {row.usage.ceiling:,.0f}/s)"
            out.append(Target(f"{key}-{sfx}", f"{what} >= {goal:,}/s ({mode})", measured, row.stats.rate >= goal))
    parked = run.row("parked").value
    out.append(Target("parked", "<= 20 KB per parked task", parked, float(parked.split()[0]) <= 20))
    for conns in sorted({int(r.key.rsplit("-", 1)[1]) for r in run.rows if r.key.startswith("store-")}, reverse=True):
        small, large = run.row(f"store-1000-{conns}").stats, run.row(f"store-{big}-{conns}").stats
        assert small is not None and large is not None
        ratio = large.percentile(0.99) / small.percentile(0.99)
        measured = f"{small.percentile(0.99):.2f} vs {large.percentile(0.99):.2f} ms ({100 * (ratio - 1):+.0f}%)"
        name = f"tasks/get p99, 1k vs {big // 1000:,}k stored, within 10% (c={conns})"
        out.append(Target(f"store-{conns}", name, measured, ratio <= 1.10))
    return out


def table(run: Run) -> list[str]:
    lines = [
        "| scenario | responses | conns | req/s | p50 ms | p99 ms | server CPU µs/op | server core % "
        "| ceiling/s | load core % | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in run.rows:
        if r.stats is None:
            lines.append(f"| {r.scenario} | {r.mode} | {r.conns} | **{r.value}** | | | | | | | {r.note} |")
            continue
        s, u = r.stats, r.usage
        cpu = "| | | |" if u is None else f"| {u.server_us:,.0f} | {u.pct(u.server_cpu):.0f} | {u.ceiling:,.0f} |"
        load = "" if u is None else f"{u.pct(u.client_cpu):.0f}"
        p50, p99 = s.percentile(0.5), s.percentile(0.99)
        lines.append(
            f"| {r.scenario} | {r.mode} | {r.conns} | {s.rate:,.0f} | {_ms(p50)} | {_ms(p99)} {cpu} {load} | {r.note} |"
        )
    return lines


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def revision() -> str:
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = len(git("status", "--porcelain", "--", "src").splitlines())
    return f"offload at {git('rev-parse', '--short', 'HEAD')}" + (
        f" + {dirty} uncommitted paths in src/" if dirty else ""
    )


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    return (
        f"{model}, {os.cpu_count()} cores; Linux {platform.release()}; Python {platform.python_version()}; "
        f"mcp {version('mcp')}, uvicorn {version('uvicorn')} (asyncio + h11, one worker)"
    )


def write_report(cfg: Config, runs: list[Run], argv: list[str], notes: list[str], profiles: list[str]) -> str:
    big = cfg.big_store
    per_run = [targets(r, big) for r in runs]
    out = [
        "# offload benchmarks",
        "",
        f"- Machine: {machine()}",
        f"- Code: {revision()}",
        "- Server: `offload serve benchmarks/bench_server.py --store sqlite:///…` under `taskset -c 0`; "
        "load generator (`benchmarks/load.py`, raw keep-alive HTTP/1.1 on asyncio streams) pinned to core 1.",
        f"- Command: `{shlex.join(['.venv/bin/python', 'benchmarks/run.py', *argv])}`",
        f"- Each measurement: {cfg.warmup:g} s warm-up, then {cfg.duration:g} s measured; "
        "2026-07-28 stateless requests declaring the tasks extension.",
        *[f"- {n}" for n in notes],
        "",
        "## Targets",
        "",
        "| target | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for i, target in enumerate(per_run[0]):
        cells = [f"{t[i].measured} **{'PASS' if t[i].met else 'MISS'}**" for t in per_run]
        out.append(f"| {target.name} | " + " | ".join(cells) + " |")
    for i, run in enumerate(runs):
        out += ["", f"## Run {i + 1}", "", *table(run)]
    out += [
        "",
        "Columns: req/s and latency are of whole operations (scenario 4: one tools/call plus the tasks/get calls "
        "until `completed`). Server CPU µs/op is the server process's user+system time (all threads) per "
        "operation; server core % is how much of core 0 it got during the run (below ~95% while load is "
        "applied means other work on the machine took the rest); ceiling/s = 1 / CPU per op, the rate the "
        "server would reach with core 0 to itself. Load core % shows the generator is not the bottleneck. "
        "PASS/MISS judge the measured req/s.",
    ]
    if profiles:
        out += ["", "## Profiles (py-spy, GIL holder only)", "", *profiles]
    return "\n".join(out) + "\n"


def keep_analysis(path: Path) -> str:
    if not path.exists():
        return ""
    text = path.read_text()
    at = text.find("\n## Analysis")
    return text[at:] if at >= 0 else ""


# -- profiling the missed targets --


async def profile_target(cfg: Config, tmp: Path, sfx: str, what: str) -> str:
    """py-spy the server while it serves `what` ('get' or 'create'), summarised."""
    async with serving(tmp / f"profile-{sfx}-{what}.db", json_response=sfx == "json") as srv:
        if what == "get":
            task = await one_task(srv.port)
            op = cycle([get_task(srv.port, task["taskId"])])
        else:
            op = expecting(call_tool(srv.port, "zero"), "task")
        out = tmp / f"profile-{sfx}-{what}.txt"
        seconds = max(4, int(cfg.duration))
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(srv.pid), "--gil",
            "--rate", "250", "--format", "raw", "--duration", str(seconds), "-o", str(out),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stats, _ = await measure(srv, op, cfg, duration=seconds + 1.0)
        await spy.wait()
    title = f"{'tasks/get' if what == 'get' else 'tools/call `zero` -> task'}, {srv.label} ({stats.rate:,.0f}/s)"
    return profile_summary(out.read_text(), title)


async def profile_memory(cfg: Config, tmp: Path) -> str:
    """tracemalloc in the server (bench_server's `memory` tool) around parking tasks, summarised per task."""
    n = min(cfg.parked, 1000)
    async with serving(tmp / "profile-memory.db", env={"OFFLOAD_BENCH_TRACEMALLOC": "30"}) as srv:
        await settle(srv.port, await park(srv.port, 200))
        memory = await Connection.open(srv.port)
        await memory.call(call_tool(srv.port, "memory", {"action": "mark"}))
        memory.close()
        await settle(srv.port, await park(srv.port, n))
        memory = await Connection.open(srv.port)
        reply = await memory.call(call_tool(srv.port, "memory", {"action": "report", "top": 20}))
        memory.close()
    report = json.loads(reply["content"][0]["text"])
    lines = [
        f"### Memory of a parked task (tracemalloc, {n:,} parked tasks)",
        "",
        f"{report['bytes'] / n / 1024:.1f} KB of Python allocations per parked task.",
        "",
        "| objects per parked task (gc-tracked) | count |",
        "|---|---:|",
        *[f"| `{k}` | {v / n:.1f} |" for k, v in report["types"][:15]],
        "",
        "| allocated at (innermost frame) | bytes/task |",
        "|---|---:|",
        *[f"| `{k}` | {v / n:,.0f} |" for k, v in report["site"][:15]],
        "",
        "| allocated under (innermost offload or mcp frame) | bytes/task |",
        "|---|---:|",
        *[f"| `{k}` | {v / n:,.0f} |" for k, v in report["owner"][:20]],
    ]
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace, argv: list[str]) -> None:
    cfg = QUICK if args.quick else FULL
    if args.runs:
        cfg = dataclasses.replace(cfg, runs=args.runs)
    os.sched_setaffinity(0, {1})
    notes = [f"Load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="offload-bench-") as tmpdir:
        tmp = Path(tmpdir)
        stores: dict[int, tuple[Path, list[str]]] = {}
        for n in (1000, cfg.big_store):
            t0 = time.perf_counter()
            stores[n] = (tmp / f"store-{n}.db", prefill(tmp / f"store-{n}.db", n))
            size = (tmp / f"store-{n}.db").stat().st_size / 2**20
            print(f"prefilled {n:,} tasks in {time.perf_counter() - t0:.1f} s ({size:.0f} MiB)", flush=True)
        notes.append(f"Big store: {cfg.big_store:,} completed tasks inserted with one executemany "
                     f"({(tmp / f'store-{cfg.big_store}.db').stat().st_size / 2**20:.0f} MiB).")  # fmt: skip
        for i in range(cfg.runs):
            print(f"run {i + 1}/{cfg.runs}", flush=True)
            run = Run()
            await sse_and_json(run, cfg, tmp)
            await parked_memory(run, cfg, tmp)
            await store_size(run, cfg, stores)
            await store_lookups(run, stores)
            runs.append(run)
        notes.append(f"Load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])} "
                     "(other people's work shares these two cores: numbers are noisy)")  # fmt: skip
        profiles: list[str] = []
        if args.profile:
            missed = {t.key for run in runs for t in targets(run, cfg.big_store) if not t.met}
            for key in ("get-sse", "get-json", "create-sse", "create-json"):
                if key in missed:
                    print(f"profiling {key}", flush=True)
                    what, sfx = key.split("-")
                    profiles.append(await profile_target(cfg, tmp, sfx, what))
            if "parked" in missed:
                print("profiling the memory of parked tasks", flush=True)
                profiles.append(await profile_memory(cfg, tmp))
    report = write_report(cfg, runs, argv, notes, profiles)
    print()
    print(report)
    args.out.write_text(report + keep_analysis(args.out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, 100k-task big store, one run")
    parser.add_argument("--runs", type=int, help="how many times to run the whole suite (default: 2, quick: 1)")
    parser.add_argument("--profile", action="store_true", help="profile the server on each missed target")
    parser.add_argument(
        "--out", type=Path, default=HERE.parent / "docs" / "benchmarks.md", help="where to write the report"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args, sys.argv[1:]))


if __name__ == "__main__":
    main()
