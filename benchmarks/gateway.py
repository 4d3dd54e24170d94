"""Overhead of `offload gateway` on an inline tools/call, and durable task creation through it.

    .venv/bin/python benchmarks/gateway.py [--quick] [--write docs/benchmarks-gateway.md]

Scenarios (2026-07-28 stateless requests declaring the tasks extension, raw keep-alive load from
benchmarks/load.py on core 1; everything serving runs on core 0 with `taskset -c 0`):

- direct: benchmarks/plain_server.py (an ordinary SDK server, no offload) over Streamable HTTP.
- gateway -> stdio: `offload gateway --upstream 'python plain_server.py'`; the upstream is the
  gateway's child, so it shares core 0. tools/call `noop` in the default `auto` mode (budget 1 s:
  it answers inline), and with `--tool noop=forbidden` (no task machinery at all).
- gateway -> HTTP: the gateway in front of the same plain server over HTTP (both on core 0).
- creation: tools/call `zero` with `--tool zero=required` through the gateway -> stdio: every call
  is answered with a durable task handle (SQLite) while the gateway runs the upstream call.

CPU per request is the user+system time of the front process (the gateway, or the direct server) and,
separately, of the upstream process(es) behind the gateway; warm-up included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from load import Connection, Operation, RpcError, Stats, call_tool, expecting, run_load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OFFLOAD = Path(sys.executable).with_name("offload")
PLAIN = HERE / "plain_server.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PIN_SERVER = ["taskset", "-c", "0"]


@dataclass
class Config:
    duration: float
    warmup: float
    connections: tuple[int, ...]


FULL = Config(duration=6.0, warmup=1.5, connections=(1, 50))
QUICK = Config(duration=2.0, warmup=0.5, connections=(1, 50))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_s(pid: int) -> float:
    """user+system seconds of one process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                out.extend(children)
                stack.extend(children)
        except FileNotFoundError:
            continue
    return out


@dataclass
class Served:
    """What serves the load: the front process (the gateway, or the direct server) and its upstream processes."""

    port: int
    front: int
    upstream: list[int]

    @classmethod
    def of(cls, port: int, front: int, *extra: int) -> Served:
        # `taskset` execs the command, so `front` is the server itself; its children are a stdio upstream.
        return cls(port, front, descendants(front) + list(extra))

    def cpu(self) -> tuple[float, float]:
        return cpu_s(self.front), sum(cpu_s(p) for p in self.upstream)


