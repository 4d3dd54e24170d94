"""Production-hardening figures (issue 10), on 127.0.0.1 against `offload serve benchmarks/hardening_server.py`:

    .venv/bin/python benchmarks/hardening.py [--parked 1000 10000 100000] [--create-budget 180]
    .venv/bin/python benchmarks/hardening.py --only parked --idle 60 --settle 10 --create-budget 1500 --stop-wait 300

1. parked: N tasks parked on `ctx.elicit` on one instance (SQLite store); for each N the server
   process's CPU while idle (utime+stime from /proc/<pid>/stat over `--idle` seconds), what each
   sweep asked of the store meanwhile (calls and their time, from the server's Prometheus
   endpoint; bytes and write calls from /proc/<pid>/io), its RSS, and tasks/get latency; at the
   end, how long SIGTERM takes and whether the store was left with the instance's leases released.
2. listen: 100 `subscriptions/listen` streams x 1,000 task ids (10 principals x 10 streams, each
   principal owning 1,000 parked tasks); idle CPU and tasks/get p50/p99 without and with the streams.
3. limits: tasks/get and task creation (`zero`) with `offload serve`'s default HTTP limits and with
   very large ones: requests/s, p50, p99.

Every phase is bounded in count and time; prints Markdown tables (docs/benchmarks-hardening.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from load import Connection, Stats

PROTOCOL = "2026-07-28"
TASKS_EXT = "io.modelcontextprotocol/tasks"
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {TASKS_EXT: {}}},
    "io.modelcontextprotocol/clientInfo": {"name": "offload-hardening", "version": "0.1.0"},
}
SERVER = Path(__file__).with_name("hardening_server.py")
OFFLOAD = Path(sys.executable).with_name("offload")
TICK = os.sysconf("SC_CLK_TCK")


def request(port: int, token: str, method: str, params: dict[str, Any], rid: int = 1) -> bytes:
    """One POST of the 2026-07-28 wire with a bearer token and the elicitation capability declared."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": META}}, separators=(",", ":")
    ).encode()
    name = params.get("taskId") or params.get("name")
    head = [
        "POST /mcp HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: application/json, text/event-stream",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"MCP-Protocol-Version: {PROTOCOL}",
        f"Mcp-Method: {method}",
        f"Authorization: Bearer {token}",
    ]
    if isinstance(name, str):
        head.append(f"Mcp-Name: {name}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# -- the server process ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(
    workdir: Path, name: str, *extra: str, stop: dict[str, Any] | None = None, stop_wait: float = 15.0
) -> Iterator[tuple[int, int]]:
    """Run `offload serve` on a fresh SQLite file; yield (port, pid); stop it at the end: SIGTERM,
    then SIGKILL after `stop_wait` seconds.

    `extra` goes to `offload serve` as it is (limits, `--metrics-port`); `stop`, if given, is told
    how the server stopped (`how`, `seconds`).
    """
    port = _free_port()
    log = (workdir / f"{name}.log").open("w")
    proc = subprocess.Popen(
        [str(OFFLOAD), "serve", str(SERVER), "--port", str(port), "--store", f"sqlite:///{workdir / name}.db", *extra],
        env={**os.environ, "OFFLOAD_BENCH_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log.name}") from None
                time.sleep(0.1)
        yield port, proc.pid
    finally:
        stopping = time.monotonic()
        proc.terminate()
        how = "exited"
        try:
            proc.wait(stop_wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            how = f"was killed after {stop_wait:.0f} s of SIGTERM"
        took = time.monotonic() - stopping
        print(f"({name}: the server {how}, {took:.1f} s after SIGTERM)", flush=True)
        if stop is not None:
            stop.update(how=how, seconds=took, exit_ms=int(time.time() * 1000))
        log.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15 of stat)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def io_counters(pid: int) -> dict[str, int]:
    """`/proc/<pid>/io`: wchar (bytes handed to write calls, the WAL's included), syscw (write calls)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = int(value)
    return out


def store_calls(metrics_port: int) -> dict[str, tuple[float, float]]:
    """(calls, seconds) per store operation so far, from `offload_store_duration_seconds` on /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    out: dict[str, tuple[float, float]] = {}
    for line in text.splitlines():
        if not line.startswith("offload_store_duration_seconds_"):
            continue
        name, _, value = line.rpartition(" ")
        kind = name.split("{", 1)[0].rsplit("_", 1)[1]
        if kind not in ("count", "sum"):
            continue
        op = name.split('op="', 1)[1].split('"', 1)[0]
        calls, seconds = out.get(op, (0.0, 0.0))
        out[op] = (float(value), seconds) if kind == "count" else (calls, float(value))
    return out


async def idle_cpu(pid: int, seconds: float) -> float:
    """Percent of one core the server used over `seconds` while the client sent nothing."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


# -- load --------------------------------------------------------------------------------------


async def create_parked(
    port: int, tokens: list[str], count: int, deadline: float, pid: int, max_rss: float, conns: int = 32
) -> dict[str, list[str]]:
    """Create up to `count` parked tasks on `conns` connections, round-robin over tokens; stop at the
    deadline or RSS bound. Each is one `tools/call` of `park`, as any client makes it."""
    ids: dict[str, list[str]] = {t: [] for t in tokens}
    made = 0
    stop = False

    async def worker(k: int) -> None:
        nonlocal made, stop
        conn = await Connection.open(port)
        try:
            while not stop and made < count:
                token = tokens[made % len(tokens)]
                made += 1
                result = await conn.call(request(port, token, "tools/call", {"name": "park", "arguments": {}}))
                ids[token].append(result["taskId"])
                if time.monotonic() > deadline:
                    stop = True
        finally:
            conn.close()

    async def watch() -> None:
        nonlocal stop
        while not stop and made < count:
            if rss_mb(pid) > max_rss:
                stop = True
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(worker(k) for k in range(conns)))
    watcher.cancel()
    return ids


async def timed(port: int, make: list[bytes], total: int, concurrency: int = 8) -> Stats:
    """`total` requests (cycling over `make`) on `concurrency` keep-alive connections; latency of each."""
    stats = Stats()
    per = total // concurrency

    async def worker(k: int) -> None:
        conn = await Connection.open(port)
        try:
            for i in range(per):
                data = make[(k * per + i) % len(make)]
                t0 = time.perf_counter()
                try:
                    await conn.call(data)
                except Exception as exc:  # counted, and the first one shown
                    stats.errors += 1
                    stats.first_error = stats.first_error or repr(exc)
                    return
                stats.latencies.append(time.perf_counter() - t0)
                stats.ops += 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    stats.seconds = time.perf_counter() - t0
    return stats


def _row(stats: Stats) -> str:
    return f"{stats.rate:,.0f} | {stats.percentile(0.5):.2f} | {stats.percentile(0.99):.2f} | {stats.errors}"


# -- the three benchmarks ----------------------------------------------------------------------


async def idle_window(pid: int, metrics_port: int, seconds: float, parts: int) -> dict[str, Any]:
    """What the server did over `seconds` with no request in flight: CPU, store calls per sweep, writes.

    The metrics are scraped just outside the window, so the scrape's own work is not counted;
    the number of sweeps is the number of heartbeats (one per sweep). CPU and writes are also
    taken over `parts` equal slices of the window: their median is the steady cost, apart from a
    one-off such as the WAL checkpoint that copies the pages creation left in the WAL (SQLite runs
    it at the first commit past 1,000 WAL frames, so it can land in any window after creation).
    """
    m0 = store_calls(metrics_port)
    load0 = os.getloadavg()[0]
    marks = [(cpu_seconds(pid), io_counters(pid), time.monotonic())]
    for _ in range(parts):
        await asyncio.sleep(seconds / parts)
        marks.append((cpu_seconds(pid), io_counters(pid), time.monotonic()))
    load1 = os.getloadavg()[0]
    m1 = store_calls(metrics_port)
    sweeps = m1.get("heartbeat", (0.0, 0.0))[0] - m0.get("heartbeat", (0.0, 0.0))[0]
    per = max(sweeps, 1.0)
    ops = {
        op: (calls - m0.get(op, (0.0, 0.0))[0], secs - m0.get(op, (0.0, 0.0))[1]) for op, (calls, secs) in m1.items()
    }
    ops = {op: v for op, v in ops.items() if v[0] > 0}
    (c0, io0, t0), (c1, io1, t1) = marks[0], marks[-1]
    rate = per / (t1 - t0)  # sweeps per second, to turn a slice's writes into writes per sweep
    slices = [
        (100 * (cb - ca) / (tb - ta), (iob["wchar"] - ioa["wchar"]) / ((tb - ta) * rate))
        for (ca, ioa, ta), (cb, iob, tb) in itertools.pairwise(marks)
    ]
    return {
        "cpu": 100 * (c1 - c0) / (t1 - t0),
        "cpu_median": statistics.median(c for c, _ in slices),
        "sweeps": sweeps,
        "calls": sum(c for c, _ in ops.values()) / per,
        "store_ms": 1000 * sum(t for _, t in ops.values()) / per,
        "ops": ", ".join(f"{op} {c / per:g}" for op, (c, _) in sorted(ops.items())),
        "wchar": (io1["wchar"] - io0["wchar"]) / per,
        "wchar_median": statistics.median(w for _, w in slices),
        "syscw": (io1["syscw"] - io0["syscw"]) / per,
        "load": f"{load0:.2f}-{load1:.2f}",
    }


def _sweep_cells(w: dict[str, Any]) -> str:
    return (
        f"{w['cpu']:.2f} / {w['cpu_median']:.2f} | {w['sweeps']:.0f} | {w['calls']:.1f} | {w['store_ms']:.2f} "
        f"| {w['wchar_median']:,.0f} / {w['wchar']:,.0f} | {w['syscw']:.1f}"
    )


async def bench_parked(
    workdir: Path,
    sizes: list[int],
    budget: float,
    idle: float,
    max_rss: float,
    conns: int,
    gets: int,
    settle: float,
    parts: int = 6,
    hold: float = 0.0,
    stop_wait: float = 15.0,
) -> list[str]:
    rows = [
        "| parked tasks | create (s) | created/s | idle CPU, % of a core (mean / median) | sweeps "
        "| store calls / sweep | store time / sweep (ms) | bytes written / sweep (median / mean) "
        "| write calls / sweep | RSS (MB) | RSS / parked task (KB) "
        "| tasks/get p50 (ms) | tasks/get p99 (ms) | store files (MB) | load avg (1 min) |",
        "|" + "---|" * 15,
    ]
    notes: list[str] = []
    tokens = [f"tok-{k}" for k in range(10)]
    metrics_port = _free_port()
    stop: dict[str, Any] = {}
    server = serve(workdir, "parked", "--metrics-port", str(metrics_port), stop=stop, stop_wait=stop_wait)
    with server as (port, pid):
        await asyncio.sleep(2)
        store_calls(metrics_port)  # the first scrape builds the exporter's state: not in a window
        quiet = await idle_window(pid, metrics_port, idle, parts)
        rss0 = rss_mb(pid)
        rows.append(f"| 0 | - | - | {_sweep_cells(quiet)} | {rss0:.0f} | - | - | - | - | {quiet['load']} |")
        print(rows[-1], flush=True)
        notes.append(f"0: {quiet['ops']}")
        ids: list[tuple[str, str]] = []
        status = ""
        deadline = time.monotonic() + budget
        for size in sizes:
            t0 = time.monotonic()
            new = await create_parked(port, tokens, size - len(ids), deadline, pid, max_rss, conns)
            took = time.monotonic() - t0
            made = sum(len(v) for v in new.values())
            ids += [(token, task_id) for token, v in new.items() for task_id in v]
            if ids and not status:
                conn = await Connection.open(port)
                sample = await conn.call(request(port, ids[0][0], "tasks/get", {"taskId": ids[0][1]}))
                conn.close()
                status = str(sample.get("status"))
            await asyncio.sleep(settle)  # let creation's after-effects (WAL checkpoint, closing sockets) pass
            w = await idle_window(pid, metrics_port, idle, parts)
            rss = rss_mb(pid)
            # tasks/get while parked: 200 tasks spread over all those parked, each read with its owner's token.
            step = max(1, len(ids) // 200)
            probes = [request(port, t, "tasks/get", {"taskId": i}) for t, i in ids[::step]]
            await timed(port, probes, 400)  # warm-up
            got = await timed(port, probes, gets)
            db = sum(p.stat().st_size for p in workdir.glob("parked.db*")) / 1e6
            have = len(ids)
            rows.append(
                f"| {have:,} | {took:.0f} | {made / took:,.0f} | {_sweep_cells(w)} | {rss:,.0f} "
                f"| {1024 * (rss - rss0) / have:.1f} | {got.percentile(0.5):.2f} | {got.percentile(0.99):.2f} "
                f"| {db:.1f} | {w['load']} |"
            )
            print(rows[-1], flush=True)
            notes.append(f"{have:,}: {w['ops']}; tasks/get errors {got.errors}")
            if have < size:
                rows.append(
                    f"| (stopped at {have:,}: creation budget {budget:.0f} s or RSS bound {max_rss:.0f} MB) |"
                    + " |" * 14
                )
                break
        if hold > 0:  # time to point a profiler (py-spy) at the idle server with every task still parked
            print(f"server pid {pid} holds {len(ids):,} parked tasks for {hold:.0f} s", flush=True)
            await asyncio.sleep(hold)
        rows += [
            "",
            f"A sample parked task's status, by tasks/get: `{status}`. Idle windows of {idle:.0f} s "
            f"(medians over {parts} slices), "
            f"{settle:.0f} s after creation; tasks/get: {gets:,} requests on 8 keep-alive connections over 200 "
            "parked tasks. Store calls per sweep, by operation:",
            "",
            *(f"- {note}" for note in notes),
        ]
    rows += ["", f"Stopping the server (SIGTERM) with {len(ids):,} parked: {stopped(workdir / 'parked.db', stop)}"]
    return rows


def stopped(db: Path, stop: dict[str, Any]) -> str:
    """How the stop went, from the store the server left: were its leases released (a clean handover)?"""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        # The runtime's "(parked)" owner (tasks parked out of memory) is alive forever by design.
        alive = [until for (until,) in conn.execute("SELECT alive_until_ms FROM instances WHERE owner != '(parked)'")]
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
    if alive and all(until == 0 for until in alive):
        leases = "released (alive_until_ms = 0)"
    else:
        # Not 0: renewed after the release (or never released); a peer waits until it runs out.
        left = (max(alive) - stop.get("exit_ms", 0)) / 1000 if alive else float("nan")
        when = f"{left:.1f} s after the exit" if left >= 0 else f"{-left:.1f} s before the exit"
        leases = f"NOT released (renewed after the release, or never made): the lease left runs out {when}"
    return (
        f"it {stop.get('how', '?')}, {stop.get('seconds', float('nan')):.1f} s after SIGTERM; leases {leases}; "
        f"tasks by status: {statuses}."
    )


async def open_stream(
    port: int, token: str, ids: list[str], rid: int, seen: list[int]
) -> tuple[Connection, asyncio.Task[None]]:
    """Open one listen stream, wait for its acknowledgement, then drain it in the background."""
    conn = await Connection.open(port)
    conn.writer.write(request(port, token, "subscriptions/listen", {"notifications": {"taskIds": ids}}, rid=rid))
    head = await conn.reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"listen refused: {head!r} {await conn.reader.read(500)!r}")
    while True:
        line = await asyncio.wait_for(conn.reader.readline(), 30)
        if b"subscriptions/acknowledged" in line:
            break
        if b'"error"' in line:
            raise RuntimeError(f"listen error: {line[:300]!r}")

    async def drain() -> None:
        """Count (in seen[0]) the task notifications the stream carries: the initial states, then any change."""
        while line := await conn.reader.readline():
            seen[0] += b'"notifications/tasks"' in line

    return conn, asyncio.create_task(drain())


async def bench_listen(workdir: Path, streams: int, ids_per: int, gets: int, idle: float) -> list[str]:
    principals = streams // 10
    tokens = [f"tok-{k}" for k in range(principals)]
    rows = [
        "| state | idle CPU (% of a core) | RSS (MB) | tasks/get req/s | p50 (ms) | p99 (ms) | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    with serve(workdir, "listen", "--keep-alive", "600") as (port, pid):
        ids = await create_parked(port, tokens, principals * ids_per, time.monotonic() + 120, pid, 8000)
        if any(len(v) < ids_per for v in ids.values()):
            raise RuntimeError("could not create the parked tasks for the listen benchmark")
        probes = [request(port, t, "tasks/get", {"taskId": ids[t][i]}) for t in tokens for i in range(0, ids_per, 50)]
        await timed(port, probes, 400)  # warm-up
        await asyncio.sleep(2)
        cpu = await idle_cpu(pid, idle)
        before = await timed(port, probes, gets)
        rows.append(f"| no streams | {cpu:.2f} | {rss_mb(pid):.0f} | {_row(before)} |")
        print(rows[-1], flush=True)
        opened: list[tuple[Connection, asyncio.Task[None]]] = []
        seen = [0]
        t0 = time.monotonic()
        for s in range(streams):
            token = tokens[s // 10]
            opened.append(await open_stream(port, token, ids[token][:ids_per], rid=1000 + s, seen=seen))
        took = time.monotonic() - t0
        # Each stream first sends every task's current state: wait until that flow stops (bounded).
        settle = time.monotonic() + 180
        last = -1
        while seen[0] != last and time.monotonic() < settle:
            last = seen[0]
            await asyncio.sleep(3)
        flushed = time.monotonic() - t0 - took
        cpu = await idle_cpu(pid, idle)
        after = await timed(port, probes, gets)
        live = sum(1 for _, d in opened if not d.done())
        rows.append(f"| {streams} streams x {ids_per} ids | {cpu:.2f} | {rss_mb(pid):.0f} | {_row(after)} |")
        rows.append("")
        rows.append(
            f"Opening the {streams} streams took {took:.1f} s, their initial states flowed for {flushed:.0f} s more "
            f"(until no notification arrived for 3 s); {live} still open after the measurement; "
            f"they carried {seen[0]:,} `notifications/tasks` (each task's state once: {streams * ids_per:,} expected)."
        )
        rows.append(f"p99 with streams / p99 without: {after.percentile(0.99) / before.percentile(0.99):.2f}")
        print("\n".join(rows[-3:]), flush=True)
        for conn, d in opened:
            d.cancel()
            conn.close()
    return rows


async def bench_limits(workdir: Path, count: int) -> list[str]:
    rows = [
        "| limits | operation | req/s | p50 (ms) | p99 (ms) | errors |",
        "|---|---|---|---|---|---|",
    ]
    huge = [
        "--max-header-bytes",
        str(1 << 30),
        "--max-headers",
        "1000000",
        "--head-timeout",
        "86400",
        "--max-connections",
        "1000000",
    ]
    for label, extra in (("defaults", []), ("very large", huge)):
        with serve(workdir, f"limits-{label.replace(' ', '-')}", *extra) as (port, _pid):
            create = [request(port, "tok-0", "tools/call", {"name": "zero", "arguments": {}})]
            await timed(port, create, 200)  # warm-up
            made = await timed(port, create, count)
            conn = await Connection.open(port)
            task_id = (await conn.call(create[0]))["taskId"]
            conn.close()
            get = [request(port, "tok-0", "tasks/get", {"taskId": task_id})]
            await timed(port, get, 200)
            got = await timed(port, get, count)
            rows.append(f"| {label} | create (`zero`) | {_row(made)} |")
            rows.append(f"| {label} | tasks/get | {_row(got)} |")
            print("\n".join(rows[-2:]), flush=True)
    return rows


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["parked", "listen", "limits"], action="append")
    parser.add_argument("--parked", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--create-budget", type=float, default=180.0, help="seconds to spend creating parked tasks")
    parser.add_argument("--max-rss", type=float, default=8000.0, help="stop creating past this server RSS (MB)")
    parser.add_argument("--create-conns", type=int, default=32, help="connections creating parked tasks")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of each idle CPU measurement")
    parser.add_argument("--idle-parts", type=int, default=6, help="slices of each idle window (medians)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between creating and measuring")
    parser.add_argument(
        "--stop-wait", type=float, default=15.0, help="SIGKILL the parked server this long after SIGTERM"
    )
    parser.add_argument("--hold", type=float, default=0.0, help="keep the parked server up this long at the end")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    only = set(args.only or ["parked", "listen", "limits"])
    print(machine(), flush=True)
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="offload-hardening-") as tmp:
        workdir = Path(tmp)
        if "parked" in only:
            out += [
                "",
                "### Parked tasks",
                "",
                *await bench_parked(
                    workdir,
                    args.parked,
                    args.create_budget,
                    args.idle,
                    args.max_rss,
                    args.create_conns,
                    args.gets,
                    args.settle,
                    args.idle_parts,
                    args.hold,
                    args.stop_wait,
                ),
            ]
        if "listen" in only:
            out += [
                "",
                "### Listen streams",
                "",
                *await bench_listen(workdir, args.streams, args.ids, args.gets, args.idle),
            ]
        if "limits" in only:
            out += ["", "### HTTP limits", "", *await bench_limits(workdir, args.count)]
    print("\n".join(out))


if __name__ == "__main__":
    asyncio.run(main())