async def _wait_up(port: int, proc: subprocess.Popen[bytes], probe: bytes | None) -> None:
    for _ in range(600):  # up to 60 s to import, start the upstream, bind
        if proc.poll() is not None:
            raise RuntimeError(f"{shlex.join(map(str, proc.args))} exited with {proc.returncode}")  # type: ignore[arg-type]
        try:
            conn = await Connection.open(port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            if probe is not None:
                await conn.call(probe)
            return
        except (RpcError, OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError(f"nothing answered on port {port} within 60 s")


@contextlib.asynccontextmanager
async def process(cmd: list[str], port: int, probe_tool: str | None = "noop") -> AsyncIterator[int]:
    proc = subprocess.Popen(PIN_SERVER + cmd, cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        await _wait_up(port, proc, call_tool(port, probe_tool) if probe_tool else None)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def plain_http(port: int) -> list[str]:
    return [sys.executable, str(PLAIN), "--http", str(port)]


def gateway(port: int, upstream: str, store: Path, *extra: str) -> list[str]:
    cmd = [str(OFFLOAD), "gateway", "--upstream", upstream, "--port", str(port), "--store", f"sqlite:///{store}"]
    return cmd + list(extra)


@dataclass
class Row:
    scenario: str
    conns: int
    stats: Stats
    front_us: float
    upstream_us: float


async def measure(served: Served, scenario: str, op: Operation, cfg: Config, conns: int) -> Row:
    front0, up0 = served.cpu()
    wall0 = time.perf_counter()
    stats = await run_load(served.port, op, connections=conns, duration=cfg.duration, warmup=cfg.warmup)
    wall = time.perf_counter() - wall0
    if stats.errors:
        raise RuntimeError(f"{scenario}: {stats.errors} errors, first: {stats.first_error}")
    ops = stats.ops * wall / stats.seconds  # operations over the whole run, warm-up included
    front1, up1 = served.cpu()
    row = Row(scenario, conns, stats, 1e6 * (front1 - front0) / ops, 1e6 * (up1 - up0) / ops)
    cpu = f"CPU µs/req: front {row.front_us:,.0f}, upstream {row.upstream_us:,.0f}"
    print(f"  {scenario:<46} c={conns:<3} {stats.line()}  {cpu}", flush=True)
    return row


async def run_all(cfg: Config, tmp: Path) -> list[Row]:
    rows: list[Row] = []
    stdio_upstream = shlex.join([sys.executable, str(PLAIN)])

    async def scenario(served: Served, name: str, op: Operation) -> None:
        for conns in cfg.connections:
            rows.append(await measure(served, name, op, cfg, conns))

    port = free_port()
    async with process(plain_http(port), port) as pid:
        served = Served.of(port, pid)
        await scenario(served, "direct: plain SDK server over HTTP", expecting(call_tool(port, "noop"), "complete"))

    port = free_port()
    async with process(gateway(port, stdio_upstream, tmp / "a.db"), port) as pid:
        served = Served.of(port, pid)
        await scenario(served, "gateway -> stdio upstream, `auto`", expecting(call_tool(port, "noop"), "complete"))

    port = free_port()
    async with process(gateway(port, stdio_upstream, tmp / "b.db", "--tool", "noop=forbidden"), port) as pid:
        served = Served.of(port, pid)
        await scenario(served, "gateway -> stdio upstream, `forbidden`", expecting(call_tool(port, "noop"), "complete"))

    up_port = free_port()
    async with process(plain_http(up_port), up_port) as up_pid:
        port = free_port()
        upstream = f"http://127.0.0.1:{up_port}/mcp"
        async with process(gateway(port, upstream, tmp / "c.db"), port) as pid:
            served = Served.of(port, pid, up_pid)
            await scenario(served, "gateway -> HTTP upstream, `auto`", expecting(call_tool(port, "noop"), "complete"))

    port = free_port()
    cmd = gateway(port, stdio_upstream, tmp / "d.db", "--tool", "zero=required")
    async with process(cmd, port) as pid:
        served = Served.of(port, pid)
        await scenario(
            served, "gateway: tools/call -> durable task (SQLite)", expecting(call_tool(port, "zero"), "task")
        )
    return rows


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; Python {platform.python_version()}; "
        f"mcp {version('mcp')}, uvicorn {version('uvicorn')}"
    )


def report(cfg: Config, rows: list[Row], argv: list[str], load_before: str, load_after: str) -> str:
    lines = [
        "| scenario | conns | req/s | p50 ms | p99 ms | CPU µs/req: gateway (or direct server) | upstream |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r.stats
        lines.append(
            f"| {r.scenario} | {r.conns} | {s.rate:,.0f} | {s.percentile(0.5):.2f} | {s.percentile(0.99):.2f} "
            f"| {r.front_us:,.0f} | {r.upstream_us:,.0f} |"
        )
    head = [
        f"- Machine: {machine()}",
        f"- Command: `{shlex.join(['.venv/bin/python', 'benchmarks/gateway.py', *argv])}`",
        f"- Each measurement: {cfg.warmup:g} s warm-up, then {cfg.duration:g} s measured; load average before "
        f"{load_before}, after {load_after}",
    ]
    return "\n".join([*head, "", *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s per measurement instead of 6")
    parser.add_argument("--write", metavar="FILE", help="also write the results table to FILE (markdown)")
    args = parser.parse_args()
    if not shutil.which("taskset"):
        PIN_SERVER.clear()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1} if (os.cpu_count() or 1) > 1 else {0})
    cfg = QUICK if args.quick else FULL
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(run_all(cfg, Path(tmp)))
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    text = report(cfg, rows, sys.argv[1:], load_before, load_after)
    print("\n" + text)
    if args.write:
        Path(args.write).write_text(text + "\n")


if __name__ == "__main__":
    main()
